"""Shared fixtures for the interop suite: `paratii eth …` against eth-account.

The binary under test comes from $PARATII_BIN, else <repo>/.build/debug/paratii.
A missing binary makes every test that runs it FAIL (not skip) with a clear message.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / ".build" / "debug" / "paratii"

# Every random choice in the suite derives from this seed (plus a per-test salt), so a
# failure reproduces exactly. Override with PARATII_INTEROP_SEED to explore other inputs.
BASE_SEED = int(os.environ.get("PARATII_INTEROP_SEED", "20261125"))

# Very light scrypt for the signing keystores (the CLI reads any power of two > 1); the default
# parameters get one test of their own in test_keystores.py.
LIGHT_SCRYPT_N = 16

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141



# The wire contract's typed messages (DESIGN.md) in the eth_signTypedData_v4 form: the interop and the
# contract suites build every message from these.
DOMAIN_TYPE = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
               {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]
ALLOWANCE_TYPE = [{"name": "token", "type": "address"}, {"name": "total", "type": "uint256"},
             {"name": "perPayment", "type": "uint256"}, {"name": "period", "type": "uint64"},
             {"name": "perPeriod", "type": "uint256"}]
TYPES = {
    "SpendingDelegation": {"SpendingDelegation": [
        {"name": "master", "type": "address"}, {"name": "spender", "type": "address"},
        {"name": "allowances", "type": "Allowance[]"}, {"name": "payees", "type": "address[]"},
        {"name": "validAfter", "type": "uint64"}, {"name": "validUntil", "type": "uint64"},
        {"name": "salt", "type": "uint256"}], "Allowance": ALLOWANCE_TYPE},
    "PostingDelegation": {"PostingDelegation": [
        {"name": "parent", "type": "bytes32"}, {"name": "spender", "type": "address"},
        {"name": "poster", "type": "address"}, {"name": "scopes", "type": "uint32"},
        {"name": "validAfter", "type": "uint64"}, {"name": "validUntil", "type": "uint64"},
        {"name": "salt", "type": "uint256"}]},
    "Voucher": {"Voucher": [
        {"name": "delegation", "type": "bytes32"}, {"name": "payee", "type": "address"},
        {"name": "token", "type": "address"}, {"name": "cumulative", "type": "uint256"},
        {"name": "sequence", "type": "uint64"}, {"name": "memo", "type": "bytes32"}]},
    "Vote": {"Vote": [
        {"name": "delegation", "type": "bytes32"}, {"name": "content", "type": "bytes32"},
        {"name": "kind", "type": "uint8"}, {"name": "value", "type": "int16"},
        {"name": "reason", "type": "string"}, {"name": "issuedAt", "type": "uint64"}]},
    "Revocation": {"Revocation": [
        {"name": "issuer", "type": "address"}, {"name": "target", "type": "bytes32"},
        {"name": "issuedAt", "type": "uint64"}]},
}


def rng_for(*salt: object) -> random.Random:
    """A Random seeded from the suite seed and a per-test salt (stable across runs and Python versions)."""
    return random.Random(f"{BASE_SEED}:" + ":".join(str(s) for s in salt))


def binary_path() -> Path:
    return Path(os.environ.get("PARATII_BIN") or DEFAULT_BIN)


@dataclass
class Result:
    args: tuple[str, ...]
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    def describe(self) -> str:
        shown = " ".join(a if len(a) < 200 else a[:200] + "…" for a in self.args)
        return f"paratii {shown}\n  exit {self.rc}\n  stdout: {self.stdout[:2000]!r}\n  stderr: {self.stderr[:2000]!r}"


class Paratii:
    """Runs the CLI. `ok` expects success and returns stdout's single line; `refused` expects a clean refusal."""

    def __init__(self, path: Path):
        self.path = path

    def _check_binary(self) -> None:
        if not (self.path.is_file() and os.access(self.path, os.X_OK)):
            pytest.fail(
                f"paratii binary not found or not executable at {self.path}. "
                f"Build it (swift build --product paratii) or point PARATII_BIN at it.",
                pytrace=False,
            )

    def run(self, *args: str, input: bytes | str | None = None, timeout: float = 120) -> Result:
        self._check_binary()
        if isinstance(input, str):
            input = input.encode("utf-8")
        proc = subprocess.run(
            [str(self.path), *args],
            input=input if input is not None else b"",
            capture_output=True,
            timeout=timeout,
        )
        return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, input: bytes | str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.rc == 0, "command failed:\n" + result.describe()
        lines = result.out.rstrip("\n")
        return lines

    def refused(self, *args: str, mentions: str, input: bytes | str | None = None) -> Result:
        """Non-zero exit, nothing on stdout, exactly one non-empty line on stderr that names the reason
        (`mentions` is required: a refusal for the wrong reason must not pass)."""
        result = self.run(*args, input=input)
        assert result.rc != 0, "expected a refusal, got success:\n" + result.describe()
        assert result.stdout == b"", "a refusal must print nothing on stdout:\n" + result.describe()
        err = result.err
        assert err.endswith("\n") or "\n" not in err, result.describe()
        body = err[:-1] if err.endswith("\n") else err
        assert body.strip(), "a refusal must explain itself on stderr:\n" + result.describe()
        assert "\n" not in body, "a refusal must be exactly one line on stderr:\n" + result.describe()
        assert mentions.lower() in body.lower(), f"stderr should mention {mentions!r}:\n" + result.describe()
        return result

    def usage_error(self, *args: str, input: bytes | str | None = None) -> Result:
        """A malformed command line (argument parser's domain): non-zero exit, nothing on stdout, an Error: line first.
        The parser may add usage lines after it, so this is looser than `refused`."""
        result = self.run(*args, input=input)
        assert result.rc != 0, "expected a usage error, got success:\n" + result.describe()
        assert result.stdout == b"", "a usage error must print nothing on stdout:\n" + result.describe()
        assert result.err.startswith("Error: "), result.describe()
        return result


@dataclass
class Key:
    """A known private key with a light keystore the CLI opens."""

    private_key: bytes
    address: str
    keystore: Path
    password_file: Path
    password: str

    def opts(self) -> list[str]:
        return ["--keystore", str(self.keystore), "--password-file", str(self.password_file)]


def pytest_report_header(config):
    path = binary_path()
    state = "found" if path.is_file() else "MISSING"
    return f"paratii binary: {path} ({state}); seed {BASE_SEED}"


@pytest.fixture(scope="session")
def paratii_bin() -> Path:
    return binary_path()


@pytest.fixture(scope="session")
def paratii(paratii_bin) -> Paratii:
    return Paratii(paratii_bin)


@pytest.fixture
def work(tmp_path) -> Path:
    """A fresh directory per test."""
    return tmp_path


def random_private_key(rng: random.Random) -> bytes:
    while True:
        k = rng.getrandbits(256)
        if 1 <= k < SECP256K1_N:
            return k.to_bytes(32, "big")


def write_keystore(directory: Path, name: str, private_key: bytes, password: str, *, kdf: str = "scrypt",
                   iterations: int = LIGHT_SCRYPT_N, password_line_end: str = "\n") -> Key:
    document = Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)
    keystore = directory / f"{name}.json"
    keystore.write_text(json.dumps(document))
    password_file = directory / f"{name}.pw"
    password_file.write_bytes((password + password_line_end).encode("utf-8"))
    return Key(private_key, Account.from_key(private_key).address, keystore, password_file, password)


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> list[Key]:
    """Four deterministic keys (plus the edge keys 1 and n-1), each in a light scrypt keystore."""
    directory = tmp_path_factory.mktemp("keys")
    rng = rng_for("keys")
    secrets = [random_private_key(rng) for _ in range(4)]
    secrets += [(1).to_bytes(32, "big"), (SECP256K1_N - 1).to_bytes(32, "big")]
    passwords = ["correct horse battery staple", "pässwörd ☃ 🔑", "", "  spaces around  "]
    passwords += ["one", "n-1"]
    return [write_keystore(directory, f"key{i}", s, passwords[i]) for i, s in enumerate(secrets)]


@pytest.fixture(scope="session")
def key(keys) -> Key:
    return keys[0]

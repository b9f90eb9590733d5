"""Fixtures for the chain suite: the `paratii` binary against a JSON-RPC node over py-evm
(rpc_server.py, started per test), the way a user drives it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INTEROP = REPO / "Tests" / "interop"

# The interop suite's helpers (CLI runner, keystores, seeded RNG), loaded under another name as the
# contract suite does: pytest owns the module name `conftest`.
if "interop_conftest" in sys.modules:
    interop = sys.modules["interop_conftest"]
else:
    _spec = importlib.util.spec_from_file_location("interop_conftest", INTEROP / "conftest.py")
    interop = importlib.util.module_from_spec(_spec)
    sys.modules["interop_conftest"] = interop
    _spec.loader.exec_module(interop)

# The CLI under test and a fresh directory per test: the interop suite's fixtures.
paratii_bin, paratii, work = interop.paratii_bin, interop.paratii, interop.work

ETH = "0x0000000000000000000000000000000000000000"


class Node:
    """A running rpc_server.py: its URL, chain id and (with deploy) contract addresses."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([sys.executable, str(HERE / "rpc_server.py"), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("rpc_server.py did not start: " + self.process.stderr.read())
        self.info = json.loads(line)
        self.url: str = self.info["url"]
        self.chain_id: int = self.info["chainId"]

    def rpc(self, method: str, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            answer = json.loads(reply.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def call(self, to: str, data: bytes) -> bytes:
        return bytes.fromhex(self.rpc("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")[2:])

    def receipt(self, tx_hash: str) -> dict:
        return self.rpc("eth_getTransactionReceipt", tx_hash)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def start_node():
    started: list[Node] = []

    def start(*args: str) -> Node:
        node = Node(*args)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def write_config(path: Path, node: Node, **extra) -> Path:
    config = {"chainId": node.chain_id, "rpc": node.url}
    if "paratii" in node.info:
        config["verifyingContract"] = node.info["paratii"]
        config["ptiToken"] = node.info["token"]
    config.update(extra)
    path.write_text(json.dumps(config))
    return path


class PostgresServer:
    """A private PostgreSQL (scripts/pg-server): initdb in a temp directory, a socket there."""

    def __init__(self):
        # Under /tmp itself: the server's user must reach it (pytest's own temp root is owner-only).
        self.directory = tempfile.mkdtemp(prefix="paratii-chain-pg-")
        self.script = ["bash", str(REPO / "scripts" / "pg-server")]
        self.url = subprocess.run(self.script + ["init", self.directory], check=True, capture_output=True, text=True).stdout.strip()

    def database(self) -> str:
        """A new, empty database: its URL (trusted on the socket, no password)."""
        name = "chain_" + uuid.uuid4().hex[:12]
        subprocess.run(self.script + ["psql", self.directory, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.url.replace("/paratii?", f"/{name}?")

    def remove(self) -> None:
        subprocess.run(self.script + ["remove", self.directory], capture_output=True)


@pytest.fixture(scope="session")
def pg_server():
    server = PostgresServer()
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgres"])
def payee_store(request, work):
    """A fresh payee store location per call: SQLite files in the test's directory, or databases on the run's private PostgreSQL."""
    if request.param == "sqlite":
        counter = iter(range(1000))
        return lambda: str(work / f"payee-{next(counter)}.sqlite")
    server = request.getfixturevalue("pg_server")
    return server.database

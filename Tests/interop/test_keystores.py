"""Web3 Secret Storage v3: `paratii eth new-key / address` vs eth-account's encrypt/decrypt."""

from __future__ import annotations

import json
import os
import stat
import uuid

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address

from conftest import random_private_key, rng_for, write_keystore

PASSWORDS = [
    "correct horse battery staple",
    "",
    "pässwörd ☃ 🔑 日本",
    "  leading and trailing spaces  ",
    "e\u0301",  # decomposed é: passwords are bytes, never normalised
    "tab\tinside",
    "x" * 200,
]


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def new_key(paratii, work, password: str, *, scrypt_n: int | None = 4096, name: str = "new.json", line_end: str = "\n"):
    keystore = work / name
    password_file = work / (name + ".pw")
    password_file.write_bytes((password + line_end).encode())
    extra = [] if scrypt_n is None else ["--scrypt-n", str(scrypt_n)]
    address = paratii.ok("eth", "new-key", "--keystore", str(keystore), "--password-file", str(password_file), *extra)
    return address, keystore, password_file


@pytest.mark.parametrize("index, password", list(enumerate(PASSWORDS)), ids=[f"pw{i}" for i in range(len(PASSWORDS))])
def test_new_key_decrypts_with_eth_account(paratii, work, index, password):
    scrypt_n = 4096 if index % 3 == 0 else 1024
    address, keystore, password_file = new_key(paratii, work, password, scrypt_n=scrypt_n)
    assert address == to_checksum_address(address), "new-key must print the EIP-55 form"
    assert mode_of(keystore) == 0o600

    document = json.loads(keystore.read_text())
    assert document["version"] == 3
    crypto = document["crypto"]
    assert crypto["cipher"] == "aes-128-ctr" and crypto["kdf"] == "scrypt"
    assert {k: crypto["kdfparams"][k] for k in ("n", "r", "p", "dklen")} == {"n": scrypt_n, "r": 8, "p": 1, "dklen": 32}
    assert len(bytes.fromhex(crypto["kdfparams"]["salt"])) >= 16
    assert len(bytes.fromhex(crypto["cipherparams"]["iv"])) == 16
    assert document["address"] == address[2:].lower()
    uuid.UUID(document["id"])

    private_key = Account.decrypt(document, password)
    assert Account.from_key(private_key).address == address
    assert paratii.ok("eth", "address", "--keystore", str(keystore), "--password-file", str(password_file)) == address

    # The key paratii keeps is the key eth-account decrypted: same signature.
    ours = paratii.ok("eth", "sign-message", "--keystore", str(keystore), "--password-file", str(password_file), "ks")
    assert ours == "0x" + bytes(Account.sign_message(encode_defunct(text="ks"), private_key).signature).hex()


def test_new_key_default_scrypt_parameters(paratii, work):
    """The one test at full cost: n = 2^18, r = 8, p = 1, as geth and eth-keyfile write."""
    address, keystore, _ = new_key(paratii, work, "default cost", scrypt_n=None)
    assert mode_of(keystore) == 0o600
    document = json.loads(keystore.read_text())
    params = document["crypto"]["kdfparams"]
    assert (params["n"], params["r"], params["p"], params["dklen"]) == (262144, 8, 1, 32)
    assert Account.from_key(Account.decrypt(document, "default cost")).address == address


def test_new_key_keys_are_fresh(paratii, work):
    first, _, _ = new_key(paratii, work, "a", scrypt_n=16, name="a.json")
    second, _, _ = new_key(paratii, work, "a", scrypt_n=16, name="b.json")
    assert first != second


@pytest.mark.parametrize("line_end", ["", "\n", "\r\n", "\nsecond line ignored\n"], ids=["none", "lf", "crlf", "two-lines"])
def test_password_file_first_line(paratii, work, line_end):
    """The password is the file's first line without its line ending (LF or CRLF), in both directions."""
    address, keystore, _ = new_key(paratii, work, "s3cret", scrypt_n=16, line_end=line_end)
    theirs = write_keystore(work, "theirs", random_private_key(rng_for("line-end", line_end)), "s3cret",
                            password_line_end=line_end)
    assert paratii.run("eth", "address", *theirs.opts()).out.strip() == theirs.address, \
        f"an eth-account keystore with password 's3cret' does not open with password file {('s3cret' + line_end)!r}"
    assert Account.from_key(Account.decrypt(keystore.read_text(), "s3cret")).address == address, \
        f"new-key with password file {('s3cret' + line_end)!r} did not encrypt under 's3cret'"


def test_new_key_refuses_to_overwrite(paratii, work, key):
    keystore = work / "existing.json"
    original = key.keystore.read_bytes()
    keystore.write_bytes(original)
    os.chmod(keystore, 0o600)
    before = sorted(os.listdir(work))
    paratii.refused("eth", "new-key", "--keystore", str(keystore), "--password-file", str(key.password_file),
                    "--scrypt-n", "16", mentions="exists")
    assert keystore.read_bytes() == original
    assert sorted(os.listdir(work)) == before, "no temporary file may be left behind"
    # Also when the existing file is not a keystore at all.
    other = work / "notes.txt"
    other.write_text("not a keystore")
    paratii.refused("eth", "new-key", "--keystore", str(other), "--password-file", str(key.password_file),
                    "--scrypt-n", "16", mentions="already exists")
    assert other.read_text() == "not a keystore"


def eth_account_keystores():
    rng = rng_for("eth-account-keystores")
    cases = [("scrypt", n) for n in (2, 16, 1024, 4096, 16384)] + [("pbkdf2", c) for c in (1, 1000, 10000, 262144)]
    out = []
    for i, (kdf, iterations) in enumerate(cases):
        out.append(pytest.param(kdf, iterations, random_private_key(rng), PASSWORDS[i % len(PASSWORDS)],
                                id=f"{kdf}-{iterations}"))
    return out


@pytest.mark.parametrize("kdf, iterations, private_key, password", eth_account_keystores())
def test_reads_eth_account_keystores(paratii, work, kdf, iterations, private_key, password):
    key = write_keystore(work, "theirs", private_key, password, kdf=kdf, iterations=iterations)
    assert paratii.ok("eth", "address", *key.opts()) == key.address

    wrong = work / "wrong.pw"
    wrong.write_text(password + "x\n")
    paratii.refused("eth", "address", "--keystore", str(key.keystore), "--password-file", str(wrong),
                    mentions="wrong password")
    with pytest.raises(ValueError):
        Account.decrypt(key.keystore.read_text(), password + "x")


def test_password_is_not_normalised(paratii, work):
    """NFD and NFC spellings are different passwords, for eth-account and for us."""
    key = write_keystore(work, "nfd", random_private_key(rng_for("nfd")), "e\u0301")
    assert paratii.ok("eth", "address", *key.opts()) == key.address
    nfc = work / "nfc.pw"
    nfc.write_text("\u00e9\n")
    paratii.refused("eth", "address", "--keystore", str(key.keystore), "--password-file", str(nfc), mentions="wrong password")
    with pytest.raises(ValueError):
        Account.decrypt(key.keystore.read_text(), "\u00e9")


def test_legacy_capitalised_crypto_member_and_missing_address(paratii, work):
    """Old geth files spell the member `Crypto`; some tools omit `address`. Both sides read them."""
    key = write_keystore(work, "old", random_private_key(rng_for("old-geth")), "pw", kdf="scrypt", iterations=16)
    document = json.loads(key.keystore.read_text())
    document["Crypto"] = document.pop("crypto")
    del document["address"]
    key.keystore.write_text(json.dumps(document))
    assert Account.from_key(Account.decrypt(document, "pw")).address == key.address
    assert paratii.ok("eth", "address", *key.opts()) == key.address


@pytest.mark.parametrize("member", ["mac", "ciphertext", "salt", "iv"])
def test_tampered_keystore_refused(paratii, work, member):
    """A flipped bit anywhere is refused. (The MAC does not cover the IV: eth-account then returns a wrong
    key silently; we catch it through the file's address — a deliberate strictness.)"""
    key = write_keystore(work, "t", random_private_key(rng_for("tamper", member)), "pw", iterations=16)
    document = json.loads(key.keystore.read_text())
    crypto = document["crypto"]
    holder, name = {"mac": (crypto, "mac"), "ciphertext": (crypto, "ciphertext"),
                    "salt": (crypto["kdfparams"], "salt"), "iv": (crypto["cipherparams"], "iv")}[member]
    raw = bytearray(bytes.fromhex(holder[name]))
    raw[0] ^= 0x01
    holder[name] = raw.hex()
    key.keystore.write_text(json.dumps(document))
    # The MAC catches every member it covers; the IV, which it does not, is caught through the address.
    paratii.refused("eth", "address", *key.opts(), mentions="IV or address altered" if member == "iv" else "MAC mismatch")
    if member == "iv":
        assert Account.from_key(Account.decrypt(document, "pw")).address != key.address
    else:
        with pytest.raises(ValueError):
            Account.decrypt(document, "pw")


def test_missing_keystore_file(paratii, work, key):
    paratii.refused("eth", "address", "--keystore", str(work / "nope.json"), "--password-file", str(key.password_file),
                    mentions="cannot read")


def test_concurrent_new_key_same_path_one_winner(paratii, work):
    """Racing new-key processes on one path: exactly one creates it, the others refuse, and the file
    holds the winner's key (link(2)-based create, never a replace)."""
    import subprocess

    keystore = work / "race.json"
    password_file = work / "race.pw"
    password_file.write_text("race\n")
    paratii._check_binary()
    procs = [
        subprocess.Popen([str(paratii.path), "eth", "new-key", "--keystore", str(keystore), "--password-file",
                          str(password_file), "--scrypt-n", "16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    results = [(p.wait(timeout=60), p.stdout.read().decode().strip(), p.stderr.read().decode()) for p in procs]
    winners = [out for rc, out, _ in results if rc == 0]
    assert len(winners) == 1, results
    assert all(err.count("\n") == 1 and out == "" for rc, out, err in results if rc != 0), results
    assert Account.from_key(Account.decrypt(keystore.read_text(), "race")).address == winners[0]
    assert mode_of(keystore) == 0o600
    assert sorted(p.name for p in work.iterdir()) == ["race.json", "race.pw"]

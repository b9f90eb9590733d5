"""Transactions: `paratii eth sign-tx / decode-tx` vs eth-account, both directions.

Legacy EIP-155 (small and large chainIds), EIP-2930 (type 1), EIP-1559 (type 2) with and without
access lists, contract creation, big values, RLP edge lengths in `data`, and r/s with leading zeros.
"""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from conftest import rng_for

RANDOM_CASES = 60

CHAIN_IDS = [1, 5, 10, 56, 137, 8453, 31337, 42161, 11155111, 2**31 - 1, 2**32 + 15, 2**53 + 1, 2**63, 2**64 - 1]


def random_bytes(rng, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def random_data(rng) -> bytes:
    choice = rng.randrange(10)
    if choice == 0:
        return b""
    if choice == 1:  # a single byte below 0x80 is its own RLP encoding
        return bytes([rng.choice([0x00, 0x01, 0x7F])])
    if choice == 2:
        return bytes([rng.choice([0x80, 0xFF])])
    if choice == 3:  # around RLP's 55-byte short-string limit
        return random_bytes(rng, rng.choice([55, 56]))
    if choice == 4:  # ERC-20 transfer-sized
        return bytes.fromhex("a9059cbb") + random_bytes(rng, 64)
    if choice == 5:
        return random_bytes(rng, rng.choice([255, 256, 1100]))
    return random_bytes(rng, rng.randint(1, 300))


def random_address(rng) -> bytes:
    return random_bytes(rng, 20)


def quantity_json(rng, value: int):
    """Quantities as JSON ints, decimal strings or 0x-hex strings."""
    form = rng.choice(["int", "dec", "hex", "hex"])
    if form == "int":
        return value
    if form == "dec":
        return str(value)
    digits = format(value, "x")
    return "0x" + (digits.upper() if rng.random() < 0.2 else digits)


def address_json(rng, raw: bytes) -> str:
    return rng.choice(["0x" + raw.hex(), to_checksum_address(raw), "0x" + raw.hex().upper()])


def random_tx(rng, kind: int) -> dict:
    """A transaction in eth-account's form (ints, checksummed `to`); `to` is absent for contract creation."""
    tx = {
        # Extremes too: 0, and for typed transactions the whole uint256 range (legacy v = 2·chainId + 35 must fit 256 bits).
        "chainId": rng.choice(CHAIN_IDS + ([0, 2**254] if kind == 0 else [0, 2**200, 2**256 - 1])),
        "nonce": rng.choice([0, 1, 127, 128, 255, 256, rng.randint(0, 2**32), 2**64 - 2]),
        "gas": rng.choice([21000, rng.randint(21000, 30_000_000), 2**63]),
        "value": rng.choice([0, 1, 10**18, rng.getrandbits(rng.randint(1, 256)), 2**256 - 1]),
        "data": random_data(rng),
    }
    if rng.random() < 0.85:
        tx["to"] = to_checksum_address(random_address(rng))
    if kind == 2:
        max_fee = rng.choice([0, 1, 10**9, rng.randint(1, 10**12), 2**256 - 1])
        tx["maxFeePerGas"] = max_fee
        tx["maxPriorityFeePerGas"] = rng.choice([0, max_fee, rng.randint(0, max_fee)])
    else:
        tx["gasPrice"] = rng.choice([0, 1, 20 * 10**9, rng.randint(1, 10**12), 2**256 - 1])
    if kind in (1, 2):
        tx["type"] = kind
        entries = rng.choice([0, 0, 1, 2, 3]) if kind == 2 else rng.choice([0, 1, 2])
        tx["accessList"] = [
            {"address": to_checksum_address(random_address(rng)),
             "storageKeys": ["0x" + random_bytes(rng, 32).hex() for _ in range(rng.choice([0, 1, 2, 3]))]}
            for _ in range(entries)
        ]
    return tx


def cli_json(rng, tx: dict) -> str:
    """The same transaction as the CLI's JSON, with varied but equivalent spellings."""
    out = {"type": rng.choice([tx.get("type", 0), hex(tx.get("type", 0)), str(tx.get("type", 0))])}
    for name in ["chainId", "nonce", "gas", "value", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"]:
        if name in tx:
            out[name] = quantity_json(rng, tx[name])
    if "to" in tx:
        out["to"] = address_json(rng, bytes.fromhex(tx["to"][2:]))
    else:
        mode = rng.choice(["absent", "null", "empty"])
        if mode != "absent":
            out["to"] = None if mode == "null" else ""
    data_hex = tx["data"].hex()
    out["data"] = "0x" + (data_hex.upper() if rng.random() < 0.2 else data_hex)
    if "accessList" in tx:
        out["accessList"] = [
            {"address": address_json(rng, bytes.fromhex(e["address"][2:])), "storageKeys": list(e["storageKeys"])}
            for e in tx["accessList"]
        ]
    keys = list(out)
    rng.shuffle(keys)
    return json.dumps({k: out[k] for k in keys}, indent=rng.choice([None, 2]))


def expected_decoded(tx: dict, signed, address: str) -> dict:
    kind = tx.get("type", 0)
    q = hex
    out = {
        "type": q(kind),
        "chainId": q(tx["chainId"]),
        "nonce": q(tx["nonce"]),
        "to": tx.get("to"),
        "value": q(tx["value"]),
        "data": "0x" + tx["data"].hex(),
        "gas": q(tx["gas"]),
        "from": address,
        "hash": "0x" + bytes(signed.hash).hex(),
        "v": q(signed.v),
    }
    if kind == 2:
        out["maxFeePerGas"] = q(tx["maxFeePerGas"])
        out["maxPriorityFeePerGas"] = q(tx["maxPriorityFeePerGas"])
    else:
        out["gasPrice"] = q(tx["gasPrice"])
    if kind in (1, 2):
        out["accessList"] = [{"address": e["address"], "storageKeys": e["storageKeys"]} for e in tx["accessList"]]
    return out


def check_decoded(decoded: dict, tx: dict, signed, address: str):
    """decode-tx output: exact fields and values; r and s compared as numbers (zero-padding is a presentation choice)."""
    expected = expected_decoded(tx, signed, address)
    r, s = decoded.pop("r", None), decoded.pop("s", None)
    assert decoded == expected
    assert r is not None and s is not None and r.startswith("0x") and s.startswith("0x")
    assert int(r, 16) == signed.r and int(s, 16) == signed.s


def tx_cases():
    rng = rng_for("tx-cases")
    kinds = [0] * 22 + [2] * 30 + [1] * 8
    rng.shuffle(kinds)
    return [pytest.param(i, kind, id=f"type{kind}-{i}") for i, kind in enumerate(kinds[:RANDOM_CASES])]


@pytest.mark.parametrize("case, kind", tx_cases())
def test_sign_and_decode_both_ways(paratii, work, keys, case, kind):
    rng = rng_for("tx", case)
    key = keys[case % len(keys)]
    tx = random_tx(rng, kind)
    text = cli_json(rng, tx)

    theirs = Account.sign_transaction(dict(tx), key.private_key)
    their_raw = "0x" + bytes(theirs.raw_transaction).hex()

    # paratii signs byte-identically (RFC 6979), and eth-account recovers our sender.
    if case % 5 == 0:
        ours = paratii.ok("eth", "sign-tx", *key.opts(), "-", input=text)
    else:
        path = work / "tx.json"
        path.write_text(text)
        ours = paratii.ok("eth", "sign-tx", *key.opts(), str(path))
    assert ours == their_raw
    assert Account.recover_transaction(ours) == key.address

    # paratii decodes eth-account's raw transaction: every field, sender and hash.
    out = paratii.ok("eth", "decode-tx", their_raw) if case % 3 else paratii.ok("eth", "decode-tx", "-", input=their_raw + "\n")
    decoded = json.loads(out)
    check_decoded(decoded, tx, theirs, key.address)
    assert decoded["hash"] == "0x" + keccak(bytes(theirs.raw_transaction)).hex()


def test_decoded_json_signs_back_to_the_same_raw(paratii, work, key):
    """decode-tx's transaction fields (less from/hash/v/r/s) are valid sign-tx input and give the same bytes."""
    for case in range(6):
        rng = rng_for("tx-roundtrip", case)
        tx = random_tx(rng, [0, 1, 2][case % 3])
        raw = "0x" + bytes(Account.sign_transaction(dict(tx), key.private_key).raw_transaction).hex()
        decoded = json.loads(paratii.ok("eth", "decode-tx", raw))
        for member in ["from", "hash", "v", "r", "s"]:
            del decoded[member]
        path = work / f"rt{case}.json"
        path.write_text(json.dumps(decoded))
        assert paratii.ok("eth", "sign-tx", *key.opts(), str(path)) == raw


def test_eip155_example(paratii, work):
    """The example in EIP-155 itself (private key 0x46…46, chainId 1)."""
    from conftest import write_keystore
    k = write_keystore(work, "eip155", bytes.fromhex("46" * 32), "pw")
    path = work / "tx.json"
    path.write_text(json.dumps({
        "type": 0, "chainId": 1, "nonce": 9, "gasPrice": 20 * 10**9, "gas": 21000,
        "to": "0x3535353535353535353535353535353535353535", "value": 10**18, "data": "0x"}))
    expected = ("0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
                "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b"
                "3800ccf555c9f3dc64214b297fb1966a3b6d83")
    assert paratii.ok("eth", "sign-tx", *k.opts(), str(path)) == expected


# Nonces at which the EIP-155 example key (0x46…46) signs the templates below with r or s < 2^248,
# found by search once (RFC 6979 makes them fixed); the test re-checks the property before relying on it.
LEADING_ZERO_NONCES = {(0, "r"): 235, (0, "s"): 208, (2, "r"): 60, (2, "s"): 59}


@pytest.mark.parametrize("kind", [0, 2])
def test_signature_components_with_leading_zero_byte(paratii, work, kind):
    """r or s below 2^248 is RLP-encoded in 31 bytes or fewer; both sides must agree, and decode must accept it."""
    from conftest import write_keystore
    key = write_keystore(work, "k46", bytes.fromhex("46" * 32), "pw")
    template = {"chainId": 1, "gas": 21000, "to": to_checksum_address("0x" + "42" * 20), "value": 1, "data": b""}
    if kind == 2:
        template.update(type=2, maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=10**9, accessList=[])
    else:
        template["gasPrice"] = 10**9
    for which in ("r", "s"):
        tx = dict(template, nonce=LEADING_ZERO_NONCES[kind, which])
        signed = Account.sign_transaction(tx, key.private_key)
        assert getattr(signed, which) < 2**248, "the pinned nonce no longer gives a leading zero byte"
        path = work / f"tx-{which}.json"
        path.write_text(cli_json(rng_for("leading-zero", which, kind), tx))
        raw = "0x" + bytes(signed.raw_transaction).hex()
        assert paratii.ok("eth", "sign-tx", *key.opts(), str(path)) == raw
        check_decoded(json.loads(paratii.ok("eth", "decode-tx", raw)), tx, signed, key.address)


def test_decode_pre_eip155_legacy(paratii, key):
    """An unprotected legacy transaction (v = 27/28) decodes, with no chainId; signing one is refused (see negatives)."""
    tx = {"nonce": 3, "gasPrice": 10**9, "gas": 50000, "to": to_checksum_address("0x" + "aa" * 20), "value": 5,
          "data": b"\x01\x02"}
    signed = Account.sign_transaction(tx, key.private_key)
    decoded = json.loads(paratii.ok("eth", "decode-tx", "0x" + bytes(signed.raw_transaction).hex()))
    assert "chainId" not in decoded
    assert decoded["from"] == key.address
    assert int(decoded["v"], 16) in (27, 28) and int(decoded["v"], 16) == signed.v
    assert decoded["hash"] == "0x" + bytes(signed.hash).hex()
    assert decoded["nonce"] == "0x3" and decoded["to"] == tx["to"] and decoded["data"] == "0x0102"

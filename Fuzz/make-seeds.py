#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/Corpus/<target>/ (committed; rerun only to refresh them):
inputs from Tests/Vectors/ethereum.json, envelopes signed with eth-account (the interop venv), and
small hand-made card and bridge inputs. Usage: .venv/bin/python Fuzz/make-seeds.py"""

import hashlib
import json
import sys
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_typed_data

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "Fuzz" / "Corpus"
VECTORS = json.loads((ROOT / "Tests" / "Vectors" / "ethereum.json").read_text())


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Ethereum: typed data, transactions (raw and JSON), RLP, keystores (light KDFs only: the fuzzer skips costly ones).
for vector in VECTORS["eip712"]["vectors"] + VECTORS["eip712"]["negative"]:
    put("typed-data", compact(vector["typed_data"]))
    put("json", compact(vector["typed_data"]))
for vector in VECTORS["transactions"]["vectors"]:
    raw = bytes.fromhex(vector["raw"].removeprefix("0x"))
    put("raw-transaction", raw)
    put("rlp", raw[1:] if raw[0] < 0xC0 else raw)
    tx = {k: v for k, v in vector["tx"].items() if not k.endswith("_hex")}
    if vector["type"] not in (0, "0x0", None):
        tx["type"] = vector["type"]
    put("transaction-json", compact(tx))
for rlp in ["80", "00", "7f", "8180", "c0", "c3010203", "c7c0c1c0c3c0c1c0", "b838" + "61" * 56]:
    put("rlp", bytes.fromhex(rlp))
for group in ("official", "fresh_eth_keyfile", "tampered"):
    for vector in VECTORS["keystores"][group]:
        keystore = json.loads(json.dumps(vector["keystore"]))
        params = keystore.get("crypto", keystore.get("Crypto"))["kdfparams"]
        # Same structure, cheap parameters: the fuzzer then also reaches the MAC check and decryption.
        if "n" in params:
            params["n"] = 16
        if "c" in params:
            params["c"] = 16
        put("keystore", compact(keystore))
for text in ['{"a":[1,-2.5e+3,true,false,null,"\\u00e9\\ud83d\\ude00"]}', "[]", '"x"', "0", '{"n":123456789012345678901234567890}']:
    put("json", text)

# OpenPGP card: application related data, PW status, public key template, signatures, APDUs.
aid = bytes.fromhex("D27600012401 0304 FFFE 12345678 0000".replace(" ", ""))
def tlv(tag, value):
    t = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82, n >> 8, n & 0xFF])
    return t + length + value
discretionary = tlv(0xC0, bytes.fromhex("7d000bfe080000ff0000")) + tlv(0xC1, bytes.fromhex("132b8104000a")) \
    + tlv(0xC4, bytes.fromhex("00202020030003")) + tlv(0xC5, bytes(20) * 3)
app_data = tlv(0x6E, tlv(0x4F, aid) + tlv(0x5F52, bytes.fromhex("0031c573c00140059000")) + tlv(0x73, discretionary))
point = bytes.fromhex("04" + VECTORS["addresses"]["valid"][0]["public_key_uncompressed"].removeprefix("0x")[-128:])
for data in [app_data, app_data[2:], tlv(0x7F49, tlv(0x86, point)), tlv(0x86, point), bytes.fromhex("00202020030003"),
             bytes(64), tlv(0x30, tlv(0x02, b"\x00" + b"\x81" * 32) + tlv(0x02, b"\x01" * 32))]:
    put("card-data", data)
    put("tlv", data)
put("tlv", tlv(0x5F1F, b"x") + b"\x00\xff" + tlv(0x7F21, tlv(0x5F50, b"https://example")))
for apdu in ["00A4040006D27600012401", "00CA006E00", "00200081063132333435360", "0020008106313233343536",
             "002A9E9A20" + "11" * 32 + "00", "00DA00C106132b8104000a", "0047800002B60000",
             "00DB3FFF000100" + "22" * 256, "00CA006E000000", "6E0A4F08D27600012401039000", "9000", "6982"]:
    put("apdu", bytes.fromhex(apdu if len(apdu) % 2 == 0 else apdu + "0"))

# Delegation: a spending delegation, a voucher under it, a revocation, and a list of revocations.
# The contract's types as the interop tests spell them for eth-account, plus Revocation.
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from test_delegations import DOMAIN, DOMAIN_TYPE, TYPES  # noqa: E402

TYPES = {**TYPES, "Revocation": {"Revocation": [
    {"name": "issuer", "type": "address"}, {"name": "target", "type": "bytes32"}, {"name": "issuedAt", "type": "uint64"}]}}
master, spender = Account.from_key(b"\x11" * 32), Account.from_key(b"\x22" * 32)
payee, eth = "0x" + "00" * 19 + "bb", "0x" + "00" * 20


def sign(key, primary, message, parents=()):
    data = {"types": {"EIP712Domain": DOMAIN_TYPE, **TYPES[primary]}, "primaryType": primary, "domain": DOMAIN, "message": message}
    signed = Account.sign_message(encode_typed_data(full_message=data), key.key)
    envelope = {"typedData": data, "signature": "0x" + signed.signature.hex().removeprefix("0x"), "parents": list(parents)}
    return envelope, "0x" + signed.message_hash.hex().removeprefix("0x")


delegation, delegation_id = sign(master, "SpendingDelegation", {
    "master": master.address, "spender": spender.address,
    "allowances": [{"token": eth, "total": 5 * 10**16, "perPayment": 10**14, "period": 86400, "perPeriod": 10**16}],
    "payees": [payee], "validAfter": 1_700_000_000, "validUntil": 1_900_000_000, "salt": 7})
voucher, _ = sign(spender, "Voucher", {"delegation": delegation_id, "payee": payee, "token": eth,
                                        "cumulative": 10**14, "sequence": 1, "memo": "0x" + "00" * 32}, [delegation])
revocation, _ = sign(master, "Revocation", {"issuer": master.address, "target": delegation_id, "issuedAt": 1_750_000_000})
for envelope in (delegation, voucher, revocation):
    put("envelope", compact(envelope))
put("revocation-list", compact([revocation]))
put("revocation-list", compact([revocation, delegation, {"typedData": {}}]))
put("bridge-bodies", compact(revocation))
# The payee server's PAYMENT-SIGNATURE payload (the target also tries each input base64-wrapped).
accepted = {"scheme": "paratii-voucher", "network": "eip155:1", "amount": str(10**14), "asset": eth, "payTo": payee,
            "maxTimeoutSeconds": 60, "extra": {"memo": "/media/chunk-stream0-00001.webm"}}
put("payment-signature", compact({"x402Version": 2, "accepted": accepted, "payload": voucher}))
put("payment-signature", compact({"x402Version": 2, "accepted": accepted, "payload": delegation}))

# Bridge bodies and the command-line allowance form.
for body in [{"name": "Living-room player"}, {"name": ""},
             {"spender": spender.address, "allowances": [{"token": "ETH", "total": "0.05", "perPayment": "0.0001",
                                                          "period": "1d", "perPeriod": "0.01"}],
              "payees": [payee], "validFor": "30d"},
             {"spender": spender.address, "allowances": [{"token": "PTI", "total": "5"}], "validFor": "3600"}]:
    put("bridge-bodies", compact(body))
for spec in ["token=ETH,total=0.05,per-payment=0.0001,period=1d,per-period=0.01", "token=PTI,total=5",
             "token=0x000000000000000000000000000000000000dEaD,total=1.5,per-payment=0.000000000000000001"]:
    put("allowance-spec", spec)

"""Refusals: malformed input gives a non-zero exit, exactly one line on stderr and nothing on stdout.

Where eth-account is more lenient than the CLI, the test says so: those are deliberate strictness
differences, not interop failures.
"""

from __future__ import annotations

import copy
import json

import pytest
import rlp
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from conftest import SECP256K1_N

ADDR = "0x" + "ab" * 20
BASE_TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Order": [
            {"name": "maker", "type": "address"},
            {"name": "amount", "type": "uint8"},
            {"name": "delta", "type": "int8"},
            {"name": "tag", "type": "bytes4"},
            {"name": "blob", "type": "bytes"},
            {"name": "items", "type": "Item[2]"},
        ],
        "Item": [{"name": "id", "type": "uint256"}],
    },
    "primaryType": "Order",
    "domain": {"name": "N", "chainId": 1},
    "message": {"maker": ADDR, "amount": 1, "delta": -1, "tag": "0x01020304", "blob": "0x", "items": [{"id": 1}, {"id": 2}]},
}


def mutated(path_and_value):
    document = copy.deepcopy(BASE_TYPED)
    path_and_value(document)
    return document


def set_type(struct, index, type_):
    def apply(d):
        d["types"][struct][index]["type"] = type_
    return apply


def set_message(name, value):
    def apply(d):
        d["message"][name] = value
    return apply


BAD_TYPED = [
    # malformed JSON
    ("empty-input", "", "invalid JSON: unexpected end of input"),
    ("truncated-json", json.dumps(BASE_TYPED)[:-1], "invalid JSON: unterminated object"),
    ("trailing-garbage", json.dumps(BASE_TYPED) + " x", "invalid JSON: trailing characters"),
    ("not-an-object", "[]", "invalid typed data: expected a JSON object"),
    ("json-null", "null", "invalid typed data: expected a JSON object"),
    ("invalid-utf8", b'{"types": "\xff"}', "invalid JSON: string is not valid UTF-8"),
    ("unescaped-control-char", '{"types": {}, "primaryType": "A\x01", "domain": {}, "message": {}}', "invalid JSON: control character in string"),
    ("duplicate-member", json.dumps(BASE_TYPED).replace('"amount": 1', '"amount": 1, "amount": 2'), "invalid JSON: duplicate member \"amount\""),
    ("duplicate-top-level-member", json.dumps(BASE_TYPED)[:-1] + ', "primaryType": "Item"}', "invalid JSON: duplicate member \"primaryType\""),
    ("lone-surrogate", json.dumps(BASE_TYPED).replace('"N"', '"\\ud800"'), "invalid JSON: lone surrogate"),
    ("bad-escape", json.dumps(BASE_TYPED).replace('"N"', '"\\q"'), "invalid JSON: invalid escape"),
    ("leading-zero-number", json.dumps(BASE_TYPED).replace('"amount": 1', '"amount": 01'), "invalid JSON: expected ',' or '}'"),
    ("nan", json.dumps(BASE_TYPED).replace('"amount": 1', '"amount": NaN'), "invalid JSON: unexpected character"),
    ("byte-order-mark", "\ufeff" + json.dumps(BASE_TYPED), "invalid JSON: unexpected character"),
    ("deep-nesting", '{"types": ' + "[" * 10000 + "]" * 10000 + "}", "invalid JSON: nesting deeper than 64"),
    # structure
    ("unexpected-top-level-member", mutated(lambda d: d.__setitem__("extra", 1)), "invalid typed data: unexpected member \"extra\""),
    ("missing-types", mutated(lambda d: d.pop("types")), "invalid typed data: missing types object"),
    ("missing-message", mutated(lambda d: d.pop("message")), "invalid typed data: missing message object"),
    ("unknown-primary-type", mutated(lambda d: d.__setitem__("primaryType", "Nope")), "invalid typed data: primaryType Nope is not defined in types"),
    ("no-domain-type", mutated(lambda d: d["types"].pop("EIP712Domain")), "invalid typed data: types must define EIP712Domain"),
    # unknown EIP-712 types
    ("unknown-struct", mutated(set_type("Order", 5, "Thing[2]")), "invalid typed data: unknown type Thing"),
    ("uint7", mutated(set_type("Order", 1, "uint7")), "invalid typed data: unknown type uint7"),
    ("uint264", mutated(set_type("Order", 1, "uint264")), "invalid typed data: unknown type uint264"),
    ("int0", mutated(set_type("Order", 2, "int0")), "invalid typed data: unknown type int0"),
    ("bytes33", mutated(set_type("Order", 3, "bytes33")), "invalid typed data: unknown type bytes33"),
    ("bytes0", mutated(set_type("Order", 3, "bytes0")), "invalid typed data: unknown type bytes0"),
    ("uint-without-width", mutated(set_type("Order", 1, "uint")), "invalid typed data: unknown type uint"),
    ("bad-array-size", mutated(set_type("Order", 5, "Item[0]")), "invalid typed data: bad array size in type Item[0]"),
    ("unbalanced-bracket", mutated(set_type("Order", 5, "Item]")), "invalid typed data: unbalanced brackets in type Item]"),
    ("cyclic-struct", mutated(lambda d: d["types"]["Item"].append({"name": "again", "type": "Order"})), "invalid typed data: cyclic type Item: it contains itself and has no finite value"),
    ("duplicate-field", mutated(lambda d: d["types"]["Item"].append({"name": "id", "type": "uint8"})), "invalid typed data: duplicate or empty field name \"id\" in Item"),
    # values
    ("missing-field", mutated(lambda d: d["message"].pop("amount")), "invalid typed data: Order.amount is missing"),
    ("missing-nested-field", mutated(lambda d: d["message"]["items"][1].pop("id")), "invalid typed data: Item.id is missing"),
    ("undeclared-field", mutated(set_message("extra", 1)), "invalid typed data: Order has no field \"extra\""),
    ("uint8-256", mutated(set_message("amount", 256)), "invalid typed data: Order.amount = 256 is out of range for uint8"),
    ("uint8-negative", mutated(set_message("amount", -1)), "invalid typed data: Order.amount = -1 is out of range for uint8"),
    ("uint8-hex-too-big", mutated(set_message("amount", "0x100")), "invalid typed data: Order.amount = 256 is out of range for uint8"),
    ("int8-128", mutated(set_message("delta", 128)), "invalid typed data: Order.delta = 128 is out of range for int8"),
    ("int8-minus-129", mutated(set_message("delta", "-129")), "invalid typed data: Order.delta = -129 is out of range for int8"),
    ("uint-fraction", mutated(set_message("amount", 1.5)), "invalid typed data: Order.amount must be an integer (number, decimal or 0x-hex string)"),
    ("uint-exponent", mutated(set_message("amount", "1e2")), "invalid typed data: Order.amount must be an integer (number, decimal or 0x-hex string)"),
    ("uint-not-a-number", mutated(set_message("amount", "ten")), "invalid typed data: Order.amount must be an integer (number, decimal or 0x-hex string)"),
    ("uint-bool", mutated(set_message("amount", True)), "invalid typed data: Order.amount must be an integer (number, decimal or 0x-hex string)"),
    ("domain-chainid-2^256", mutated(lambda d: d["domain"].__setitem__("chainId", 2**256)), "EIP712Domain.chainId = 1157920892373161954235709850086879078532699846656405640394575840079131296399"),
    ("bytes-bad-hex", mutated(set_message("blob", "0xzz")), "invalid typed data: Order.blob: invalid hex: not a hex digit: z"),
    ("bytes-odd-hex", mutated(set_message("blob", "0x123")), "invalid typed data: Order.blob: invalid hex: odd number of hex digits"),
    ("bytes-without-0x", mutated(set_message("blob", "1234")), "invalid typed data: Order.blob must be a 0x-hex string"),
    ("bytes4-too-short", mutated(set_message("tag", "0x010203")), "invalid typed data: Order.tag must be exactly 4 bytes, got 3"),
    ("bytes4-too-long", mutated(set_message("tag", "0x0102030405")), "invalid typed data: Order.tag must be exactly 4 bytes, got 5"),
    ("address-short", mutated(set_message("maker", "0x" + "ab" * 19)), "invalid typed data: Order.maker: invalid address: expected 40 hex digits: 0xababababababababababababababababababab"),
    ("address-bad-hex", mutated(set_message("maker", "0x" + "zz" * 20)), "invalid typed data: Order.maker: invalid address: not hex: 0xzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
    ("address-bad-checksum", mutated(set_message("maker", "0x" + "aB" * 20)), "invalid typed data: Order.maker: invalid address: EIP-55 checksum mismatch: 0xaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaB"),
    ("fixed-array-wrong-length", mutated(lambda d: d["message"]["items"].pop()), "invalid typed data: Order.items must have exactly 2 items, has 1"),
    ("struct-given-a-string", mutated(lambda d: d["message"]["items"].__setitem__(0, "x")), "invalid typed data: Order.items[0] must be an object"),
]


@pytest.mark.parametrize("index, name, document, reason", [(i, n, d, r) for i, (n, d, r) in enumerate(BAD_TYPED)],
                         ids=[n for n, _, _ in BAD_TYPED])
def test_bad_typed_data_refused(paratii, work, key, index, name, document, reason):
    """Every bad document through hash-typed-data, and (alternately) through sign- or recover-typed-data."""
    text = document if isinstance(document, (str, bytes)) else json.dumps(document)
    path = work / "bad.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    paratii.refused("eth", "hash-typed-data", str(path), mentions=reason)
    if index % 3 == 0:
        paratii.refused("eth", "hash-typed-data", "-", input=text, mentions=reason)  # also through stdin
    if index % 2 == 0:
        paratii.refused("eth", "sign-typed-data", *key.opts(), str(path), mentions=reason)
    else:
        paratii.refused("eth", "recover-typed-data", "--signature", "0x" + "11" * 32 + "22" * 32 + "1b", str(path),
                        mentions=reason)


def test_base_typed_document_is_valid(paratii, work):
    """The mutations above start from a document both sides accept."""
    path = work / "ok.json"
    path.write_text(json.dumps(BASE_TYPED))
    from eth_account.messages import _hash_eip191_message
    expected = "0x" + _hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(BASE_TYPED))).hex()
    assert paratii.ok("eth", "hash-typed-data", str(path)) == expected


def test_missing_field_is_refused_though_eth_account_zero_fills(paratii, work):
    """Deliberate strictness: eth-account hashes a missing struct member as zero; we refuse the document."""
    document = copy.deepcopy(BASE_TYPED)
    del document["message"]["blob"]
    encode_typed_data(full_message=copy.deepcopy(document))  # eth-account: no complaint
    path = work / "m.json"
    path.write_text(json.dumps(document))
    paratii.refused("eth", "hash-typed-data", str(path), mentions="missing")


# ---------------------------------------------------------------------------------------------
# transactions

BASE_TX = {"type": 2, "chainId": 1, "nonce": 0, "to": ADDR, "value": "0x1", "data": "0x", "gas": 21000,
           "maxFeePerGas": 100, "maxPriorityFeePerGas": 2, "accessList": []}
LEGACY_TX = {"type": 0, "chainId": 1, "nonce": 0, "to": ADDR, "value": 1, "data": "0x", "gas": 21000, "gasPrice": 1}


def tx_with(base, **changes):
    tx = dict(base)
    for k, v in changes.items():
        if v is ...:
            tx.pop(k)
        else:
            tx[k] = v
    return tx


BAD_TX = [
    ("empty-input", "", "invalid JSON: unexpected end of input"),
    ("malformed-json", '{"type": 2,', "invalid JSON: expected a member name"),
    ("not-an-object", "[1, 2]", "invalid transaction: expected a JSON object"),
    ("duplicate-member", json.dumps(BASE_TX).replace('"nonce": 0', '"nonce": 0, "nonce": 1'), "invalid JSON: duplicate member \"nonce\""),
    ("unknown-field", tx_with(BASE_TX, frm=ADDR), "invalid transaction: unknown field \"frm\""),
    ("unknown-field-from", tx_with(BASE_TX, **{"from": ADDR}), "invalid transaction: unknown field \"from\""),
    ("legacy-without-chainid", tx_with(LEGACY_TX, chainId=...), "invalid transaction: no chainId: an unprotected legacy transaction can be replayed on any chain"),
    ("type2-without-chainid", tx_with(BASE_TX, chainId=...), "invalid transaction: missing chainId"),
    ("type-3", tx_with(BASE_TX, type=3), "invalid transaction: type must be 0, 1 or 2"),
    ("type-negative", tx_with(BASE_TX, type=-1), "invalid transaction: type must be a non-negative 256-bit integer"),
    ("missing-nonce", tx_with(BASE_TX, nonce=...), "invalid transaction: missing nonce"),
    ("missing-gas", tx_with(BASE_TX, gas=...), "invalid transaction: missing gas"),
    ("negative-value", tx_with(BASE_TX, value=-1), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("value-2^256", tx_with(BASE_TX, value=2**256), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("value-fraction", tx_with(BASE_TX, value=1.5), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("value-exponent", tx_with(BASE_TX, value="1e18"), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("value-bad-hex", tx_with(BASE_TX, value="0xg"), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("value-empty-hex", tx_with(BASE_TX, value="0x"), "invalid transaction: value must be a non-negative 256-bit integer"),
    ("type2-with-gasprice", tx_with(BASE_TX, gasPrice=1), "invalid transaction: type 2 takes maxFeePerGas, not gasPrice"),
    ("type2-missing-maxfee", tx_with(BASE_TX, maxFeePerGas=...), "invalid transaction: missing maxFeePerGas"),
    ("legacy-with-maxfee", tx_with(LEGACY_TX, maxFeePerGas=1), "invalid transaction: type 0 takes gasPrice, not maxFeePerGas"),
    ("legacy-missing-gasprice", tx_with(LEGACY_TX, gasPrice=...), "invalid transaction: missing gasPrice"),
    ("legacy-with-accesslist", tx_with(LEGACY_TX, accessList=[]), "invalid transaction: legacy transactions have no access list"),
    ("priority-above-max", tx_with(BASE_TX, maxPriorityFeePerGas=101), "invalid transaction: maxPriorityFeePerGas exceeds maxFeePerGas"),
    ("to-short", tx_with(BASE_TX, to="0x1234"), "invalid transaction: to: invalid address: expected 40 hex digits: 0x1234"),
    ("to-bad-checksum", tx_with(BASE_TX, to="0x" + "aB" * 20), "invalid transaction: to: invalid address: EIP-55 checksum mismatch: 0xaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaBaB"),
    ("to-number", tx_with(BASE_TX, to=5), "invalid transaction: to must be an address string"),
    ("data-odd-hex", tx_with(BASE_TX, data="0x123"), "invalid transaction: data must be 0x-hex"),
    ("data-bad-hex", tx_with(BASE_TX, data="0xzz"), "invalid transaction: data must be 0x-hex"),
    ("accesslist-not-array", tx_with(BASE_TX, accessList={}), "invalid transaction: accessList must be an array"),
    ("accesslist-short-key", tx_with(BASE_TX, accessList=[{"address": ADDR, "storageKeys": ["0x01"]}]), "invalid transaction: storage keys must be 32-byte hex"),
    ("accesslist-extra-member", tx_with(BASE_TX, accessList=[{"address": ADDR, "storageKeys": [], "x": 1}]), "invalid transaction: accessList entries are {address, storageKeys}"),
    ("accesslist-bad-address", tx_with(BASE_TX, accessList=[{"address": "0x12", "storageKeys": []}]), "invalid transaction: accessList: invalid address: expected 40 hex digits: 0x12"),
]


@pytest.mark.parametrize("name, tx, reason", BAD_TX, ids=[n for n, _, _ in BAD_TX])
def test_bad_transaction_refused(paratii, work, key, name, tx, reason):
    text = tx if isinstance(tx, str) else json.dumps(tx)
    path = work / "tx.json"
    path.write_text(text)
    paratii.refused("eth", "sign-tx", *key.opts(), str(path), mentions=reason)


def test_base_transactions_are_valid(paratii, work, key):
    for tx in (BASE_TX, LEGACY_TX):
        path = work / "tx.json"
        path.write_text(json.dumps(tx))
        ours = paratii.ok("eth", "sign-tx", *key.opts(), str(path))
        theirs = dict(tx, to=to_checksum_address(ADDR), value=int(str(tx["value"]), 0))
        if theirs["type"] == 0:
            del theirs["type"]
        assert ours == "0x" + bytes(Account.sign_transaction(theirs, key.private_key).raw_transaction).hex()


def test_unprotected_legacy_refused_and_eth_account_would_sign(paratii, work, key):
    tx = tx_with(LEGACY_TX, chainId=..., type=...)
    Account.sign_transaction(dict(tx, to=to_checksum_address(ADDR)), key.private_key)  # eth-account: signs it
    path = work / "tx.json"
    path.write_text(json.dumps(tx))
    paratii.refused("eth", "sign-tx", *key.opts(), str(path), mentions="chainId")


def legacy_raw(key) -> bytes:
    tx = dict(LEGACY_TX, to=to_checksum_address(ADDR))
    del tx["type"]
    return bytes(Account.sign_transaction(tx, key.private_key).raw_transaction)


def type2_raw(key) -> bytes:
    tx = dict(BASE_TX, to=to_checksum_address(ADDR), value=1)
    return bytes(Account.sign_transaction(tx, key.private_key).raw_transaction)


def high_s(raw: bytes) -> bytes:
    """The malleable twin of a signed transaction: s -> n - s, parity flipped."""
    typed = raw[0] < 0xC0
    fields = rlp.decode(raw[1:] if typed else raw)
    v = int.from_bytes(fields[-3], "big")
    s = int.from_bytes(fields[-1], "big")
    v = v ^ 1 if typed else (v + 1 if v % 2 == 1 else v - 1)  # EIP-155: flip between 2c+35 and 2c+36
    fields[-3] = v.to_bytes((v.bit_length() + 7) // 8, "big")
    fields[-1] = (SECP256K1_N - s).to_bytes(32, "big").lstrip(b"\0")
    body = rlp.encode(fields)
    return (raw[:1] + body) if typed else body


def decode_tx_cases(key):
    legacy, typed = legacy_raw(key), type2_raw(key)
    return [
        ("not-hex", "0xzz", "invalid hex: not a hex digit: z"),
        ("odd-hex", "0x" + legacy.hex()[:-1], "invalid hex: odd number of hex digits"),
        ("empty", "0x", "invalid transaction: empty input"),
        ("truncated", "0x" + legacy[:-5].hex(), "invalid RLP: item runs past the end of its input"),
        ("trailing-byte", "0x" + legacy.hex() + "00", "invalid RLP: 1 trailing bytes"),
        ("type-3", "0x03" + typed[1:].hex(), "unsupported transaction type 0x03"),
        ("type-0x7f", "0x7f" + typed[1:].hex(), "unsupported transaction type 0x7f"),
        ("typed-missing-field", "0x02" + rlp.encode(rlp.decode(typed[1:])[:-1]).hex(), "type 2 has 12 fields, got 11"),
        ("legacy-bad-v", "0x" + rlp.encode(rlp.decode(legacy)[:6] + [b"\x1d"] + rlp.decode(legacy)[7:]).hex(), "invalid v 29"),
        ("typed-yparity-2", "0x02" + rlp.encode(rlp.decode(typed[1:])[:9] + [b"\x02"] + rlp.decode(typed[1:])[10:]).hex(),
         "yParity must be 0 or 1"),
        ("nonce-leading-zero", "0x" + rlp.encode([b"\x00\x01"] + rlp.decode(legacy)[1:]).hex(), "nonce has leading zero bytes"),
        ("high-s-legacy", "0x" + high_s(legacy).hex(), "high s value (EIP-2)"),
        ("high-s-typed", "0x" + high_s(typed).hex(), "high s value (EIP-2)"),
    ]


def test_decode_tx_refusals(paratii, key):
    for name, raw, reason in decode_tx_cases(key):
        paratii.refused("eth", "decode-tx", raw, mentions=reason)


def test_high_s_transaction_accepted_by_eth_account(paratii, key):
    """Deliberate strictness: eth-account recovers the malleable twin to the same sender; we refuse it."""
    for raw in (legacy_raw(key), type2_raw(key)):
        twin = high_s(raw)
        assert Account.recover_transaction(twin) == key.address
        paratii.refused("eth", "decode-tx", "0x" + twin.hex(), mentions="high s")


# ---------------------------------------------------------------------------------------------
# messages, signatures, hex


def good_signature(key, text="m") -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key.private_key).signature).hex()


def test_bad_signatures_refused(paratii, key):
    sig = good_signature(key)
    body = sig[2:]
    r = int(body[:64], 16)
    cases = {
        "64-bytes": ("0x" + body[:128], "expected 65 bytes, got 64"),
        "66-bytes": (sig + "00", "expected 65 bytes, got 66"),
        "v-29": ("0x" + body[:128] + "1d", "v must be 27 or 28, got 29"),
        "v-2": ("0x" + body[:128] + "02", "v must be 27 or 28, got 2"),
        "odd-hex": (sig[:-1], "invalid hex: odd number of hex digits"),
        "not-hex": ("0x" + "zz" * 65, "invalid hex: not a hex digit: z"),
        "r-zero": ("0x" + "00" * 32 + body[64:], "r or s is zero"),
        "s-zero": ("0x" + body[:64] + "00" * 32 + body[128:], "r or s is zero"),
        "r-equals-n": ("0x" + format(SECP256K1_N, "064x") + body[64:], "r or s out of range"),
        "s-above-n": ("0x" + body[:64] + "ff" * 32 + body[128:], "r or s out of range"),
        "empty": ("", "expected 65 bytes, got 0"),
    }
    assert r > 0
    for name, (bad, reason) in cases.items():
        paratii.refused("eth", "recover-message", "--signature", bad, "m", mentions=reason)


def test_bad_message_hex_refused(paratii, key):
    for bad in ["0xzz", "0x123", "0x 12", "0xg0"]:
        paratii.refused("eth", "sign-message", *key.opts(), "--hex", bad, mentions="invalid hex")
        paratii.refused("eth", "recover-message", "--signature", good_signature(key), "--hex", bad, mentions="invalid hex")
        paratii.refused("eth", "keccak", "--hex", bad, mentions="invalid hex")


def test_hash_typed_data_missing_file(paratii, work):
    paratii.refused("eth", "hash-typed-data", str(work / "absent.json"), mentions="cannot read")


def test_sign_with_wrong_password_prints_nothing(paratii, work, key):
    wrong = work / "wrong.pw"
    wrong.write_text("not the password\n")
    result = paratii.refused("eth", "sign-message", "--keystore", str(key.keystore), "--password-file", str(wrong),
                             "hello", mentions="wrong password")
    assert key.password not in result.err or key.password == ""


def test_new_key_bad_scrypt_n_leaves_no_file(paratii, work, key):
    for i, n in enumerate(["1000", "1", "0", "=-4", "3", "=-4096", "1099511627776"]):
        target = work / f"k{i}.json"
        n_args = ["--scrypt-n" + n] if n.startswith("=") else ["--scrypt-n", n]
        paratii.refused("eth", "new-key", "--keystore", str(target), "--password-file", str(key.password_file), *n_args,
                        mentions="scrypt")
        assert not target.exists()
    target = work / "k-abc.json"
    paratii.usage_error("eth", "new-key", "--keystore", str(target), "--password-file", str(key.password_file),
                        "--scrypt-n", "abc")
    assert not target.exists()
    assert [p for p in work.iterdir() if p.name.startswith(".")] == []


def test_usage_errors(paratii, key):
    """Malformed command lines: missing arguments, unknown options and subcommands."""
    paratii.usage_error("eth", "sign-message", *key.opts())
    paratii.usage_error("eth", "sign-message", "hello")
    paratii.usage_error("eth", "recover-message", "hello")
    paratii.usage_error("eth", "keccak", "--bogus", "x")
    paratii.usage_error("eth", "no-such-command")


def test_text_mutations_took_effect():
    base = json.dumps(BASE_TYPED)
    for name, document, _ in BAD_TYPED + BAD_TX:
        if isinstance(document, str):
            assert document != base and document != json.dumps(BASE_TX), name


def test_high_s_typed_data_signature_refused_though_eth_account_accepts(paratii, work, key):
    signable = encode_typed_data(full_message=copy.deepcopy(BASE_TYPED))
    signed = Account.sign_message(signable, key.private_key)
    twin = signed.r.to_bytes(32, "big") + (SECP256K1_N - signed.s).to_bytes(32, "big") + bytes([55 - signed.v])
    assert Account.recover_message(signable, signature=twin) == key.address
    path = work / "t.json"
    path.write_text(json.dumps(BASE_TYPED))
    assert paratii.ok("eth", "recover-typed-data", "--signature", "0x" + bytes(signed.signature).hex(), str(path)) == key.address
    paratii.refused("eth", "recover-typed-data", "--signature", "0x" + twin.hex(), str(path), mentions="high s")


def test_new_key_into_missing_directory(paratii, work, key):
    target = work / "no" / "such" / "dir" / "k.json"
    paratii.refused("eth", "new-key", "--keystore", str(target), "--password-file", str(key.password_file),
                    "--scrypt-n", "16", mentions="cannot create")
    assert not target.exists()


def test_missing_password_file(paratii, work, key):
    paratii.refused("eth", "address", "--keystore", str(key.keystore), "--password-file", str(work / "absent.pw"),
                    mentions="cannot read")
    target = work / "k.json"
    paratii.refused("eth", "new-key", "--keystore", str(target), "--password-file", str(work / "absent.pw"),
                    "--scrypt-n", "16", mentions="cannot read")
    assert not target.exists()


def test_no_password_file_and_no_terminal(paratii, key):
    """Without --password-file and without a terminal the CLI must refuse, not hang or sign."""
    paratii.refused("eth", "address", "--keystore", str(key.keystore), mentions="terminal")

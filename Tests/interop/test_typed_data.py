"""EIP-712: `paratii eth hash-typed-data / sign-typed-data / recover-typed-data` vs eth-account."""

from __future__ import annotations

import copy
import json

import pytest
from eth_account import Account
from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_type, hash_struct
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak

from conftest import rng_for
from typed_data_gen import (
    SPENDING_DELEGATION_ENCODE_TYPE,
    SPENDING_DELEGATION_TYPES,
    TypedDataGenerator,
    dumps,
    spending_delegation,
)

RANDOM_CASES = 48


def reference_digest(document: dict) -> str:
    return "0x" + _hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(document))).hex()


def reference_signature(document: dict, private_key: bytes) -> str:
    signed = Account.sign_message(encode_typed_data(full_message=copy.deepcopy(document)), private_key)
    return "0x" + bytes(signed.signature).hex()


def reference_recover(document: dict, signature: str) -> str:
    return Account.recover_message(encode_typed_data(full_message=copy.deepcopy(document)), signature=signature)


def check_both_ways(paratii, work, key, document: dict, text: str, *, via_stdin: bool = False):
    path = work / "typed.json"
    path.write_text(text, encoding="utf-8")
    source, stdin = ("-", text) if via_stdin else (str(path), None)

    digest = reference_digest(document)
    assert paratii.ok("eth", "hash-typed-data", source, input=stdin) == digest

    ours = paratii.ok("eth", "sign-typed-data", *key.opts(), source, input=stdin)
    theirs = reference_signature(document, key.private_key)
    assert ours == theirs, "EIP-712 signatures differ (RFC 6979 makes both deterministic)"

    assert reference_recover(document, ours) == key.address
    assert paratii.ok("eth", "recover-typed-data", "--signature", theirs, source, input=stdin) == key.address


def random_documents():
    out = []
    for i in range(RANDOM_CASES):
        rng = rng_for("typed-data", i)
        document = TypedDataGenerator(rng).typed_data()
        out.append(pytest.param(i, document, dumps(document, rng), id=f"random-{i}"))
    return out


@pytest.mark.parametrize("case, document, text", random_documents())
def test_random_typed_data(paratii, work, keys, case, document, text):
    check_both_ways(paratii, work, keys[case % len(keys)], document, text, via_stdin=case % 7 == 3)


def spec_digest(document: dict) -> bytes:
    """keccak(0x1901 ‖ hashStruct(EIP712Domain) ‖ hashStruct(primary)) from eth-account's building blocks,
    honouring the declared domain field order and any primary type."""
    types = document["types"]
    separator = hash_struct("EIP712Domain", {"EIP712Domain": types["EIP712Domain"]}, document["domain"])
    body = hash_struct(document["primaryType"], types, document["message"])
    return keccak(b"\x19\x01" + separator + body)


@pytest.mark.parametrize("case", range(16))
def test_any_primary_type_and_domain_order(paratii, work, keys, case):
    rng = rng_for("typed-data-any-primary", case)
    document = TypedDataGenerator(rng).typed_data(any_primary=True)
    key = keys[case % len(keys)]
    path = work / "typed.json"
    path.write_text(dumps(document, rng), encoding="utf-8")
    digest = spec_digest(document)
    assert paratii.ok("eth", "hash-typed-data", str(path)) == "0x" + digest.hex()
    theirs = "0x" + bytes(Account.unsafe_sign_hash(digest, key.private_key).signature).hex()
    ours = paratii.ok("eth", "sign-typed-data", *key.opts(), str(path))
    assert ours == theirs
    assert Account._recover_hash(digest, signature=bytes.fromhex(ours[2:])) == key.address
    assert paratii.ok("eth", "recover-typed-data", "--signature", theirs, str(path)) == key.address


def test_generator_covers_what_it_claims():
    """Guard against a generator regression silently shrinking coverage."""
    seen = set()
    for i in range(RANDOM_CASES):
        document = TypedDataGenerator(rng_for("typed-data", i)).typed_data()
        types = document["types"]
        for name, fields in types.items():
            for f in fields:
                t = f["type"]
                core = t.split("[")[0]
                if core.startswith("uint"):
                    seen.add("uint")
                elif core.startswith("int"):
                    seen.add("int")
                elif core.startswith("bytes") and core != "bytes":
                    seen.add("bytesN")
                elif core in types:
                    seen.add("struct")
                    if "[]" in t and core == name:
                        seen.add("self-recursion")
                    if "[" in t:
                        seen.add("struct-array")
                else:
                    seen.add(core)
                if t.count("[") >= 2:
                    seen.add("nested-array")
                if any(c.isdigit() for c in t[t.find("["):]) and "[" in t:
                    seen.add("fixed-array")
        if len(document["types"]["EIP712Domain"]) < 5:
            seen.add("domain-subset")
    expected = {"uint", "int", "bytesN", "bytes", "string", "bool", "address", "struct", "struct-array",
                "self-recursion", "nested-array", "fixed-array", "domain-subset"}
    assert expected <= seen, f"missing: {expected - seen}"


# ---------------------------------------------------------------------------------------------
# Hand-written documents for the cases that matter most


MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}


def test_eip712_spec_example(paratii, work, key):
    # The digest published in the EIP itself.
    path = work / "mail.json"
    path.write_text(json.dumps(MAIL))
    assert paratii.ok("eth", "hash-typed-data", str(path)) == \
        "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    check_both_ways(paratii, work, key, MAIL, json.dumps(MAIL))


def edge_documents():
    int_fields = [{"name": f"u{n}", "type": f"uint{n}"} for n in range(8, 257, 8)]
    int_fields += [{"name": f"i{n}", "type": f"int{n}"} for n in range(8, 257, 8)]
    domain_type = [{"name": "chainId", "type": "uint256"}]

    def ints(pick):
        message = {}
        for n in range(8, 257, 8):
            message[f"u{n}"], message[f"i{n}"] = pick(n)
        return {"types": {"EIP712Domain": domain_type, "Ints": int_fields}, "primaryType": "Ints",
                "domain": {"chainId": 1}, "message": message}

    yield pytest.param(ints(lambda n: (2**n - 1, 2**(n - 1) - 1)), id="all-widths-max")
    yield pytest.param(ints(lambda n: (0, -(2**(n - 1)))), id="all-widths-min")
    yield pytest.param(ints(lambda n: (str(2**n - 1), str(-1))), id="all-widths-decimal-strings")
    yield pytest.param(ints(lambda n: (hex(2**n - 1), str(-(2**(n - 1))))), id="all-widths-hex-strings")

    bytes_fields = [{"name": f"b{n}", "type": f"bytes{n}"} for n in range(1, 33)]
    yield pytest.param({
        "types": {"EIP712Domain": domain_type, "B": bytes_fields + [{"name": "dyn", "type": "bytes"}]},
        "primaryType": "B", "domain": {"chainId": 137},
        "message": {**{f"b{n}": "0x" + "ff" * n for n in range(1, 33)}, "dyn": "0x"},
    }, id="all-bytesN-and-empty-bytes")

    tree = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "salt", "type": "bytes32"}],
            "Node": [{"name": "label", "type": "string"}, {"name": "children", "type": "Node[]"},
                     {"name": "weights", "type": "int8[2][]"}],
        },
        "primaryType": "Node",
        "domain": {"name": "Tree", "salt": "0x" + "01" * 32},
        "message": {"label": "root", "weights": [[-128, 127]], "children": [
            {"label": "a", "weights": [], "children": []},
            {"label": "b", "weights": [[0, -1], [1, 1]], "children": [{"label": "b1", "weights": [], "children": []}]},
        ]},
    }
    yield pytest.param(tree, id="recursive-tree")

    yield pytest.param({
        "types": {
            "EIP712Domain": [],
            "Grid": [{"name": "cells", "type": "Cell[2][]"}, {"name": "tags", "type": "string[][3]"},
                     {"name": "flags", "type": "bool[1][1][1]"}],
            "Cell": [{"name": "x", "type": "uint8"}, {"name": "note", "type": "bytes"}],
            "Unused": [],
        },
        "primaryType": "Grid",
        "domain": {},
        "message": {
            "cells": [[{"x": 1, "note": "0x00"}, {"x": 255, "note": "0x"}]],
            "tags": [[], ["ä"], ["", "🦜"]],
            "flags": [[[True]]],
        },
    }, id="nested-arrays-empty-domain")


@pytest.mark.parametrize("document", list(edge_documents()))
def test_edge_documents(paratii, work, key, document):
    # "Unused" would make eth-account's primary-type derivation ambiguous: hash only what it can.
    if "Unused" in document["types"]:
        types = dict(document["types"])
        del types["Unused"]
        reference = {**document, "types": types}
        path = work / "t.json"
        path.write_text(json.dumps(document))
        # A struct nobody references does not enter the digest.
        assert paratii.ok("eth", "hash-typed-data", str(path)) == reference_digest(reference)
        check_both_ways(paratii, work, key, reference, json.dumps(reference))
    else:
        check_both_ways(paratii, work, key, document, json.dumps(document))


# ---------------------------------------------------------------------------------------------
# The project's SpendingDelegation


def test_spending_delegation_encode_type():
    assert encode_type("SpendingDelegation", SPENDING_DELEGATION_TYPES) == SPENDING_DELEGATION_ENCODE_TYPE


@pytest.mark.parametrize("case", range(12))
def test_spending_delegation(paratii, work, keys, case):
    rng = rng_for("spending-delegation", case)
    document = spending_delegation(rng)
    check_both_ways(paratii, work, keys[case % len(keys)], document, dumps(document, rng), via_stdin=case % 4 == 1)


def test_spending_delegation_domain_separator(paratii, work):
    """The domain alone (primaryType EIP712Domain) hashes to 0x1901 ‖ domainSeparator, no message part."""
    document = spending_delegation(rng_for("spending-delegation-domain"))
    domain_types = {"EIP712Domain": SPENDING_DELEGATION_TYPES["EIP712Domain"]}
    separator = hash_struct("EIP712Domain", domain_types, document["domain"])
    expected = "0x" + keccak(b"\x19\x01" + separator).hex()
    only_domain = {"types": domain_types, "primaryType": "EIP712Domain", "domain": document["domain"], "message": {}}
    path = work / "domain.json"
    path.write_text(json.dumps(only_domain))
    assert paratii.ok("eth", "hash-typed-data", str(path)) == expected


def test_spending_delegation_sign_is_bound_to_fields(paratii, work, key):
    """Changing any single member changes the digest (on both sides, identically)."""
    base = spending_delegation(rng_for("spending-delegation-bound"))
    base["message"]["allowances"] = base["message"]["allowances"] or [
        {"token": "0x" + "11" * 20, "total": 5, "perPayment": 1, "period": 60, "perPeriod": 2}]
    variants = []
    for member in ["validAfter", "validUntil", "salt"]:
        v = copy.deepcopy(base)
        v["message"][member] = (int(v["message"][member]) + 1) % 2**64
        variants.append(v)
    v = copy.deepcopy(base)
    v["message"]["allowances"][0]["perPeriod"] = (int(v["message"]["allowances"][0]["perPeriod"]) + 1) % 2**256
    variants.append(v)
    v = copy.deepcopy(base)
    v["domain"]["chainId"] += 1
    variants.append(v)
    digests = set()
    for i, document in enumerate([base] + variants):
        path = work / f"v{i}.json"
        path.write_text(json.dumps(document))
        digest = paratii.ok("eth", "hash-typed-data", str(path))
        assert digest == reference_digest(document)
        digests.add(digest)
    assert len(digests) == 1 + len(variants)

"""ABI encoding: `paratii eth abi-encode / abi-decode` against eth-abi, both directions, on random
types (static and dynamic, nested arrays and tuples) and random values."""

from __future__ import annotations

import json

from eth_abi import decode, encode
from eth_utils import to_checksum_address

from conftest import rng_for

RANDOM_CASES = 40


def random_type(rng, depth: int = 0) -> str:
    choice = rng.randrange(10 if depth < 2 else 7)
    if choice == 0:
        return f"uint{8 * rng.randint(1, 32)}"
    if choice == 1:
        return f"int{8 * rng.randint(1, 32)}"
    if choice == 2:
        return "address"
    if choice == 3:
        return "bool"
    if choice == 4:
        return f"bytes{rng.randint(1, 32)}"
    if choice == 5:
        return "bytes"
    if choice == 6:
        return "string"
    if choice == 7:
        return random_type(rng, depth + 1) + "[]"
    if choice == 8:
        return random_type(rng, depth + 1) + f"[{rng.randint(1, 3)}]"
    return "(" + ",".join(random_type(rng, depth + 1) for _ in range(rng.randint(1, 3))) + ")"


def split_top(inner: str) -> list[str]:
    parts, level, start = [], 0, 0
    for i, c in enumerate(inner):
        if c == "(":
            level += 1
        elif c == ")":
            level -= 1
        elif c == "," and level == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return parts


def random_value(rng, t: str):
    """(eth-abi's value, our JSON value)."""
    if t.endswith("]"):
        base, _, size = t[:-1].rpartition("[")
        n = int(size) if size else rng.randint(0, 3)
        pairs = [random_value(rng, base) for _ in range(n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if t.startswith("("):
        pairs = [random_value(rng, m) for m in split_top(t[1:-1])]
        return tuple(p[0] for p in pairs), [p[1] for p in pairs]
    if t.startswith("uint"):
        v = rng.getrandbits(int(t[4:]))
        return v, str(v) if rng.random() < 0.5 else hex(v)
    if t.startswith("int"):
        bits = int(t[3:])
        v = rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1))
        return v, str(v)
    if t == "address":
        a = to_checksum_address(bytes(rng.getrandbits(8) for _ in range(20)))
        return a, a
    if t == "bool":
        v = rng.random() < 0.5
        return v, v
    if t == "bytes":
        b = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 70)))
        return b, "0x" + b.hex()
    if t.startswith("bytes"):
        b = bytes(rng.getrandbits(8) for _ in range(int(t[5:])))
        return b, "0x" + b.hex()
    s = "".join(rng.choice("abc é∑😀") for _ in range(rng.randint(0, 40)))
    return s, s


def as_tuples(value):
    """eth-abi decodes every array as a tuple."""
    if isinstance(value, (list, tuple)):
        return tuple(as_tuples(v) for v in value)
    # eth-abi decodes addresses in lower case.
    return value.lower() if isinstance(value, str) and len(value) == 42 and value.startswith("0x") else value


def test_random_values_encode_as_eth_abi_and_decode_back(paratii, work):
    rng = rng_for("abi")
    for case in range(RANDOM_CASES):
        types = [random_type(rng) for _ in range(rng.randint(1, 4))]
        pairs = [random_value(rng, t) for t in types]
        ours = paratii.ok("eth", "abi-encode", "(" + ",".join(types) + ")", "-", input=json.dumps([p[1] for p in pairs]))
        expected = "0x" + encode(types, [p[0] for p in pairs]).hex()
        assert ours == expected, f"case {case}: {types}"
        # eth-abi reads ours back to the same values; ours reads eth-abi's back to the same JSON.
        assert as_tuples(decode(types, bytes.fromhex(ours[2:]))) == as_tuples([p[0] for p in pairs]), f"case {case}: {types}"
        decoded = json.loads(paratii.ok("eth", "abi-decode", "(" + ",".join(types) + ")", expected))
        again = paratii.ok("eth", "abi-encode", "(" + ",".join(types) + ")", "-", input=json.dumps(decoded))
        assert again == expected, f"case {case}: decode → encode changed {types}"


def test_calldata_matches_eth_abi_with_its_selector(paratii):
    out = paratii.ok("eth", "abi-encode", "transfer(address,uint256)", "-", input='["0x00000000000000000000000000000000000000bb", "7"]')
    assert out == "0xa9059cbb" + encode(["address", "uint256"], ["0x00000000000000000000000000000000000000bb", 7]).hex()


def test_dirty_data_is_refused(paratii):
    # A bool of 2 and a uint8 of 256: eth-abi refuses them too (strict mode).
    paratii.refused("eth", "abi-decode", "(bool)", "0x" + "00" * 31 + "02", mentions="bool")
    paratii.refused("eth", "abi-decode", "(uint8)", "0x" + "00" * 30 + "0100", mentions="uint8")

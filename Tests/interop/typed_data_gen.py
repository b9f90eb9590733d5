"""A seeded generator of random, valid EIP-712 typed data in eth_signTypedData_v4 JSON form.

Valid for the EIP and acceptable to eth-account, whose `encode_typed_data` has two quirks the
generator respects: it derives the primary type as the one struct no other struct references
(so the primary type is referenced only by itself, and every other struct is reachable from it),
and it builds the domain type from the domain's keys in the canonical order
name, version, chainId, verifyingContract, salt (so EIP712Domain lists them in that order).

Coverage: nested structs, struct arrays, fixed / dynamic / nested arrays, bytes, bytes1..32,
strings with unicode, bool, address (lower, upper, checksummed), every intN/uintN width with edge
values (0, ±1, min, max) written as JSON integers, decimal strings or 0x-hex strings, recursion
through dynamic arrays (self and mutual), empty structs, and a random subset of domain fields.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field

from eth_utils import to_checksum_address

# Atomic type names (and "int"/"uint"), which a struct name must not shadow.
EIP712_SOLIDITY_TYPES = {"bool", "address", "string", "bytes", "int", "uint"} | {
    f"{p}{n}" for p in ("int", "uint") for n in range(8, 257, 8)} | {f"bytes{n}" for n in range(1, 33)}

DOMAIN_FIELDS = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
]

INT_WIDTHS = list(range(8, 257, 8))
STRING_POOL = [
    "", "a", "Paratii", "Ether Mail", "héllo wörld", "日本語", "🦜🔐", "e\u0301", "Ω≈ç√∫", "مرحبا",
    "quote \" backslash \\ slash /", "control \u0001\u001f chars", "tab\tnewline\n", "\u2028\u2029",
    "\U0001F468\u200D\U0001F469\u200D\U0001F467", "nul\u0000inside", "x" * 300,
]


@dataclass
class FieldSpec:
    name: str
    base: str            # atomic type name or struct name
    dims: list           # innermost first: [None, 2] means base[][2]
    recursive: bool = False

    @property
    def type_string(self) -> str:
        return self.base + "".join(f"[{'' if d is None else d}]" for d in self.dims)


@dataclass
class Schema:
    primary: str
    structs: dict = field(default_factory=dict)   # name -> [FieldSpec]
    order: list = field(default_factory=list)


class TypedDataGenerator:
    def __init__(self, rng: random.Random, *, max_extra_structs: int = 4, max_depth: int = 2):
        self.rng = rng
        self.max_extra_structs = max_extra_structs
        self.max_depth = max_depth

    # ---- names -------------------------------------------------------------------------------

    def struct_name(self, used: set) -> str:
        """Identifiers that sort differently by case and underscore, so encodeType's ordering is exercised."""
        rng = self.rng
        while True:
            head = rng.choice(string.ascii_uppercase * 3 + string.ascii_lowercase + "_")
            tail = "".join(rng.choice(string.ascii_letters + string.digits + "_$") for _ in range(rng.randint(0, 10)))
            name = head + tail
            if name not in used and name != "EIP712Domain" and name not in EIP712_SOLIDITY_TYPES:
                used.add(name)
                return name

    def field_name(self, used: set) -> str:
        rng = self.rng
        while True:
            name = rng.choice(string.ascii_lowercase + "_") + "".join(
                rng.choice(string.ascii_letters + string.digits + "_") for _ in range(rng.randint(0, 12)))
            if name not in used:
                used.add(name)
                return name

    # ---- types -------------------------------------------------------------------------------

    def atomic_type(self) -> str:
        rng = self.rng
        kind = rng.choice(["bool", "address", "string", "bytes", "bytesN", "uintN", "intN", "uintN", "intN"])
        if kind == "bytesN":
            return f"bytes{rng.randint(1, 32)}"
        if kind == "uintN":
            return f"uint{rng.choice(INT_WIDTHS)}"
        if kind == "intN":
            return f"int{rng.choice(INT_WIDTHS)}"
        return kind

    def dims(self, *, need_dynamic: bool = False) -> list:
        rng = self.rng
        count = rng.choice([0, 0, 1, 1, 2]) if not need_dynamic else rng.choice([1, 1, 2])
        dims = [rng.choice([None, None, 1, 2, 3]) for _ in range(count)]
        if need_dynamic and None not in dims:
            dims[rng.randrange(len(dims))] = None
        return dims

    def schema(self) -> Schema:
        rng = self.rng
        used: set = set()
        names = [self.struct_name(used) for _ in range(1 + rng.randint(0, self.max_extra_structs))]
        schema = Schema(primary=names[0], order=names)
        field_names = {n: set() for n in names}
        for i, name in enumerate(names):
            fields = []
            count = rng.randint(1, 6) if i == 0 else rng.choice([0] + [rng.randint(1, 5)] * 6)
            for _ in range(count):
                roll = rng.random()
                later = names[i + 1:]
                if roll < 0.25 and later:
                    # A reference down the DAG, possibly inside arrays.
                    fields.append(FieldSpec(self.field_name(field_names[name]), rng.choice(later), self.dims()))
                elif roll < 0.35:
                    # Recursion through a dynamic array: to itself, or (not from the primary) to an earlier non-primary struct.
                    target = name if i == 0 else rng.choice(names[1:i + 1])
                    fields.append(FieldSpec(self.field_name(field_names[name]), target,
                                            self.dims(need_dynamic=True), recursive=True))
                else:
                    fields.append(FieldSpec(self.field_name(field_names[name]), self.atomic_type(), self.dims()))
            schema.structs[name] = fields
        # eth-account needs every non-primary struct reachable from the primary (one root).
        for j in range(1, len(names)):
            referenced = any(
                f.base == names[j] and not f.recursive for i in range(j) for f in schema.structs[names[i]])
            if not referenced:
                i = rng.randrange(j)
                schema.structs[names[i]].insert(
                    rng.randint(0, len(schema.structs[names[i]])),
                    FieldSpec(self.field_name(field_names[names[i]]), names[j], self.dims()))
        return schema

    # ---- values ------------------------------------------------------------------------------

    def int_value(self, bits: int, signed: bool):
        rng = self.rng
        if signed:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            value = rng.choice([0, 1, -1, lo, hi, lo + 1, hi - 1, rng.randint(lo, hi), rng.randint(lo, hi)])
        else:
            hi = (1 << bits) - 1
            value = rng.choice([0, 1, hi, hi - 1, 1 << (bits - 1), rng.randint(0, hi), rng.randint(0, hi)])
        form = rng.choice(["int", "int", "dec", "hex"])
        if form == "dec":
            return str(value)
        if form == "hex" and value >= 0:
            digits = format(value, "x")
            if rng.random() < 0.2:
                digits = "00" + digits
            if rng.random() < 0.3:
                digits = digits.upper()
            return "0x" + digits
        return value

    def address_value(self) -> str:
        rng = self.rng
        raw = bytes(rng.getrandbits(8) for _ in range(20))
        form = rng.choice(["lower", "checksum", "checksum", "upper"])
        if form == "lower":
            return "0x" + raw.hex()
        if form == "upper":
            return "0x" + raw.hex().upper()
        return to_checksum_address(raw)

    def hex_bytes(self, n: int) -> str:
        digits = bytes(self.rng.getrandbits(8) for _ in range(n)).hex()
        return "0x" + (digits.upper() if self.rng.random() < 0.2 else digits)

    def string_value(self) -> str:
        rng = self.rng
        if rng.random() < 0.6:
            return rng.choice(STRING_POOL)
        alphabet = string.printable + "äöüß€日本語😀🦜\u0301\u200d\U00010348"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))

    def atomic_value(self, type_: str):
        rng = self.rng
        if type_ == "bool":
            return rng.choice([True, False])
        if type_ == "address":
            return self.address_value()
        if type_ == "string":
            return self.string_value()
        if type_ == "bytes":
            return self.hex_bytes(rng.choice([0, 1, 31, 32, 33, rng.randint(0, 100)]))
        if type_.startswith("bytes"):
            return self.hex_bytes(int(type_[5:]))
        if type_.startswith("uint"):
            return self.int_value(int(type_[4:]), signed=False)
        if type_.startswith("int"):
            return self.int_value(int(type_[3:]), signed=True)
        raise AssertionError(type_)

    def value(self, schema: Schema, spec_base: str, dims: list, depth: int, recursive: bool):
        if dims:
            outer = dims[-1]
            if outer is None:
                if recursive:
                    length = self.rng.randint(0, 2) if depth < self.max_depth else 0
                else:
                    length = self.rng.choice([0, 1, 2, 3])
            else:
                length = outer
            return [self.value(schema, spec_base, dims[:-1], depth, recursive) for _ in range(length)]
        if spec_base in schema.structs:
            return self.struct_value(schema, spec_base, depth + 1)
        return self.atomic_value(spec_base)

    def struct_value(self, schema: Schema, name: str, depth: int) -> dict:
        fields = list(schema.structs[name])
        values = {f.name: self.value(schema, f.base, f.dims, depth, f.recursive) for f in fields}
        keys = list(values)
        self.rng.shuffle(keys)  # member order in JSON must not matter
        return {k: values[k] for k in keys}

    # ---- the document ------------------------------------------------------------------------

    def domain(self):
        rng = self.rng
        chosen = [f for f in DOMAIN_FIELDS if rng.random() < 0.7]
        if rng.random() < 0.05:
            chosen = []
        values = {}
        for name, _ in chosen:
            if name in ("name", "version"):
                values[name] = self.string_value() if rng.random() < 0.5 else rng.choice(["Paratii", "1", "2.0.1"])
            elif name == "chainId":
                values[name] = self.int_value(256, signed=False) if rng.random() < 0.3 else rng.choice(
                    [1, 5, 10, 137, 8453, 11155111, "11155111", "0xaa36a7", 2**53 + 1])
            elif name == "verifyingContract":
                values[name] = self.address_value()
            else:
                values[name] = self.hex_bytes(32)
        return [{"name": n, "type": t} for n, t in chosen], values

    def typed_data(self, *, any_primary: bool = False) -> dict:
        """With any_primary, the primary type may be any struct (not only the root) and the domain's
        fields come in any order: valid EIP-712 that eth-account's `encode_typed_data` cannot express,
        checked against its lower-level `hash_struct` instead."""
        schema = self.schema()
        domain_type, domain = self.domain()
        if any_primary:
            self.rng.shuffle(domain_type)
        types = {name: [{"name": f.name, "type": f.type_string} for f in schema.structs[name]] for name in schema.order}
        types["EIP712Domain"] = domain_type
        order = list(types)
        self.rng.shuffle(order)
        primary = self.rng.choice(schema.order) if any_primary else schema.primary
        return {
            "types": {k: types[k] for k in order},
            "primaryType": primary,
            "domain": domain,
            "message": self.struct_value(schema, primary, 0),
        }


def dumps(document: dict, rng: random.Random) -> str:
    """Serialise with varied layout: ASCII escapes (incl. surrogate pairs) or raw UTF-8, compact or indented."""
    return json.dumps(
        document,
        ensure_ascii=rng.choice([True, False]),
        indent=rng.choice([None, None, 2, "\t"]),
        separators=rng.choice([(",", ":"), (", ", ": ")]) if rng.random() < 0.5 else None,
    )


# ---- the project's own EIP-712 structs --------------------------------------------------------

SPENDING_DELEGATION_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "SpendingDelegation": [
        {"name": "master", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "allowances", "type": "Allowance[]"},
        {"name": "payees", "type": "address[]"},
        {"name": "validAfter", "type": "uint64"},
        {"name": "validUntil", "type": "uint64"},
        {"name": "salt", "type": "uint256"},
    ],
    "Allowance": [
        {"name": "token", "type": "address"},
        {"name": "total", "type": "uint256"},
        {"name": "perPayment", "type": "uint256"},
        {"name": "period", "type": "uint64"},
        {"name": "perPeriod", "type": "uint256"},
    ],
}

SPENDING_DELEGATION_ENCODE_TYPE = (
    "SpendingDelegation(address master,address spender,Allowance[] allowances,address[] payees,"
    "uint64 validAfter,uint64 validUntil,uint256 salt)"
    "Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)"
)


def spending_delegation(rng: random.Random) -> dict:
    gen = TypedDataGenerator(rng)
    u64 = lambda: rng.choice([0, 1, 2**64 - 1, rng.randint(1_600_000_000, 2_000_000_000), rng.getrandbits(64)])
    u256 = lambda: rng.choice([0, 1, 2**256 - 1, 10**18, rng.getrandbits(256), rng.getrandbits(96)])
    allowances = [
        {"token": gen.address_value(), "total": u256(), "perPayment": u256(), "period": u64(), "perPeriod": u256()}
        for _ in range(rng.choice([0, 1, 2, 3, 5]))
    ]
    valid_after = u64()
    return {
        "types": SPENDING_DELEGATION_TYPES,
        "primaryType": "SpendingDelegation",
        "domain": {
            "name": "Paratii",
            "version": "1",
            "chainId": rng.choice([1, 10, 137, 8453, 11155111, 31337]),
            "verifyingContract": gen.address_value(),
        },
        "message": {
            "master": gen.address_value(),
            "spender": gen.address_value(),
            "allowances": allowances,
            "payees": [gen.address_value() for _ in range(rng.choice([0, 1, 2, 4]))],
            "validAfter": valid_after,
            "validUntil": u64(),
            "salt": u256(),
        },
    }

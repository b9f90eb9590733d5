"""Helpers for the contract suite: contracts/Paratii.vy on py-evm through titanoboa, offline.

Messages are built in the eth_signTypedData_v4 JSON form and signed by eth-account (the independent
implementation the interop suite already trusts); the same JSON goes to `paratii eth hash-typed-data`
and, as tuples, to the contract. Random choices derive from the interop suite's seed
(PARATII_INTEROP_SEED) so a failure reproduces exactly.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import boa
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONTRACTS = REPO / "contracts"
INTEROP = REPO / "Tests" / "interop"

# Reuse the interop suite's helpers (CLI runner, seeded RNG, key generation). Its conftest is loaded
# under another name: pytest owns the module name `conftest` (this suite is a package, `contract`,
# so that both suites run in one pytest invocation without their conftests colliding).
_spec = importlib.util.spec_from_file_location("interop_conftest", INTEROP / "conftest.py")
interop = importlib.util.module_from_spec(_spec)
sys.modules["interop_conftest"] = interop
_spec.loader.exec_module(interop)
rng_for = interop.rng_for
random_private_key = interop.random_private_key
SECP256K1_N = interop.SECP256K1_N

ETH = "0x0000000000000000000000000000000000000000"
WEI = 10**18
DELAY = 3 * 86400      # withdrawal and revocation delay of the deployed contract
GRACE = 7 * 86400      # redemption stays open this long after validUntil
START = 1_800_000_000  # block time when each test starts

DOMAIN_TYPE = interop.DOMAIN_TYPE
TYPES = interop.TYPES


def typed(primary: str, domain: dict, message: dict) -> dict:
    return {"types": {"EIP712Domain": DOMAIN_TYPE, **TYPES[primary]}, "primaryType": primary,
            "domain": domain, "message": message}


def digest_of(document: dict) -> bytes:
    """eth-account's EIP-712 digest of a typed-data document."""
    return bytes(_hash_eip191_message(encode_typed_data(full_message=document)))


def sign_typed(document: dict, private_key: bytes) -> bytes:
    """r ‖ s ‖ v with v 27/28 and low s, as eth-account signs."""
    return bytes(Account.sign_message(encode_typed_data(full_message=document), private_key).signature)


def b32(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(value.removeprefix("0x"))


# The contract takes structs as tuples, fields in declaration order.
def delegation_tuple(m: dict) -> tuple:
    return (m["master"], m["spender"],
            [(a["token"], int(a["total"]), int(a["perPayment"]), int(a["period"]), int(a["perPeriod"]))
             for a in m["allowances"]],
            list(m["payees"]), int(m["validAfter"]), int(m["validUntil"]), int(m["salt"]))


def voucher_tuple(m: dict) -> tuple:
    return (b32(m["delegation"]), m["payee"], m["token"], int(m["cumulative"]), int(m["sequence"]), b32(m["memo"]))


def revocation_tuple(m: dict) -> tuple:
    return (m["issuer"], b32(m["target"]), int(m["issuedAt"]))


def with_v(signature: bytes, v: int) -> bytes:
    return signature[:64] + bytes([v])


def high_s_twin(signature: bytes) -> bytes:
    """The other valid signature of the same message: s → n − s, v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


@dataclass
class Party:
    name: str
    key: bytes
    address: str


def party(name: str, rng) -> Party:
    key = random_private_key(rng)
    return Party(name, key, Account.from_key(key).address)


@dataclass
class Signed:
    """A signed message: its JSON document, the tuple the contract takes, its digest and signature."""
    document: dict
    args: tuple
    digest: bytes
    signature: bytes

    @property
    def id(self) -> str:
        return "0x" + self.digest.hex()


class World:
    """One deployed Paratii (and a PTI stand-in), the parties, and message builders bound to its domain."""

    def __init__(self, paratii, token, rng):
        self.paratii = paratii
        self.token = token
        self.rng = rng
        self.master = party("master", rng)
        self.spender = party("spender", rng)
        self.payees = [party(f"payee{i}", rng) for i in range(3)]
        self.stranger = party("stranger", rng)
        self.relayer = party("relayer", rng)
        for p in (self.master, self.relayer, self.stranger):
            boa.env.set_balance(p.address, 1000 * WEI)
        token.mint(self.master.address, 10**6 * WEI)
        with boa.env.prank(self.master.address):
            token.approve(paratii.address, 2**256 - 1)

    @property
    def domain(self) -> dict:
        return {"name": "Paratii", "version": "1", "chainId": boa.env.evm.patch.chain_id,
                "verifyingContract": self.paratii.address}

    def sign(self, primary: str, message: dict, signer: Party, domain: dict | None = None) -> Signed:
        document = typed(primary, domain or self.domain, message)
        convert = {"SpendingDelegation": delegation_tuple, "Voucher": voucher_tuple,
                   "Revocation": revocation_tuple}[primary]
        return Signed(document, convert(message), digest_of(document), sign_typed(document, signer.key))

    def delegation(self, *, signer: Party | None = None, domain: dict | None = None, **overrides) -> Signed:
        message = {"master": self.master.address, "spender": self.spender.address,
                   "allowances": [
                       {"token": ETH, "total": 5 * WEI // 100, "perPayment": WEI // 10000, "period": 86400,
                        "perPeriod": WEI // 100},
                       {"token": str(self.token.address), "total": 5 * WEI, "perPayment": WEI // 100, "period": 0,
                        "perPeriod": 0}],
                   "payees": [p.address for p in self.payees],
                   "validAfter": START - 3600, "validUntil": START + 30 * 86400, "salt": 2**200 + 7}
        message.update(overrides)
        return self.sign("SpendingDelegation", message, signer or self.master, domain)

    def voucher(self, delegation: Signed, payee: Party | str, cumulative: int, *, token: str = ETH,
                sequence: int = 1, signer: Party | None = None, domain: dict | None = None, **overrides) -> Signed:
        message = {"delegation": delegation.id, "payee": payee if isinstance(payee, str) else payee.address,
                   "token": token, "cumulative": cumulative, "sequence": sequence, "memo": "0x" + "ab" * 32}
        message.update(overrides)
        return self.sign("Voucher", message, signer or self.spender, domain)

    def revocation(self, target: Signed | str, *, issuer: Party | None = None, issued_at: int = START,
                   signer: Party | None = None) -> Signed:
        issuer = issuer or self.master
        message = {"issuer": issuer.address, "target": target.id if isinstance(target, Signed) else target,
                   "issuedAt": issued_at}
        return self.sign("Revocation", message, signer or issuer)

    # ---- actions ----

    def deposit(self, amount: int, who: Party | None = None):
        who = who or self.master
        with boa.env.prank(who.address):
            self.paratii.deposit(value=amount)

    def deposit_token(self, amount: int, who: Party | None = None):
        who = who or self.master
        with boa.env.prank(who.address):
            self.paratii.depositToken(self.token.address, amount)

    def redeem(self, delegation: Signed, voucher: Signed, *, sender: Party | None = None,
               master_signature: bytes | None = None, spender_signature: bytes | None = None) -> int:
        with boa.env.prank((sender or self.relayer).address):
            return self.paratii.redeem(delegation.args, master_signature or delegation.signature,
                                       voucher.args, spender_signature or voucher.signature)

    def redeem_batch(self, delegation: Signed, vouchers: list[Signed], *, sender: Party | None = None) -> int:
        with boa.env.prank((sender or self.relayer).address):
            return self.paratii.redeemBatch(delegation.args, delegation.signature,
                                            [v.args for v in vouchers], [v.signature for v in vouchers])

    def revoke(self, revocation: Signed, *, sender: Party | None = None):
        with boa.env.prank((sender or self.relayer).address):
            self.paratii.revoke(revocation.args, revocation.signature)

    def eth(self, who) -> int:
        return boa.env.get_balance(who if isinstance(who, str) else who.address)

    def pti(self, who) -> int:
        return self.token.balanceOf(who if isinstance(who, str) else who.address)


def deploy_paratii(delay: int = DELAY, grace: int = GRACE, **kwargs):
    return boa.load(str(CONTRACTS / "Paratii.vy"), delay, grace, **kwargs)


def deploy_token():
    return boa.load(str(CONTRACTS / "TestToken.vy"), "Paratii test token", "PTI")

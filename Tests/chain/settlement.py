"""Helpers shared by the redemption tests: contract reads, fees paid, vouchers a stolen key signs."""

from __future__ import annotations

import json
from pathlib import Path

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from .conftest import interop

WEI = 10**18
DOMAIN_TYPE = interop.DOMAIN_TYPE
TYPES = interop.TYPES


def view(node, signature: str, types: list[str], args: list, to: str | None = None) -> int:
    data = keccak(text=signature)[:4] + encode(types, args)
    return int.from_bytes(node.call(to or node.info["paratii"], data), "big")


def escrow(node, master: str, token: str) -> int:
    return view(node, "escrow(address,address)", ["address", "address"], [master, token])


def token_balance(node, holder: str) -> int:
    return view(node, "balanceOf(address)", ["address"], [holder], to=node.info["token"])


def redeemed(node, delegation_id: str, token: str) -> int:
    return view(node, "redeemed(bytes32,address)", ["bytes32", "address"], [bytes.fromhex(delegation_id[2:]), token])


def fee_paid(node, tx_hash: str) -> int:
    receipt = node.receipt(tx_hash)
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def gas_used(node, tx_hash: str) -> int:
    return int(node.receipt(tx_hash)["gasUsed"], 16)


def transactions(output: str) -> list[str]:
    """The hashes `paratii payee redeem` reports, in order."""
    return [line.split()[1].rstrip(":") for line in output.splitlines() if line.startswith("transaction ")]


def stolen_voucher(spending_keystore: Path, password: str, delegation: dict, payee: str, token: str, cumulative: int,
                   sequence: int = 1) -> str:
    """A voucher signed with the spending key outside the wallet's ledger, as a thief would: envelope JSON."""
    key = Account.decrypt(json.loads(spending_keystore.read_text()), password)
    domain = delegation["typedData"]["domain"]
    delegation_id = "0x" + bytes(keccak(b"\x19\x01" + _separator(domain) + _struct_hash(delegation))).hex()
    message = {"delegation": delegation_id, "payee": payee, "token": token, "cumulative": str(cumulative),
               "sequence": sequence, "memo": "0x" + "00" * 32}
    document = {"types": {"EIP712Domain": DOMAIN_TYPE, **TYPES["Voucher"]}, "primaryType": "Voucher",
                "domain": domain, "message": message}
    signature = Account.sign_message(encode_typed_data(full_message=document), key).signature
    return json.dumps({"typedData": document, "signature": "0x" + bytes(signature).hex(), "parents": [delegation]})


def _separator(domain: dict) -> bytes:
    from eth_account._utils.encode_typed_data.encoding_and_hashing import hash_domain
    return bytes(hash_domain(domain))


def _struct_hash(envelope: dict) -> bytes:
    from eth_account._utils.encode_typed_data.encoding_and_hashing import hash_struct
    typed = envelope["typedData"]
    types = {k: v for k, v in typed["types"].items() if k != "EIP712Domain"}
    return bytes(hash_struct(typed["primaryType"], types, typed["message"]))

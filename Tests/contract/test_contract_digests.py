"""The contract hashes the typed messages exactly as off chain: for random SpendingDelegation, Voucher and
Revocation messages, the contract's digest equals `paratii eth hash-typed-data`'s and eth-account's."""

from __future__ import annotations

import json

import boa
import pytest
from eth_utils import keccak, to_checksum_address

from .chain import ETH, delegation_tuple, deploy_paratii, digest_of, revocation_tuple, rng_for, typed, voucher_tuple

CASES = 40  # per message type


def address(rng) -> str:
    return rng.choice([ETH, "0x" + "ff" * 20, to_checksum_address(rng.randbytes(20))])


def u(rng, bits: int) -> int:
    return rng.choice([0, 1, 2**bits - 1, rng.getrandbits(bits), rng.getrandbits(min(bits, 64))])


def random_delegation(rng) -> dict:
    return {
        "master": address(rng), "spender": address(rng),
        "allowances": [{"token": address(rng), "total": u(rng, 256), "perPayment": u(rng, 256),
                        "period": u(rng, 64), "perPeriod": u(rng, 256)}
                       for _ in range(rng.choice([0, 1, 2, 3, 8]))],
        "payees": [address(rng) for _ in range(rng.choice([0, 1, 2, 5, 32]))],
        "validAfter": u(rng, 64), "validUntil": u(rng, 64), "salt": u(rng, 256),
    }


def random_voucher(rng) -> dict:
    return {"delegation": "0x" + rng.randbytes(32).hex(), "payee": address(rng), "token": address(rng),
            "cumulative": u(rng, 256), "sequence": u(rng, 64), "memo": "0x" + rng.randbytes(32).hex()}


def random_revocation(rng) -> dict:
    return {"issuer": address(rng), "target": "0x" + rng.randbytes(32).hex(), "issuedAt": u(rng, 64)}


@pytest.fixture(scope="module")
def deployments(contracts_deployed):
    """A few contracts at different addresses, so verifyingContract varies too."""
    paratii, _ = contracts_deployed
    return [paratii] + [deploy_paratii() for _ in range(2)]


def test_domain_separator_is_the_eip712_one(deployments):
    boa.env.evm.patch.chain_id = 31337
    for contract in deployments:
        expected = keccak(
            keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
            + keccak(b"Paratii") + keccak(b"1") + (31337).to_bytes(32, "big") + bytes(12)
            + bytes.fromhex(str(contract.address)[2:]))
        assert contract.domainSeparator() == expected


@pytest.mark.parametrize("primary,make,view", [
    ("SpendingDelegation", random_delegation, "delegationId"),
    ("Voucher", random_voucher, "voucherDigest"),
    ("Revocation", random_revocation, "revocationDigest"),
])
def test_contract_digests_equal_the_cli_and_eth_account(paratii, work, deployments, primary, make, view):

    convert = {"SpendingDelegation": delegation_tuple, "Voucher": voucher_tuple, "Revocation": revocation_tuple}[primary]
    rng = rng_for("contract-digests", primary)
    with boa.env.anchor():
        for i in range(CASES):
            chain_id = rng.choice([1, 10, 137, 8453, 11155111, 31337, rng.getrandbits(64)])
            boa.env.evm.patch.chain_id = chain_id
            contract = rng.choice(deployments)
            message = make(rng)
            document = typed(primary, {"name": "Paratii", "version": "1", "chainId": chain_id,
                                       "verifyingContract": str(contract.address)}, message)
            theirs = digest_of(document)
            path = work / f"{primary}-{i}.json"
            path.write_text(json.dumps(document))
            ours_cli = paratii.ok("eth", "hash-typed-data", str(path))
            on_chain = getattr(contract, view)(convert(message))
            assert on_chain == theirs, f"case {i}: contract {on_chain.hex()} vs eth-account {theirs.hex()}"
            assert ours_cli == "0x" + theirs.hex(), f"case {i}: CLI {ours_cli} vs eth-account {theirs.hex()}"

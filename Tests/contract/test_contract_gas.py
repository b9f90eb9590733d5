"""Gas per redemption against a plain ERC-20 transfer, measured in the same run on py-evm (Prague rules).

titanoboa runs a message, not a transaction, so each measured call is made a transaction by hand:
the access lists are reset (sender and target warm, as EIP-2929 says a transaction starts), and the
intrinsic cost (21000 + calldata, with EIP-7623's floor) and the refund cap (EIP-3529) are added.
Every payee is a fresh address, and so is the ERC-20 transfer's recipient: the same cold storage.
Run with -s to see the figures.
"""

from __future__ import annotations

import re
from pathlib import Path

import boa
from eth_utils import to_canonical_address

from .chain import ETH, START, WEI, World, deploy_paratii, deploy_token, party, rng_for

BATCH = 20
GOAL = 2.0  # batch gas per voucher, as a multiple of one ERC-20 transfer
# The README's gas table states these figures; they must stay what the contract measures. py-evm and
# the seeds are fixed, so the figures repeat to the gas; the tolerance only absorbs a few dozen gas of
# calldata zero bytes (signatures; 12–30 gas each) should a seed change, well below what a code change moves.
README = Path(__file__).resolve().parents[2] / "README.md"
TOLERANCE = 0.001  # of each figure: 135 gas of a redemption, 48 of the transfer
RATIO_TOLERANCE = 0.01  # the table's ratios are printed to 2 decimals
README_ROWS = {
    "`redeem`, ETH": "redeem ETH",
    "`redeem`, PTI": "redeem PTI",
    f"`redeemBatch` of {BATCH}, ETH, per voucher": f"batch of {BATCH} ETH, per voucher",
    f"`redeemBatch` of {BATCH}, PTI, per voucher": f"batch of {BATCH} PTI, per voucher",
}


def transaction_gas(contract, call, sender: str) -> int:
    boa.env.reset_gas_used()  # also resets the warm/cold access lists
    state = boa.env.evm.vm.state
    state.mark_address_warm(to_canonical_address(sender))
    state.mark_address_warm(to_canonical_address(str(contract.address)))
    with boa.env.prank(sender):
        call()
    computation = contract._computation
    assert not computation.is_error
    data = bytes(computation.msg.data)
    zeros = data.count(0)
    nonzeros = len(data) - zeros
    execution = computation.get_gas_used()
    used = 21000 + 4 * zeros + 16 * nonzeros + execution
    used -= min(computation.get_gas_refund(), used // 5)
    floor = 21000 + 10 * (zeros + 4 * nonzeros)
    return max(used, floor)


def test_gas_of_redemption_against_an_erc20_transfer():
    # A fresh environment of its own: resetting the access lists would break the other tests' anchors.
    with boa.swap_env(boa.Env()):
        boa.env.evm.patch.chain_id = 31337
        boa.env.evm.patch.timestamp = START
        boa.env.eoa = boa.env.generate_address("deployer")
        transfer, figures = measure(World(deploy_paratii(), deploy_token(), rng_for("gas-world")))
    assert_readme_states(transfer, figures)


def readme_gas_table() -> tuple[int, dict[str, tuple[int, float]]]:
    """The README's yardstick and its table rows: label → (gas, × ERC-20 transfer)."""
    text = README.read_text(encoding="utf-8")
    yardstick = re.search(r"ERC-20 transfer to a fresh address \(([\d,]+) gas\)", text)
    assert yardstick, "README: the gas section no longer names the ERC-20 transfer's gas"
    rows = {}
    for label, gas, ratio in re.findall(r"^\| (`[^|]*?) \| ([\d,]+) \| ([\d.]+) \|$", text, re.MULTILINE):
        rows[label] = (int(gas.replace(",", "")), float(ratio))
    return int(yardstick.group(1).replace(",", "")), rows


def assert_readme_states(transfer: int, figures: dict[str, int]):
    stated_transfer, rows = readme_gas_table()
    assert abs(stated_transfer - transfer) <= TOLERANCE * transfer, (
        f"README says an ERC-20 transfer costs {stated_transfer} gas, measured {transfer}")
    assert set(README_ROWS) <= set(rows), f"README's gas table lacks rows: {sorted(set(README_ROWS) - set(rows))}"
    for label, key in README_ROWS.items():
        gas, ratio = rows[label]
        measured = figures[key]
        assert abs(gas - measured) <= TOLERANCE * measured, f"README: {label} {gas} gas, measured {measured}"
        assert abs(ratio - measured / transfer) <= RATIO_TOLERANCE, (
            f"README: {label} {ratio} x an ERC-20 transfer, measured {measured / transfer:.2f}")


def measure(w: World) -> tuple[int, dict[str, int]]:
    rng = rng_for("gas")
    pti = str(w.token.address)
    w.deposit(WEI)
    w.deposit_token(1000 * WEI)
    # Payee lists are bounded by 32: an open delegation (any payee) lets the batch use fresh payees.
    d = w.delegation(payees=[])

    # The yardstick: the master sends PTI to a fresh address (recipient's balance slot goes 0 → nonzero).
    fresh = party("fresh", rng).address
    transfer = transaction_gas(w.token, lambda: w.token.transfer(fresh, 10**15), w.master.address)

    figures = {}
    for token, name in ((ETH, "ETH"), (pti, "PTI")):
        payee = party(f"single-{name}", rng)
        v = w.voucher(d, payee, 10**15, token=token)
        figures[f"redeem {name}"] = transaction_gas(
            w.paratii, lambda: w.paratii.redeem(d.args, d.signature, v.args, v.signature), w.relayer.address)
        vouchers = [w.voucher(d, party(f"batch-{name}-{i}", rng), 10**12 + i, token=token) for i in range(BATCH)]
        batch = transaction_gas(w.paratii, lambda: w.paratii.redeemBatch(
            d.args, d.signature, [v.args for v in vouchers], [v.signature for v in vouchers]), w.relayer.address)
        figures[f"batch of {BATCH} {name}, per voucher"] = batch // BATCH
        assert all(w.paratii.channelPaid(d.digest, v.args[1], token) == v.args[3] for v in vouchers)

    print(f"\nERC-20 transfer to a fresh address: {transfer} gas")
    for label, gas in figures.items():
        print(f"{label}: {gas} gas = {gas / transfer:.2f} x an ERC-20 transfer")
    for name in ("ETH", "PTI"):
        ratio = figures[f"batch of {BATCH} {name}, per voucher"] / transfer
        assert ratio <= GOAL, f"batch per voucher ({name}) is {ratio:.2f} x an ERC-20 transfer, goal {GOAL}"
    return transfer, figures

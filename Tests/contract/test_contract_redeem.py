"""contracts/Paratii.vy: escrow, redemption, the stolen-key bound, refusals with their reasons,
revocation and withdrawal with their delay. Every balance is checked to the wei."""

from __future__ import annotations

import boa
import pytest
from eth.exceptions import Revert

from .chain import DELAY, ETH, GRACE, START, WEI, deploy_paratii, high_s_twin, with_v


def logs_named(contract, name):
    return [e for e in contract.get_logs() if type(e).__name__ == name]


# ---- happy path ---------------------------------------------------------------------------------

def test_eth_happy_path_pays_each_channel_its_increase(world):
    w = world
    d = w.delegation()
    w.deposit(WEI // 10)
    assert w.paratii.escrow(w.master.address, ETH) == WEI // 10
    assert w.eth(w.paratii.address) == WEI // 10
    payee = w.payees[0]
    before = w.eth(payee)

    assert w.redeem(d, w.voucher(d, payee, 3 * 10**14, sequence=3)) == 3 * 10**14
    [event] = logs_named(w.paratii, "Redeemed")
    assert (event.delegation, event.payee, event.token) == (d.digest, payee.address, ETH)
    assert (event.cumulative, event.paid, event.shortfall) == (3 * 10**14, 3 * 10**14, 0)
    # A later voucher of the same channel pays only the increase.
    assert w.redeem(d, w.voucher(d, payee, 10**15, sequence=10)) == 7 * 10**14

    assert w.eth(payee) - before == 10**15
    assert w.paratii.channelPaid(d.digest, payee.address, ETH) == 10**15
    assert w.paratii.redeemed(d.digest, ETH) == 10**15
    assert w.paratii.escrow(w.master.address, ETH) == WEI // 10 - 10**15
    assert w.eth(w.paratii.address) == WEI // 10 - 10**15


def test_token_happy_path_and_balances_to_the_wei(world):
    w = world
    d = w.delegation()
    pti = str(w.token.address)
    w.deposit_token(3 * WEI)
    [event] = logs_named(w.paratii, "Deposited")
    assert (event.master, event.token, event.amount, event.escrow) == (w.master.address, pti, 3 * WEI, 3 * WEI)
    assert w.pti(w.paratii.address) == 3 * WEI

    paid = w.redeem_batch(d, [w.voucher(d, w.payees[0], WEI // 3, token=pti),
                              w.voucher(d, w.payees[1], 2 * WEI // 7, token=pti)])
    assert paid == WEI // 3 + 2 * WEI // 7
    assert w.pti(w.payees[0]) == WEI // 3
    assert w.pti(w.payees[1]) == 2 * WEI // 7
    assert w.pti(w.paratii.address) == 3 * WEI - paid
    assert w.paratii.escrow(w.master.address, pti) == 3 * WEI - paid
    assert w.paratii.redeemed(d.digest, pti) == paid


def test_the_same_voucher_twice_pays_once(world):
    w = world
    d = w.delegation()
    w.deposit(WEI)
    v = w.voucher(d, w.payees[0], 10**15)
    assert w.redeem(d, v) == 10**15
    with boa.reverts("nothing to redeem"):
        w.redeem(d, v)
    assert w.redeem_batch(d, [v, v]) == 0  # a batch carries on, paying nothing
    assert w.eth(w.payees[0]) == 10**15


def test_deposits_are_per_master_and_refuse_nonsense(world):
    w = world
    w.deposit(5, who=w.stranger)
    assert w.paratii.escrow(w.stranger.address, ETH) == 5
    assert w.paratii.escrow(w.master.address, ETH) == 0
    with boa.reverts("zero deposit"):
        w.deposit(0)
    with boa.env.prank(w.master.address):
        with boa.reverts("use deposit for ETH"):
            w.paratii.depositToken(ETH, 1)
        with boa.reverts("not a token"):
            w.paratii.depositToken(w.stranger.address, 1)
        with boa.reverts("zero deposit"):
            w.paratii.depositToken(w.token.address, 0)
    # Plain ETH sent to the contract is refused: it would belong to no escrow.
    with pytest.raises(Revert):
        boa.env.raw_call(w.paratii.address, sender=w.master.address, value=1)
    assert w.eth(w.paratii.address) == 5


# ---- the stolen spending key --------------------------------------------------------------------

@pytest.mark.parametrize("token", ["ETH", "PTI"])
def test_stolen_key_full_total_to_three_payees_pays_exactly_the_total(world, token):
    """The thief promises the whole total to every payee; each payee accepted its voucher off chain.
    On chain the delegation pays its total once, in all, and the late payees get what is left: zero."""
    w = world
    d = w.delegation()
    address = ETH if token == "ETH" else str(w.token.address)
    total = 5 * WEI // 100 if token == "ETH" else 5 * WEI
    if token == "ETH":
        w.deposit(10 * total)
    else:
        w.deposit_token(10 * total)
    balance = w.eth if token == "ETH" else w.pti
    before = [balance(p) for p in w.payees]
    vouchers = [w.voucher(d, p, total, token=address, sequence=1) for p in w.payees]

    assert w.redeem_batch(d, vouchers) == total
    received = [balance(p) - b for p, b in zip(w.payees, before)]
    assert received == [total, 0, 0]
    events = logs_named(w.paratii, "Redeemed")
    assert [(e.paid, e.shortfall) for e in events] == [(total, 0), (0, total), (0, total)]
    assert w.paratii.redeemed(d.digest, address) == total
    assert w.paratii.escrow(w.master.address, address) == 9 * total

    # Each late payee on its own: the single form says why, the batch form pays zero.
    for late in vouchers[1:]:
        with boa.reverts("total exhausted"):
            w.redeem(d, late)
        assert w.redeem_batch(d, [late]) == 0
    assert sum(balance(p) - b for p, b in zip(w.payees, before)) == total


def test_stolen_key_split_total_is_shared_in_order(world):
    w = world
    d = w.delegation()
    total = 5 * WEI // 100
    w.deposit(WEI)
    first = w.redeem(d, w.voucher(d, w.payees[0], total * 2 // 5))
    rest = w.redeem_batch(d, [w.voucher(d, p, total) for p in w.payees])
    assert first + rest == total
    assert w.paratii.channelPaid(d.digest, w.payees[0].address, ETH) == total
    assert w.paratii.channelPaid(d.digest, w.payees[1].address, ETH) == 0


def test_over_the_escrow_pays_what_is_left_and_the_rest_later(world):
    w = world
    d = w.delegation()
    payee = w.payees[0]
    w.deposit(10**15)
    v = w.voucher(d, payee, 4 * 10**15)
    assert w.redeem(d, v) == 10**15
    [event] = logs_named(w.paratii, "Redeemed")
    assert (event.paid, event.shortfall) == (10**15, 3 * 10**15)
    with boa.reverts("escrow empty"):
        w.redeem(d, v)
    assert w.redeem_batch(d, [v]) == 0
    # The master tops up: the same voucher's unpaid part is redeemable, and no more.
    w.deposit(WEI)
    assert w.redeem(d, v) == 3 * 10**15
    with boa.reverts("nothing to redeem"):
        w.redeem(d, v)
    assert w.eth(payee) == 4 * 10**15


def test_escrow_is_shared_by_a_masters_delegations(world):
    w = world
    d1 = w.delegation(salt=1)
    d2 = w.delegation(salt=2)
    w.deposit(6 * 10**15)
    assert w.redeem(d1, w.voucher(d1, w.payees[0], 4 * 10**15)) == 4 * 10**15
    assert w.redeem(d2, w.voucher(d2, w.payees[0], 4 * 10**15)) == 2 * 10**15
    assert w.paratii.escrow(w.master.address, ETH) == 0
    assert w.eth(w.paratii.address) == 0


# ---- refusals, each with its reason ------------------------------------------------------------

def test_replay_on_another_chain_id_is_refused(world):
    w = world
    w.deposit(WEI)
    other = {**w.domain, "chainId": 1}
    d = w.delegation(domain=other)
    v = w.voucher(d, w.payees[0], 10**15, domain=other)
    with boa.reverts("not signed by master"):
        w.redeem(d, v)
    # A delegation of this chain with a voucher signed for the other chain: the spender's signature fails.
    d_here = w.delegation()
    v_other = w.voucher(d_here, w.payees[0], 10**15, domain=other)
    with boa.reverts("not signed by spender"):
        w.redeem(d_here, v_other)
    # The same messages on chain 1 would be accepted: the domain is what refused them.
    boa.env.evm.patch.chain_id = 1
    assert w.redeem(d, v) == 10**15


def test_replay_on_another_contract_is_refused(world):

    w = world
    w.deposit(WEI)
    other = deploy_paratii()
    elsewhere = {**w.domain, "verifyingContract": other.address}
    d = w.delegation(domain=elsewhere)
    v = w.voucher(d, w.payees[0], 10**15, domain=elsewhere)
    with boa.reverts("not signed by master"):
        w.redeem(d, v)
    assert other.delegationId(d.args) == d.digest
    assert w.paratii.delegationId(d.args) != d.digest


def test_tampered_amount_is_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 10**15)
    tampered = v.args[:3] + (v.args[3] + 1,) + v.args[4:]
    with boa.env.prank(w.relayer.address):
        with boa.reverts("not signed by spender"):
            w.paratii.redeem(d.args, d.signature, tampered, v.signature)
    # A tampered delegation (a larger total) fails the master's signature.
    big = list(d.args)
    big[2] = [(ETH, 10 * WEI, 0, 0, 0)]
    with boa.env.prank(w.relayer.address):
        with boa.reverts("not signed by master"):
            w.paratii.redeem(tuple(big), d.signature, v.args, v.signature)
    assert w.eth(w.payees[0]) == 0


def test_signatures_by_the_wrong_keys_are_refused(world):
    w = world
    w.deposit(WEI)
    forged = w.delegation(signer=w.stranger)
    with boa.reverts("not signed by master"):
        w.redeem(forged, w.voucher(forged, w.payees[0], 10**15))
    d = w.delegation()
    with boa.reverts("not signed by spender"):
        w.redeem(d, w.voucher(d, w.payees[0], 10**15, signer=w.master))


def test_payee_outside_the_list_is_refused_and_an_empty_list_means_any(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    with boa.reverts("payee not allowed"):
        w.redeem(d, w.voucher(d, w.stranger, 10**15))
    with boa.reverts("zero payee"):
        w.redeem(d, w.voucher(d, ETH, 10**15))
    anyone = w.delegation(payees=[])
    with boa.reverts("payee is this contract"):
        w.redeem(anyone, w.voucher(anyone, str(w.paratii.address), 10**15, token=str(w.token.address)))
    assert w.redeem(anyone, w.voucher(anyone, w.stranger, 10**15)) == 10**15


def test_token_without_an_allowance_is_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    with boa.reverts("token not allowed"):
        w.redeem(d, w.voucher(d, w.payees[0], 1, token=w.stranger.address))


def test_validity_window_with_its_grace_period(world):
    w = world
    w.deposit(WEI)
    d = w.delegation(validAfter=START + 100, validUntil=START + 1000)
    v1 = w.voucher(d, w.payees[0], 10**15)
    with boa.reverts("not yet valid"):
        w.redeem(d, v1)
    boa.env.timestamp = START + 100
    assert w.redeem(d, v1) == 10**15
    # After validUntil, inside the grace period: still redeemable.
    boa.env.timestamp = START + 1000 + GRACE
    assert w.redeem(d, w.voucher(d, w.payees[0], 2 * 10**15)) == 10**15
    boa.env.timestamp = START + 1000 + GRACE + 1
    with boa.reverts("expired"):
        w.redeem(d, w.voucher(d, w.payees[0], 3 * 10**15))
    inverted = w.delegation(validAfter=START + 10, validUntil=START)
    boa.env.timestamp = START + 10
    with boa.reverts("window ends before it starts"):
        w.redeem(inverted, w.voucher(inverted, w.payees[0], 1))


def test_revocation_takes_effect_after_the_delay(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    w.revoke(w.revocation(d))
    [event] = logs_named(w.paratii, "Revoked")
    assert (event.issuer, event.target, event.effectiveAt) == (w.master.address, d.digest, START + DELAY)
    assert w.paratii.revokedFrom(w.master.address, d.digest) == START + DELAY
    # Before it takes effect, payees redeem what they hold.
    boa.env.timestamp = START + DELAY - 1
    assert w.redeem(d, w.voucher(d, w.payees[0], 10**15)) == 10**15
    boa.env.timestamp = START + DELAY
    with boa.reverts("delegation revoked"):
        w.redeem(d, w.voucher(d, w.payees[1], 10**15))
    with boa.reverts("delegation revoked"):
        w.redeem_batch(d, [w.voucher(d, w.payees[1], 10**15)])
    # Another delegation of the same master is untouched.
    other = w.delegation(salt=99)
    assert w.redeem(other, w.voucher(other, w.payees[1], 10**15)) == 10**15


def test_revocations_are_checked_and_never_postponed(world):
    w = world
    d = w.delegation()
    with boa.reverts("not signed by issuer"):
        w.revoke(w.revocation(d, signer=w.stranger))
    # A revocation by someone other than the master is recorded under its issuer and binds nothing here.
    w.revoke(w.revocation(d, issuer=w.stranger))
    assert w.paratii.revokedFrom(w.master.address, d.digest) == 0
    w.revoke(w.revocation(d))
    boa.env.timestamp = START + 10
    with boa.reverts("already revoked"):
        w.revoke(w.revocation(d, issued_at=START + 10))
    assert w.paratii.revokedFrom(w.master.address, d.digest) == START + DELAY
    # A revocation dated later than the delay takes effect at its date.
    d2 = w.delegation(salt=5)
    w.revoke(w.revocation(d2, issued_at=START + 10 * DELAY))
    assert w.paratii.revokedFrom(w.master.address, d2.digest) == START + 10 * DELAY
    w.deposit(WEI)
    stranger_revoked = w.delegation(salt=6)
    w.revoke(w.revocation(stranger_revoked, issuer=w.stranger))
    boa.env.timestamp = START + 2 * DELAY
    assert w.redeem(stranger_revoked, w.voucher(stranger_revoked, w.payees[0], 1)) == 1


def test_v_other_than_27_or_28_is_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 10**15)
    for bad in (0, 1, 29):
        with boa.reverts("bad signature v"):
            w.redeem(d, v, master_signature=with_v(d.signature, bad))
        with boa.reverts("bad signature v"):
            w.redeem(d, v, spender_signature=with_v(v.signature, bad))
    with boa.reverts("bad signature length"):
        w.redeem(d, v, spender_signature=v.signature[:64])


def test_high_s_twins_are_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 10**15)
    with boa.reverts("high s"):
        w.redeem(d, v, master_signature=high_s_twin(d.signature))
    with boa.reverts("high s"):
        w.redeem(d, v, spender_signature=high_s_twin(v.signature))
    assert w.redeem(d, v) == 10**15


def test_unrecoverable_signature_is_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 10**15)
    with boa.reverts("invalid signature"):
        w.redeem(d, v, spender_signature=bytes(64) + bytes([27]))


def test_voucher_of_another_delegation_is_refused(world):
    w = world
    w.deposit(WEI)
    d = w.delegation()
    other = w.delegation(salt=12345)
    with boa.reverts("voucher of another delegation"):
        w.redeem(d, w.voucher(other, w.payees[0], 10**15))
    # In a batch, one foreign voucher reverts the whole call: nothing is paid.
    with boa.reverts("voucher of another delegation"):
        w.redeem_batch(d, [w.voucher(d, w.payees[0], 10**15), w.voucher(other, w.payees[1], 10**15)])
    assert w.eth(w.payees[0]) == 0


def test_batch_shape_is_checked(world):
    w = world
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 1)
    with boa.env.prank(w.relayer.address):
        with boa.reverts("empty batch"):
            w.paratii.redeemBatch(d.args, d.signature, [], [])
        with boa.reverts("batch lengths differ"):
            w.paratii.redeemBatch(d.args, d.signature, [v.args], [v.signature, v.signature])


def test_arrays_beyond_the_bounds_do_not_decode(world):
    """Nine allowances or 33 payees cannot even be passed: the ABI decoder refuses them."""
    w = world
    d = w.delegation()
    v = w.voucher(d, w.payees[0], 1)
    nine = list(d.args)
    nine[2] = [(ETH, 1, 0, 0, 0)] * 9
    with pytest.raises(Exception):
        w.paratii.redeem(tuple(nine), d.signature, v.args, v.signature)
    many = list(d.args)
    many[3] = [w.payees[0].address] * 33
    with pytest.raises(Exception):
        w.paratii.redeem(tuple(many), d.signature, v.args, v.signature)
    full = w.delegation(allowances=[{"token": ETH, "total": 1, "perPayment": 0, "period": 0, "perPeriod": 0}] * 8,
                        payees=[w.payees[0].address] * 32)
    assert w.paratii.delegationId(full.args) == full.digest


# ---- withdrawal -------------------------------------------------------------------------------

def test_withdrawal_waits_for_its_delay_and_payees_redeem_meanwhile(world):
    w = world
    d = w.delegation()
    w.deposit(WEI // 100)
    before = w.eth(w.master)
    with boa.env.prank(w.master.address):
        with boa.reverts("over escrow"):
            w.paratii.initiateWithdraw(ETH, WEI)
        with boa.reverts("zero amount"):
            w.paratii.initiateWithdraw(ETH, 0)
        with boa.reverts("no pending withdrawal"):
            w.paratii.finalizeWithdraw(ETH)
        w.paratii.initiateWithdraw(ETH, WEI // 100)
        [event] = logs_named(w.paratii, "WithdrawInitiated")
        assert (event.master, event.token, event.amount, event.readyAt) == (w.master.address, ETH, WEI // 100, START + DELAY)
        boa.env.timestamp = START + DELAY - 1
        with boa.reverts("withdrawal not ready"):
            w.paratii.finalizeWithdraw(ETH)
    # A payee redeems during the delay.
    assert w.redeem(d, w.voucher(d, w.payees[0], 4 * 10**15)) == 4 * 10**15
    boa.env.timestamp = START + DELAY
    with boa.env.prank(w.master.address):
        assert w.paratii.finalizeWithdraw(ETH) == WEI // 100 - 4 * 10**15
        [event] = logs_named(w.paratii, "WithdrawFinalized")
        assert event.amount == WEI // 100 - 4 * 10**15
        with boa.reverts("no pending withdrawal"):
            w.paratii.finalizeWithdraw(ETH)
    assert w.eth(w.master) - before == WEI // 100 - 4 * 10**15
    assert w.paratii.escrow(w.master.address, ETH) == 0
    assert w.eth(w.paratii.address) == 0


def test_token_withdrawal_and_restart_of_the_delay(world):
    w = world
    pti = str(w.token.address)
    w.deposit_token(7 * WEI)
    with boa.env.prank(w.master.address):
        w.paratii.initiateWithdraw(pti, 2 * WEI)
        boa.env.timestamp = START + DELAY - 10
        w.paratii.initiateWithdraw(pti, 3 * WEI)  # replaces the first and restarts the delay
        boa.env.timestamp = START + DELAY
        with boa.reverts("withdrawal not ready"):
            w.paratii.finalizeWithdraw(pti)
        boa.env.timestamp = START + 2 * DELAY - 10
        before = w.pti(w.master)
        assert w.paratii.finalizeWithdraw(pti) == 3 * WEI
    assert w.pti(w.master) - before == 3 * WEI
    assert w.paratii.escrow(w.master.address, pti) == 4 * WEI
    assert w.pti(w.paratii.address) == 4 * WEI


def test_only_the_owner_of_an_escrow_withdraws_it(world):
    w = world
    w.deposit(WEI)
    with boa.env.prank(w.stranger.address):
        with boa.reverts("over escrow"):
            w.paratii.initiateWithdraw(ETH, 1)


def test_deployment_refuses_a_zero_or_absurd_delay(world):
    with boa.reverts("zero delay"):
        deploy_paratii(delay=0)
    with boa.reverts("delay too long"):
        deploy_paratii(delay=366 * 86400)
    with boa.reverts("delay too long"):
        deploy_paratii(grace=366 * 86400)
    deployed = deploy_paratii(delay=1, grace=0)
    assert (deployed.DELAY(), deployed.GRACE()) == (1, 0)

"""Hostile payees and misbehaving tokens: reentrancy is locked out, a payee that refuses ETH sinks only
its own call, and tokens that take fees, return nothing or return false keep the escrows exact."""

from __future__ import annotations

from pathlib import Path

import boa

from .chain import ETH, WEI

HERE = Path(__file__).resolve().parent / "contracts"


def allowance(token, total):
    return {"token": str(token), "total": total, "perPayment": 0, "period": 0, "perPeriod": 0}


def test_a_payee_reentering_during_its_payment_is_locked_out(world):
    w = world
    hostile = boa.load(str(HERE / "Reenterer.vy"))
    d = w.delegation(payees=[])
    w.deposit(WEI)
    first = w.voucher(d, str(hostile.address), 10**15)
    second = w.voucher(d, str(hostile.address), 3 * 10**15, sequence=2)
    for reentry in (w.paratii.redeem.prepare_calldata(d.args, d.signature, second.args, second.signature),
                    w.paratii.redeemBatch.prepare_calldata(d.args, d.signature, [second.args], [second.signature]),
                    w.paratii.finalizeWithdraw.prepare_calldata(ETH)):
        hostile.arm(w.paratii.address, reentry)
        paid_before = w.paratii.channelPaid(d.digest, hostile.address, ETH)
        balance_before = w.eth(str(hostile.address))
        if paid_before == 0:
            assert w.redeem(d, first) == 10**15
        else:  # the next voucher's increase, paid once
            third = w.voucher(d, str(hostile.address), paid_before + 10**15, sequence=3 + paid_before)
            assert w.redeem(d, third) == 10**15
        assert hostile.attempted() and not hostile.reentered(), "the inner call must hit the lock"
        assert w.eth(str(hostile.address)) - balance_before == 10**15
        assert w.paratii.channelPaid(d.digest, hostile.address, ETH) == paid_before + 10**15
    assert w.eth(w.paratii.address) == WEI - 3 * 10**15
    assert w.paratii.escrow(w.master.address, ETH) == WEI - 3 * 10**15


def test_a_payee_refusing_eth_sinks_only_the_call_it_is_in(world):
    w = world
    refuser = str(w.token.address)  # a contract with no payable fallback
    d = w.delegation(payees=[])
    w.deposit(WEI)
    good = w.voucher(d, w.payees[0], 10**15)
    bad = w.voucher(d, refuser, 10**15)
    with boa.reverts("ETH transfer failed"):
        w.redeem_batch(d, [good, bad])
    assert w.redeem_batch(d, [good]) == 10**15  # the batch without it goes through
    assert w.paratii.escrow(w.master.address, ETH) == WEI - 10**15


def quirky(w, mode):
    token = boa.load(str(HERE / "QuirkyToken.vy"), mode)
    token.mint(w.master.address, 1000 * WEI)
    with boa.env.prank(w.master.address):
        token.approve(w.paratii.address, 1000 * WEI)
    return token


def test_fee_on_transfer_tokens_credit_what_arrived(world):
    w = world
    token = quirky(w, 1)
    w_token = str(token.address)
    with boa.env.prank(w.master.address):
        w.paratii.depositToken(token.address, 100 * WEI)
    assert w.paratii.escrow(w.master.address, w_token) == 99 * WEI
    assert token.balanceOf(w.paratii.address) == 99 * WEI
    d = w.delegation(allowances=[allowance(w_token, 10 * WEI)])
    assert w.redeem(d, w.voucher(d, w.payees[0], 10 * WEI, token=w_token)) == 10 * WEI
    assert token.balanceOf(w.payees[0].address) == 10 * WEI * 99 // 100  # the token's fee, not ours
    assert token.balanceOf(w.paratii.address) == w.paratii.escrow(w.master.address, w_token) == 89 * WEI


def test_tokens_returning_nothing_work(world):
    w = world
    token = quirky(w, 2)
    address = str(token.address)
    with boa.env.prank(w.master.address):
        w.paratii.depositToken(token.address, 5 * WEI)
    d = w.delegation(allowances=[allowance(address, WEI)])
    assert w.redeem(d, w.voucher(d, w.payees[1], WEI // 2, token=address)) == WEI // 2
    assert token.balanceOf(w.payees[1].address) == WEI // 2
    assert token.balanceOf(w.paratii.address) == w.paratii.escrow(w.master.address, address) == 5 * WEI - WEI // 2


def test_tokens_returning_false_are_refused(world):
    w = world
    token = quirky(w, 3)
    with boa.env.prank(w.master.address):
        with boa.reverts("token transfer failed"):
            w.paratii.depositToken(token.address, 2000 * WEI)  # over the approval: the token says false
        w.paratii.depositToken(token.address, WEI)
    assert w.paratii.escrow(w.master.address, str(token.address)) == WEI

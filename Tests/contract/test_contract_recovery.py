"""contracts/Paratii.vy, recovery of a lost card: the master names a recovery address (a backup card)
and a delay; the recovery address starts a takeover; the master may cancel it within the delay; after
it, completing moves the master's escrow to the recovery address and the master's delegations stop.
Balances to the wei, revert reasons by name."""

from __future__ import annotations

import boa

from .chain import DELAY, ETH, START, WEI, party, rng_for

RECOVERY_DELAY = 30 * 86400


def logs_named(contract, name):
    return [e for e in contract.get_logs() if type(e).__name__ == name]


def backup_of(w):
    backup = party("backup card", rng_for("recovery-backup"))
    boa.env.set_balance(backup.address, 10 * WEI)
    return backup


def set_recovery(w, account, delay=RECOVERY_DELAY):
    with boa.env.prank(w.master.address):
        w.paratii.setRecovery(account, delay)


def as_(who, call):
    with boa.env.prank(who.address if hasattr(who, "address") else who):
        return call()


def test_takeover_completes_after_the_delay_and_moves_every_escrow(world):
    w = world
    pti = str(w.token.address)
    backup = backup_of(w)
    w.deposit(WEI // 10)
    w.deposit_token(3 * WEI)
    set_recovery(w, backup.address)
    [event] = logs_named(w.paratii, "RecoverySet")
    assert (event.master, event.account, event.delay) == (w.master.address, backup.address, RECOVERY_DELAY)
    assert w.paratii.recovery(w.master.address) == (backup.address, RECOVERY_DELAY, 0)

    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    [event] = logs_named(w.paratii, "TakeoverStarted")
    assert (event.master, event.account, event.readyAt) == (w.master.address, backup.address, START + RECOVERY_DELAY)
    with boa.reverts("takeover pending"):
        as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    boa.env.time_travel(seconds=RECOVERY_DELAY - 1)
    with boa.reverts("takeover not ready"):
        as_(backup, lambda: w.paratii.completeTakeover(w.master.address, [pti]))
    boa.env.time_travel(seconds=1)

    as_(backup, lambda: w.paratii.completeTakeover(w.master.address, [pti]))
    assert [(e.master, e.account) for e in logs_named(w.paratii, "TakeoverCompleted")] == [(w.master.address, backup.address)]
    moved = {(e.token, e.amount) for e in logs_named(w.paratii, "EscrowRecovered")}
    assert moved == {(ETH, WEI // 10), (pti, 3 * WEI)}
    assert w.paratii.recoveredTo(w.master.address) == backup.address
    assert (w.paratii.escrow(w.master.address, ETH), w.paratii.escrow(w.master.address, pti)) == (0, 0)
    assert (w.paratii.escrow(backup.address, ETH), w.paratii.escrow(backup.address, pti)) == (WEI // 10, 3 * WEI)
    # Nothing left the contract: the escrow changed owner.
    assert (w.eth(w.paratii.address), w.pti(w.paratii.address)) == (WEI // 10, 3 * WEI)

    # The master's delegations stop: no escrow behind them, and none can be added.
    d = w.delegation()
    with boa.reverts("escrow empty"):
        w.redeem(d, w.voucher(d, w.payees[0], 10**15))
    with boa.reverts("master recovered"):
        w.deposit(WEI)
    with boa.reverts("master recovered"):
        w.deposit_token(WEI)
    with boa.reverts("master recovered"):
        set_recovery(w, w.stranger.address)
    with boa.reverts("master recovered"):
        as_(backup, lambda: w.paratii.startTakeover(w.master.address))

    # The backup card owns the escrow now: it withdraws with the usual delay.
    as_(backup, lambda: w.paratii.initiateWithdraw(ETH, WEI // 10))
    boa.env.time_travel(seconds=DELAY)
    before = w.eth(backup)
    assert as_(backup, lambda: w.paratii.finalizeWithdraw(ETH)) == WEI // 10
    assert w.eth(backup) - before == WEI // 10


def test_completion_drops_the_masters_pending_withdrawals_and_moves_tokens_named_later(world):
    w = world
    pti = str(w.token.address)
    backup = backup_of(w)
    w.deposit(WEI)
    w.deposit_token(2 * WEI)
    set_recovery(w, backup.address, DELAY)
    as_(w.master, lambda: w.paratii.initiateWithdraw(ETH, WEI))
    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    boa.env.time_travel(seconds=DELAY)
    as_(backup, lambda: w.paratii.completeTakeover(w.master.address, []))
    with boa.reverts("no pending withdrawal"):
        as_(w.master, lambda: w.paratii.finalizeWithdraw(ETH))
    assert w.paratii.escrow(w.master.address, pti) == 2 * WEI  # not named yet
    as_(backup, lambda: w.paratii.completeTakeover(w.master.address, [pti]))
    assert (w.paratii.escrow(w.master.address, pti), w.paratii.escrow(backup.address, pti)) == (0, 2 * WEI)
    with boa.reverts("not the recovery address"):
        as_(w.stranger, lambda: w.paratii.completeTakeover(w.master.address, [pti]))


def test_the_master_cancels_in_time_and_keeps_everything(world):
    w = world
    backup = backup_of(w)
    w.deposit(WEI)
    set_recovery(w, backup.address)
    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    boa.env.time_travel(seconds=RECOVERY_DELAY - 60)
    as_(w.master, lambda: w.paratii.cancelTakeover())
    assert [(e.master, e.account) for e in logs_named(w.paratii, "TakeoverCancelled")] == [(w.master.address, backup.address)]
    boa.env.time_travel(seconds=3600)
    with boa.reverts("no takeover pending"):
        as_(backup, lambda: w.paratii.completeTakeover(w.master.address, []))
    with boa.reverts("no takeover pending"):
        as_(w.master, lambda: w.paratii.cancelTakeover())
    assert w.paratii.escrow(w.master.address, ETH) == WEI
    assert w.paratii.recoveredTo(w.master.address) == ETH
    w.deposit(1)
    # Naming another recovery address also cancels a pending takeover: the master is not lost.
    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    set_recovery(w, w.stranger.address)
    assert [e.account for e in logs_named(w.paratii, "TakeoverCancelled")] == [backup.address]
    with boa.reverts("not the recovery address"):
        as_(backup, lambda: w.paratii.completeTakeover(w.master.address, []))
    # And removing it leaves nobody able to start one.
    set_recovery(w, ETH, 0)
    with boa.reverts("no recovery address"):
        as_(w.stranger, lambda: w.paratii.startTakeover(w.master.address))


def test_a_takeover_by_anyone_else_reverts(world):
    w = world
    backup = backup_of(w)
    w.deposit(WEI)
    with boa.reverts("no recovery address"):
        as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    set_recovery(w, backup.address)
    for intruder in (w.stranger, w.master, w.relayer, w.payees[0]):
        with boa.reverts("not the recovery address"):
            as_(intruder, lambda: w.paratii.startTakeover(w.master.address))
    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    boa.env.time_travel(seconds=RECOVERY_DELAY)
    for intruder in (w.stranger, w.master):
        with boa.reverts("not the recovery address"):
            as_(intruder, lambda: w.paratii.completeTakeover(w.master.address, []))
    # Only the master cancels its own takeover: the backup card's own "master" slot has none pending.
    with boa.reverts("no takeover pending"):
        as_(backup, lambda: w.paratii.cancelTakeover())
    assert w.paratii.escrow(w.master.address, ETH) == WEI


def test_payees_redeem_during_the_delay(world):
    w = world
    pti = str(w.token.address)
    backup = backup_of(w)
    w.deposit(WEI // 10)
    w.deposit_token(WEI)
    d = w.delegation()
    set_recovery(w, backup.address)
    as_(backup, lambda: w.paratii.startTakeover(w.master.address))
    boa.env.time_travel(seconds=RECOVERY_DELAY // 2)
    assert w.redeem(d, w.voucher(d, w.payees[0], 10**15)) == 10**15
    boa.env.time_travel(seconds=RECOVERY_DELAY // 2 - 1)
    assert w.redeem(d, w.voucher(d, w.payees[1], WEI // 4, token=pti)) == WEI // 4  # the last second
    boa.env.time_travel(seconds=1)
    as_(backup, lambda: w.paratii.completeTakeover(w.master.address, [pti]))
    assert w.paratii.escrow(backup.address, ETH) == WEI // 10 - 10**15
    assert w.paratii.escrow(backup.address, pti) == WEI - WEI // 4
    assert (w.eth(w.paratii.address), w.pti(w.paratii.address)) == (WEI // 10 - 10**15, WEI - WEI // 4)
    with boa.reverts("escrow empty"):
        w.redeem(d, w.voucher(d, w.payees[0], 2 * 10**15, sequence=2))


def test_recovery_settings_are_checked(world):
    w = world
    backup = backup_of(w)
    for account, delay, reason in [
        (backup.address, DELAY - 1, "recovery delay below withdrawal delay"),
        (backup.address, 366 * 86400, "recovery delay too long"),
        (w.master.address, RECOVERY_DELAY, "recovery address is the master"),
        (w.paratii.address, RECOVERY_DELAY, "recovery address is this contract"),
        (ETH, RECOVERY_DELAY, "delay without recovery address"),
    ]:
        with boa.reverts(reason):
            set_recovery(w, account, delay)
    set_recovery(w, backup.address, DELAY)  # the withdrawal delay itself is the shortest allowed
    assert w.paratii.recovery(w.master.address) == (backup.address, DELAY, 0)

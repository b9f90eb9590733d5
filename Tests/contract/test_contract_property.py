"""A property test: random sequences of deposits, vouchers (honest and stolen-key), single and batch
redemptions, revocations, withdrawals, recovery (naming a recovery address, takeovers started by it or
by strangers, cancelled by the master, completed) and the passing of time, against a model of the
contract.

Each step's outcome is predicted by the model (the revert reason, or the exact amounts paid) and
compared with the contract; after every step the invariants are checked:

* the contract's ETH and token balances equal the sum of the escrows;
* no delegation pays beyond its allowance's total, for any token;
* no channel is paid twice for the same cumulative: what a channel was paid equals what its payee
  received on it and never exceeds the highest cumulative its vouchers signed;
* a recovered master's escrow is empty in every token moved, and only its recovery address gained it.

Seeded (PARATII_INTEROP_SEED); PARATII_CONTRACT_RUNS sets the number of runs (default 40, of
STEPS steps each). The run count is printed. The cheap invariants are checked after every step,
the per-channel ones every FULL_CHECK steps and at the end of each run.
"""

from __future__ import annotations

import os
from collections import defaultdict

import boa

from .chain import DELAY, ETH, GRACE, START, WEI, party, rng_for

RUNS = int(os.environ.get("PARATII_CONTRACT_RUNS", "20"))
STEPS = 60
FULL_CHECK = 10
UNIT = 10**15


class Model:
    def __init__(self, w, rng):
        self.w, self.rng = w, rng
        self.pti = str(w.token.address)
        self.bogus = party("bogus-token", rng).address  # a token no delegation allows
        self.masters = [w.master, party("master2", rng)]
        boa.env.set_balance(self.masters[1].address, 1000 * WEI)
        w.token.mint(self.masters[1].address, 10**6 * WEI)
        with boa.env.prank(self.masters[1].address):
            w.token.approve(w.paratii.address, 2**256 - 1)
        self.payees = w.payees + [w.stranger]
        self.escrow = defaultdict(int)           # (master, token)
        self.redeemed = defaultdict(int)         # (id, token)
        self.channel = defaultdict(int)          # (id, payee, token): paid
        self.signed_max = defaultdict(int)       # (id, payee, token): highest cumulative signed
        self.received = defaultdict(int)         # (payee, token)
        self.revoked = {}                        # id -> effective time
        self.pending = {}                        # (master, token) -> (amount, readyAt)
        self.held = []                           # (delegation, voucher)
        self.backups = {m.address: party(f"backup-{i}", rng) for i, m in enumerate(self.masters)}
        self.recovery = {}                       # master -> [account, delay, readyAt]
        self.recovered = {}                      # master -> account
        self.delegations = [self.new_delegation(m, i) for m in self.masters for i in range(2)]
        self.start_received = {(p.address, t): self.balance(p.address, t) for p in self.payees for t in (ETH, self.pti)}
        self.counts = defaultdict(int)
        self.steps = 0
        # Most runs start with some escrow, so redemptions pay rather than find it empty.
        for master in self.masters:
            for token in (ETH, self.pti):
                if rng.random() < 0.6:
                    self.deposit(master, token, rng.randint(1, 10) * UNIT)
        # And most name their backup card, so takeovers get started, cancelled and completed.
        for master in self.masters:
            if rng.random() < 0.6:
                delay = DELAY + rng.randint(0, 2 * 86400)
                with boa.env.prank(master.address):
                    w.paratii.setRecovery(self.backups[master.address].address, delay)
                self.recovery[master.address] = [self.backups[master.address].address, delay, 0]
                if rng.random() < 0.4:  # the card was lost before the run began
                    with boa.env.prank(self.backups[master.address].address):
                        w.paratii.startTakeover(master.address)
                    self.recovery[master.address][2] = self.now() + delay

    def new_delegation(self, master, salt):
        rng = self.rng
        allowances = []
        for token in rng.choice([[ETH], [self.pti], [ETH, self.pti], [self.pti, ETH]]):
            allowances.append({"token": token, "total": rng.randint(0, 8) * UNIT + rng.randint(0, 999),
                               "perPayment": UNIT, "period": 0, "perPeriod": 0})
        payees = rng.choice([[], [p.address for p in rng.sample(self.payees, rng.randint(1, 3))]])
        after = START + rng.choice([-3600, 0, rng.randint(0, 2 * 86400)])
        until = after + rng.randint(3600, 6 * 86400)
        return self.w.delegation(master=master.address, allowances=allowances, payees=payees,
                                 validAfter=after, validUntil=until, salt=salt, signer=master)

    def now(self):
        return boa.env.timestamp

    def balance(self, who, token):
        return self.w.eth(who) if token == ETH else self.w.pti(who)

    def total(self, d, token):
        for a in d.document["message"]["allowances"]:
            if a["token"] == token:
                return a["total"]
        return None

    # ---- predictions ----

    def delegation_refusal(self, d):
        m = d.document["message"]
        if self.now() < m["validAfter"]:
            return "not yet valid"
        if self.now() > m["validUntil"] + GRACE:
            return "expired"
        if d.digest in self.revoked and self.now() >= self.revoked[d.digest]:
            return "delegation revoked"
        return None

    def voucher_refusal(self, d, v):
        m, vm = d.document["message"], v.document["message"]
        if m["payees"] and vm["payee"] not in m["payees"]:
            return "payee not allowed"
        if self.total(d, vm["token"]) is None:
            return "token not allowed"
        return None

    def split(self, d, v):
        """(owed, room, funds, amount) for a voucher now."""
        vm = v.document["message"]
        master, token, key = d.document["message"]["master"], vm["token"], (d.digest, vm["payee"], vm["token"])
        owed = max(0, vm["cumulative"] - self.channel[key])
        room = self.total(d, token) - self.redeemed[(d.digest, token)]
        funds = self.escrow[(master, token)]
        return owed, room, funds, min(owed, room, funds)

    def apply(self, d, v, amount):
        vm = v.document["message"]
        master, token = d.document["message"]["master"], vm["token"]
        self.channel[(d.digest, vm["payee"], token)] += amount
        self.redeemed[(d.digest, token)] += amount
        self.escrow[(master, token)] -= amount
        self.received[(vm["payee"], token)] += amount

    # ---- steps ----

    def step(self):
        rng = self.rng
        action = rng.choices(["deposit", "voucher", "redeem", "batch", "revoke", "withdraw", "finalize", "time",
                              "set_recovery", "start_takeover", "cancel_takeover", "complete_takeover"],
                             weights=[3, 6, 4, 3, 1, 1, 1, 2, 0.4, 1.2, 0.2, 1.2])[0]
        self.counts[action] += 1
        getattr(self, "do_" + action)()
        self.steps += 1
        self.check(full=self.steps % FULL_CHECK == 0)

    def do_deposit(self):
        master, token = self.rng.choice(self.masters), self.rng.choice([ETH, self.pti])
        self.deposit(master, token, self.rng.randint(1, 4 * UNIT))

    def deposit(self, master, token, amount):
        if master.address in self.recovered:
            self.counts["refused: master recovered"] += 1
            with boa.reverts("master recovered"):
                if token == ETH:
                    self.w.deposit(amount, who=master)
                else:
                    with boa.env.prank(master.address):
                        self.w.paratii.depositToken(self.pti, amount)
            return
        if token == ETH:
            self.w.deposit(amount, who=master)
        else:
            with boa.env.prank(master.address):
                self.w.paratii.depositToken(self.pti, amount)
        self.escrow[(master.address, token)] += amount

    def do_voucher(self):
        rng = self.rng
        d = rng.choice(self.delegations)
        m = d.document["message"]
        payee = rng.choice(m["payees"]) if m["payees"] and rng.random() < 0.85 else rng.choice(self.payees).address
        tokens = [a["token"] for a in m["allowances"]]
        token = rng.choice(tokens) if rng.random() < 0.95 else self.bogus
        key = (d.digest, payee, token)
        total = self.total(d, token) or UNIT
        cumulative = rng.choice([
            self.signed_max[key] + rng.randint(1, UNIT),      # an honest next voucher
            total,                                            # a stolen key promising the whole total
            rng.randint(0, max(self.signed_max[key], 1)),     # an old or lower one
            total + rng.randint(1, UNIT),                     # over the total (never honest)
        ])
        spender = self.w.spender
        v = self.w.voucher(d, payee, cumulative, token=token, sequence=rng.randint(1, 2**63 - 1), signer=spender)
        self.signed_max[key] = max(self.signed_max[key], cumulative)
        self.held.append((d, v))

    def do_redeem(self):
        if not self.held:
            return
        d, v = self.rng.choice(self.held)
        reason = self.delegation_refusal(d) or self.voucher_refusal(d, v)
        if reason is None:
            owed, room, funds, amount = self.split(d, v)
            reason = ("nothing to redeem" if owed == 0 else "total exhausted" if room == 0
                      else "escrow empty" if funds == 0 else None)
        if reason is not None:
            self.counts["refused: " + reason] += 1
            with boa.reverts(reason):
                self.w.redeem(d, v)
            return
        assert self.w.redeem(d, v) == amount
        self.apply(d, v, amount)
        self.counts["paid" if amount == owed else "paid in part"] += 1

    def do_batch(self):
        if not self.held:
            return
        d = self.rng.choice(self.held)[0]
        mine = [v for dd, v in self.held if dd.digest == d.digest]
        vouchers = [self.rng.choice(mine) for _ in range(self.rng.randint(1, 6))]
        reason = self.delegation_refusal(d) or next(
            (r for r in (self.voucher_refusal(d, v) for v in vouchers) if r), None)
        if reason is not None:
            self.counts["batch refused: " + reason] += 1
            with boa.reverts(reason):
                self.w.redeem_batch(d, vouchers)
            return
        expected = 0
        for v in vouchers:
            amount = self.split(d, v)[3]
            self.apply(d, v, amount)
            expected += amount
            self.counts["batch zero" if amount == 0 else "batch paid"] += 1
        assert self.w.redeem_batch(d, vouchers) == expected

    def do_revoke(self):
        d = self.rng.choice(self.delegations)
        master = next(m for m in self.masters if m.address == d.document["message"]["master"])
        r = self.w.revocation(d, issuer=master, issued_at=self.now())
        if d.digest in self.revoked:
            with boa.reverts("already revoked"):
                self.w.revoke(r)
            return
        self.w.revoke(r)
        self.revoked[d.digest] = self.now() + DELAY

    def do_withdraw(self):
        master, token = self.rng.choice(self.masters), self.rng.choice([ETH, self.pti])
        escrow = self.escrow[(master.address, token)]
        amount = self.rng.randint(1, escrow + 1) if escrow else 1
        with boa.env.prank(master.address):
            if amount > escrow:
                with boa.reverts("over escrow"):
                    self.w.paratii.initiateWithdraw(token, amount)
                return
            self.w.paratii.initiateWithdraw(token, amount)
        self.pending[(master.address, token)] = (amount, self.now() + DELAY)

    def do_finalize(self):
        if self.pending and self.rng.random() < 0.7:
            address, token = self.rng.choice(sorted(self.pending))
            master = next(m for m in self.masters if m.address == address)
        else:
            master, token = self.rng.choice(self.masters), self.rng.choice([ETH, self.pti])
        key = (master.address, token)
        with boa.env.prank(master.address):
            if key not in self.pending:
                with boa.reverts("no pending withdrawal"):
                    self.w.paratii.finalizeWithdraw(token)
                return
            amount, ready = self.pending[key]
            if self.now() < ready:
                with boa.reverts("withdrawal not ready"):
                    self.w.paratii.finalizeWithdraw(token)
                return
            before = self.balance(master.address, token)
            paid = min(amount, self.escrow[key])
            assert self.w.paratii.finalizeWithdraw(token) == paid
            assert self.balance(master.address, token) - before == paid
        self.escrow[key] -= paid
        del self.pending[key]
        self.counts["withdrawn"] += 1

    def do_set_recovery(self):
        rng = self.rng
        master = rng.choice(self.masters)
        valid = rng.random() < 0.7
        account = self.backups[master.address].address if valid else rng.choice([master.address, ETH])
        delay = DELAY + rng.randint(0, 2 * 86400) if valid else rng.choice([DELAY, DELAY - 1, 0, 366 * 86400])
        reason = ("master recovered" if master.address in self.recovered
                  else ("delay without recovery address" if delay else None) if account == ETH
                  else "recovery address is the master" if account == master.address
                  else "recovery delay below withdrawal delay" if delay < DELAY
                  else "recovery delay too long" if delay > 365 * 86400 else None)
        with boa.env.prank(master.address):
            if reason:
                self.counts["recovery refused: " + reason] += 1
                with boa.reverts(reason):
                    self.w.paratii.setRecovery(account, delay)
                return
            self.w.paratii.setRecovery(account, delay)
        self.recovery[master.address] = [account, delay, 0]
        self.counts["recovery set"] += 1

    def do_start_takeover(self):
        master = self.rng.choice(self.masters)
        r = self.recovery.get(master.address, [ETH, 0, 0])
        sender = self.backups[master.address] if self.rng.random() < 0.8 else self.w.stranger
        reason = ("no recovery address" if r[0] == ETH else "not the recovery address" if sender.address != r[0]
                  else "master recovered" if master.address in self.recovered
                  else "takeover pending" if r[2] else None)
        with boa.env.prank(sender.address):
            if reason:
                self.counts["takeover refused: " + reason] += 1
                with boa.reverts(reason):
                    self.w.paratii.startTakeover(master.address)
                return
            self.w.paratii.startTakeover(master.address)
        r[2] = self.now() + r[1]
        self.counts["takeover started"] += 1

    def do_cancel_takeover(self):
        master = self.rng.choice(self.masters)
        r = self.recovery.get(master.address, [ETH, 0, 0])
        with boa.env.prank(master.address):
            if not r[2]:
                with boa.reverts("no takeover pending"):
                    self.w.paratii.cancelTakeover()
                return
            self.w.paratii.cancelTakeover()
        r[2] = 0
        self.counts["takeover cancelled"] += 1

    def do_complete_takeover(self):
        master = self.rng.choice(self.masters)
        r = self.recovery.get(master.address, [ETH, 0, 0])
        sender = self.backups[master.address] if self.rng.random() < 0.85 else self.w.stranger
        tokens = self.rng.choice([[], [self.pti], [self.pti, self.pti]])
        recovered = master.address in self.recovered
        reason = ("no recovery address" if r[0] == ETH else "not the recovery address" if sender.address != r[0]
                  else None if recovered else "no takeover pending" if not r[2]
                  else "takeover not ready" if self.now() < r[2] else None)
        with boa.env.prank(sender.address):
            if reason:
                self.counts["completion refused: " + reason] += 1
                with boa.reverts(reason):
                    self.w.paratii.completeTakeover(master.address, tokens)
                return
            self.w.paratii.completeTakeover(master.address, tokens)
        moved = set(tokens) if recovered else {ETH, *tokens}
        for token in moved:
            self.escrow[(r[0], token)] += self.escrow.pop((master.address, token), 0)
            self.pending.pop((master.address, token), None)
        self.recovered[master.address] = r[0]
        r[2] = 0
        self.counts["takeover completed" if not recovered else "recovered tokens moved again"] += 1

    def do_time(self):
        # Now and then a whole delay at once, so that takeovers started in a run also come due in it.
        boa.env.time_travel(seconds=self.rng.randint(1, 2 * 86400) if self.rng.random() < 0.85 else DELAY)

    # ---- invariants ----

    def check(self, full: bool):
        p = self.w.paratii
        assert self.w.eth(p.address) == sum(a for (m, t), a in self.escrow.items() if t == ETH)
        assert self.w.pti(p.address) == sum(a for (m, t), a in self.escrow.items() if t == self.pti)
        for (id, token), paid in self.redeemed.items():
            d = next(d for d in self.delegations if d.digest == id)
            assert paid <= self.total(d, token), "a delegation paid beyond its total"
        if not full:
            return
        for (master, token), amount in self.escrow.items():
            assert p.escrow(master, token) == amount
        for d in self.delegations:
            for a in d.document["message"]["allowances"]:
                on_chain = p.redeemed(d.digest, a["token"])
                assert on_chain == self.redeemed[(d.digest, a["token"])]
                assert on_chain <= self.total(d, a["token"]), "a delegation paid beyond its total"
        for (id, payee, token), paid in self.channel.items():
            assert p.channelPaid(id, payee, token) == paid
            assert paid <= self.signed_max[(id, payee, token)], "a channel was paid beyond its highest cumulative"
        for (payee, token), got in self.received.items():
            assert self.balance(payee, token) - self.start_received[(payee, token)] == got
        for master, account in self.recovered.items():
            assert p.recoveredTo(master) == account
            assert p.escrow(master, ETH) == 0, "a recovered master kept ETH escrow"


def test_random_sequences_keep_the_invariants(contracts_deployed, capsys):
    paratii, token = contracts_deployed
    from .chain import World
    totals = defaultdict(int)
    for run in range(RUNS):
        with boa.env.anchor():
            boa.env.evm.patch.chain_id = 31337
            boa.env.evm.patch.timestamp = START
            rng = rng_for("contract-property", run)
            model = Model(World(paratii, token, rng), rng)
            for _ in range(STEPS):
                model.step()
            model.check(full=True)
            for k, n in model.counts.items():
                totals[k] += n
    with capsys.disabled():
        print(f"\nproperty test: {RUNS} runs x {STEPS} steps = {RUNS * STEPS} steps; " +
              ", ".join(f"{k} {n}" for k, n in sorted(totals.items())))
    # The runs must have exercised what the invariants are about (a handful of runs may not).
    for needed in () if RUNS < 20 else ("paid", "batch paid", "batch zero", "withdrawn", "refused: total exhausted",
                                        "takeover started", "takeover cancelled", "takeover completed",
                                        "completion refused: takeover not ready", "takeover refused: not the recovery address"):
        assert totals[needed] > 0, f"no step of kind {needed!r}: the generator lost coverage"

"""Issue 18, item 3: the bridge and the player survive a change of card. Soft cards in the real pcscd
are swapped in the one vpcd slot as a user swaps cards in a reader; the bridge stays up throughout.

(a) restore: the words of `card init --backup` put the same key on a new card; the bridge approves the
    next delegation with it; the wallet keeps paying under the old card's delegation and holds the new one.
(b) takeover: after `recovery complete`, the backup card (another address) is the user's master: the bridge
    approves with it, the wallet holds delegations of two masters and stops paying under the old one, a
    payee accepts vouchers of both and `payee exposure` says where the old delegation ends: it pays until
    the completion is mined (during the whole delay), nothing after (a redeem would pay 0: `payee redeem`
    does not send it)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import subprocess
import time

import pytest

from .conftest import ETH, interop, write_config
from .settlement import WEI, escrow
from .test_end_to_end import READER, card_flow

pending = card_flow.pending

DAY = 86400
PIN = "246810\n"
ADMIN_PIN = "97531864\n"


@pytest.fixture
def slot(work):
    """The vpcd slot the soft cards plug into, held for the whole test (the same locks as the `card` fixture)."""
    with open("/tmp/paratii-vpcd-slot1.lock", "a+") as held, open("/tmp/paratii-pcscd-restart.lock", "a+") as restart:
        fcntl.flock(held, fcntl.LOCK_EX)
        fcntl.flock(restart, fcntl.LOCK_SH)
        (work / "pin").write_text(PIN)
        (work / "admin-pin").write_text(ADMIN_PIN)
        yield


@contextlib.contextmanager
def plugged(paratii, work, name):
    """The soft card `name` in the reader (created factory-fresh the first time) until the block ends."""
    state = work / f"{name}.json"
    if not state.exists():
        paratii.ok("softcard", "create", "--state", str(state), "--insecure-state")
    process = subprocess.Popen([str(paratii.path), "softcard", "run", "--state", str(state), "--vpcd", "127.0.0.1:35964"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if f"{READER}: OpenPGP card" in paratii.run("card", "list").out:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the software card never appeared in pcscd (is pcscd running? scripts/pcscd-up)")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
        # The reader empty again before the next card goes in.
        for _ in range(100):
            if f"{READER}: OpenPGP card" not in paratii.run("card", "list").out:
                break
            time.sleep(0.1)


def init_card(paratii, work, *extra):
    return paratii.ok("card", "init", "--reader", READER, "--pin-file", str(work / "pin"), "--admin-pin-file", str(work / "admin-pin"),
                      *extra)


def delegation_through_bridge(paratii, work, socket, wallet, config, payee, paired=False, valid_for="30d"):
    """`wallet request-delegation`, approved on the bridge with whatever card is in the reader; returns the imported line."""
    asking = subprocess.Popen([str(paratii.path), "wallet", "request-delegation", *wallet, "--bridge", str(socket), "--config", str(config),
                               "--allowance", "token=ETH,total=0.5,per-payment=0.1", "--payee", payee, "--valid-for", valid_for,
                               "--timeout", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not paired:
        pairing = pending(paratii, socket, "pairings")
        paratii.ok("approve", "--socket", str(socket), pairing["id"], "--code", pairing["code"])
    request = pending(paratii, socket, "requests")
    shown = paratii.run("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
    assert shown.rc == 0, shown.describe()
    out, err = asking.communicate(timeout=120)
    assert asking.returncode == 0, err
    match = re.match(r"imported (0x[0-9a-f]{64}) from master (0x[0-9a-fA-F]{40})", out)
    assert match, out
    return match.group(1), match.group(2)


def pay_and_accept(paratii, work, wallet, config, payee, memo, amount="0.1"):
    voucher = work / f"{memo}.json"
    voucher.write_text(paratii.ok("wallet", "pay", *wallet, "--config", str(config), "--payee", payee, "--token", "ETH",
                                  "--amount", amount, "--memo", memo))
    accepted = json.loads(paratii.ok("payee", "accept", "--store", str(work / "payee.sqlite"), "--config", str(config), str(voucher)))
    assert accepted["accepted"], accepted
    return json.loads(voucher.read_text())["typedData"]["message"]["delegation"]


def exposure(paratii, work, config):
    rows = json.loads(paratii.ok("payee", "exposure", "--store", str(work / "payee.sqlite"), "--config", str(config), "--json"))
    return {row["delegation"]: row for row in rows}


def test_restore_on_a_new_card_the_bridge_and_wallet_carry_on(paratii, work, slot, start_node):
    payee = "0x00000000000000000000000000000000000000b7"
    node = start_node("--deploy")
    config = write_config(work / "config.json", node)
    with plugged(paratii, work, "first"):
        shown = init_card(paratii, work, "--backup")
        master = shown.strip().splitlines()[-1].split()[-1]
        words = [line for line in shown.splitlines() if re.match(r"^\s*\d+ [a-z]", line)]
        assert len(words) == 6, shown.count("\n")  # 24 words, four a line
        (work / "words.txt").write_text("\n".join(words) + "\n")
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", master), shown

    with card_flow.running_bridge(paratii, work, config) as (socket, wallet):
        with plugged(paratii, work, "first"):
            old, signer = delegation_through_bridge(paratii, work, socket, wallet, config, payee)
        assert signer == master
        assert pay_and_accept(paratii, work, wallet, config, payee, "before") == old

        # The first card is lost; a factory-fresh one gets the words. The bridge has run all along.
        with plugged(paratii, work, "second"):
            restored = paratii.ok("card", "restore", "--reader", READER, "--words-file", str(work / "words.txt"), "--expect-address",
                                  master, "--pin-file", str(work / "pin"), "--admin-pin-file", str(work / "admin-pin"))
            assert restored.strip().splitlines()[-1].endswith(master), restored
            # Valid longer than the old one: the ledger's order (the one ending first pays first) is then fixed.
            new, signer = delegation_through_bridge(paratii, work, socket, wallet, config, payee, paired=True, valid_for="60d")
            assert signer == master and new != old
            status = json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))
            assert status["address"] == master, status

        # The wallet holds both and goes on under the old one first (it ends first), then the new one.
        budget = paratii.ok("wallet", "budget", *wallet, "--json")
        assert old in budget and new in budget, budget
        assert pay_and_accept(paratii, work, wallet, config, payee, "after") == old
        for memo in ("fill-1", "fill-2", "fill-3"):
            assert pay_and_accept(paratii, work, wallet, config, payee, memo) == old
        assert pay_and_accept(paratii, work, wallet, config, payee, "next") == new
        channels = json.loads(paratii.ok("payee", "channels", "--store", str(work / "payee.sqlite"), "--config", str(config), "--json"))
        assert {(c["delegation"], c["master"], c["cumulative"]) for c in channels} == {(old, master, str(5 * 10**17)),
                                                                                       (new, master, str(10**17))}


def test_takeover_moves_the_master_and_the_payee_knows_where_old_vouchers_end(paratii, work, slot, start_node):
    seller = interop.write_keystore(work, "payee", interop.random_private_key(interop.rng_for("chain", "takeover")), "p")
    seller_address = seller.address
    redeem = ["payee", "redeem", "--store", str(work / "payee.sqlite"), "--keystore", str(seller.keystore), "--password-file",
              str(seller.password_file)]
    with plugged(paratii, work, "backup"):
        init_card(paratii, work)
        backup = json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))["address"]
    with plugged(paratii, work, "main"):
        init_card(paratii, work)
        master = json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))["address"]
    node = start_node("--deploy", "--fund", f"{master}={10 * WEI}", "--fund", f"{backup}={WEI}", "--fund", f"{seller.address}={WEI}")
    config = write_config(work / "config.json", node)
    direct = ["--direct", "--config", str(config), "--reader", READER, "--pin-file", str(work / "pin")]

    with card_flow.running_bridge(paratii, work, config) as (socket, wallet):
        with plugged(paratii, work, "main"):
            paratii.ok("deposit", *direct, "--token", "ETH", "--amount", "1")
            paratii.ok("recovery", "set", *direct, "--account", backup, "--delay", "4d")
            old, signer = delegation_through_bridge(paratii, work, socket, wallet, config, seller_address)
        assert signer == master
        assert pay_and_accept(paratii, work, wallet, config, seller_address, "v1") == old
        row = exposure(paratii, work, config)[old]
        assert row["covered"] and row["takeover"] is None, row

        # The main card is lost: the backup card starts the takeover. The old delegation still pays, until completion.
        with plugged(paratii, work, "backup"):
            paratii.ok("recovery", "start", *direct, "--master", master)
        assert pay_and_accept(paratii, work, wallet, config, seller_address, "v2") == old
        row = exposure(paratii, work, config)[old]
        assert row["covered"] and row["takeover"]["state"] == "pending" and row["takeover"]["by"] == backup, row
        text = paratii.ok("payee", "exposure", "--store", str(work / "payee.sqlite"), "--config", str(config))
        assert f"a takeover by {backup} can complete at" in text and "redeem before" in text, text
        redeemed = paratii.run(*redeem, "--config", str(config))
        assert redeemed.rc == 0 and "redeemed 0.2 ETH" in redeemed.out, redeemed.describe()
        assert pay_and_accept(paratii, work, wallet, config, seller_address, "v2b") == old  # 0.3 in all, 0.1 unredeemed

        node.rpc("evm_increaseTime", 4 * DAY + 60)
        with plugged(paratii, work, "backup"):
            paratii.ok("recovery", "complete", *direct, "--master", master, "--token", "ETH")
            assert escrow(node, backup, ETH) == 8 * 10**17 and escrow(node, master, ETH) == 0
            # The backup card is now the user's master: the bridge (up all along) approves with it.
            new, signer = delegation_through_bridge(paratii, work, socket, wallet, config, seller_address, paired=True, valid_for="60d")
        assert signer == backup and new != old

        # The payee's old-delegation voucher (0.2 accepted) is past its end: exposure says so, redeeming fails.
        rows = exposure(paratii, work, config)
        assert rows[old]["covered"] is False and rows[old]["escrow"] == "0" and rows[old]["payable"] == "0", rows[old]
        assert rows[old]["takeover"] == {"state": "completed", "by": backup}, rows[old]
        assert rows[old]["unredeemed"] == str(10**17), rows[old]
        text = paratii.ok("payee", "exposure", "--store", str(work / "payee.sqlite"), "--config", str(config))
        assert f"the master was taken over by {backup}: its escrow moved, this delegation pays nothing more" in text, text
        late = paratii.run(*redeem, "--config", str(config))
        # The contract would pay 0 (its batch records a shortfall, no revert): the payee does not spend the gas.
        assert late.rc != 0 and late.out == "" and f"was taken over by {backup}, the escrow moved" in late.err, late.describe()

        # The wallet holds two masters; it would still pay under the old one first: it is told to stop.
        assert pay_and_accept(paratii, work, wallet, config, seller_address, "unwise") == old  # accepted offline, worth nothing
        stopped = paratii.ok("wallet", "stop-paying", *wallet, "--master", master)
        assert "stopped paying under 1 delegation(s)" in stopped, stopped
        paratii.refused("wallet", "stop-paying", *wallet, "--master", master, mentions="no live delegation from master")
        assert pay_and_accept(paratii, work, wallet, config, seller_address, "v3") == new
        rows = exposure(paratii, work, config)
        assert rows[new]["covered"] is True and rows[new]["master"] == backup and rows[new]["takeover"] is None, rows[new]
        assert rows[new]["unredeemed"] == str(10**17) and rows[new]["escrow"] == str(8 * 10**17)
        # Redeeming now: the new delegation pays from the moved escrow, the old one is still refused whole.
        both = paratii.run(*redeem, "--config", str(config))
        assert "redeemed 0.1 ETH" in both.out and "was taken over" in both.err and both.rc != 0, both.describe()
        assert escrow(node, backup, ETH) == 7 * 10**17

        # A deposit asked by the wallet goes to the backup card's escrow: the wallet's master is now the backup card.
        with plugged(paratii, work, "backup"):
            asking = subprocess.Popen([str(paratii.path), "deposit", *wallet, "--bridge", str(socket), "--config", str(config),
                                       "--token", "ETH", "--amount", "0.5", "--timeout", "120"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            request = pending(paratii, socket, "requests")
            assert request["request"]["kind"] == "deposit"
            paratii.ok("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
            out, err = asking.communicate(timeout=120)
            assert asking.returncode == 0, err
        assert escrow(node, backup, ETH) == 12 * 10**17 and escrow(node, master, ETH) == 0

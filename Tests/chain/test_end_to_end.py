"""End to end on py-evm: the soft card in the real pcscd signs the deposit transaction through the
bridge's approval; the card delegates; a wallet pays three payees; each payee runs `paratii payee
redeem`; balances on chain are exact to the wei. Run with -s to see the gas figures."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import subprocess

import pytest

from .conftest import ETH, INTEROP, interop, write_config
from .settlement import WEI, escrow, fee_paid, gas_used, redeemed, token_balance, transactions

# The soft card as the interop suite plugs it (vpcd's second slot), under the same locks.
_spec = importlib.util.spec_from_file_location("interop_card_flow", INTEROP / "test_card_flow.py")
card_flow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(card_flow)
READER = card_flow.READER


@pytest.fixture
def card(paratii, work):
    with open("/tmp/paratii-vpcd-slot1.lock", "a+") as slot, open("/tmp/paratii-pcscd-restart.lock", "a+") as restart:
        fcntl.flock(slot, fcntl.LOCK_EX)
        fcntl.flock(restart, fcntl.LOCK_SH)
        yield from card_flow.plugged_card(paratii, work)


def test_card_deposit_delegation_three_payees_redeem(paratii, work, card, start_node):
    master = card["address"]
    rng = interop.rng_for("chain", "end-to-end")
    payees = [interop.write_keystore(work, f"payee{i}", interop.random_private_key(rng), f"p{i}") for i in range(3)]
    node = start_node("--deploy", "--fund", f"{master}={10 * WEI}", *[a for k in payees for a in ("--fund", f"{k.address}={WEI}")],
                      "--mint", f"{master}={100 * WEI}")
    pti = node.info["token"]
    config = write_config(work / "config.json", node)
    with card_flow.running_bridge(paratii, work, config) as (socket, wallet):
        spender = paratii.ok("wallet", "address", *wallet)

        # 1. The deposit: the player asks, the user approves on the bridge side, the card signs, the CLI sends.
        counter = card["signatureCounter"]
        deposit = subprocess.Popen([str(paratii.path), "deposit", *wallet, "--bridge", str(socket), "--config", str(config),
                                    "--master", master, "--token", "ETH", "--amount", "1", "--timeout", "120"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pairing = card_flow.pending(paratii, socket, "pairings")
        paratii.ok("approve", "--socket", str(socket), pairing["id"], "--code", pairing["code"])
        request = card_flow.pending(paratii, socket, "requests")
        assert request["request"]["kind"] == "deposit" and request["request"]["to"] == node.info["paratii"]
        shown = paratii.run("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        assert shown.rc == 0, shown.describe()
        assert f"deposit: 1 ETH from the card's address into the Paratii contract {node.info['paratii']}" in shown.err, shown.describe()
        out, err = deposit.communicate(timeout=120)
        assert deposit.returncode == 0, err
        assert "escrow now 1" in out, out
        [deposit_tx] = [line.split()[1] for line in err.splitlines() if "mined in block" in line]
        assert json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))["signatureCounter"] == counter + 1
        assert escrow(node, master, ETH) == WEI
        assert node.balance(master) == 10 * WEI - WEI - fee_paid(node, deposit_tx)

        # PTI: two requests, two approvals, two card signatures (the ERC-20 approval, then depositToken).
        deposit = subprocess.Popen([str(paratii.path), "deposit", *wallet, "--bridge", str(socket), "--config", str(config),
                                    "--master", master, "--token", "PTI", "--amount", "10", "--timeout", "120"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for kind in ("deposit-approval", "deposit"):
            request = card_flow.pending(paratii, socket, "requests")
            assert request["request"]["kind"] == kind and request["request"]["token"] == "PTI"
            paratii.ok("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        out, err = deposit.communicate(timeout=120)
        assert deposit.returncode == 0, err
        assert escrow(node, master, pti) == 10 * WEI
        assert token_balance(node, master) == 90 * WEI and token_balance(node, node.info["paratii"]) == 10 * WEI

        # A top-up of the wallet the same way, nonce and fees from the node, sent by the player.
        topup = subprocess.Popen([str(paratii.path), "wallet", "request-topup", *wallet, "--bridge", str(socket), "--config", str(config),
                                  "--master", master, "--token", "ETH", "--amount", "0.1", "--send", "--timeout", "120"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        request = card_flow.pending(paratii, socket, "requests")
        assert request["request"]["kind"] == "topup" and request["request"]["to"] == spender
        paratii.ok("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        out, err = topup.communicate(timeout=120)
        assert topup.returncode == 0 and "mined in block" in out, err
        assert node.balance(spender) == WEI // 10

        # 2. The card delegates (here directly, PIN from a file) to the wallet's spending key, three payees.
        delegation_file = work / "delegation.json"
        paratii.ok("delegate", "spending", "--config", str(config), "--reader", READER, "--pin-file", str(work / "pin"),
                   "--spender", spender, "--allowance", "token=ETH,total=0.5,per-payment=0.05", "--allowance", "token=PTI,total=5,per-payment=2",
                   *[a for k in payees for a in ("--payee", k.address)], "--valid-for", "1d", "--out", str(delegation_file))
        paratii.ok("wallet", "import-delegation", *wallet, str(delegation_file))
        delegation_id = json.loads(paratii.ok("verify", "--config", str(config), str(delegation_file)))["id"]

        # 3. The wallet pays: 3, 2 and 1 segments of 0.01, 0.02 and 0.05 ETH.
        prices = [(3, "0.01", 10**16), (2, "0.02", 2 * 10**16), (1, "0.05", 5 * 10**16)]
        owed = []
        for (count, price, wei), payee in zip(prices, payees):
            store = ["--store", str(work / f"{payee.address}.sqlite"), "--config", str(config)]
            for segment in range(count):
                voucher = work / f"{payee.address}-{segment}.json"
                voucher.write_text(paratii.ok("wallet", "pay", *wallet, "--config", str(config), "--payee", payee.address,
                                              "--token", "ETH", "--amount", price, "--memo", f"video-1/{segment}"))
                assert json.loads(paratii.ok("payee", "accept", *store, str(voucher)))["accepted"]
            owed.append(count * wei)
        # The first payee is also paid 1.5 PTI: its redemption is one batch of two vouchers (ETH and PTI channels).
        first_store = ["--store", str(work / f"{payees[0].address}.sqlite"), "--config", str(config)]
        voucher = work / "pti.json"
        voucher.write_text(paratii.ok("wallet", "pay", *wallet, "--config", str(config), "--payee", payees[0].address,
                                      "--token", "PTI", "--amount", "1.5", "--memo", "video-1/pti"))
        assert json.loads(paratii.ok("payee", "accept", *first_store, str(voucher)))["accepted"]

        # 4. Each payee redeems its best voucher; the store records it; exposure shows it settled.
        gases = []
        for payee, amount in zip(payees, owed):
            store = ["--store", str(work / f"{payee.address}.sqlite"), "--config", str(config)]
            before = json.loads(paratii.ok("payee", "exposure", *store, "--json"))
            eth_row = next(row for row in before if row["token"] == ETH)
            assert eth_row["unredeemed"] == str(amount) and eth_row["covered"] is True
            balance = node.balance(payee.address)
            result = paratii.run("payee", "redeem", *store, "--keystore", str(payee.keystore), "--password-file",
                                 str(payee.password_file))
            assert result.rc == 0, result.describe()
            [tx] = transactions(result.out)
            assert node.balance(payee.address) == balance + amount - fee_paid(node, tx)
            gases.append(gas_used(node, tx))
            after = json.loads(paratii.ok("payee", "exposure", *store, "--json"))
            assert all(row["unredeemed"] == "0" for row in after)
            assert next(row for row in after if row["token"] == ETH)["redeemedHere"] == str(amount)

        total_paid = sum(owed)
        assert redeemed(node, delegation_id, ETH) == total_paid
        assert escrow(node, master, ETH) == WEI - total_paid
        assert node.balance(node.info["paratii"]) == WEI - total_paid
        assert token_balance(node, payees[0].address) == 3 * WEI // 2
        assert escrow(node, master, pti) == 10 * WEI - 3 * WEI // 2 and redeemed(node, delegation_id, pti) == 3 * WEI // 2
        print(f"\nend to end: deposit gas {gas_used(node, deposit_tx)}, redeemBatch gas per payee {gases}, "
              f"paid {owed} wei, escrow left {WEI - total_paid} wei")

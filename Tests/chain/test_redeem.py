"""`paratii payee redeem` and `paratii payee exposure` with a software master (the card's path is
test_end_to_end.py), each on both payee stores (SQLite, and the run's private PostgreSQL): the
stolen-key case through the Swift client, raw transactions with --out (and, once someone broadcast
them, recorded from the chain rather than paid for again), and a second redeem that finds nothing new."""

from __future__ import annotations

import json

from eth_account import Account

from .conftest import ETH, interop, write_config
from .settlement import WEI, escrow, fee_paid, redeemed, stolen_voucher, transactions


def setup_world(paratii, work, start_node, salt: str, payees: int = 3):
    rng = interop.rng_for("chain", salt)
    master = interop.write_keystore(work, "master", interop.random_private_key(rng), "m")
    keys = [interop.write_keystore(work, f"payee{i}", interop.random_private_key(rng), f"p{i}") for i in range(payees)]
    funds = [f"{master.address}={10 * WEI}"] + [f"{k.address}={WEI}" for k in keys]
    node = start_node("--deploy", *[arg for f in funds for arg in ("--fund", f)])
    config = write_config(work / "config.json", node)
    signer = ["--master-keystore", str(master.keystore), "--master-password-file", str(master.password_file)]
    wallet = ["--dir", str(work / "wallet"), "--password-file", str(work / "wallet.pw")]
    (work / "wallet.pw").write_text("w\n")
    paratii.ok("wallet", "init", *wallet, "--scrypt-n", "16")
    return master, keys, node, config, signer, wallet


def test_stolen_key_pays_exactly_the_total(paratii, work, start_node, payee_store):
    master, keys, node, config, signer, wallet = setup_world(paratii, work, start_node, "stolen")
    paratii.ok("deposit", "--config", str(config), *signer, "--token", "ETH", "--amount", "1")
    spender = paratii.ok("wallet", "address", *wallet)
    delegation_file = work / "delegation.json"
    paratii.ok("delegate", "spending", "--config", str(config), *signer, "--spender", spender,
               "--allowance", "token=ETH,total=0.3,per-payment=0.3", "--valid-for", "1d", "--out", str(delegation_file))
    delegation = json.loads(delegation_file.read_text())
    delegation_id = json.loads(paratii.ok("verify", "--config", str(config), str(delegation_file)))["id"]
    total = 3 * WEI // 10

    # The thief promises the whole total to each of three payees; each payee accepts (its own channel is within the total).
    paid = []
    for i, key in enumerate(keys):
        voucher = work / f"stolen{i}.json"
        voucher.write_text(stolen_voucher(work / "wallet" / "spending.json", "w", delegation, key.address, ETH, total))
        store = ["--store", payee_store(), "--config", str(config)]
        assert json.loads(paratii.ok("payee", "accept", *store, str(voucher)))["accepted"]
        exposure = json.loads(paratii.ok("payee", "exposure", *store, "--json"))
        # Before redeeming: the first is covered, the later ones see the total already taken.
        assert exposure[0]["unredeemed"] == str(total)
        assert exposure[0]["covered"] is (i == 0)
        before = node.balance(key.address)
        result = paratii.run("payee", "redeem", *store, "--keystore", str(key.keystore), "--password-file", str(key.password_file))
        assert result.rc == 0, result.describe()
        [tx] = transactions(result.out)
        gain = node.balance(key.address) - before + fee_paid(node, tx)
        paid.append(gain)
        assert ("short" in result.out) is (i > 0), result.out
        # Nothing new to redeem: a second run sends nothing.
        assert paratii.ok("payee", "redeem", *store, "--keystore", str(key.keystore), "--password-file", str(key.password_file)) == "nothing to redeem"

    assert paid == [total, 0, 0]
    assert redeemed(node, delegation_id, ETH) == total
    assert escrow(node, master.address, ETH) == WEI - total
    assert node.balance(node.info["paratii"]) == WEI - total


def test_redeem_out_writes_raw_transactions_and_changes_nothing(paratii, work, start_node, payee_store):
    master, keys, node, config, signer, wallet = setup_world(paratii, work, start_node, "out", payees=1)
    paratii.ok("deposit", "--config", str(config), *signer, "--token", "ETH", "--amount", "1")
    spender = paratii.ok("wallet", "address", *wallet)
    delegation_file = work / "delegation.json"
    payee = keys[0]
    paratii.ok("delegate", "spending", "--config", str(config), *signer, "--spender", spender,
               "--allowance", "token=ETH,total=0.3,per-payment=0.1", "--valid-for", "1d", "--out", str(delegation_file))
    paratii.ok("wallet", "import-delegation", *wallet, str(delegation_file))
    location = payee_store()
    store = ["--store", location, "--config", str(config)]
    for i in range(2):
        voucher = work / f"v{i}.json"
        voucher.write_text(paratii.ok("wallet", "pay", *wallet, "--config", str(config), "--payee", payee.address, "--token", "ETH",
                                      "--amount", "0.1", "--memo", f"segment-{i}"))
        paratii.ok("payee", "accept", *store, str(voucher))
    out = work / "redeem.txt"
    paratii.ok("payee", "redeem", *store, "--keystore", str(payee.keystore), "--password-file", str(payee.password_file),
               "--out", str(out))
    [raw] = out.read_text().split()
    assert Account.recover_transaction(raw) == payee.address
    assert escrow(node, master.address, ETH) == WEI
    # Someone broadcasts that raw transaction (here the test, as a payee would after --out, or a run that
    # died before recording its receipt): the next redeem sees the channel paid on chain, records it, sends nothing.
    before = node.balance(payee.address)
    tx = node.rpc("eth_sendRawTransaction", raw)
    assert node.balance(payee.address) - before + fee_paid(node, tx) == 2 * WEI // 10
    result = paratii.run("payee", "redeem", *store, "--keystore", str(payee.keystore), "--password-file", str(payee.password_file))
    assert result.rc == 0 and "already paid on chain" in result.out and transactions(result.out) == [], result.describe()
    [row] = json.loads(paratii.ok("payee", "exposure", *store, "--json"))
    assert row["unredeemed"] == "0" and row["redeemedHere"] == str(2 * WEI // 10)
    assert paratii.ok("payee", "redeem", *store, "--keystore", str(payee.keystore), "--password-file", str(payee.password_file)) == "nothing to redeem"
    # No node and no --out: one line saying what to give.
    offline = work / "offline.json"
    offline.write_text(json.dumps({"chainId": node.chain_id, "verifyingContract": node.info["paratii"]}))
    paratii.refused("payee", "redeem", "--store", location, "--config", str(offline), "--keystore",
                    str(payee.keystore), "--password-file", str(payee.password_file), mentions="--out")

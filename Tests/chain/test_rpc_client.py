"""The JSON-RPC client through the CLI: nonce and fees from the node, sending, receipts; the same
commands offline with nonce and fees given; the node's refusals and a dead node as one clean line."""

from __future__ import annotations

import json
import time

from eth_account import Account

from .conftest import interop, write_config

WEI = 10**18


def test_topup_takes_nonce_and_fees_from_the_node(paratii, work, start_node):
    rng = interop.rng_for("chain", "topup")
    master = interop.write_keystore(work, "master", interop.random_private_key(rng), "m")
    node = start_node("--fund", f"{master.address}={2 * WEI}")
    config = write_config(work / "config.json", node)
    wallet = ["--dir", str(work / "wallet"), "--password-file", str(work / "wallet.pw")]
    (work / "wallet.pw").write_text("w\n")
    paratii.ok("wallet", "init", *wallet, "--scrypt-n", "16")
    spender = paratii.ok("wallet", "address", *wallet)
    signer = ["--master-keystore", str(master.keystore), "--master-password-file", str(master.password_file)]

    # Twice: the second top-up's nonce must come from the node's count after the first.
    for i in range(2):
        out = paratii.ok("wallet", "topup", *wallet, *signer, "--config", str(config), "--token", "ETH", "--amount", "0.25", "--send")
        assert "mined in block" in out, out
    assert node.balance(spender) == WEI // 2
    assert int(node.rpc("eth_getTransactionCount", master.address, "latest"), 16) == 2
    # The master paid exactly the amounts plus each receipt's gas × effective price.
    spent = node.balance(master.address)
    assert 2 * WEI - spent > WEI // 2  # fees on top of the transfers

    # Offline (no rpc in the configuration): nonce and fees given, the raw transaction printed, not sent.
    offline = work / "offline.json"
    offline.write_text(json.dumps({"chainId": node.chain_id}))
    raw = paratii.ok("wallet", "topup", *wallet, *signer, "--config", str(offline), "--token", "ETH", "--amount", "0.1",
                     "--nonce", "2", "--max-fee", "3000000000", "--priority-fee", "1000000000")
    assert Account.recover_transaction(raw) == master.address
    assert node.balance(spender) == WEI // 2
    # Offline without them: one line saying what to give.
    paratii.refused("wallet", "topup", *wallet, *signer, "--config", str(offline), "--token", "ETH", "--amount", "0.1",
                    mentions="--nonce")


def test_node_refusals_are_one_line(paratii, work, start_node):
    rng = interop.rng_for("chain", "refusals")
    poor = interop.write_keystore(work, "poor", interop.random_private_key(rng), "p")
    node = start_node()
    config = write_config(work / "config.json", node)
    wallet = ["--dir", str(work / "wallet"), "--password-file", str(work / "wallet.pw")]
    (work / "wallet.pw").write_text("w\n")
    paratii.ok("wallet", "init", *wallet, "--scrypt-n", "16")
    signer = ["--master-keystore", str(poor.keystore), "--master-password-file", str(poor.password_file)]
    # No funds: the node refuses the raw transaction; the CLI says so in one line.
    paratii.refused("wallet", "topup", *wallet, *signer, "--config", str(config), "--token", "ETH", "--amount", "1", "--send",
                    mentions="refused")
    # A node on another chain than the configuration's is refused before anything is signed.
    other = work / "other.json"
    other.write_text(json.dumps({"chainId": 1, "rpc": node.url}))
    paratii.refused("wallet", "topup", *wallet, *signer, "--config", str(other), "--token", "ETH", "--amount", "1", mentions="chain")
    # Nobody listening: said at once, not after the call's 30 s timeout.
    node.stop()
    started = time.monotonic()
    paratii.refused("wallet", "topup", *wallet, *signer, "--config", str(config), "--token", "ETH", "--amount", "1",
                    mentions="unreachable")
    assert time.monotonic() - started < 10

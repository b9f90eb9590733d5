"""`paratii deposit` signed directly (a software master key standing in for the card; the card through
the bridge is in test_end_to_end.py): ETH and PTI (approval, then depositToken), escrow and balances
to the wei, and offline the raw transactions in order."""

from __future__ import annotations

import json

from eth_account import Account

from .conftest import ETH, interop, write_config
from .settlement import WEI, escrow, fee_paid, token_balance


def test_deposit_eth_and_pti_directly(paratii, work, start_node):
    rng = interop.rng_for("chain", "deposit")
    master = interop.write_keystore(work, "master", interop.random_private_key(rng), "m")
    node = start_node("--deploy", "--fund", f"{master.address}={5 * WEI}", "--mint", f"{master.address}={100 * WEI}")
    config = write_config(work / "config.json", node)
    signer = ["--master-keystore", str(master.keystore), "--master-password-file", str(master.password_file)]

    result = paratii.run("deposit", "--config", str(config), *signer, "--token", "ETH", "--amount", "1.5")
    assert result.rc == 0, result.describe()
    assert "escrow now 1.5" in result.out, result.describe()
    hashes = [line.split()[1] for line in result.err.splitlines() if "mined in block" in line]
    assert len(hashes) == 1
    assert escrow(node, master.address, ETH) == 3 * WEI // 2
    assert node.balance(node.info["paratii"]) == 3 * WEI // 2
    assert node.balance(master.address) == 5 * WEI - 3 * WEI // 2 - fee_paid(node, hashes[0])

    result = paratii.run("deposit", "--config", str(config), *signer, "--token", "PTI", "--amount", "40")
    assert result.rc == 0, result.describe()
    steps = [line.split()[0] for line in result.err.splitlines() if "mined in block" in line]
    assert steps == ["deposit-approval", "deposit"], result.describe()
    assert escrow(node, master.address, node.info["token"]) == 40 * WEI
    assert token_balance(node, master.address) == 60 * WEI
    assert token_balance(node, node.info["paratii"]) == 40 * WEI

    # Offline: the two raw transactions, nonces n and n+1, the approval first; nothing sent.
    offline = work / "offline.json"
    offline.write_text(json.dumps({"chainId": node.chain_id, "verifyingContract": node.info["paratii"], "ptiToken": node.info["token"]}))
    out = paratii.ok("deposit", "--config", str(offline), *signer, "--token", "PTI", "--amount", "1", "--nonce", "9",
                     "--max-fee", "2000000000", "--priority-fee", "1000000000")
    raws = out.splitlines()
    assert len(raws) == 2
    decoded = [Account.recover_transaction(raw) for raw in raws]
    assert decoded == [master.address, master.address]
    assert escrow(node, master.address, node.info["token"]) == 40 * WEI

    # Refusals: no contract configured; a zero amount.
    bare = work / "bare.json"
    bare.write_text(json.dumps({"chainId": node.chain_id, "rpc": node.url}))
    paratii.refused("deposit", "--config", str(bare), *signer, "--token", "ETH", "--amount", "1", mentions="verifyingContract")
    paratii.refused("deposit", "--config", str(config), *signer, "--token", "ETH", "--amount", "0", mentions="positive")

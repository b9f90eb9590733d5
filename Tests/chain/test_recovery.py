"""`paratii recovery set|start|cancel|complete|status` on py-evm, signed directly (software keys
standing in for the master's card and the backup card; through the bridge in test_recovery_bridge):
the contract's refusals come back as one line naming the reason, and after the delay the escrow is
the backup card's, to the wei."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from .conftest import ETH, interop, write_config

WEI = 10**18
DAY = 86400


def escrow(node, master: str, token: str) -> int:
    data = keccak(text="escrow(address,address)")[:4] + encode(["address", "address"], [master, token])
    return int.from_bytes(node.call(node.info["paratii"], data), "big")


def test_takeover_set_cancelled_then_completed_after_the_delay(paratii, work, start_node):
    rng = interop.rng_for("chain", "recovery")
    master = interop.write_keystore(work, "master", interop.random_private_key(rng), "m")
    backup = interop.write_keystore(work, "backup", interop.random_private_key(rng), "b")
    stranger = interop.write_keystore(work, "stranger", interop.random_private_key(rng), "s")
    node = start_node("--deploy", *(f"--fund={k.address}={5 * WEI}" for k in (master, backup, stranger)),
                      "--mint", f"{master.address}={100 * WEI}")
    config = str(write_config(work / "config.json", node))

    def signed_by(key):
        return ["--config", config, "--master-keystore", str(key.keystore), "--master-password-file", str(key.password_file)]

    for token, amount in (("ETH", "1"), ("PTI", "10")):
        result = paratii.run("deposit", *signed_by(master), "--token", token, "--amount", amount)
        assert result.rc == 0, result.describe()
    status = paratii.ok("recovery", "status", "--config", config, "--master", master.address)
    assert "no recovery address set" in status

    paratii.refused("recovery", "set", *signed_by(master), "--account", backup.address, "--delay", "1d",
                    mentions="recovery delay below withdrawal delay")
    out = paratii.ok("recovery", "set", *signed_by(master), "--account", backup.address, "--delay", "4d")
    assert out.startswith("recovery-set 0x") and master.address in out
    assert backup.address in paratii.ok("recovery", "status", "--config", config, "--master", master.address)

    paratii.refused("recovery", "start", *signed_by(stranger), "--master", master.address, mentions="not the recovery address")
    paratii.ok("recovery", "start", *signed_by(backup), "--master", master.address)
    assert f"A TAKEOVER BY {backup.address} IS PENDING" in paratii.ok("recovery", "status", "--config", config, "--master", master.address)
    paratii.refused("recovery", "complete", *signed_by(backup), "--master", master.address, mentions="takeover not ready")
    paratii.ok("recovery", "cancel", *signed_by(master))
    node.rpc("evm_increaseTime", 4 * DAY)
    paratii.refused("recovery", "complete", *signed_by(backup), "--master", master.address, mentions="no takeover pending")
    assert escrow(node, master.address, ETH) == WEI

    # The card really is lost this time.
    paratii.ok("recovery", "start", *signed_by(backup), "--master", master.address)
    node.rpc("evm_increaseTime", 4 * DAY - 60)
    paratii.refused("recovery", "complete", *signed_by(backup), "--master", master.address, mentions="takeover not ready")
    node.rpc("evm_increaseTime", 60)
    paratii.ok("recovery", "complete", *signed_by(backup), "--master", master.address)
    pti = node.info["token"]
    assert (escrow(node, master.address, ETH), escrow(node, master.address, pti)) == (0, 0)
    assert (escrow(node, backup.address, ETH), escrow(node, backup.address, pti)) == (WEI, 10 * WEI)
    assert "was taken over by " + backup.address in paratii.ok("recovery", "status", "--config", config, "--master", master.address)
    paratii.refused("deposit", *signed_by(master), "--token", "ETH", "--amount", "1", mentions="master recovered")


def test_offline_recovery_transactions_are_printed_for_the_right_contract(paratii, work, start_node):
    rng = interop.rng_for("chain", "recovery-offline")
    master = interop.write_keystore(work, "master", interop.random_private_key(rng), "m")
    offline = work / "offline.json"
    offline.write_text('{"chainId": 31337, "verifyingContract": "0x' + "11" * 20 + '"}')
    from eth_account import Account
    raw = paratii.ok("recovery", "cancel", "--config", str(offline), "--master-keystore", str(master.keystore),
                     "--master-password-file", str(master.password_file), "--nonce", "3", "--max-fee", "2000000000",
                     "--priority-fee", "1000000000")
    assert Account.recover_transaction(raw) == master.address
    paratii.refused("recovery", "set", "--config", str(offline), "--master-keystore", str(master.keystore),
                    "--master-password-file", str(master.password_file), "--account", master.address, "--delay", "400d",
                    mentions="--delay")
    paratii.refused("recovery", "status", "--config", str(offline), "--master", master.address, mentions="node")

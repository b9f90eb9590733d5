"""Recovery through the bridge: the soft card in the real pcscd is the master; `paratii recovery set`
and `cancel` are transaction requests the user approves on the bridge side (kinds recovery-set and
recovery-cancel, shown as what they do), the card signs, the CLI sends. `card status` and `doctor`
remind the user while no recovery address is set. The backup card's steps are signed directly."""

from __future__ import annotations

import json
import subprocess

from .conftest import interop, write_config
from .test_end_to_end import READER, card, card_flow  # noqa: F401 (card is a fixture)

WEI = 10**18
DAY = 86400


def test_set_and_cancel_are_approved_on_the_bridge(paratii, work, card, start_node):  # noqa: F811
    master = card["address"]
    backup = interop.write_keystore(work, "backup", interop.random_private_key(interop.rng_for("chain", "recovery-bridge")), "b")
    node = start_node("--deploy", "--fund", f"{master}={10 * WEI}", "--fund", f"{backup.address}={WEI}")
    config = str(write_config(work / "config.json", node))
    status = json.loads(paratii.ok("card", "status", "--reader", READER, "--json", "--config", config))
    assert status["recovery"].startswith("no recovery address set")
    doctor = paratii.run("doctor", "--reader", READER, "--config", config)
    assert "no recovery address set" in doctor.out and "paratii recovery set" in doctor.out, doctor.describe()

    with card_flow.running_bridge(paratii, work, config) as (socket, wallet):
        link = [*wallet, "--bridge", str(socket), "--config", config, "--from", master, "--timeout", "120"]

        asking = subprocess.Popen([str(paratii.path), "recovery", "set", *link, "--account", backup.address, "--delay", "4d"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pairing = card_flow.pending(paratii, socket, "pairings", asking)
        paratii.ok("approve", "--socket", str(socket), pairing["id"], "--code", pairing["code"])
        request = card_flow.pending(paratii, socket, "requests", asking)
        assert request["request"]["kind"] == "recovery-set" and request["request"]["account"] == backup.address
        shown = paratii.run("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        assert shown.rc == 0, shown.describe()
        assert f"recovery: {backup.address} may take over the card's escrow" in shown.err, shown.describe()
        out, err = asking.communicate(timeout=120)
        assert asking.returncode == 0, err
        assert out.startswith("recovery-set 0x") and f"signed by {master}" in out, out
        status = json.loads(paratii.ok("card", "status", "--reader", READER, "--json", "--config", config))
        assert status["recovery"].startswith(f"recovery address {backup.address}")

        # The backup card starts a takeover; the doctor calls it an error; the master cancels it on the bridge.
        signed_by_backup = ["--config", config, "--master-keystore", str(backup.keystore), "--master-password-file",
                            str(backup.password_file)]
        paratii.ok("recovery", "start", *signed_by_backup, "--master", master)
        doctor = paratii.run("doctor", "--reader", READER, "--config", config)
        assert "A TAKEOVER BY" in doctor.out and "paratii recovery cancel" in doctor.out, doctor.describe()
        assert doctor.rc != 0
        asking = subprocess.Popen([str(paratii.path), "recovery", "cancel", *link], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        request = card_flow.pending(paratii, socket, "requests", asking)
        assert request["request"]["kind"] == "recovery-cancel"
        shown = paratii.run("approve", "--socket", str(socket), request["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        assert shown.rc == 0 and "recovery: cancel the takeover" in shown.err, shown.describe()
        out, err = asking.communicate(timeout=120)
        assert asking.returncode == 0, err
        node.rpc("evm_increaseTime", 5 * DAY)
        paratii.refused("recovery", "complete", *signed_by_backup, "--master", master, mentions="no takeover pending")
        assert "TAKEOVER" not in paratii.ok("recovery", "status", "--config", config, "--master", master)

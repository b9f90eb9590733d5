"""The whole path on the real pcscd with the software token (second vpcd slot): the card signs a
delegation, the wallet pays until the cap refuses, a payee accepts, eth-account recovers the card's
address from the delegation, and a card-signed revocation stops the payee from accepting more."""

import contextlib
import fcntl
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

READER = "Virtual PCD 00 01"
PAYEE = "0x00000000000000000000000000000000000000bb"


@pytest.fixture
def card(paratii, work):
    # vpcd's second slot is shared with the Swift suites and other runs on this machine: the same
    # locks they take (the slot exclusive, pcscd restarts kept away by holding that lock shared).
    with open("/tmp/paratii-vpcd-slot1.lock", "a+") as slot, open("/tmp/paratii-pcscd-restart.lock", "a+") as restart:
        fcntl.flock(slot, fcntl.LOCK_EX)
        fcntl.flock(restart, fcntl.LOCK_SH)
        yield from plugged_card(paratii, work)


def plugged_card(paratii, work):
    state = work / "card.json"
    paratii.ok("softcard", "create", "--state", str(state), "--insecure-state")
    process = subprocess.Popen([str(paratii.path), "softcard", "run", "--state", str(state), "--vpcd", "127.0.0.1:35964"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            listing = paratii.run("card", "list")
            if f"{READER}: OpenPGP card" in listing.out:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the software card never appeared in pcscd (is pcscd running? scripts/pcscd-up)")
        (work / "pin").write_text("246810\n")
        (work / "admin-pin").write_text("97531864\n")
        paratii.ok("card", "init", "--reader", READER, "--pin-file", str(work / "pin"), "--admin-pin-file", str(work / "admin-pin"))
        yield json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


# The bridge as the card tests (here and in Tests/chain) start it, and its pending approvals.
@contextlib.contextmanager
def running_bridge(paratii, work: Path, config: Path | str) -> Iterator[tuple[Path, list[str]]]:
    """`paratii bridge run` on work/run/bridge.sock with `config`, and a fresh wallet to pair with it
    (work/wallet, password file work/wallet.pw): yields the socket and the wallet's options; the bridge
    is stopped (SIGTERM) when the block ends."""
    socket = work / "run" / "bridge.sock"
    bridge = subprocess.Popen([str(paratii.path), "bridge", "run", "--socket", str(socket), "--database", str(work / "bridge.sqlite"),
                               "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if socket.exists():
                break
            time.sleep(0.05)
        wallet = ["--dir", str(work / "wallet"), "--password-file", str(work / "wallet.pw")]
        (work / "wallet.pw").write_text("player\n")
        paratii.ok("wallet", "init", *wallet, "--scrypt-n", "16")
        yield socket, wallet
    finally:
        bridge.terminate()
        bridge.wait(timeout=30)


def pending(paratii, socket: Path, key: str, asking: subprocess.Popen | None = None) -> dict:
    """The first entry the bridge on `socket` holds for the user to approve under `key` ("pairings",
    "requests"), waited for up to 30 s; with `asking`, that command's own words if it ends first."""
    for _ in range(300):
        listing = json.loads(paratii.ok("approve", "--socket", str(socket), "--json"))
        if listing[key]:
            return listing[key][0]
        if asking is not None and asking.poll() is not None:
            out, err = asking.communicate()
            pytest.fail(f"the command ended (exit {asking.returncode}) before asking: {out} {err}")
        time.sleep(0.1)
    pytest.fail(f"nothing pending in {key}")


def test_card_to_payee(paratii, work, card):
    wallet = ["--dir", str(work / "wallet"), "--password-file", str(work / "wallet.pw")]
    (work / "wallet.pw").write_text("player\n")
    paratii.ok("wallet", "init", *wallet, "--scrypt-n", "16")
    spender = paratii.ok("wallet", "address", *wallet)
    delegation = work / "delegation.json"
    paratii.ok("delegate", "spending", "--reader", READER, "--pin-file", str(work / "pin"), "--spender", spender,
               "--allowance", "token=ETH,total=0.0003,per-payment=0.0001", "--payee", PAYEE, "--valid-for", "1d",
               "--out", str(delegation))
    envelope = json.loads(delegation.read_text())
    signer = Account.recover_message(encode_typed_data(full_message=envelope["typedData"]), signature=envelope["signature"])
    assert signer == card["address"], "the delegation must recover to the card's master address"
    assert json.loads(paratii.ok("card", "status", "--reader", READER, "--json"))["signatureCounter"] == card["signatureCounter"] + 1

    paratii.ok("wallet", "import-delegation", *wallet, str(delegation))
    vouchers = []
    for i in range(3):
        vouchers.append(paratii.ok("wallet", "pay", *wallet, "--payee", PAYEE, "--token", "ETH", "--amount", "0.0001", "--memo", f"s{i}"))
    refused = paratii.run("wallet", "pay", *wallet, "--payee", PAYEE, "--token", "ETH", "--amount", "0.0001")
    assert refused.rc == 1 and "overTotal" in refused.err and refused.out == ""

    store = ["--store", str(work / "payee.sqlite")]
    for i, text in enumerate(vouchers[:2]):
        path = work / f"v{i}.json"
        path.write_text(text)
        assert json.loads(paratii.ok("payee", "accept", *store, str(path)))["accepted"]

    # The card revokes its delegation; the payee, honouring the list, refuses the next voucher.
    delegation_id = json.loads(paratii.ok("verify", str(delegation)))["id"]
    revocations = work / "revocations.json"
    paratii.ok("delegate", "revoke", delegation_id, "--reader", READER, "--pin-file", str(work / "pin"), "--list", str(revocations))
    last = work / "v2.json"
    last.write_text(vouchers[2])
    result = paratii.run("payee", "accept", *store, "--revocations", str(revocations), str(last))
    assert result.rc == 1 and json.loads(result.out)["reason"] == "revoked"
    channels = json.loads(paratii.ok("payee", "channels", *store, "--json"))
    assert channels[0]["cumulative"] == "200000000000000" and channels[0]["master"] == card["address"]


def test_bridge_topup_recovers_to_the_card(paratii, work, card):
    """A top-up asked through the bridge and approved with the card: eth-account decodes the raw
    EIP-1559 transaction and recovers the card's address as its sender."""
    config = work / "config.json"
    config.write_text('{"chainId": 1337}')
    with running_bridge(paratii, work, config) as (socket, wallet):
        spender = paratii.ok("wallet", "address", *wallet)
        asked = subprocess.Popen([str(paratii.path), "wallet", "request-topup", *wallet, "--bridge", str(socket), "--config", str(config),
                                  "--token", "ETH", "--amount", "0.125", "--nonce", "9", "--max-fee", "40000000000",
                                  "--priority-fee", "2000000000", "--timeout", "120"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        pairing = pending(paratii, socket, "pairings")
        paratii.ok("approve", "--socket", str(socket), pairing["id"], "--code", pairing["code"])
        paratii.ok("approve", "--socket", str(socket), pending(paratii, socket, "requests")["id"], "--reader", READER, "--pin-file", str(work / "pin"))
        out, err = asked.communicate(timeout=120)
        assert asked.returncode == 0, err
        raw = out.strip()
        assert Account.recover_transaction(raw) == card["address"]
        from eth_account.typed_transactions import TypedTransaction
        from hexbytes import HexBytes
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        assert fields["chainId"] == 1337 and fields["nonce"] == 9 and fields["value"] == 125 * 10**15
        assert bytes(fields["to"]) == bytes.fromhex(spender[2:]) and fields["gas"] == 21000 and fields["maxFeePerGas"] == 40000000000

"""Delegation envelopes across implementations: chains signed by eth-account verify with `paratii verify`
(and each broken case is rejected with its reason); envelopes our CLI signs give their signers back to
eth-account from `typedData` alone."""

import json
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from conftest import DOMAIN_TYPE, TYPES, random_private_key, rng_for, write_keystore

DOMAIN = {"name": "Paratii", "version": "1", "chainId": 11155111,
          "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"}
PTI = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
PAYEE = "0x00000000000000000000000000000000000000bb"

NOW = int(time.time())
ETH = "0x0000000000000000000000000000000000000000"
WEI = 10**18


def typed(primary, message):
    return {"types": {"EIP712Domain": DOMAIN_TYPE, **TYPES[primary]}, "primaryType": primary,
            "domain": DOMAIN, "message": message}


def sign(key, primary, message, parents=()):
    """An envelope made by eth-account alone: the id is eth-account's EIP-712 digest."""
    data = typed(primary, message)
    signed = Account.sign_message(encode_typed_data(full_message=data), key)
    return {"typedData": data, "signature": "0x" + signed.signature.hex().removeprefix("0x"),
            "parents": list(parents), "_id": "0x" + signed.message_hash.hex().removeprefix("0x")}


def bare(envelope):
    return {k: v for k, v in envelope.items() if k != "_id"}


class Chain:
    def __init__(self):
        rng = rng_for("delegations")
        self.master, self.spender, self.poster, self.stranger = (random_private_key(rng) for _ in range(4))
        self.addr = {name: Account.from_key(getattr(self, name)).address
                     for name in ("master", "spender", "poster", "stranger")}

    def spending(self, **overrides):
        message = {"master": self.addr["master"], "spender": self.addr["spender"],
                   "allowances": [{"token": ETH, "total": 5 * WEI // 100, "perPayment": WEI // 10000,
                                   "period": 86400, "perPeriod": WEI // 100},
                                  {"token": PTI, "total": 5 * WEI, "perPayment": WEI // 100, "period": 0, "perPeriod": 0}],
                   "payees": [PAYEE], "validAfter": NOW - 3600, "validUntil": NOW + 30 * 86400, "salt": 2**200 + 7}
        message.update(overrides)
        return sign(self.master, "SpendingDelegation", message)

    def voucher(self, parent, signer=None, **overrides):
        message = {"delegation": parent["_id"], "payee": PAYEE, "token": ETH, "cumulative": 3 * WEI // 10000,
                   "sequence": 3, "memo": "0x" + "ab" * 32}
        message.update(overrides)
        return sign(signer or self.spender, "Voucher", message, [bare(parent)])

    def posting(self, parent, **overrides):
        message = {"parent": parent["_id"], "spender": self.addr["spender"], "poster": self.addr["poster"], "scopes": 1,
                   "validAfter": NOW - 60, "validUntil": NOW + 86400, "salt": 1}
        message.update(overrides)
        return sign(self.spender, "PostingDelegation", message, [bare(parent)])

    def vote(self, posting, parent, **overrides):
        message = {"delegation": posting["_id"], "content": "0x" + "cd" * 32, "kind": 1, "value": 4,
                   "reason": "crisp ✓", "issuedAt": NOW}
        message.update(overrides)
        return sign(self.poster, "Vote", message, [bare(posting), bare(parent)])


@pytest.fixture
def config(work):
    path = work / "config.json"
    path.write_text(json.dumps({"chainId": DOMAIN["chainId"], "verifyingContract": DOMAIN["verifyingContract"], "ptiToken": PTI}))
    return path


def verify(paratii, work, config, envelope, *extra):
    path = work / "envelope.json"
    path.write_text(json.dumps(bare(envelope)))
    result = paratii.run("verify", str(path), "--config", str(config), *extra)
    assert result.rc in (0, 1), result.describe()
    verdict = json.loads(result.out)
    assert verdict["valid"] == (result.rc == 0)
    return verdict


def test_chains_signed_by_eth_account_verify(paratii, work, config):
    chain = Chain()
    spending = chain.spending()
    posting = chain.posting(spending)
    for envelope in (spending, chain.voucher(spending), posting, chain.vote(posting, spending)):
        verdict = verify(paratii, work, config, envelope)
        assert verdict["valid"], verdict
        assert verdict["master"] == chain.addr["master"]
        assert verdict["id"] == envelope["_id"], "our id must be eth-account's EIP-712 digest"


BROKEN = {
    "badSignature": lambda c, s: c.voucher(s, signer=c.stranger),
    "overTotal": lambda c, s: c.voucher(s, cumulative=5 * WEI // 100 + 1),
    "payeeNotAllowed": lambda c, s: c.voucher(s, payee=c.addr["stranger"]),
    "unknownToken": lambda c, s: c.voucher(s, token="0x0000000000000000000000000000000000000001"),
    "brokenChain": lambda c, s: c.voucher(s, delegation="0x" + "00" * 32),
    "scopeNotGranted": lambda c, s: c.vote(c.posting(s), s, kind=2, value=1),
    "widensParent": lambda c, s: c.posting(s, validUntil=NOW + 60 * 86400),
    "malformed": lambda c, s: c.vote(c.posting(s), s, value=9),
}


@pytest.mark.parametrize("reason", sorted(BROKEN))
def test_each_broken_case_is_rejected_with_its_reason(paratii, work, config, reason):
    chain = Chain()
    verdict = verify(paratii, work, config, BROKEN[reason](chain, chain.spending()))
    assert not verdict["valid"] and verdict["reason"] == reason, verdict


def test_time_windows_and_revocations(paratii, work, config):
    chain = Chain()
    spending = chain.spending()
    voucher = chain.voucher(spending)
    assert verify(paratii, work, config, voucher, "--at", str(NOW + 31 * 86400))["reason"] == "expired"
    assert verify(paratii, work, config, voucher, "--at", str(NOW - 7200))["reason"] == "notYetValid"
    revocation = {"types": {"EIP712Domain": DOMAIN_TYPE, "Revocation": [
        {"name": "issuer", "type": "address"}, {"name": "target", "type": "bytes32"}, {"name": "issuedAt", "type": "uint64"}]},
        "primaryType": "Revocation", "domain": DOMAIN,
        "message": {"issuer": chain.addr["master"], "target": spending["_id"], "issuedAt": NOW - 5}}
    signed = Account.sign_message(encode_typed_data(full_message=revocation), chain.master)
    listing = work / "revocations.json"
    listing.write_text(json.dumps([{"typedData": revocation, "signature": "0x" + signed.signature.hex().removeprefix("0x"), "parents": []}]))
    assert verify(paratii, work, config, voucher, "--revocations", str(listing))["reason"] == "revoked"


def test_tampering_any_field_is_caught(paratii, work, config):
    chain = Chain()
    spending = chain.spending()
    voucher = bare(chain.voucher(spending))
    for link in range(2):
        target = voucher if link == 0 else voucher["parents"][0]
        for field, value in list(target["typedData"]["message"].items()):
            original = json.dumps(voucher)
            if isinstance(value, bool) or not isinstance(value, (int, str, list)):
                continue
            if isinstance(value, int):
                target["typedData"]["message"][field] = value + 1
            elif isinstance(value, list):
                target["typedData"]["message"][field] = value[:-1]
            elif value.startswith("0x") and len(value) == 42:
                target["typedData"]["message"][field] = "0x" + "00" * 19 + "01"
            else:
                target["typedData"]["message"][field] = "0x" + "ee" * 32
            path = work / "tampered.json"
            path.write_text(json.dumps(voucher))
            result = paratii.run("verify", str(path), "--config", str(config))
            assert result.rc in (1, 2), f"tampered {field} of link {link} was accepted"
            voucher = json.loads(original)
            target = voucher if link == 0 else voucher["parents"][0]


def test_envelopes_we_sign_give_their_signers_to_eth_account(paratii, work, config):
    """Delegation by a software master, posting delegation, vouchers from a wallet: eth-account recovers each signer."""
    rng = rng_for("our-envelopes")
    master = write_keystore(work, "master", random_private_key(rng), "pw")
    wallet = work / "wallet"
    password = work / "wallet.pw"
    password.write_text("wallet password\n")
    paratii.ok("wallet", "init", "--dir", str(wallet), "--password-file", str(password), "--scrypt-n", "16")
    spender = paratii.ok("wallet", "address", "--dir", str(wallet), "--password-file", str(password))
    paratii.ok("delegate", "spending", "--spender", spender, "--allowance", "token=ETH,total=0.01,per-payment=0.001",
               "--allowance", "token=PTI,total=2", "--payee", PAYEE, "--valid-for", "1d",
               "--master-keystore", str(master.keystore), "--master-password-file", str(master.password_file),
               "--config", str(config), "--out", str(work / "delegation.json"))
    paratii.ok("wallet", "import-delegation", "--dir", str(wallet), "--password-file", str(password), str(work / "delegation.json"))
    voucher = json.loads(paratii.ok("wallet", "pay", "--dir", str(wallet), "--password-file", str(password), "--payee", PAYEE,
                                    "--token", "PTI", "--amount", "0.25", "--memo", "segment-1", "--config", str(config)))
    poster = Account.from_key(random_private_key(rng)).address
    spender_key = work / "wallet" / "spending.json"
    posting = json.loads(paratii.ok("delegate", "posting", "--keystore", str(spender_key), "--password-file", str(password),
                                    "--parent", str(work / "delegation.json"), "--poster", poster, "--scopes", "rate,flag"))
    delegation = json.loads((work / "delegation.json").read_text())
    for envelope, signer in ((delegation, master.address), (voucher, spender), (voucher["parents"][0], master.address),
                             (posting, spender)):
        message = encode_typed_data(full_message=envelope["typedData"])
        assert Account.recover_message(message, signature=envelope["signature"]) == signer
    assert voucher["typedData"]["message"]["cumulative"] in ("250000000000000000", 250000000000000000)
    assert verify(paratii, work, config, voucher)["valid"]

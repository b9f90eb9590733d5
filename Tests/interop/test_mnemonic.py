"""BIP-39 words to an address: `paratii eth mnemonic-address` against eth-account's `from_mnemonic`
(its HD wallet, a separate implementation of BIP-39 and BIP-32), on random words and paths; and the
vector files the Swift tests read, decoded again here from their published xprv strings."""

from __future__ import annotations

import hashlib
import json

import pytest
from eth_account import Account
from eth_account.hdaccount.mnemonic import Mnemonic

from conftest import REPO, rng_for

Account.enable_unaudited_hdwallet_features()

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def decode_xprv(text: str) -> tuple[str, str]:
    n = 0
    for c in text:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes(82, "big")
    payload, check = raw[:78], raw[78:]
    assert hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == check
    assert payload[45] == 0
    return payload[13:45].hex(), payload[46:78].hex()


def address_of(paratii, work, words: str, *extra: str) -> str:
    path = work / "words"
    path.write_text(words + "\n")
    return paratii.ok("eth", "mnemonic-address", "--words-file", str(path), *extra)


@pytest.mark.parametrize("index", range(12))
def test_random_words_give_eth_accounts_address(paratii, work, index):
    rng = rng_for("mnemonic", index)
    # eth-account spells the seeded entropy (its own BIP-39 code), so the run reproduces.
    entropy = rng.randbytes(rng.choice([16, 20, 24, 28, 32]))
    words = Mnemonic().to_mnemonic(entropy)
    expected = Account.from_mnemonic(words).address
    assert address_of(paratii, work, words) == expected, words
    path = f"m/44'/60'/{rng.randrange(0, 4)}'/0/{rng.randrange(0, 2**31)}"
    assert address_of(paratii, work, words, "--path", path) == Account.from_mnemonic(words, account_path=path).address, (words, path)


def test_vector_words_and_the_best_known_phrase(paratii, work):
    vectors = json.loads((REPO / "Tests" / "Vectors" / "bip39.json").read_text())["english"]
    for v in vectors[:12:3]:
        assert address_of(paratii, work, v["mnemonic"]) == Account.from_mnemonic(v["mnemonic"]).address
    phrase = "abandon " * 11 + "about"
    assert address_of(paratii, work, phrase) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    # The words as `card init --backup` shows them, numbers included.
    numbered = " ".join(f"{i + 1} {w}" for i, w in enumerate(phrase.split()))
    assert address_of(paratii, work, numbered) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_vector_files_match_their_published_xprv():
    bip39 = json.loads((REPO / "Tests" / "Vectors" / "bip39.json").read_text())
    assert len(bip39["english"]) == 24
    for v in bip39["english"]:
        assert decode_xprv(v["xprv"]) == (v["chainCode"], v["masterKey"])
    bip32 = json.loads((REPO / "Tests" / "Vectors" / "bip32.json").read_text())
    assert sum(len(v["chains"]) for v in bip32["vectors"]) == 17
    for v in bip32["vectors"]:
        for chain in v["chains"]:
            assert decode_xprv(chain["xprv"]) == (chain["chainCode"], chain["key"])


@pytest.mark.parametrize("words, mentions", [
    ("abandon " * 11 + "abandon", "checksum"),
    ("abandon " * 11 + "abandonn", "word 12"),
    ("abandon " * 10 + "about", "got 11"),
])
def test_bad_words_are_refused_in_one_line(paratii, work, words, mentions):
    path = work / "words"
    path.write_text(words)
    paratii.refused("eth", "mnemonic-address", "--words-file", str(path), mentions=mentions)


def test_bad_path_is_refused(paratii, work):
    path = work / "words"
    path.write_text("abandon " * 11 + "about")
    paratii.refused("eth", "mnemonic-address", "--words-file", str(path), "--path", "m/44'/x", mentions="--path")

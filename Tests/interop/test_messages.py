"""EIP-191 personal_sign and Keccak-256: `paratii eth sign-message / recover-message / keccak` vs eth-account."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from conftest import SECP256K1_N, rng_for

UNICODE_SAMPLES = [
    "héllo wörld", "日本語のテキスト", "emoji 🦜🔐🚀", "e\u0301 (decomposed) vs é", "עברית ومرحبا",
    "zero\u200bwidth", "tab\there", "line1\nline2\r\nline3\n", "∑∫√∞ ≠ ≤", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
]


def hexsig(signed) -> str:
    return "0x" + bytes(signed.signature).hex()


def random_text(rng, length: int) -> str:
    alphabet = (
        [chr(c) for c in range(0x20, 0x7F)]
        + list("äöüßéèçñøå€£¥")
        + ["\n", "\t", "\r"]
        + ["日", "本", "語", "😀", "🦜", "\u0301", "\u200d", "\U00010348", "\uffef"]
    )
    return "".join(rng.choice(alphabet) for _ in range(length))


def message_cases():
    """(id, how, payload, bytes): how is 'text' (argv), 'hex' (argv --hex), 'stdin' or 'stdin-hex'."""
    rng = rng_for("messages")
    cases = [
        ("empty-text", "text", "", b""),
        ("empty-hex", "hex", "0x", b""),
        ("empty-stdin", "stdin", b"", b""),
        ("ascii", "text", "Hello, Paratii!", b"Hello, Paratii!"),
        ("looks-like-hex-but-text", "text", "0xdeadbeef", b"0xdeadbeef"),
        ("leading-dash", "text", "-rf /", b"-rf /"),
        ("double-dash", "text", "--hex", b"--hex"),
        ("len-9", "text", "123456789", b"123456789"),
        ("len-10", "text", "1234567890", b"1234567890"),
        ("len-100", "text", "x" * 100, b"x" * 100),
        ("hex-upper", "hex", "0xDEADBEEF00FF", bytes.fromhex("deadbeef00ff")),
        ("hex-no-prefix", "hex", "cafebabe", bytes.fromhex("cafebabe")),
        ("hex-32-bytes-looks-like-hash", "hex", "0x" + "ab" * 32, b"\xab" * 32),
        ("binary-nul-stdin", "stdin", b"\x00\x01\x02\xff\xfe\x00", b"\x00\x01\x02\xff\xfe\x00"),
        ("invalid-utf8-stdin", "stdin", b"\xc3\x28\xa0\xa1\xed\xa0\x80", b"\xc3\x28\xa0\xa1\xed\xa0\x80"),
        ("stdin-keeps-trailing-newline", "stdin", b"line\n", b"line\n"),
        ("stdin-hex-with-newline", "stdin-hex", b"0x00ff10\n", b"\x00\xff\x10"),
        ("long-argv-4k", "text", "long " * 800, ("long " * 800).encode()),
        ("long-stdin-100k", "stdin", bytes(rng.getrandbits(8) for _ in range(100_000)), None),
        ("long-hex-20k", "hex", None, bytes(rng.getrandbits(8) for _ in range(20_000))),
    ]
    for i, text in enumerate(UNICODE_SAMPLES):
        cases.append((f"unicode-{i}", "text", text, text.encode("utf-8")))
    for i in range(24):
        how = rng.choice(["text", "text", "hex", "stdin", "stdin-hex"])
        length = rng.choice([0, 1, 2, rng.randint(3, 60), rng.randint(60, 700)])
        if how == "text":
            text = random_text(rng, length)
            if text.startswith("-") or text == "":
                text = "x" + text
            cases.append((f"random-{i}-text", how, text, text.encode("utf-8")))
        else:
            data = bytes(rng.getrandbits(8) for _ in range(length))
            if how == "hex":
                cases.append((f"random-{i}-hex", how, "0x" + data.hex(), data))
            elif how == "stdin-hex":
                cases.append((f"random-{i}-stdin-hex", how, ("0x" + data.hex() + "\n").encode(), data))
            else:
                cases.append((f"random-{i}-stdin", how, data, data))
    out = []
    for ident, how, payload, data in cases:
        if data is None:
            data = payload
        if payload is None:
            payload = "0x" + data.hex()
        out.append(pytest.param(how, payload, data, id=ident))
    return out


def cli_message_args(how: str, payload) -> tuple[list[str], bytes | None]:
    """The MESSAGE part of the command line (with `--` so a leading dash stays a message) and stdin."""
    if how == "text":
        return ["--", payload], None
    if how == "hex":
        return ["--hex", "--", payload], None
    if how == "stdin":
        return ["-"], payload
    if how == "stdin-hex":
        return ["--hex", "-"], payload
    raise AssertionError(how)


@pytest.mark.parametrize("how, payload, data", message_cases())
def test_personal_sign_both_ways(paratii, keys, how, payload, data):
    key = keys[len(data) % len(keys)]
    msg_args, stdin = cli_message_args(how, payload)
    signable = encode_defunct(primitive=data)

    ours = paratii.ok("eth", "sign-message", *key.opts(), *msg_args, input=stdin)
    theirs = Account.sign_message(signable, key.private_key)

    # RFC 6979 makes both deterministic: byte-identical signatures, v = 27/28, low s.
    assert ours == hexsig(theirs)
    sig = bytes.fromhex(ours[2:])
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2

    # eth-account recovers our signature to our address …
    assert Account.recover_message(signable, signature=sig) == key.address
    # … and we recover eth-account's signature to its address.
    assert paratii.ok("eth", "recover-message", "--signature", hexsig(theirs), *msg_args, input=stdin) == key.address


def test_recover_message_wrong_message_gives_other_address(paratii, key):
    signed = Account.sign_message(encode_defunct(text="original"), key.private_key)
    recovered = paratii.ok("eth", "recover-message", "--signature", hexsig(signed), "tampered")
    assert recovered != key.address
    assert recovered == Account.recover_message(encode_defunct(text="tampered"), signature=signed.signature)


def test_recover_message_accepts_recovery_id_0_1(paratii, key):
    """v as a raw recovery id (0/1) is accepted by both sides too."""
    signed = Account.sign_message(encode_defunct(text="v as 0/1"), key.private_key)
    raw = bytearray(bytes(signed.signature))
    raw[64] -= 27
    assert paratii.ok("eth", "recover-message", "--signature", "0x" + raw.hex(), "v as 0/1") == key.address


def test_high_s_signature_refused_though_eth_account_accepts(paratii, key):
    """Deliberate strictness (EIP-2): the malleable twin (n - s, flipped v) is refused by us, accepted by eth-account."""
    signable = encode_defunct(text="malleable")
    signed = Account.sign_message(signable, key.private_key)
    r, s, v = signed.r, signed.s, signed.v
    twin = r.to_bytes(32, "big") + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    assert Account.recover_message(signable, signature=twin) == key.address  # eth-account's leniency
    paratii.refused("eth", "recover-message", "--signature", "0x" + twin.hex(), "malleable", mentions="high s")


# ---------------------------------------------------------------------------------------------
# keccak


def keccak_cases():
    rng = rng_for("keccak")
    cases = [
        pytest.param("text", "", b"", id="empty"),
        pytest.param("hex", "0x", b"", id="empty-hex"),
        pytest.param("text", "abc", b"abc", id="abc"),
        pytest.param("text", "transfer(address,uint256)", b"transfer(address,uint256)", id="selector"),
        pytest.param("text", "0x1234", b"0x1234", id="hex-looking-text"),
        pytest.param("stdin", b"\x00" * 200, b"\x00" * 200, id="zeros-stdin"),
    ]
    # Sizes around the 136-byte Keccak-256 rate.
    for size in (1, 55, 56, 135, 136, 137, 271, 272, 273, 1000, 65536):
        data = bytes(rng.getrandbits(8) for _ in range(size))
        how = rng.choice(["hex", "stdin"]) if size < 30_000 else "stdin"  # argv strings are capped at 128 KiB
        cases.append(pytest.param(how, None, data, id=f"random-{size}"))
    for i, text in enumerate(UNICODE_SAMPLES[:5]):
        cases.append(pytest.param("text", text, text.encode(), id=f"unicode-{i}"))
    return cases


@pytest.mark.parametrize("how, payload, data", keccak_cases())
def test_keccak(paratii, how, payload, data):
    if payload is None:
        payload = "0x" + data.hex() if how == "hex" else data
    if how == "text":
        args, stdin = [payload], None
    elif how == "hex":
        args, stdin = ["--hex", payload], None
    else:
        args, stdin = ["-"], payload
    assert paratii.ok("eth", "keccak", *args, input=stdin) == "0x" + keccak(data).hex()


def test_keccak_text_with_leading_dash(paratii):
    """A text INPUT that starts with '-' (after `--`, as for sign-message) must hash like any other text."""
    assert paratii.ok("eth", "keccak", "--", "-abc") == "0x" + keccak(b"-abc").hex()

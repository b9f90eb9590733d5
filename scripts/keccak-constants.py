#!/usr/bin/env python3
"""Generates the generated parts of Sources/Ethereum/Keccak256.swift from FIPS 202 section 3:
the round body of Keccak-f[1600] (theta, rho and pi with their rotation offsets, chi, iota) and the
24 round constants from the rc(t) LFSR.

    scripts/keccak-constants.py            # prints the round body and the constants table
    scripts/keccak-constants.py --check    # exits 1 unless Keccak256.swift holds exactly these lines

Nothing is copied from a table: offsets and constants are computed, so a typo in the Swift file
cannot agree with this script by accident.
"""
import pathlib
import sys


def rc(t):
    """FIPS 202 Algorithm 5: one bit of the LFSR x^8 + x^6 + x^5 + x^4 + 1."""
    if t % 255 == 0:
        return 1
    r = 1
    for _ in range(t % 255):
        r <<= 1
        if r & 0x100:
            r ^= 0x171
    return r & 1


def round_constants():
    """FIPS 202 Algorithm 6: RC for rounds 0..23, bit 2^j - 1 from rc(j + 7 i)."""
    out = []
    for i in range(24):
        value = 0
        for j in range(7):
            value |= rc(j + 7 * i) << ((1 << j) - 1)
        out.append(value)
    return out


def rotation_offsets():
    """FIPS 202 Algorithm 2 (rho): offsets per lane index x + 5 y."""
    offsets = [0] * 25
    x, y = 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


def round_body():
    lines = []
    for x in range(5):
        lines.append(f"let c{x} = a{x} ^ a{x + 5} ^ a{x + 10} ^ a{x + 15} ^ a{x + 20}")
    for x in range(5):
        left, right = (x + 4) % 5, (x + 1) % 5
        lines.append(f"let d{x} = c{left} ^ (c{right} &<< 1 | c{right} &>> 63)")
    offsets = rotation_offsets()
    b = {}
    for y in range(5):
        for x in range(5):
            source = x + 5 * y
            target = y + 5 * ((2 * x + 3 * y) % 5)  # pi: B[y, 2x + 3y] = rho(A[x, y])
            r = offsets[source]
            lane = f"(a{source} ^ d{x})"
            b[target] = f"a{source} ^ d{x}" if r == 0 else f"({lane} &<< {r} | {lane} &>> {64 - r})"
    for target in range(25):
        lines.append(f"let b{target} = {b[target]}")
    for y in range(5):
        for x in range(5):
            i = x + 5 * y
            lines.append(f"a{i} = b{i} ^ (~b{(x + 1) % 5 + 5 * y} & b{(x + 2) % 5 + 5 * y})")
    lines.append("a0 ^= roundConstants[round]")
    return lines


def constants_table():
    values = [f"0x{c:016X}" for c in round_constants()]
    rows = [", ".join(values[i:i + 4]) + "," for i in range(0, 24, 4)]
    return ["static let roundConstants: [UInt64] = ["] + rows + ["]"]


def main():
    generated = round_body() + constants_table()
    if "--check" not in sys.argv[1:]:
        print("\n".join(generated))
        return 0
    source = pathlib.Path(__file__).resolve().parent.parent / "Sources/Ethereum/Keccak256.swift"
    lines = [line.strip() for line in source.read_text().splitlines()]
    start = lines.index(generated[0]) if generated[0] in lines else -1
    body_ok = start >= 0 and lines[start:start + len(round_body())] == round_body()
    table = constants_table()
    table_start = lines.index(table[0]) if table[0] in lines else -1
    table_ok = table_start >= 0 and lines[table_start:table_start + len(table)] == table
    if body_ok and table_ok:
        print("keccak-constants: Keccak256.swift matches FIPS 202 (round body and 24 round constants)")
        return 0
    print(f"keccak-constants: Keccak256.swift differs from the generated {'round body' if not body_ok else 'round constants'}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# Fail (exit 1) when udev/70-paratii-tokens.rules is not what
# udev/generate-rules.py produces from udev/known-tokens.json, or when doctor's
# bundled copy (Sources/TokenHub/Resources/known-tokens.json) differs from the table.
# Exit 2 when the generator itself fails (e.g. invalid known-tokens.json).
set -u
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp "${TMPDIR:-/tmp}/paratii-rules.XXXXXX") || exit 2
trap 'rm -f "$tmp"' EXIT

if ! python3 "$dir/generate-rules.py" --output "$tmp"; then
    echo "check-generated: generate-rules.py failed" >&2
    exit 2
fi
if ! diff -u "$dir/70-paratii-tokens.rules" "$tmp"; then
    echo "check-generated: udev/70-paratii-tokens.rules is stale; run: python3 udev/generate-rules.py" >&2
    exit 1
fi
# paratii doctor bundles a copy of the table (SwiftPM resources cannot live outside the target).
copy="$dir/../Sources/TokenHub/Resources/known-tokens.json"
if ! cmp -s "$dir/known-tokens.json" "$copy"; then
    echo "check-generated: $copy differs from udev/known-tokens.json; run: cp udev/known-tokens.json Sources/TokenHub/Resources/" >&2
    exit 1
fi
exit 0

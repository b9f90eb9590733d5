"""`paratii --version`: the version from VERSION and the commit, fixed at build time.

A plain `swift build` says "unknown (unknown commit)" (the committed BuildInfo.swift); scripts/package and
scripts/install write the real ones (scripts/buildinfo). Set PARATII_EXPECT_BUILDINFO=1 to require them,
as scripts/package-check does for the installed binary.
"""

from __future__ import annotations

import os
import re

from conftest import REPO

VERSION = (REPO / "VERSION").read_text().strip()


def test_version_names_the_release_and_the_commit(paratii):
    shown = paratii.ok("--version")
    built = re.fullmatch(r"(\S+) \(commit ([0-9a-f]{12})(-dirty)?\)", shown)
    if built is None:
        assert shown == "unknown (unknown commit)", shown
        assert os.environ.get("PARATII_EXPECT_BUILDINFO") != "1", f"a build without its version and commit: {shown}"
        return
    assert built.group(1) == VERSION, f"--version says {built.group(1)}, VERSION says {VERSION}"


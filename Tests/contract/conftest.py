"""Fixtures for the contract suite; the helpers live in chain.py."""

from __future__ import annotations

import boa
import pytest

from .chain import START, World, deploy_paratii, deploy_token, interop, rng_for

# The CLI under test ($PARATII_BIN or .build/debug/paratii) and a fresh directory per test: the
# interop suite's fixtures.
paratii_bin, paratii, work = interop.paratii_bin, interop.paratii, interop.work


@pytest.fixture(scope="session")
def contracts_deployed():
    """Deployed once; every test runs inside an anchor, so state never leaks between tests."""
    boa.env.evm.patch.chain_id = 31337
    boa.env.evm.patch.timestamp = START
    deployer = boa.env.generate_address("deployer")
    boa.env.eoa = deployer
    return deploy_paratii(), deploy_token()


@pytest.fixture
def world(contracts_deployed, request):
    paratii, token = contracts_deployed
    with boa.env.anchor():
        boa.env.evm.patch.chain_id = 31337
        boa.env.evm.patch.timestamp = START
        yield World(paratii, token, rng_for("contract", request.node.name))

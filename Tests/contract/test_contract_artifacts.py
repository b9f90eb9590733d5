"""contracts/build/*.json (ABI and bytecode for clients without Vyper) are what the sources compile to."""

from __future__ import annotations

import json

import boa
from eth_abi import encode

from .artifacts import CONTRACTS, NAMES, render
from .chain import DELAY, GRACE


def test_committed_artifacts_are_current():
    for name in NAMES:
        committed = (CONTRACTS / "build" / f"{name}.json").read_text()
        assert committed == render(name), \
            f"contracts/build/{name}.json is stale: run .venv/bin/python Tests/contract/artifacts.py"


def test_the_artifact_deploys_the_contract_the_tests_run(contracts_deployed):
    paratii, _ = contracts_deployed
    document = json.loads((CONTRACTS / "build" / "Paratii.json").read_text())
    with boa.env.anchor():
        factory = boa.loads_abi(json.dumps(document["abi"]), name="Paratii")
        init = bytes.fromhex(document["bytecode"][2:])
        address, _ = boa.env.deploy_code(bytecode=init + encode(["uint256", "uint256"], [DELAY, GRACE]))
        deployed = factory.at(address)
        assert (deployed.DELAY(), deployed.GRACE()) == (DELAY, GRACE)
        assert boa.env.get_code(address) == boa.env.get_code(paratii.address)

"""Writes contracts/build/<Name>.json ({contractName, compiler, abi, bytecode, deployedBytecode}) from
contracts/<Name>.vy with the pinned Vyper, for clients that deploy or call the contracts without a
Vyper compiler (the Swift chain client, a dev chain). test_contract_artifacts checks they are current.

    .venv/bin/python Tests/contract/artifacts.py
"""

from __future__ import annotations

import json
from pathlib import Path

import vyper
from vyper.compiler import compile_code

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
NAMES = ("Paratii", "TestToken")


def artifact(name: str) -> dict:
    source = (CONTRACTS / f"{name}.vy").read_text()
    out = compile_code(source, contract_path=f"contracts/{name}.vy",
                       output_formats=["abi", "bytecode", "bytecode_runtime"])
    return {"contractName": name, "compiler": f"vyper {vyper.__version__}", "abi": out["abi"],
            "bytecode": out["bytecode"], "deployedBytecode": out["bytecode_runtime"]}


def render(name: str) -> str:
    return json.dumps(artifact(name), indent=1) + "\n"


if __name__ == "__main__":
    for name in NAMES:
        path = CONTRACTS / "build" / f"{name}.json"
        path.write_text(render(name))
        print(path.relative_to(REPO))

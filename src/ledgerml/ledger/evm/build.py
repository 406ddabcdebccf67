"""Compile the Vyper contracts in ``contracts/`` into ``artifacts/*.json`` (ABI, bytecode, source digest).

``python -m ledgerml.ledger.evm.build`` writes the artifacts; ``--check`` exits 1 if any is missing or out of
date with its source (the test suite runs the same check). ``--evm-version`` picks the target fork: the default
suits anvil 1.7.1 (prague); use shanghai for older chains. Libraries (snekmate) resolve from site-packages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import site
import sys
from pathlib import Path
from typing import Any

from ..._json import loads_bounded

CONTRACTS = Path(__file__).parent / "contracts"
ARTIFACTS = Path(__file__).parent / "artifacts"
DEFAULT_EVM_VERSION = "prague"


def compile_contract(path: Path, evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, Any]:
    """ABI and bytecode of one contract, with the compiler version and a digest of its source."""
    import vyper
    from vyper.compiler import compile_code
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    bundle = FilesystemInputBundle([path.parent, *map(Path, site.getsitepackages())])
    source = path.read_text()
    output = compile_code(
        source,
        contract_path=path.name,
        input_bundle=bundle,
        output_formats=["abi", "bytecode"],
        settings=Settings(evm_version=evm_version),
    )
    return {
        "contract": path.stem,
        "compiler": f"vyper {vyper.__version__}",
        "evm_version": evm_version,
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "abi": output["abi"],
        "bytecode": output["bytecode"],
    }


def build(evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, dict[str, Any]]:
    """Every contract's artifact."""
    return {path.stem: compile_contract(path, evm_version) for path in sorted(CONTRACTS.glob("*.vy"))}


def stale(evm_version: str = DEFAULT_EVM_VERSION) -> list[str]:
    """Contracts whose stored artifact is missing or differs from a fresh compile."""
    problems = []
    for name, fresh in build(evm_version).items():
        stored_path = ARTIFACTS / f"{name}.json"
        if not stored_path.exists() or loads_bounded(stored_path.read_text()) != fresh:
            problems.append(name)
    return problems


def load_artifact(name: str) -> dict[str, Any]:
    """A stored artifact."""
    data: dict[str, Any] = loads_bounded((ARTIFACTS / f"{name}.json").read_text())
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check that the artifacts are up to date")
    parser.add_argument("--evm-version", default=DEFAULT_EVM_VERSION)
    args = parser.parse_args()
    if args.check:
        problems = stale(args.evm_version)
        if problems:
            print(f"out of date: {problems}; run python -m ledgerml.ledger.evm.build", file=sys.stderr)
            raise SystemExit(1)
        print("artifacts are up to date")
        return
    ARTIFACTS.mkdir(exist_ok=True)
    for name, artifact in build(args.evm_version).items():
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        print(f"wrote artifacts/{name}.json ({len(artifact['bytecode']) // 2 - 1} bytes of bytecode)")


if __name__ == "__main__":
    main()

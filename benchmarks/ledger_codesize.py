"""Runtime size of the Ledger contract against EIP-170's 24,576-byte limit, as built and with ``#pragma optimize
codesize`` (the room left for more rules on chain), and of the Governance contract deployed beside it.

    python benchmarks/ledger_codesize.py [--json out.json]

Compiles ``contracts/Ledger.vy`` twice and ``contracts/Governance.vy`` once with the project's settings (vyper
0.4.3, evm_version prague, libraries from site-packages) and prints one row per variant.
"""

from __future__ import annotations

import argparse
import json
import site
import time
from pathlib import Path

from ledgerml.ledger.evm.build import CONTRACTS, DEFAULT_EVM_VERSION

EIP170 = 24_576


def runtime_size(source: str, name: str = "Ledger.vy") -> tuple[int, int, float]:
    """(runtime bytes, init bytes, seconds to compile) of one contract source."""
    from vyper.compiler import compile_code
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    bundle = FilesystemInputBundle([CONTRACTS, *map(Path, site.getsitepackages())])
    started = time.perf_counter()
    out = compile_code(
        source,
        contract_path=name,
        input_bundle=bundle,
        output_formats=["bytecode_runtime", "bytecode"],
        settings=Settings(evm_version=DEFAULT_EVM_VERSION),
    )
    seconds = time.perf_counter() - started
    return len(out["bytecode_runtime"]) // 2 - 1, len(out["bytecode"]) // 2 - 1, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    source = (CONTRACTS / "Ledger.vy").read_text()
    pragma = "# pragma optimize codesize\n"
    governance = (CONTRACTS / "Governance.vy").read_text()
    variants = {
        "Ledger.vy as built": (source, "Ledger.vy"),
        "Ledger.vy optimize codesize": (pragma + source, "Ledger.vy"),
        "Governance.vy as built": (governance, "Governance.vy"),
    }
    rows = []
    print(f"{'variant':28} {'runtime B':>10} {'free B':>7} {'init B':>8} {'compile s':>9}")
    for name, (text, path) in variants.items():
        runtime, init, seconds = runtime_size(text, path)
        rows.append({"variant": name, "runtime": runtime, "free": EIP170 - runtime, "init": init, "seconds": seconds})
        print(f"{name:28} {runtime:>10,} {EIP170 - runtime:>7,} {init:>8,} {seconds:>9.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

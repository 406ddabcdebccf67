"""What keeping a receipt costs a participant: a line appended to its task's ``receipts.jsonl`` (this tree's
``save_receipt``) against a new ``round-R-<commitment>.json`` file per receipt (the layout before, written with
the same checks and ``replace_atomically``), alternating, in one run, in a fresh folder under ``--work-dir``.

Usage: python benchmarks/receipt_keeping.py [--receipts 200] [--repeat 5] [--work-dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ledgerml._files import replace_atomically
from ledgerml.federated.receipts import receipt_digest, receipt_signer, save_receipt
from ledgerml.identity import Identity


def receipts(count: int, aggregator: Identity, run: str) -> list[dict[str, Any]]:
    """``count`` signed receipts for one participant, each carrying a 1.5 kB commitment event as real ones do
    (new ones per ``run``: no signer recovery is answered from ``recover_signer``'s cache)."""
    found = []
    for round_ in range(1, count + 1):
        commitment = "sha256:" + hashlib.sha256(f"{run}-{round_}".encode()).hexdigest()
        digest = receipt_digest("l" * 32, "task", round_, "0x" + "1" * 40, commitment)
        found.append(
            {
                "v": 1, "ledger": "l" * 32, "task": "task", "round": round_, "participant": "0x" + "1" * 40,
                "commitment": commitment, "event": {"payload": "x" * 1500}, "aggregator": aggregator.address,
                "signature": "0x" + aggregator.sign_digest(digest).hex(),
            }
        )  # fmt: skip
    return found


def file_per_receipt(folder: Path, receipt: dict[str, Any]) -> None:
    """The layout before: the same signature check, then a new file per receipt, replaced atomically."""
    if receipt_signer(receipt) != receipt["aggregator"]:
        raise ValueError("receipt is not signed by the aggregator it names")
    path = folder / str(receipt["task"]) / f"round-{receipt['round']}-{receipt['commitment'][7:]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, json.dumps(receipt, sort_keys=True).encode())


def timed(keep: Any, folder: Path, kept: list[dict[str, Any]]) -> tuple[float, float]:
    """Wall and CPU ms per receipt of keeping every receipt of ``kept`` in ``folder``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for receipt in kept:
        keep(folder, receipt)
    return 1000 * (time.perf_counter() - wall) / len(kept), 1000 * (time.process_time() - cpu) / len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args()
    aggregator = Identity.generate("aggregator")
    rows: dict[str, list[tuple[float, float]]] = {"one log line (now)": [], "one file each (before)": []}
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        for i in range(args.repeat):
            before, now = (receipts(args.receipts, aggregator, f"{i}{side}") for side in "ab")
            rows["one file each (before)"].append(timed(file_per_receipt, Path(tmp) / f"files{i}", before))
            rows["one log line (now)"].append(timed(save_receipt, Path(tmp) / f"log{i}", now))
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; {args.receipts} receipts per run, {args.repeat} runs, alternating\n"
    )
    print("| keeping a receipt | wall ms per receipt (median) | CPU ms per receipt (median) | files created |")
    print("|---|---|---|---|")
    for name, found in rows.items():
        files = args.receipts if "file" in name else 1
        wall, cpu = statistics.median(r[0] for r in found), statistics.median(r[1] for r in found)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {files} |")


if __name__ == "__main__":
    main()

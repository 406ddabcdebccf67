"""Benchmark dataset fingerprinting on a generated CSV against sha256sum of the same file, in one run.

Usage: python benchmarks/provenance.py [--gb 1.0] [--out benchmarks/results/provenance.json]
The CSV is a 10 MB block of random transaction-like rows, repeated to the requested size (hashing cost does
not depend on the repetition). Both sides read a warm page cache; each figure is the best of two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ledgerml.provenance import build_manifest
from ledgerml.provenance.records import merkle_root, table_leaves
from ledgerml.store import sha256_file


def make_csv(path: Path, size: int) -> int:
    rng = random.Random(7)
    header = "tx_id,from,to,value_eth,gas_price_gwei,timestamp,is_contract,label\n"
    lines = []
    block_size = 0
    i = 0
    while block_size < 10 << 20:
        line = (
            f"{i},0x{rng.getrandbits(160):040x},0x{rng.getrandbits(160):040x},{rng.random() * 50:.6f},"
            f"{rng.randint(1, 300)},{1_600_000_000 + i * 13},{rng.random() < 0.1},{int(rng.random() < 0.02)}\n"
        )
        lines.append(line)
        block_size += len(line)
        i += 1
    block = "".join(lines).encode()
    with path.open("wb") as handle:
        handle.write(header.encode())
        written = len(header)
        while written < size:
            handle.write(block)
            written += len(block)
    return len(lines) * ((written - len(header)) // len(block))


def best(fn: Any, repeat: int = 2) -> tuple[float, Any]:
    results = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        results.append((time.perf_counter() - start, value))
    return min(results, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "provenance.json"))
    args = parser.parse_args()
    if not shutil.which("sha256sum"):
        raise SystemExit("sha256sum is needed for the comparison")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        rows = make_csv(path, int(args.gb * (1 << 30)))
        mb = path.stat().st_size / 1e6
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        t_sum, out = best(
            lambda: subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[
                0
            ]
        )
        t_file, digest = best(lambda: sha256_file(path))
        assert digest.hex == out
        t_manifest, _ = best(lambda: build_manifest(path, records=False))
        results: dict[str, Any] = {
            "file_mb": mb,
            "rows": rows,
            "cpus": os.cpu_count(),
            "sha256sum_s": t_sum,
            "sha256sum_mb_s": mb / t_sum,
            "manifest_s": t_manifest,
            "manifest_mb_s": mb / t_manifest,
            "manifest_vs_sha256sum": t_manifest / t_sum,
            "sha256_file_mb_s": mb / t_file,
        }
        for workers in (1, 2):
            t_rec, root = best(lambda w=workers: merkle_root(table_leaves(path, "csv", workers=w)[1]), 1)
            results[f"records_w{workers}_s"] = t_rec
            results[f"records_w{workers}_rows_s"] = rows / t_rec
            results[f"records_w{workers}_mb_s"] = mb / t_rec
            results.setdefault("record_root", root.hex())
            assert results["record_root"] == root.hex()
        t_full, manifest = best(lambda: build_manifest(path), 1)
        results["full_fingerprint_s"] = t_full
        assert manifest.files[0].records.count == rows
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    r = results
    print(f"\nCSV: {r['file_mb']:,.0f} MB, {r['rows']:,} rows\n")
    print("| measure | seconds | throughput |\n|---|---|---|")
    print(f"| `sha256sum` (coreutils) | {r['sha256sum_s']:.2f} | {r['sha256sum_mb_s']:,.0f} MB/s |")
    print(
        f"| file manifest (`build_manifest(records=False)`) | {r['manifest_s']:.2f} | {r['manifest_mb_s']:,.0f} MB/s"
        f" ({r['manifest_vs_sha256sum']:.2f}x sha256sum's time) |"
    )
    for w in (1, 2):
        print(
            f"| record-level root, {w} process(es) | {r[f'records_w{w}_s']:.2f} | "
            f"{r[f'records_w{w}_rows_s']:,.0f} rows/s ({r[f'records_w{w}_mb_s']:,.0f} MB/s) |"
        )
    print(
        f"| full fingerprint (manifest + record root, default workers) | {r['full_fingerprint_s']:.2f} | "
        f"{r['rows'] / r['full_fingerprint_s']:,.0f} rows/s |"
    )


if __name__ == "__main__":
    main()

"""Every registered scenario on the real data (``$LEDGERML_DATA``, default ../shared/data): federated vs
centralised vs local-only (median organisation) on each study's held-out test rows, wall time, CPU time (this
process, every thread) and the machine's 1-minute load average at the end (the machine is shared), audit result.

Usage: nice python benchmarks/scenarios.py [NAME ...] [--plots docs/img] [--out benchmarks/results/scenarios.json]
A scenario whose module or data is not available is listed as such, not skipped silently.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("FLWR_LOG_LEVEL", "ERROR")

from ledgerml.errors import LedgerMLError
from ledgerml.scenarios import names
from ledgerml.scenarios.baselines import median_of
from ledgerml.scenarios.report import comparison_png
from ledgerml.scenarios.runner import run_scenario


def run_one(name: str, plots: Path | None) -> list[dict[str, Any]]:
    """One scenario's rows (one per study and measure), or one row saying why it did not run."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        result = run_scenario(name, Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "home")
    except LedgerMLError as exc:
        return [{"scenario": name, "not_run": str(exc)}]
    seconds = round(time.perf_counter() - started, 1)
    cpu_seconds = round(time.process_time() - cpu, 1)
    load = round(os.getloadavg()[0], 1)
    rows = []
    for study in result.studies:
        if plots is not None:
            target = plots / f"scenario-{name}-{study.study.key}.png".replace("_", "-")
            target.write_bytes(base64.b64decode(comparison_png(study)))
        local = median_of(study.local)
        for measure, value in study.federated.items():
            rows.append(
                {
                    "scenario": name,
                    "study": study.study.key,
                    "measure": measure,
                    "federated": value,
                    "centralised": study.centralised[measure],
                    "local_only_median": local[measure],
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    "load_average": load,
                    "audit_ok": result.audit_ok,
                }
            )
        for reference, values in study.references.items():  # beside the baseline, never instead of it
            for measure, value in values.items():
                row = {"scenario": name, "study": study.study.key, "measure": f"{measure} vs {reference}"}
                rows.append({**row, "federated": study.federated[measure], "centralised": value})
    for key, value in result.analytics.items():
        rows.append({"scenario": name, "study": "analytics", "measure": key, "federated": value})
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """A markdown table of every row."""
    columns = ["scenario", "study", "measure", "federated", "centralised", "local-only (median org)"]
    print("| " + " | ".join([*columns, "wall s", "CPU s", "load", "audit"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "not_run" in r:
            print(f"| {r['scenario']} | - | not run: {r['not_run']} | | | | | | | |")
            continue
        keys = ("centralised", "local_only_median", "seconds", "cpu_seconds", "load_average", "audit_ok")
        cells = [r.get(k, "") for k in keys]
        print(
            f"| {r['scenario']} | {r['study']} | {r['measure']} | {r['federated']} | "
            + " | ".join(map(str, cells))
            + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenarios to run [default: every registered one]")
    parser.add_argument("--plots", type=Path, help="write each study's comparison PNG into this folder")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = [row for name in (args.names or names()) for row in run_one(name, args.plots)]
    print_table(rows)
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Contract vulnerability detection on the SolidiFI test split (buggy_26..50 of every bug type): Slither alone
beside ledgerml's detectors (structural rules, learned model, both, and both plus Slither) in one run;
per-category recall (a bug counts when a finding of its category overlaps its lines) and precision (findings of
the folder's category that overlap an injected bug), time per contract. A second table holds out a quarter of
the snippet templates: a model trained without them is scored on test bugs of those templates only.

Usage: python benchmarks/contracts.py [--data ../shared/data/solidifi_benchmark] [--no-slither]
       [--slither-cache benchmarks/results/contracts_slither.json] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ledgerml._files import read_bounded
from ledgerml.analytics.contracts.categories import SOLIDIFI
from ledgerml.analytics.contracts.model import ContractModel, load_model
from ledgerml.analytics.contracts.scan import Finding, detector_findings, merge, prepare
from ledgerml.analytics.contracts.solidifi import (
    LabelledContract,
    held_out_template,
    load_contracts,
    split_by_contract,
)
from ledgerml.analytics.contracts.training import train_model

DEFAULT = Path(os.environ.get("LEDGERML_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
Findings = dict[str, list[Finding]]


def overlaps(f: Finding, start: int, end: int) -> bool:
    """A finding's lines overlap ``start .. end``."""
    return f.start_line <= end and f.end_line >= start


def score(contracts: list[LabelledContract], findings: Findings, keep: Any = None) -> dict[str, dict[str, float]]:
    """Per bug-type folder: recall, precision, bugs, findings; ``keep(bug)`` limits the bugs counted."""
    out: dict[str, dict[str, float]] = {}
    totals = defaultdict(float)
    for folder in sorted(SOLIDIFI):
        category = SOLIDIFI[folder]
        bugs = found = hits = tp = 0
        for c in (c for c in contracts if c.folder == folder):
            mine = [f for f in findings.get(c.name, []) if f.category == category]
            counted = [b for b in c.bugs if keep is None or keep(b)]
            bugs += len(counted)
            found += sum(any(overlaps(f, b.start, b.end) for f in mine) for b in counted)
            hits += len(mine)
            tp += sum(any(overlaps(f, b.start, b.end) for b in c.bugs) for f in mine)
        out[folder] = {
            "recall": found / bugs if bugs else 0.0,
            "precision": tp / hits if hits else 0.0,
            "bugs": bugs,
            "findings": hits,
        }
        for key, value in (("bugs", bugs), ("found", found), ("hits", hits), ("tp", tp)):
            totals[key] += value
    out["overall"] = {
        "recall": totals["found"] / max(totals["bugs"], 1),
        "precision": totals["tp"] / max(totals["hits"], 1),
        "bugs": totals["bugs"],
        "findings": totals["hits"],
    }
    return out


def ledgerml_findings(
    contracts: list[LabelledContract], model: ContractModel | None
) -> tuple[dict[str, Findings], float]:
    """Rules, model and both (merged) on every contract: {"rules", "model", "both"} -> findings; s per contract."""
    found: dict[str, Findings] = {"rules": {}, "model": {}, "both": {}}
    start = time.perf_counter()
    for c in contracts:
        prepared = prepare(c.name, c.path)
        rules, learned = detector_findings(prepared, model, 0.5)
        found["rules"][c.name], found["model"][c.name] = rules, learned
        found["both"][c.name] = merge(rules + learned)
    return found, (time.perf_counter() - start) / max(len(contracts), 1)


def slither_findings(contracts: list[LabelledContract], cache_path: Path | None) -> tuple[Findings, float, str]:
    """Slither on every contract (cached by file digest when ``cache_path`` is given); seconds per contract."""
    from ledgerml.analytics.contracts.slither import find_tools, run_slither

    tools, why = find_tools()
    if tools is None:
        return {}, 0.0, why
    cache: dict[str, Any] = {}
    if cache_path is not None and cache_path.is_file():
        cache = json.loads(cache_path.read_text())
    found: Findings = {}
    spent, ran = 0.0, 0
    for c in contracts:
        digest = hashlib.sha256(read_bounded(c.path, 4 << 20)).hexdigest()
        if digest in cache:
            found[c.name] = [
                Finding(**{**f, "file": c.name, "detectors": tuple(f["detectors"])}) for f in cache[digest]["findings"]
            ]
            spent += cache[digest]["seconds"]
            ran += 1
            continue
        start = time.perf_counter()
        prepared = prepare(c.name, c.path)
        result, error = run_slither(tools, [prepared], prepared.compiler.version or "0.5.17")
        seconds = time.perf_counter() - start
        found[c.name] = result
        spent, ran = spent + seconds, ran + 1
        cache[digest] = {"findings": [f.to_json() for f in result], "seconds": seconds, "error": error}
        if cache_path is not None:
            cache_path.write_text(json.dumps(cache))
        print(f"  slither {c.name}: {len(result)} findings, {seconds:.1f} s" + (f" ({error})" if error else ""))
    return found, spent / max(ran, 1), "ran"


def union(*sources: Findings) -> Findings:
    """Merged findings of several detectors."""
    names = set().union(*(s.keys() for s in sources))
    return {n: merge([f for s in sources for f in s.get(n, [])]) for n in names}


def print_table(
    title: str, rows: dict[str, dict[str, dict[str, float]]], seconds: dict[str, float], *, recall_only: bool = False
) -> None:
    """One row per bug type: recall / precision of every detector (or recall and the bugs counted)."""
    names = list(rows)
    print(f"\n{title}")
    print(f"{'bug type':24s}" + "".join(f"{n:>24s}" for n in names))
    for folder in [*sorted(SOLIDIFI), "overall"]:
        cells = [
            f"{rows[n][folder]['recall']:.3f} ({int(rows[n][folder]['bugs'])} bugs)"
            if recall_only
            else f"{rows[n][folder]['recall']:.3f} / {rows[n][folder]['precision']:.3f}"
            for n in names
        ]
        print(f"{folder:24s}" + "".join(f"{c:>24s}" for c in cells))
    if seconds:
        print(f"{'s per contract':24s}" + "".join(f"{seconds.get(n, 0.0):>24.3f}" for n in names))


def template_holdout(train: list[LabelledContract], test: list[LabelledContract]) -> dict[str, Any]:
    """Train without a quarter of the templates; score rules+model on test bugs of those templates only."""
    model = train_model(train, skip=lambda bug: held_out_template(bug.template))
    found, _ = ledgerml_findings(test, model)
    keep = lambda bug: held_out_template(bug.template)  # noqa: E731
    return {
        "ledgerml rules": score(test, found["rules"], keep),
        "ledgerml model": score(test, found["model"], keep),
        "ledgerml rules+model": score(test, found["both"], keep),
    }


def side_by_side(
    subset: list[LabelledContract], both: Findings, t_both: float, cache: str | None
) -> tuple[str, dict[str, Any], dict[str, float]]:
    """Slither, ledgerml and both on the same contracts: (slither state, rows, seconds per contract)."""
    sl, t_sl, state = slither_findings(subset, Path(cache) if cache else None)
    if state != "ran":
        return state, {}, {}
    mine = {c.name: both[c.name] for c in subset}
    rows = {
        "slither": score(subset, sl),
        "ledgerml rules+model": score(subset, mine),
        "ledgerml + slither": score(subset, union(mine, sl)),
    }
    return state, rows, {"slither": t_sl, "ledgerml rules+model": t_both, "ledgerml + slither": t_both + t_sl}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT / "solidifi_benchmark"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "contracts.json"))
    parser.add_argument("--no-slither", action="store_true")
    parser.add_argument("--slither-cache", default=None)
    parser.add_argument("--limit", type=int, default=0, help="Test contracts per bug type (0: all 25).")
    parser.add_argument(
        "--slither-limit", type=int, default=0, help="Compare with Slither on the first N test contracts per bug type."
    )
    args = parser.parse_args()
    train, test = split_by_contract(load_contracts(Path(args.data)))
    if args.limit:
        test = [c for c in test if c.number < 26 + args.limit]
    model = load_model()
    found, t_both = ledgerml_findings(test, model)
    both = found["both"]
    rows = {
        "ledgerml rules": score(test, found["rules"]),
        "ledgerml model": score(test, found["model"]),
        "ledgerml rules+model": score(test, both),
    }
    seconds = {"ledgerml rules+model": t_both}
    slither_state, side, side_seconds, subset = "off", {}, {}, test
    if not args.no_slither:
        subset = [c for c in test if not args.slither_limit or c.number < 26 + args.slither_limit]
        slither_state, side, side_seconds = side_by_side(subset, both, t_both, args.slither_cache)
    print(
        f"SolidiFI test split: {len(test)} contracts, {sum(len(c.bugs) for c in test)} bugs; "
        f"model {model.id_}; slither {slither_state}"
    )
    print_table("recall / precision per bug type (test split: buggy_26..50)", rows, seconds)
    if side:
        numbers = sorted({c.number for c in subset})
        print_table(
            f"side by side with Slither on buggy_{numbers[0]}..{numbers[-1]} ({len(subset)} contracts)",
            side,
            side_seconds,
        )
    held = template_holdout(train, test)
    print_table("held-out snippet templates (a quarter, never seen in training): recall", held, {}, recall_only=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "by_contract": rows,
                "seconds_per_contract": seconds,
                "held_out_templates": held,
                "side_by_side_with_slither": side,
                "side_by_side_seconds": side_seconds,
                "model": model.id_,
                "contracts": len(test),
            },
            indent=1,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

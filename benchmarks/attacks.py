"""Malicious participants: the screening detector against the attacks the project simulates, on digits with 10
participants, per attack x attacker fraction x partition (IID, Dirichlet alpha = 0.5).

For each cell it runs, through the real ServerApp/ClientApp in process and recorded on a ledger:
  * a FedAvg task whose ``[screening]`` policy excludes flagged participants (the detector's run): the
    per-round AUROC of the detector's scores (attackers = positives) and, on the very same stored updates, of
    the baselines Krum score, FoolsGold (largest cosine of cumulative updates) and the norm rule (L2 norm);
    the final accuracy and the share of honest participant-rounds excluded;
  * a Multi-Krum task (f = attackers) under the same attack, for its final accuracy;
and once per partition a clean FedAvg task, and once per partition x fraction the **oracle exclusion**: the
same FedAvg federation with exactly the attackers left out from round 1 (their nodes never answer, so the
attack does not matter): what any exclusion defence can at best reach.

``--seeds 0,1,2`` runs every cell on every seed (the seed draws the split, the partition, the initial model and
each participant's batches; the attackers are the same first participants), paired: per seed the screened,
Multi-Krum, clean and oracle runs share the partition and the attackers. It prints each seed's table, then the
per-cell means over seeds, the paired difference screening - Multi-Krum with a Student-t 95 % interval, and
which targets each cell meets under the rule in docs/screening.md ("Multi-seed rule"). Results are written to
``--out`` after every cell; ``--report FILE`` prints the tables of a (possibly cut) results file again, from
its complete seeds only.

Usage: nice python benchmarks/attacks.py [--rounds 10] [--attacks alie,ipm] [--seeds 0,1,2]
                                         [--out benchmarks/results/attacks.json] [--report FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

from ledgerml.federated.aggregation import krum_scores, pairwise_sq_distances
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.coordinator import update_verdict
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.federated.screening import TaskScreening, deltas_of, policy_of
from ledgerml.home import Home
from ledgerml.screening.detector import score_round
from ledgerml.screening.evaluation import (
    AUROC_TARGET,
    FALSE_EXCLUSION_TARGET,
    accuracy_met,
    auroc,
    mean,
    paired_difference,
)
from ledgerml.screening.policy import check_policy

ATTACKS = ["alie", "ipm", "adaptive", "label_flip", "sign_flip", "scaling", "gaussian_noise", "free_ride", "sybil"]
FRACTIONS = [0.2, 0.4]
PARTITIONS = ["iid", "dirichlet"]
EARLIER = ("history", "consensus", "alignment")
"""Earlier detector versions, scored offline on the detector run's stored updates (their ranking)."""
PARTICIPANTS = 10
PARAMS = {"sigma": 1.0, "boost": 10.0}
"""Attack parameters (each attack's own defaults otherwise: sign_flip scale 4, ipm epsilon 0.5, alie z_max)."""


def config(
    name: str, partition: str, attack: str, fraction: float, rule: str, rounds: int, **extra: Any
) -> FederationConfig:
    """The federation of one run."""
    attackers = round(fraction * PARTICIPANTS)
    return FederationConfig(
        task_id=name,
        participants=PARTICIPANTS,
        partition=partition,
        alpha=0.5,
        rounds=rounds,
        rule=rule,
        rule_params={"f": attackers} if rule == "multi_krum" else {},
        min_participants=1,
        attack=attack,
        attack_fraction=fraction,
        attack_params=dict(PARAMS) if attack in ("gaussian_noise", "scaling") else {},
        **extra,
    )


def baselines(matrix: np.ndarray, cumulative: np.ndarray, f: int) -> dict[str, list[float]]:
    """Baseline suspicion scores of one round's rows: Krum score, FoolsGold, the norm rule (higher = worse)."""
    krum = krum_scores(pairwise_sq_distances(matrix), f).tolist() if len(matrix) > 1 else [0.0] * len(matrix)
    norms = np.linalg.norm(cumulative, axis=1)
    units = cumulative / np.maximum(norms, 1e-12)[:, None]
    cosines = units @ units.T
    np.fill_diagonal(cosines, -1.0)
    return {"krum": krum, "foolsgold": cosines.max(axis=1).tolist(), "norm": np.linalg.norm(matrix, axis=1).tolist()}


def analyse(home: Home, name: str, attackers: set[str], f: int) -> dict[str, Any]:
    """Per-round AUROC of the detector and the baselines, and the honest participant-rounds excluded."""
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        screening = TaskScreening.open(state, home.store(), name, update_verdict)
        threshold = policy_of(screening.record).threshold
        keys = ("detector", *EARLIER, "krum", "foolsgold", "norm")
        aurocs: dict[str, list[float]] = {k: [] for k in keys}
        cumulative: dict[str, np.ndarray] = {}
        earlier: dict[str, dict[str, Any]] = {old: {} for old in EARLIER}
        honest_rounds = honest_excluded = 0
        for scored in screening.rounds():
            order = sorted(scored.scores)
            labels = [p in attackers for p in order]
            _add(aurocs["detector"], auroc([scored.scores[p] for p in order], labels))
            honest_rounds += sum(not y for y in labels)
            honest_excluded += sum(scored.scores[p] >= threshold for p in order if p not in attackers)
            deltas = _deltas(home, state, name, scored.round, _template(home, scored.base_digest))
            for p, d in deltas.items():
                cumulative[p] = cumulative.get(p, 0) + d
            rows = sorted(deltas)
            for old in EARLIER:  # versions 1 to 3 on the same stored updates (their ranking)
                replayed = score_round(deltas, earlier[old], old)
                earlier[old] = replayed.history
                _add(aurocs[old], auroc([replayed.scores[p] for p in rows], [p in attackers for p in rows]))
            if len(rows) >= 2:
                base = baselines(np.stack([deltas[p] for p in rows]), np.stack([cumulative[p] for p in rows]), f)
                for key, values in base.items():
                    _add(aurocs[key], auroc(values, [p in attackers for p in rows]))
    return {
        "auroc": {k: (float(np.mean(v)) if v else None) for k, v in aurocs.items()},
        "auroc_min": {k: (float(np.min(v)) if v else None) for k, v in aurocs.items()},
        "auroc_rounds": aurocs,
        "false_exclusion": honest_excluded / max(honest_rounds, 1),
        "honest_rounds": honest_rounds,
        "honest_excluded": honest_excluded,
    }


def _add(values: list[float], value: float | None) -> None:
    if value is not None:
        values.append(value)


def _template(home: Home, digest: str) -> Any:
    from ledgerml.ml.serialization import from_bytes

    return from_bytes(home.store().get(digest))


def _deltas(home: Home, state: Any, name: str, round_: int, template: Any) -> dict[str, np.ndarray]:
    """Every committed update's change in a round that loads with the model's shape and finite values."""
    from ledgerml.ml.serialization import from_bytes
    from ledgerml.vocab.tasks import commits

    found = {}
    for participant, commit in commits(state, name, round_).items():
        try:
            weights = from_bytes(home.store().get(commit.update_digest))
            delta = deltas_of({participant: weights}, template)[participant]
        except Exception:
            continue
        if np.all(np.isfinite(delta)):
            found[participant] = delta
    return found


def final_accuracy(home: Home, name: str) -> float:
    """The last round's validation accuracy."""
    return float(round_history(home, name)[-1]["metrics"]["val_accuracy"])


def run(home: Home, cfg: FederationConfig, drop: set[int] | None = None) -> None:
    """Set up and run one federation in process (``drop``: participant indices whose nodes never answer)."""
    setup_federation(home, cfg, unencrypted=True)
    run_in_process(home, cfg.task_id, drop=drop)


def oracle(home: Home, partition: str, fraction: float, rounds: int, seed: int) -> float:
    """Final accuracy of the oracle exclusion: the clean FedAvg federation of this partition and seed with
    exactly the attackers of ``fraction`` (the participants an attacked cell's config makes attackers) left out
    from round 1; whatever they would send never arrives, so one run stands for every attack."""
    attackers = config("probe", partition, ATTACKS[0], fraction, "fedavg", rounds).attacker_indices()
    cfg = config(f"o-{fraction}", partition, "none", 0.0, "fedavg", rounds, seed=seed)
    run(home, cfg, drop=set(attackers))
    return final_accuracy(home, cfg.task_id)


def attacker_addresses(home: Home, cfg: FederationConfig) -> set[str]:
    """The attackers' addresses."""
    names = cfg.participant_names()
    return {str(home.keys.info(names[i]).address) for i in cfg.attacker_indices()}


def cell(
    home: Home,
    count: int,
    partition: str,
    attack: str,
    fraction: float,
    rounds: int,
    detector: str = "",
    seed: int = 0,
) -> dict[str, Any]:
    """One attack x fraction x partition on one seed: the screened run (``detector``: the default when empty),
    its analysis, and the Multi-Krum run."""
    f = round(fraction * PARTICIPANTS)
    policy = {"action": "exclude", **({"detector": detector} if detector else {})}
    screened = config(f"s{count}", partition, attack, fraction, "fedavg", rounds, screening=policy, seed=seed)
    run(home, screened)
    result = analyse(home, screened.task_id, attacker_addresses(home, screened), f)
    result["accuracy_screened"] = final_accuracy(home, screened.task_id)
    krum = config(f"k{count}", partition, attack, fraction, "multi_krum", rounds, seed=seed)
    run(home, krum)
    result["accuracy_multi_krum"] = final_accuracy(home, krum.task_id)
    return result


def table(results: dict[str, Any], clean: dict[str, float], oracles: dict[str, float] | None = None) -> str:
    """The Markdown table of every cell of one seed."""
    lines = [
        "| partition | attack | fraction | AUROC detector | history (v1) | consensus (v2) | alignment (v3) | Krum "
        "| FoolsGold | norm | min AUROC | acc screened | acc Multi-Krum | acc clean | acc oracle | false excl. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        partition, attack, fraction = key.split("/")
        a = r["auroc"]
        best = (oracles or {}).get(f"{partition}/{fraction}")
        lines.append(
            f"| {partition} | {attack} | {fraction} | {_show(a['detector'])} | {_show(a['history'])} | "
            f"{_show(a['consensus'])} | {_show(a.get('alignment'))} | "
            f"{_show(a['krum'])} | "
            f"{_show(a['foolsgold'])} | {_show(a['norm'])} | {_show(r['auroc_min']['detector'])} | "
            f"{r['accuracy_screened']:.3f} | {r['accuracy_multi_krum']:.3f} | {clean[partition]:.3f} | "
            f"{_show(best)} | {100 * r['false_exclusion']:.1f}% |"
        )
    return "\n".join(lines)


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summarise(runs: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell over the seeds of ``runs`` (each seed's complete run): means, pooled AUROC and false exclusion,
    the paired difference screening - Multi-Krum, and which targets the cell meets (docs/screening.md)."""
    seeds = sorted(runs)
    summary: dict[str, dict[str, Any]] = {}
    for key in runs[seeds[0]]["cells"]:
        partition, _, fraction = key.split("/")
        cells = [runs[s]["cells"][key] for s in seeds]
        screened = [c["accuracy_screened"] for c in cells]
        krum = [c["accuracy_multi_krum"] for c in cells]
        clean = [runs[s]["clean"][partition] for s in seeds]
        pooled = [v for c in cells for v in c["auroc_rounds"]["detector"]]
        auroc_pooled = mean(pooled) if pooled else None
        excluded = sum(c["honest_excluded"] for c in cells) / max(sum(c["honest_rounds"] for c in cells), 1)
        summary[key] = {
            "screened": mean(screened),
            "multi_krum": mean(krum),
            "clean": mean(clean),
            "oracle": mean([runs[s]["oracle"][f"{partition}/{fraction}"] for s in seeds]),
            "difference": paired_difference(screened, krum).__dict__,
            "auroc_pooled": auroc_pooled,
            "auroc_per_seed": [c["auroc"]["detector"] for c in cells],
            "false_exclusion": excluded,
            "met": {
                "auroc": auroc_pooled is not None and auroc_pooled >= AUROC_TARGET,
                "accuracy": accuracy_met(screened, krum, clean),
                "false_exclusion": excluded <= FALSE_EXCLUSION_TARGET,
            },
        }
    return summary


def multi_seed_table(summary: dict[str, dict[str, Any]], seeds: list[int]) -> str:
    """The Markdown table of the means over ``seeds`` and the targets met."""
    lines = [
        f"Seeds {', '.join(map(str, seeds))}: means over seeds; AUROC pooled over every round of every seed "
        f"(per seed in brackets); screened - Multi-Krum is the paired mean difference with its Student-t 95 % "
        f"interval ({len(seeds) - 1} degrees of freedom); met: AUROC / accuracy / false exclusion.",
        "",
        "| partition | attack | fraction | AUROC pooled (per seed) | acc screened | acc Multi-Krum | acc clean "
        "| acc oracle | screened - Multi-Krum [95 %] | false excl. | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, c in summary.items():
        partition, attack, fraction = key.split("/")
        d = c["difference"]
        interval = "" if d["n"] < 2 else f" [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
        per_seed = ", ".join(_show(v) for v in c["auroc_per_seed"])
        met = " / ".join("yes" if c["met"][k] else "**no**" for k in ("auroc", "accuracy", "false_exclusion"))
        lines.append(
            f"| {partition} | {attack} | {fraction} | {_show(c['auroc_pooled'])} ({per_seed}) | "
            f"{c['screened']:.3f} | {c['multi_krum']:.3f} | {c['clean']:.3f} | {c['oracle']:.3f} | "
            f"{100 * d['mean']:+.1f} pts{interval} | {100 * c['false_exclusion']:.1f}% | {met} |"
        )
    counts = {k: sum(c["met"][k] for c in summary.values()) for k in ("auroc", "accuracy", "false_exclusion")}
    lines += ["", ", ".join(f"{k}: {v} / {len(summary)} met" for k, v in counts.items())]
    return "\n".join(lines)


def report(data: dict[str, Any], over: list[int] | None = None, expected: int | None = None) -> str:
    """Every complete seed's table and, over them, the multi-seed table (``over``: only these seeds; a seed
    with fewer cells than the largest run, or than ``expected``, is left out and named)."""
    runs = {int(s): r for s, r in data["runs"].items() if over is None or int(s) in over}
    want = expected if expected is not None else max((len(r["cells"]) for r in runs.values()), default=0)
    complete = {s: r for s, r in sorted(runs.items()) if len(r["cells"]) == want and want}
    parts = [f"## Seed {s}\n\n{table(r['cells'], r['clean'], r['oracle'])}" for s, r in complete.items()]
    cut = sorted(set(runs) - set(complete))
    if cut:
        parts.append(f"Left out, incomplete: seed(s) {', '.join(map(str, cut))} ({want} cells expected).")
    if not complete:
        parts.append("No complete seed in the results file" + (f" among {over}." if over is not None else "."))
    else:
        parts.append(f"## Over seeds\n\n{multi_seed_table(summarise(complete), sorted(complete))}")
    return "\n\n".join(parts)


def run_seed(root: Path, seed: int, args: argparse.Namespace, save: Any, count: int = 0) -> tuple[dict[str, Any], int]:
    """Every partition's clean and oracle runs and every cell on one seed; ``save`` is called after each cell."""
    result: dict[str, Any] = {"clean": {}, "oracle": {}, "cells": {}}
    for partition in args.partitions.split(","):
        home = Home(root / f"seed{seed}-{partition}")
        home.init(unencrypted=True, block_size=100000)
        run(home, config(f"c-{partition}", partition, "none", 0.0, "fedavg", args.rounds, seed=seed))
        result["clean"][partition] = final_accuracy(home, f"c-{partition}")
        for fraction in FRACTIONS:
            result["oracle"][f"{partition}/{fraction}"] = oracle(home, partition, fraction, args.rounds, seed)
        for attack in args.attacks.split(","):
            for fraction in FRACTIONS:
                count += 1
                key = f"{partition}/{attack}/{fraction}"
                found = cell(home, count, partition, attack, fraction, args.rounds, args.detector, seed)
                result["cells"][key] = found
                print(
                    f"seed {seed}",
                    key,
                    json.dumps({k: v for k, v in found.items() if k != "auroc_rounds"}),
                    file=sys.stderr,
                    flush=True,
                )
                save(result)
    return result, count


def check_args(args: argparse.Namespace) -> str | None:
    """The first bad option as one line, or None."""
    from ledgerml.federated.attacks import ATTACKS as KNOWN

    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        return f"--seeds must be comma-separated integers, got {args.seeds!r}"
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        return f"--seeds must be distinct non-negative integers, got {args.seeds!r}"
    unknown = [a for a in args.attacks.split(",") if a not in KNOWN or a == "none"]
    if unknown:
        return f"--attacks: unknown attack {unknown[0]!r} (known: {', '.join(a for a in KNOWN if a != 'none')})"
    bad = [p for p in args.partitions.split(",") if p not in PARTITIONS]
    if bad:
        return f"--partitions: unknown partition {bad[0]!r} (known: {', '.join(PARTITIONS)})"
    if args.rounds < 1:
        return f"--rounds must be at least 1, got {args.rounds}"
    if args.over and not all(s.strip().isdigit() for s in args.over.split(",")):
        return f"--over must be comma-separated non-negative integers, got {args.over!r}"
    if args.report and not Path(args.report).is_file():
        return f"--report: no results file {args.report}"
    return None


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--partitions", default=",".join(PARTITIONS))
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, every cell on each (default 0)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "attacks.json"))
    parser.add_argument("--detector", default="", help="the screened runs' detector (default: the default one)")
    parser.add_argument("--no-chain", action="store_true", help="skip the chain table at the end")
    parser.add_argument("--report", default="", help="print the tables of a results file (its complete seeds)")
    parser.add_argument("--over", default="", help="with --report: only these comma-separated seeds")
    args = parser.parse_args()
    problem = check_args(args)
    if problem:
        print(f"attacks.py: {problem}", file=sys.stderr)
        raise SystemExit(2)
    return args


def main() -> None:
    args = parse()
    if args.report:
        over = [int(s) for s in args.over.split(",")] if args.over else None
        print(report(json.loads(Path(args.report).read_text()), over))
        return
    logging.getLogger("flwr").setLevel(logging.ERROR)
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    data: dict[str, Any] = {"rounds": args.rounds, "detector": args.detector, "seeds": seeds, "runs": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:

            def save(result: dict[str, Any], _seed: int = seed) -> None:
                data["runs"][str(_seed)] = result
                out.write_text(json.dumps(data, indent=2))

            _, count = run_seed(Path(tmp), seed, args, save, count)
    used = check_policy({"action": "exclude", **({"detector": args.detector} if args.detector else {})}).detector
    print(f"\ndetector {used!r} (the screened runs'; {'named' if args.detector else 'the default'})")
    federations = 2 * count + len(seeds) * 3 * len(args.partitions.split(","))
    print(f"\n{federations} federations, {args.rounds} rounds each, in {time.perf_counter() - started:.0f}s\n")
    print(report(data))
    if not args.no_chain:
        chain_table()


def chain_table() -> None:
    """The chain table of benchmarks/chain_attacks.py, if present."""
    chain = Path(__file__).parent / "chain_attacks.py"
    if chain.exists():
        spec = importlib.util.spec_from_file_location("chain_attacks", chain)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entry = getattr(module, "chain_table", None) or getattr(module, "main", None)
        if entry is not None:
            print("\n## Chain attacks\n")
            entry()


if __name__ == "__main__":
    main()

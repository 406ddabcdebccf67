"""Malicious participants: the screening detector against the attacks the project simulates, on digits with 10
participants, per attack x attacker fraction x partition (IID, Dirichlet alpha = 0.5).

For each cell it runs, through the real ServerApp/ClientApp in process and recorded on a ledger:
  * a FedAvg task whose ``[screening]`` policy excludes flagged participants (the detector's run): the
    per-round AUROC of the detector's scores (attackers = positives) and, on the very same stored updates, of
    the baselines Krum score, FoolsGold (largest cosine of cumulative updates) and the norm rule (L2 norm);
    the final accuracy and the share of honest participant-rounds excluded;
  * a Multi-Krum task (f = attackers) under the same attack, for its final accuracy;
and once per partition a clean FedAvg task. Then the chain table of benchmarks/chain_attacks.py if present.

Usage: nice python benchmarks/attacks.py [--rounds 10] [--attacks alie,ipm] [--out benchmarks/results/attacks.json]
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
from ledgerml.screening.policy import check_policy

ATTACKS = ["alie", "ipm", "adaptive", "label_flip", "sign_flip", "scaling", "gaussian_noise", "free_ride", "sybil"]
FRACTIONS = [0.2, 0.4]
PARTITIONS = ["iid", "dirichlet"]
EARLIER = ("history", "consensus", "alignment")
"""Earlier detector versions, scored offline on the detector run's stored updates (their ranking)."""
PARTICIPANTS = 10
PARAMS = {"sigma": 1.0, "boost": 10.0}
"""Attack parameters (each attack's own defaults otherwise: sign_flip scale 4, ipm epsilon 0.5, alie z_max)."""


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None without both classes."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return float(wins / (len(pos) * len(neg)))


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
        "false_exclusion": honest_excluded / max(honest_rounds, 1),
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


def run(home: Home, cfg: FederationConfig) -> None:
    """Set up and run one federation in process."""
    setup_federation(home, cfg, unencrypted=True)
    run_in_process(home, cfg.task_id)


def attacker_addresses(home: Home, cfg: FederationConfig) -> set[str]:
    """The attackers' addresses."""
    names = cfg.participant_names()
    return {str(home.keys.info(names[i]).address) for i in cfg.attacker_indices()}


def cell(
    home: Home, count: int, partition: str, attack: str, fraction: float, rounds: int, detector: str = ""
) -> dict[str, Any]:
    """One attack x fraction x partition: the screened run (``detector``: the default when empty), its analysis,
    and the Multi-Krum run."""
    f = round(fraction * PARTICIPANTS)
    policy = {"action": "exclude", **({"detector": detector} if detector else {})}
    screened = config(f"s{count}", partition, attack, fraction, "fedavg", rounds, screening=policy)
    run(home, screened)
    result = analyse(home, screened.task_id, attacker_addresses(home, screened), f)
    result["accuracy_screened"] = final_accuracy(home, screened.task_id)
    krum = config(f"k{count}", partition, attack, fraction, "multi_krum", rounds)
    run(home, krum)
    result["accuracy_multi_krum"] = final_accuracy(home, krum.task_id)
    return result


def table(results: dict[str, Any], clean: dict[str, float]) -> str:
    """The Markdown table of every cell."""
    lines = [
        "| partition | attack | fraction | AUROC detector | history (v1) | consensus (v2) | alignment (v3) | Krum "
        "| FoolsGold | norm | min AUROC | acc screened | acc Multi-Krum | acc clean | false excl. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        partition, attack, fraction = key.split("/")
        a = r["auroc"]
        lines.append(
            f"| {partition} | {attack} | {fraction} | {_show(a['detector'])} | {_show(a['history'])} | "
            f"{_show(a['consensus'])} | {_show(a.get('alignment'))} | "
            f"{_show(a['krum'])} | "
            f"{_show(a['foolsgold'])} | {_show(a['norm'])} | {_show(r['auroc_min']['detector'])} | "
            f"{r['accuracy_screened']:.3f} | {r['accuracy_multi_krum']:.3f} | {clean[partition]:.3f} | "
            f"{100 * r['false_exclusion']:.1f}% |"
        )
    return "\n".join(lines)


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--partitions", default=",".join(PARTITIONS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "attacks.json"))
    parser.add_argument("--detector", default="", help="the screened runs' detector (default: the default one)")
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    clean: dict[str, float] = {}
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for partition in args.partitions.split(","):
            home = Home(Path(tmp) / partition)
            home.init(unencrypted=True, block_size=100000)
            run(home, config(f"c-{partition}", partition, "none", 0.0, "fedavg", args.rounds))
            clean[partition] = final_accuracy(home, f"c-{partition}")
            for attack in args.attacks.split(","):
                for fraction in FRACTIONS:
                    count += 1
                    key = f"{partition}/{attack}/{fraction}"
                    results[key] = cell(home, count, partition, attack, fraction, args.rounds, args.detector)
                    print(key, json.dumps(results[key]), file=sys.stderr, flush=True)
    text = table(results, clean)
    used = check_policy({"action": "exclude", **({"detector": args.detector} if args.detector else {})}).detector
    print(f"\ndetector {used!r} (the screened runs'; {'named' if args.detector else 'the default'})")
    print(
        f"\n{2 * count + len(clean)} federations, {args.rounds} rounds each, in {time.perf_counter() - started:.0f}s\n"
    )
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"clean": clean, "cells": results, "rounds": args.rounds}, indent=2))
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

"""Dev harness for the screening detector: run federations once with a flag-only policy (nothing excluded),
store every round's changes, then score them offline with any detector (fast to iterate; not used by tests).

Usage: nice python benchmarks/screening_dev.py collect --seed 7 --out /tmp/screening-dev
       python benchmarks/screening_dev.py score --out /tmp/screening-dev [--detector history]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ledgerml.screening.evaluation import auroc

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

sys.path.insert(0, str(Path(__file__).parent))

ACTION = os.environ.get("SCREENING_DEV_ACTION", "flag")
ATTACKS = ["alie", "ipm", "adaptive", "label_flip", "sign_flip", "scaling", "gaussian_noise", "free_ride", "sybil"]


def collect(
    out: Path,
    seed: int,
    partitions: list[str],
    attacks: list[str],
    fractions: list[float],
    participants: int,
    alpha: float,
    rounds: int,
    dataset: str = "digits",
    model: str = "softmax",
) -> None:
    """Run each federation (flag-only screening) and store its rounds' changes as ``<cell>.npz``."""
    import attacks as bench

    from ledgerml.federated.apps import run_in_process
    from ledgerml.federated.coordinator import update_verdict
    from ledgerml.federated.runner import FederationConfig, setup_federation
    from ledgerml.federated.screening import TaskScreening, deltas_of
    from ledgerml.home import Home

    logging.getLogger("flwr").setLevel(logging.ERROR)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "h")
        home.init(unencrypted=True, block_size=100000)
        count = 0
        for partition in partitions:
            for attack in attacks:
                for fraction in fractions:
                    count += 1
                    key = f"{partition}-{attack}-{fraction}-s{seed}-n{participants}-a{alpha}-{dataset}-{model}"
                    if (out / f"{key}.npz").exists():
                        continue
                    f = round(fraction * participants)
                    cfg = FederationConfig(
                        task_id=f"d{count}",
                        participants=participants,
                        partition=partition,
                        alpha=alpha,
                        rounds=rounds,
                        rule="fedavg",
                        min_participants=1,
                        attack=attack,
                        attack_fraction=fraction,
                        attack_params=dict(bench.PARAMS) if attack in ("gaussian_noise", "scaling") else {},
                        seed=seed,
                        dataset=dataset,
                        model={"type": model},
                        screening={"action": ACTION},
                    )
                    setup_federation(home, cfg, unencrypted=True)
                    run_in_process(home, cfg.task_id)
                    bad = bench.attacker_addresses(home, cfg) if f else set()
                    arrays: dict[str, np.ndarray] = {}
                    meta: list[dict[str, Any]] = []
                    with home.open_ledger(as_validator=False) as ledger:
                        screening = TaskScreening.open(ledger.state(), home.store(), cfg.task_id, update_verdict)
                        captured: list[dict[str, np.ndarray]] = []
                        original = screening.score

                        def spy(round_: int, usable: Any, template: Any, _o: Any = original, _c: Any = captured) -> Any:
                            _c.append(deltas_of(usable, template))
                            return _o(round_, usable, template)

                        screening.score = spy  # type: ignore[method-assign]
                        for _ in screening.rounds():
                            pass
                    for r, deltas in enumerate(captured, 1):
                        names = sorted(deltas)
                        arrays[f"r{r}"] = np.stack([deltas[p] for p in names])
                        meta.append({"round": r, "participants": names, "attackers": [p in bad for p in names]})
                    np.savez(out / f"{key}.npz", **arrays)
                    (out / f"{key}.json").write_text(json.dumps(meta))
                    print("collected", key, file=sys.stderr, flush=True)


def score(out: Path, detector: str, threshold: float, pattern: str) -> None:
    """Score every stored cell offline: mean and min per-round AUROC, attacker recall and honest false flags."""
    from ledgerml.screening.detector import score_round

    rows = []
    for meta_path in sorted(out.glob(f"*{pattern}*.json" if pattern else "*.json")):
        meta = json.loads(meta_path.read_text())
        data = np.load(meta_path.with_suffix(".npz"))
        history: dict[str, Any] = {}
        aucs, honest, honest_flag, bad, bad_flag = [], 0, 0, 0, 0
        for m in meta:
            matrix = data[f"r{m['round']}"]
            deltas = dict(zip(m["participants"], matrix, strict=True))
            scored = score_round(deltas, history) if detector == "history" else score_round(deltas, history, detector)
            history = scored.history
            s = [scored.scores[p] for p in m["participants"]]
            a = auroc(s, m["attackers"])
            if a is not None:
                aucs.append(a)
            for value, y in zip(s, m["attackers"], strict=True):
                if y:
                    bad, bad_flag = bad + 1, bad_flag + (value >= threshold)
                else:
                    honest, honest_flag = honest + 1, honest_flag + (value >= threshold)
        rows.append(
            (
                meta_path.stem,
                np.mean(aucs) if aucs else float("nan"),
                np.min(aucs) if aucs else float("nan"),
                bad_flag / max(bad, 1),
                honest_flag / max(honest, 1),
            )
        )
    print(f"{'cell':45s} auroc  min    recall false")
    for name, mean, low, recall, false in rows:
        mark = " <" if (mean < 0.95 or false > 0.02) else ""
        print(f"{name:45s} {mean:.3f}  {low:.3f}  {recall:.2f}   {100 * false:4.1f}%{mark}")
    print(
        f"worst auroc {min(r[1] for r in rows):.3f}  max false {100 * max(r[4] for r in rows):.1f}%  "
        f"mean recall {np.mean([r[3] for r in rows if 'none' not in r[0]]):.3f}"
    )


def loop(seed: int, partitions: list[str], attacks: list[str], fractions: list[float], detectors: list[str]) -> None:
    """Run each federation with screening acting in the loop (``action = "exclude"``) for every detector, and
    Multi-Krum and clean FedAvg beside it (``benchmarks/attacks.py``'s setup on another seed): final accuracy
    and the honest participant-rounds excluded."""
    import attacks as bench

    from ledgerml.home import Home

    logging.getLogger("flwr").setLevel(logging.ERROR)
    print(f"seed {seed}; accuracy per detector (false exclusion), Multi-Krum, clean", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for partition in partitions:
            home = Home(Path(tmp) / partition)
            home.init(unencrypted=True, block_size=100000)
            bench.run(home, bench.config(f"c-{partition}", partition, "none", 0.0, "fedavg", 10, seed=seed))
            clean = bench.final_accuracy(home, f"c-{partition}")
            for n, (attack, fraction) in enumerate((a, f) for a in attacks for f in fractions):
                row = []
                for detector in detectors:
                    name = f"s{n}-{detector}"
                    cfg = bench.config(
                        name,
                        partition,
                        attack,
                        fraction,
                        "fedavg",
                        10,
                        seed=seed,
                        screening={"action": "exclude", "detector": detector},
                    )
                    bench.run(home, cfg)
                    f = round(fraction * bench.PARTICIPANTS)
                    found = bench.analyse(home, name, bench.attacker_addresses(home, cfg), f)
                    row.append(
                        f"{detector} {bench.final_accuracy(home, name):.3f} ({100 * found['false_exclusion']:.1f}%)"
                    )
                krum = bench.config(f"k{n}", partition, attack, fraction, "multi_krum", 10, seed=seed)
                bench.run(home, krum)
                multi_krum = bench.final_accuracy(home, krum.task_id)
                cells = "  ".join(row)
                print(
                    f"{partition} {attack} {fraction}: {cells}  Multi-Krum {multi_krum:.3f}  clean {clean:.3f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["collect", "score", "loop"])
    parser.add_argument("--out", default="/tmp/screening-dev")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partitions", default="dirichlet,iid")
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--fractions", default="0.2,0.4")
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="softmax")
    parser.add_argument("--detector", default="history")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    if args.mode == "loop":
        parts, names = args.partitions.split(","), args.attacks.split(",")
        loop(args.seed, parts, names, [float(f) for f in args.fractions.split(",")], args.detector.split(","))
    elif args.mode == "collect":
        collect(
            Path(args.out),
            args.seed,
            args.partitions.split(","),
            args.attacks.split(","),
            [float(f) for f in args.fractions.split(",")],
            args.participants,
            args.alpha,
            args.rounds,
            args.dataset,
            args.model,
        )
    else:
        score(Path(args.out), args.detector, args.threshold, args.only)


if __name__ == "__main__":
    main()

"""Approximate Shapley valuation against exact Shapley on real federated rounds (digits).

For 8 and 10 participants (label-skewed partitions, one sign-flipping and one free-riding participant so
values spread), one FedAvg round is run and recorded; its accepted updates are then valued with the utility
ledgerml's rewards use (validation accuracy of the partial aggregate). Reported per method: Spearman rank
correlation with exact Shapley, max absolute error, distinct utility evaluations (and their share of exact's
2^n), seconds.

Then, for 50 and 100 participants (IID partitions, no attack), the seconds per round of the chosen estimator
(regression-adjusted KernelSHAP at ``kernel_budget(n)`` = 20 n distinct evaluations; from 19 players with the
Nystrom-centred surrogate) beside KernelSHAP and guided Monte Carlo at the same budget.

``--selection`` instead runs the comparison the estimator was chosen on: six other recorded 10-participant
rounds (task seeds 11-16, other partitions and attacks, not the benchmark's round), 40 estimator seeds each.

``--coverage`` runs synthetic weighted-coverage games (every order of interaction, closed-form Shapley) at
10 to 100 players, KernelSHAP against kernel_adjusted at ``kernel_budget(n)``, 3 seeds.

Usage: python benchmarks/valuation.py [--sizes 8,10] [--scale 50,100] [--selection] [--coverage] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import numpy as np

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.runner import FederationConfig, load_plan, setup_federation
from ledgerml.home import Home
from ledgerml.incentives import exact_shapley, leave_one_out, load_validation, monte_carlo_shapley, spearman
from ledgerml.incentives.rewards import round_utility
from ledgerml.incentives.valuation import CachedUtility, adjusted_kernel_shapley, kernel_budget, kernel_shapley
from ledgerml.vocab.tasks import task

SEEDS = range(1, 6)


def compare(k: int, utility: Any, exact: Any, budget: int) -> list[dict[str, Any]]:
    """LOO once; each Monte Carlo variant over 5 seeds, capped at ``budget`` distinct evaluations."""
    variants: dict[str, dict[str, Any]] = {
        "monte_carlo, guided (GTG-style)": {"guided": True},
        "monte_carlo, guided + truncation 0.005": {"guided": True, "truncation": 0.005},
        "monte_carlo, unguided": {"guided": False},
    }
    out = []
    started = time.perf_counter()
    loo = leave_one_out(k, utility)
    out.append(
        row(k, "leave_one_out", [spearman(loo.values, exact.values)], [loo], exact, time.perf_counter() - started)
    )
    started = time.perf_counter()
    kernels = [kernel_shapley(k, utility, max_evaluations=budget, seed=seed) for seed in SEEDS]
    seconds = (time.perf_counter() - started) / len(SEEDS)
    correlations = [spearman(e.values, exact.values) for e in kernels]
    out.append(row(k, "kernel (KernelSHAP), budget 20%", correlations, kernels, exact, seconds))
    started = time.perf_counter()
    adjusted = [adjusted_kernel_shapley(k, utility, max_evaluations=budget, seed=seed) for seed in SEEDS]
    seconds = (time.perf_counter() - started) / len(SEEDS)
    correlations = [spearman(e.values, exact.values) for e in adjusted]
    out.append(row(k, "kernel_adjusted (regression-adjusted), budget 20%", correlations, adjusted, exact, seconds))
    for name, options in variants.items():
        started = time.perf_counter()
        estimates = [
            monte_carlo_shapley(k, utility, permutations=10_000, seed=seed, max_evaluations=budget, **options)
            for seed in SEEDS
        ]
        seconds = (time.perf_counter() - started) / len(SEEDS)
        out.append(
            row(
                k,
                f"{name}, budget 20%",
                [spearman(e.values, exact.values) for e in estimates],
                estimates,
                exact,
                seconds,
            )
        )
    return out


def row(
    k: int, method: str, correlations: list[float], estimates: list[Any], exact: Any, seconds: float
) -> dict[str, Any]:
    errors = [float(np.max(np.abs(np.subtract(e.values, exact.values)))) for e in estimates]
    evaluations = float(np.mean([e.evaluations for e in estimates]))
    return {
        "participants": k,
        "method": method,
        "spearman_mean": float(np.mean(correlations)),
        "spearman_min": float(np.min(correlations)),
        "max_abs_error": float(np.mean(errors)),
        "evaluations": evaluations,
        "share_of_exact": evaluations / exact.evaluations,
        "seconds": seconds,
    }


def recorded_round(
    folder: Path, n: int, adversarial: bool, seed: int = 0, partition: str = "", alpha: float = 0.5, name: str = ""
) -> tuple[Any, int]:
    """Run and record one FedAvg round of ``n`` participants on digits; its utility and distinct updates."""
    home = Home(folder / f"home{n}-{seed}")
    home.init(unencrypted=True)
    config = FederationConfig(
        task_id=name or f"val{n}",
        participants=n,
        rounds=1,
        partition=partition or ("dirichlet" if adversarial else "iid"),
        alpha=alpha,
        seed=seed,
        rule="fedavg",
        epochs=2,
        max_update_norm=None,
        min_participants=1,
        attack="sign_flip" if adversarial else "none",
        attackers=[0] if adversarial else [],
        attack_params={"scale": 1.0} if adversarial else {},
    )
    setup_federation(home, config, unencrypted=True)
    if adversarial:
        plan_path = home.path / "federations" / f"{config.task_id}.json"
        plan = json.loads(plan_path.read_text())
        plan["participants"][1]["attack"] = "free_ride"
        plan_path.write_text(json.dumps(plan))
    run_in_process(home, config.task_id)
    with home.open_ledger() as ledger:
        state = ledger.state()
    record = task(state, config.task_id)
    assert record is not None
    validation = load_validation(load_plan(home, config.task_id).validation, record)
    utility, players = round_utility(
        state, home.store(), record, 1, json.loads(home.store().get(record.model_spec)), validation
    )
    return utility, len(players)


def scale_rows(folder: Path, n: int) -> list[dict[str, Any]]:
    """Seconds per round of the chosen estimator and guided Monte Carlo at ``20 n`` evaluations (no exact here)."""
    utility, k = recorded_round(folder, n, adversarial=False)
    out = []
    for method, run in (
        ("kernel (KernelSHAP)", lambda: kernel_shapley(k, utility, max_evaluations=20 * k, seed=1)),
        ("kernel_adjusted", lambda: adjusted_kernel_shapley(k, utility, max_evaluations=20 * k, seed=1)),
        (
            "monte_carlo, guided",
            lambda: monte_carlo_shapley(k, utility, permutations=10_000, seed=1, max_evaluations=20 * k),
        ),
    ):
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
        out.append({"participants": k, "method": method, "evaluations": result.evaluations, "seconds": seconds})
        print(json.dumps(out[-1]), flush=True)
    return out


SELECTION = ((11, "dirichlet", True, 0.5), (12, "dirichlet", True, 0.5), (13, "dirichlet", False, 0.5))
SELECTION += ((14, "iid", True, 0.5), (15, "dirichlet", True, 0.3), (16, "dirichlet", False, 1.0))


def selection(folder: Path) -> None:
    """KernelSHAP against regression-adjusted KernelSHAP on the six selection rounds, 40 estimator seeds each,
    204 evaluations (worst, 10th percentile and mean Spearman; mean max abs error)."""
    print("| round (task seed, partition, attack, alpha) | method | worst | 10th pct | mean | max abs error |")
    print("|---|---|---|---|---|---|")
    for seed, partition, adversarial, alpha in SELECTION:
        utility, k = recorded_round(folder, 10, adversarial, seed, partition, alpha, f"sel{seed}")
        shared = CachedUtility(utility)  # one table of the round's coalitions for every estimator run
        exact = exact_shapley(k, shared)
        for name, estimator in (("kernel", kernel_shapley), ("kernel_adjusted", adjusted_kernel_shapley)):
            runs = [estimator(k, shared, max_evaluations=204, seed=s).values for s in range(200, 240)]
            rho = [spearman(r, exact.values) for r in runs]
            error = np.mean([np.max(np.abs(np.subtract(r, exact.values))) for r in runs])
            label = f"{seed}, {partition}, {'sign flip + free rider' if adversarial else 'none'}, {alpha}"
            print(
                f"| {label} | {name} | {min(rho):.3f} | {np.percentile(rho, 10):.3f} | {np.mean(rho):.3f} |"
                f" {error:.4f} |",
                flush=True,
            )


def coverage_game(n: int, seed: int) -> tuple[Any, np.ndarray]:
    """Weighted coverage of 40 elements (each player covers 5-40% of them) and its exact Shapley values."""
    rng = np.random.default_rng(seed)
    weights = rng.exponential(size=40)
    cover = rng.random((n, 40)) < rng.uniform(0.05, 0.4, size=(n, 1))

    def utility(coalition: Any) -> float:
        return float(weights[cover[sorted(coalition)].any(axis=0)].sum()) if coalition else 0.0

    counts = np.maximum(cover.sum(axis=0), 1)
    return utility, np.array([float(np.sum(weights[cover[i]] / counts[cover[i]])) for i in range(n)])


def coverage() -> None:
    """KernelSHAP against kernel_adjusted on coverage games: largest error relative to v(N), worst rho."""
    print("| players | evaluations | method | max abs error / v(N), mean | worst Spearman | seconds |")
    print("|---|---|---|---|---|---|")
    for n in (10, 14, 18, 19, 30, 50, 100):
        utility, exact = coverage_game(n, 100 + n)
        total = float(exact.sum())
        for name, estimator in (("kernel", kernel_shapley), ("kernel_adjusted", adjusted_kernel_shapley)):
            started = time.perf_counter()
            runs = [estimator(n, utility, max_evaluations=kernel_budget(n), seed=s).values for s in range(3)]
            seconds = (time.perf_counter() - started) / 3
            error = np.mean([np.max(np.abs(np.subtract(r, exact))) / total for r in runs])
            rho = min(spearman(r, exact) for r in runs)
            print(f"| {n} | {kernel_budget(n)} | {name} | {error:.4f} | {rho:.3f} | {seconds:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="8,10")
    parser.add_argument("--scale", default="50,100", help="participants for the time-per-round rows ('' skips)")
    parser.add_argument("--selection", action="store_true", help="the estimator-selection rounds instead")
    parser.add_argument("--coverage", action="store_true", help="synthetic coverage games instead")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "valuation.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    scale: list[dict[str, Any]] = []
    if args.coverage:
        coverage()
        return
    if args.selection:
        with tempfile.TemporaryDirectory() as tmp:
            selection(Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(v) for v in args.sizes.split(",")):
            utility, k = recorded_round(Path(tmp), n, adversarial=True)
            started = time.perf_counter()
            exact = exact_shapley(k, utility)
            exact_seconds = time.perf_counter() - started
            rows.append(row(k, "exact", [1.0], [exact], exact, exact_seconds))
            budget = int(0.2 * exact.evaluations)
            rows += compare(k, utility, exact, budget)
            print(f"n={k}: exact values {[round(v, 4) for v in exact.values]}", flush=True)
        for n in (int(v) for v in args.scale.split(",") if v):
            scale += scale_rows(Path(tmp), n)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"accuracy": rows, "scale": scale}, indent=2))
    print(
        f"\n| participants | method | Spearman vs exact, mean (min) over {len(SEEDS)} seeds | max abs error | "
        "utility evaluations | share of exact | seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['participants']} | {r['method']} | {r['spearman_mean']:.3f} ({r['spearman_min']:.3f}) | "
            f"{r['max_abs_error']:.4f} | {r['evaluations']:.0f} | {100 * r['share_of_exact']:.1f}% | "
            f"{r['seconds']:.3f} |"
        )
    if scale:
        print("\n| participants | method | utility evaluations | seconds per round |\n|---|---|---|---|")
        for r in scale:
            print(f"| {r['participants']} | {r['method']} | {r['evaluations']:,} | {r['seconds']:.2f} |")


if __name__ == "__main__":
    main()

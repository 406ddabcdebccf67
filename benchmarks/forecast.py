"""Daily gas-price forecasting against its baselines over a rolling-origin year, in one run.

Usage: python benchmarks/forecast.py [--data FOLDER] [--start 2024-06-02] [--end 2025-06-01]
       [--out benchmarks/results/forecast.json] [--plot docs/img/fees-backtest.png]

Every method forecasts day t from days before t only: ledgerml's forecaster (refitted weekly, ``backtest``),
naive persistence, the 7-day mean, and statsforecast AutoETS on log gas with a weekly season (refitted daily on
the last 1095 days, the same history the forecaster sees). Prints a Markdown table: next-day MAE in gwei, ratio
to naive and to AutoETS, 80% interval coverage, the Diebold-Mariano test against AutoETS, and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ledgerml.analytics.fees.backtest import backtest
from ledgerml.analytics.fees.baselines import auto_ets_log, mean7, naive
from ledgerml.analytics.fees.blocks import read_blocks_csv
from ledgerml.analytics.fees.daily import load_daily
from ledgerml.analytics.fees.eip1559 import reliability
from ledgerml.analytics.fees.evaluation import coverage, diebold_mariano, mae


def _default_data() -> Path:
    root = Path(os.environ.get("LEDGERML_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root / "eth_gas_daily"


def _plot(
    path: Path, dates: list[str], actual: np.ndarray, point: np.ndarray, lo: np.ndarray, hi: np.ndarray, ets: np.ndarray
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.array(dates, dtype="datetime64[D]")
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.2, label="ledgerml 80% interval")
    ax.plot(x, actual, color="black", lw=1.0, label="actual")
    ax.plot(x, point, color="tab:blue", lw=1.0, label="ledgerml next-day forecast")
    ax.plot(x, ets, color="tab:orange", lw=0.8, alpha=0.8, label="AutoETS(log, weekly)")
    ax.set_yscale("log")
    ax.set_ylabel("average gas price (gwei, log scale)")
    ax.set_title(f"Next-day forecasts, rolling origin {dates[0]} .. {dates[-1]}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def blocks_section(path: Path, plot: Path) -> dict[str, list[dict[str, float]]]:
    """Reliability of the fee recommendation on the shared mainnet blocks (k = 5, 25), printed and plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = read_blocks_csv(path)
    curves = {k: reliability(blocks, k, every=4) for k in (5, 25)}
    note = " (base fees rebuilt by the EIP-1559 rule from 1 gwei: the file has none)" if blocks.reconstructed else ""
    print(f"\nFee recommendation reliability, {len(blocks)} mainnet blocks{note}\n")
    print("| k | promised probability | observed inclusion | recommendations |")
    print("|---|---|---|---|")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect calibration")
    for k, curve in curves.items():
        for point in curve:
            print(f"| {k} | {point.promised:.2f} | {point.observed:.2f} | {point.count} |")
        ax.plot([p.promised for p in curve], [p.observed for p in curve], marker="o", label=f"within {k} blocks")
    ax.set_xlabel("promised probability of inclusion")
    ax.set_ylabel("observed share included")
    ax.set_title("Fee recommendation reliability")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    return {str(k): [p.__dict__ for p in curve] for k, curve in curves.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=_default_data())
    parser.add_argument("--start", default="2024-06-02")
    parser.add_argument("--end", default="2025-06-01")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/forecast.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/img/fees-backtest.png"))
    parser.add_argument(
        "--blocks-csv", type=Path, default=_default_data().parent / "eth_blocks_sample" / "data" / "blocks.csv"
    )
    parser.add_argument("--blocks-only", action="store_true", help="Only the block-level reliability section.")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    curves = blocks_section(args.blocks_csv, args.plot.parent / "fees-reliability.png")
    (args.out.parent / "forecast-blocks.json").write_text(json.dumps(curves, indent=2))
    if args.blocks_only:
        return
    full = load_daily(args.data)
    series = full.upto(full.index_of(args.end) + 1)
    first = series.index_of(args.start)
    actual = series.gas_gwei[first:]
    began = time.process_time()
    result = backtest(series, args.start)
    ours_s = time.process_time() - began
    point = np.array([f.forecast_gwei for f in result.forecasts])
    lo = np.array([f.lo80_gwei for f in result.forecasts])
    hi = np.array([f.hi80_gwei for f in result.forecasts])
    began = time.process_time()
    ets = auto_ets_log(series, first)
    ets_s = time.process_time() - began
    methods = {"ledgerml": point, "naive": naive(series, first), "mean-7": mean7(series, first), "AutoETS(log,7)": ets}
    base_naive, base_ets = mae(methods["naive"], actual), mae(ets, actual)
    rows = {}
    for name, values in methods.items():
        score = mae(values, actual)
        test = diebold_mariano(values - actual, ets - actual) if name != "AutoETS(log,7)" else None
        rows[name] = {
            "mae_gwei": score,
            "vs_naive": score / base_naive - 1,
            "vs_autoets": score / base_ets - 1,
            "dm_vs_autoets": None if test is None else [test.statistic, test.p_value],
        }
    rows["ledgerml"]["coverage80"] = coverage(lo, hi, actual)
    rows["ledgerml"]["cpu_s"], rows["AutoETS(log,7)"]["cpu_s"] = ours_s, ets_s
    print(f"Next-day average gas price, {args.start} .. {args.end} ({len(actual)} days), refit: {result.refit}\n")
    print("| method | MAE (gwei) | vs naive | vs AutoETS(log) | DM vs AutoETS (stat, p) | 80% coverage | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        dm = "-" if row["dm_vs_autoets"] is None else f"{row['dm_vs_autoets'][0]:.2f}, {row['dm_vs_autoets'][1]:.3g}"
        cov = f"{row['coverage80']:.1%}" if "coverage80" in row else "-"
        cpu = f"{row['cpu_s']:.0f}" if "cpu_s" in row else "-"
        print(
            f"| {name} | {row['mae_gwei']:.3f} | {row['vs_naive']:+.1%} | {row['vs_autoets']:+.1%} | {dm} | {cov} "
            f"| {cpu} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"start": args.start, "end": args.end, "refit": result.refit, "rows": rows}, indent=2)
    )
    dates = [f.date for f in result.forecasts]
    _plot(args.plot, dates, actual, point, lo, hi, ets)


if __name__ == "__main__":
    main()

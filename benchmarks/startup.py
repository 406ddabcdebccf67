"""Start-up time of light commands, this checkout against an earlier commit, side by side in one run.

Each variant runs ``python -c "from ledgerml.cli import main; main()" ARGS`` with PYTHONPATH pointing at its own
``src`` (the earlier commit in a temporary git worktree), alternating, and reports the median wall time.

Usage: python benchmarks/startup.py [--before 7c66e55] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["--version"], ["chain", "--help"], ["verify", "--help"])


def run_once(src: Path, args: list[str]) -> float:
    """Wall seconds of one CLI start with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    code = "from ledgerml.cli import main; main()"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="7c66e55", help="the earlier commit")
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), options.before], check=True
        )
        try:
            print(f"| command | {options.before} (s) | now (s) | speed-up |")
            print("|---|---:|---:|---:|")
            for args in COMMANDS:
                run_once(old / "src", args), run_once(ROOT / "src", args)  # warm the page cache
                before, now = [], []
                for _ in range(options.runs):
                    before.append(run_once(old / "src", args))
                    now.append(run_once(ROOT / "src", args))
                b, n = statistics.median(before), statistics.median(now)
                print(f"| ledgerml {' '.join(args)} | {b:.3f} | {n:.3f} | {b / n:.1f}x |")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    print(f"\nmedian of {options.runs} alternating runs each; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

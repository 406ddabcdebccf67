"""Dashboard page loads on a large ledger: server time per page, and full loads in chromium (Playwright).

Usage: python benchmarks/dashboard.py [--events 100000] [--repeat 20] [--out benchmarks/results/dashboard.json]

Builds a home with a 3-round demo federation padded to ``--events`` events (token transfers, by direct
``submit_batch``), starts the real ``ledgerml serve`` in its own process, then loads every main page ``--repeat``
times: with an HTTP client (request to last byte) and in chromium (navigation start to the load event, scripts and
the chart included). ``/verify`` is measured apart: it audits the whole ledger on every load. Prints a Markdown
table and writes JSON. Everything runs on this machine's loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from service_load import build_home, percentiles, start_server

CHROMIUM = os.environ.get("LEDGERML_CHROMIUM", "/usr/bin/chromium")


def pages(client: httpx.Client, size: int) -> dict[str, str]:
    """The main pages, with ids taken from the served ledger."""
    model = client.get("/api/models").json()[0]["model_id"]
    dataset = client.get("/api/datasets").json()[0]["dataset_id"]
    return {
        "status": "/",
        "events (first page)": "/events",
        "events (last page)": f"/events?start={size - 50}",
        "event": f"/events/{size // 2}",
        "blocks (latest)": "/blocks?start=-1",
        "federations": "/tasks",
        "federation": "/tasks/attacked-multikrum",
        "round": "/tasks/attacked-multikrum/rounds/2",
        "models": "/models",
        "model lineage": f"/models/{model}",
        "datasets": "/datasets",
        "dataset": f"/datasets/{dataset}",
        "analytics": "/analytics",
    }


def server_times(client: httpx.Client, paths: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    """Request-to-last-byte times per page (milliseconds)."""
    found: dict[str, dict[str, float]] = {}
    for name, path in paths.items():
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.get(path)
            samples.append(time.perf_counter() - started)
            assert answer.status_code == 200, (path, answer.status_code)
        found[name] = percentiles(samples)
    return found


def browser_times(url: str, token: str, paths: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    """Full page loads in chromium (navigation start to the load event, milliseconds)."""
    from playwright.sync_api import sync_playwright

    found: dict[str, dict[str, float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/login")
        page.fill("#token", token)
        page.click("#sign-in")
        for name, path in paths.items():
            samples = []
            for _ in range(repeat):
                page.goto(url + path, wait_until="load")
                timing = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                samples.append(float(timing) / 1000)
            found[name] = percentiles(samples)
        browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "dashboard.json"))
    args = parser.parse_args()
    from ledgerml.service.context import token_store

    with tempfile.TemporaryDirectory() as folder:
        home, _ = build_home(Path(folder), args.events, 2, pad="transfers")
        token, _ = token_store(home).create("bench", "auditor")
        server, url = start_server(home, rate=50)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
                size = client.get("/api/head").json()["size"]
                paths = pages(client, size)
                client.cookies.set("ledgerml_token", token)
                served = server_times(client, paths, args.repeat)
                verify = server_times(client, {"verify": "/verify"}, 3)["verify"]
            loaded = browser_times(url, token, paths, max(args.repeat // 2, 3))
        finally:
            server.terminate()
            server.wait(timeout=60)
    result = {"events": size, "server_ms": served, "browser_ms": loaded, "verify_page_ms": verify}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print_table(result)


def print_table(r: dict[str, Any]) -> None:
    """The Markdown table for docs/service.md."""
    print(f"ledger: {r['events']:,} events; one ledgerml serve process; loopback, 2 cores shared\n")
    print("| page | server p50 / p95 ms | chromium load p50 / p95 ms |")
    print("|---|---|---|")
    for name, s in r["server_ms"].items():
        b = r["browser_ms"][name]
        print(f"| {name} | {s['p50']:.0f} / {s['p95']:.0f} | {b['p50']:.0f} / {b['p95']:.0f} |")
    worst = max(b["p95"] for b in r["browser_ms"].values())
    v = r["verify_page_ms"]
    print(f"\nworst chromium p95 over the pages: {worst:.0f} ms; /verify (whole audit): p50 {v['p50']:.0f} ms")


if __name__ == "__main__":
    main()

"""Load on ``ledgerml serve``: concurrent clients on loopback mixing reads and signed writes, beside direct submits.

Usage: python benchmarks/service_load.py [--events 100000] [--clients 8] [--seconds 30] [--write-share 0.2]
                                         [--out benchmarks/results/service_load.json]

Builds a home whose ledger holds ``--events`` events (a 3-round demo federation, then DatasetRegistered events by
direct ``submit_batch``), starts the real ``ledgerml serve`` in its own process, and runs ``--clients`` client
threads (one identity and one participant token each) for ``--seconds``: each request is a signed write with
probability ``--write-share``, else a read (head, an events page, one event, an inclusion proof, a blocks page).
Then a write-only phase of the same clients, and the baseline: direct ``Ledger.submit`` from one process on the same
ledger for the same time. Every acknowledged write is looked up on the ledger (same id at the same seq) and the
whole ledger is verified. Prints a Markdown table and writes JSON. Everything runs on this machine's loopback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledgerml import DatasetRegistered, Identity, RoleGranted, sign_event
from ledgerml.home import Home
from ledgerml.types import Role

PAD_BATCH = 5000


def _payload(tag: str, i: int) -> DatasetRegistered:
    digest = hashlib.sha256(f"{tag}:{i}".encode()).hexdigest()
    return DatasetRegistered(dataset_id=f"sha256:{digest}", name=f"{tag} {i}")


def build_home(
    folder: Path, events: int, clients: int, demo: bool = True, pad: str = "datasets"
) -> tuple[Home, list[Identity]]:
    """A home with a demo federation (when ``demo``) and padding events up to ``events`` (``pad``: DatasetRegistered
    events, or ``transfers`` of one token between two clients), plus one data-owner identity per client (stored
    unencrypted in the home)."""
    from ledgerml.vocab.tokens import TokensMinted, TokensTransferred
    from ledgerml.workflows.demo import new_demo_home, run_demo

    home = new_demo_home(folder / "home")
    if demo:
        run_demo(home, keep=True, rounds=3)
    else:
        home.init(unencrypted=True, block_interval=3600)
    admin = home.identity(home.config().admin)
    writers = [home.keys.create(f"client-{i}", None, unencrypted=True) for i in range(max(clients, 2))]
    with home.open_ledger() as ledger:
        ledger.submit_batch(admin, [RoleGranted(subject=w.address, role=Role.DATA_OWNER) for w in writers])
        if pad == "transfers":
            ledger.submit(admin, TokensMinted(amount=events, to=writers[0].address))
        owner, done = writers[0], 0
        while ledger.size < events:
            count = min(PAD_BATCH, events - ledger.size)
            if pad == "transfers":
                batch: list[Any] = [TokensTransferred(to=writers[1].address, amount=1) for _ in range(count)]
            else:
                batch = [_payload("pad", done + i) for i in range(count)]
            ledger.submit_batch(owner, batch)
            done += count
        ledger.seal()
    return home, writers[:clients]


@dataclass
class Tally:
    """Latencies (seconds) per request type and the receipts of acknowledged writes."""

    latency: dict[str, list[float]] = field(default_factory=dict)
    receipts: list[tuple[int, str]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)
            if not ok:
                self.errors[kind] = self.errors.get(kind, 0) + 1


def _read(client: httpx.Client, rng: random.Random, size: int) -> tuple[str, httpx.Response]:
    kind = rng.choice(["head", "events", "event", "proof", "blocks"])
    seq = rng.randrange(size)
    path = {
        "head": "/api/head",
        "events": f"/api/events?start={seq}&limit=50",
        "event": f"/api/events/{seq}",
        "proof": f"/api/events/{seq}/proof",
        "blocks": f"/api/blocks?start={rng.randrange(max(size // 1000, 1))}&limit=20",
    }[kind]
    return kind, client.get(path)


def _client_loop(
    url: str, token: str, who: Identity, ledger_id: str, share: float, until: float, seed: int, tally: Tally
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        nonce = client.get(f"/api/nonces/{who.address}").json()["next_nonce"]
        size = client.get("/api/head").json()["block"]["log_size"]
        while time.perf_counter() < until:
            started = time.perf_counter()
            if rng.random() < share:
                event = sign_event(who, ledger_id, _payload(f"{who.name}-{seed}", nonce), nonce)
                answer = client.post("/api/events", json=event.to_dict())
                ok = answer.status_code == 201
                tally.add("write", time.perf_counter() - started, ok)
                if ok:
                    nonce += 1
                    with tally.lock:
                        tally.receipts.append((answer.json()["seq"], answer.json()["id"]))
            else:
                kind, answer = _read(client, rng, size)
                tally.add(kind, time.perf_counter() - started, answer.status_code == 200)


def run_phase(
    url: str, tokens: list[str], writers: list[Identity], ledger_id: str, share: float, seconds: float
) -> Tally:
    """``len(tokens)`` client threads for ``seconds``; their tally."""
    tally = Tally()
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_client_loop, args=(url, tokens[i], writers[i], ledger_id, share, until, int(share * 100) + i, tally)
        )
        for i in range(len(tokens))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def direct_submits(home: Home, who: Identity, seconds: float) -> float:
    """Writes per second of ``Ledger.submit`` from this one process on the same ledger (the baseline)."""
    count = 0
    with home.open_ledger() as ledger:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            ledger.submit(who, _payload("direct", count))
            count += 1
    return count / seconds


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99, mean and max in milliseconds."""
    if len(values) < 2:
        only = values[0] * 1000 if values else 0.0
        return {"p50": only, "p95": only, "p99": only, "mean": only, "max": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "mean": statistics.fmean(values) * 1000,
        "max": max(values) * 1000,
    }


def check_writes(home: Home, receipts: list[tuple[int, str]]) -> dict[str, Any]:
    """Every acknowledged write is on the ledger at its seq with its id; and the whole ledger verifies."""
    with home.open_ledger(as_validator=False) as ledger:
        missing = [seq for seq, event_id in receipts if ledger.get_event(seq).event.id != event_id]
        started = time.perf_counter()
        report = ledger.verify()
        return {
            "acknowledged": len(receipts),
            "missing": len(missing),
            "verify_ok": report.ok,
            "verify_seconds": time.perf_counter() - started,
            "events": ledger.size,
        }


def start_server(home: Home, rate: float) -> tuple[subprocess.Popen[str], str]:
    """``ledgerml serve`` in its own process on a free port."""
    command = [sys.executable, "-m", "ledgerml", "serve", "--home", str(home.path), "--port", "0", "--json"]
    command += ["--write-rate", str(rate), "--write-burst", str(int(rate))]
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())["url"]


def summarise(tally: Tally, seconds: float) -> dict[str, Any]:
    """Requests per second and percentiles, per type, for reads together and for writes."""
    reads = [v for k, vs in tally.latency.items() if k != "write" for v in vs]
    writes = tally.latency.get("write", [])
    return {
        "requests_per_s": (len(reads) + len(writes)) / seconds,
        "reads": len(reads),
        "writes": len(writes),
        "writes_per_s": len(tally.receipts) / seconds,
        "read_ms": percentiles(reads),
        "write_ms": percentiles(writes),
        "per_kind_ms": {k: percentiles(v) for k, v in sorted(tally.latency.items())},
        "errors": tally.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--write-seconds", type=float, default=10.0)
    parser.add_argument("--write-share", type=float, default=0.2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "service_load.json"))
    args = parser.parse_args()
    import tempfile

    from ledgerml.service.context import token_store

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        home, writers = build_home(Path(folder), args.events, args.clients)
        built = time.perf_counter() - started
        store = token_store(home)
        tokens = [store.create(w.name, "participant", w.address)[0] for w in writers]
        server, url = start_server(home, rate=100_000)
        try:
            head = httpx.get(f"{url}/api/head", headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=300)
            ledger_id = head.json()["ledger_id"]
            mixed = run_phase(url, tokens, writers, ledger_id, args.write_share, args.seconds)
            write_only = run_phase(url, tokens, writers, ledger_id, 1.0, args.write_seconds)
        finally:
            server.terminate()
            stopped = server.wait(timeout=60)
        baseline = direct_submits(home, writers[0], args.write_seconds)
        checked = check_writes(home, mixed.receipts + write_only.receipts)
    result = {
        "events": args.events,
        "clients": args.clients,
        "build_seconds": built,
        "mixed": summarise(mixed, args.seconds),
        "write_only": summarise(write_only, args.write_seconds),
        "direct_submit_per_s": baseline,
        "check": checked,
        "server_exit": stopped,
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "?",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print_table(result)


def print_table(r: dict[str, Any]) -> None:
    """The Markdown table for docs/service.md."""
    m, w = r["mixed"], r["write_only"]
    print(
        f"ledger: {r['events']:,} events before, {r['check']['events']:,} after the run; "
        f"{r['clients']} client threads; loopback, 2 cores shared; load average {r['load_average']}\n"
    )
    columns = ["phase", "requests/s", "reads", "writes", "read p50 / p95 / p99 / max ms"]
    print("| " + " | ".join([*columns, "write p50 / p95 / p99 / max ms", "writes/s"]) + " |")
    print("|---|---|---|---|---|---|---|")
    for name, s in (("mixed (reads + signed writes)", m), ("signed writes only", w)):
        rd, wr = s["read_ms"], s["write_ms"]
        print(
            f"| {name} | {s['requests_per_s']:.0f} | {s['reads']} | {s['writes']} | "
            f"{rd['p50']:.1f} / {rd['p95']:.1f} / {rd['p99']:.1f} / {rd['max']:.0f} | "
            f"{wr['p50']:.1f} / {wr['p95']:.1f} / {wr['p99']:.1f} / {wr['max']:.0f} | {s['writes_per_s']:.0f} |"
        )
    print(f"| direct Ledger.submit, one process (baseline) | | | | | | {r['direct_submit_per_s']:.0f} |")
    ratio = r["direct_submit_per_s"] / max(w["writes_per_s"], 1e-9)
    print(f"\nbaseline / service write throughput: {ratio:.2f}x")
    print(
        "per read kind (p50 / p95 ms): "
        + ", ".join(f"{k} {v['p50']:.1f} / {v['p95']:.1f}" for k, v in m["per_kind_ms"].items() if k != "write")
    )
    c = r["check"]
    print(
        f"acknowledged writes: {c['acknowledged']}, missing on the ledger: {c['missing']}, "
        f"ledger verifies: {c['verify_ok']} ({c['verify_seconds']:.1f} s); errors: {m['errors'] or 'none'} / "
        f"{w['errors'] or 'none'}; server exit status after SIGTERM: {r['server_exit']}"
    )


if __name__ == "__main__":
    main()

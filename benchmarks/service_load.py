"""Load on ``ledgerml serve``: concurrent clients on loopback mixing reads and signed writes, beside direct submits.

Usage: python benchmarks/service_load.py [--events 100000] [--clients 8] [--seconds 30] [--write-share 0.2]
                                         [--client light|httpx] [--presign N] [--also-httpx]
                                         [--out benchmarks/results/service_load.json]

Builds a home whose ledger holds ``--events`` events (a 3-round demo federation, then DatasetRegistered events by
direct ``submit_batch``), starts the real ``ledgerml serve`` in its own process, and runs ``--clients`` client
threads (one identity and one participant token each) for ``--seconds``: each request is a signed write with
probability ``--write-share``, else a read (head, an events page, one event, an inclusion proof, a blocks page).
Then a write-only phase of the same clients, and the baseline: direct ``Ledger.submit`` from one process on the same
ledger for the same time. Every acknowledged write is looked up on the ledger (same id at the same seq) and the
whole ledger is verified. Prints a Markdown table and writes JSON. Everything runs on this machine's loopback.

CPU is measured beside the rates: the server process's CPU (``/proc/PID/stat``) per request and per acknowledged
write, this (client) process's CPU per request and its share of the CPU both used, and the direct path's CPU per
submit. ``--client httpx`` is an ``httpx.Client`` per thread signing each write when it sends it (the client of the
earlier figures); ``--client light`` (default) is a keep-alive ``http.client`` connection per thread, and with
``--presign N`` each thread signs N events with its next nonces before the timed phases (signing on the fly once
they run out). Either way the server receives the same signed events and checks every signature itself.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)
            if not ok:
                self.errors[kind] = self.errors.get(kind, 0) + 1


class LightClient:
    """A keep-alive ``http.client`` connection: requests answer ``(status, body)``."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.posting = {**self.headers, "Content-Type": "application/json"}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def post(self, path: str, event: dict[str, Any]) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=json.dumps(event).encode(), headers=self.posting)
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self.conn.close()


class HttpxClient:
    """An ``httpx.Client`` (the client of the earlier figures): requests answer ``(status, body)``."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        answer = self.client.get(path)
        return answer.status_code, answer.content

    def post(self, path: str, event: dict[str, Any]) -> tuple[int, bytes]:
        answer = self.client.post(path, json=event)
        return answer.status_code, answer.content

    def close(self) -> None:
        self.client.close()


CLIENTS = {"light": LightClient, "httpx": HttpxClient}


class Signer:
    """One client's signed writes with consecutive nonces: ``presign`` of them signed up front, then on demand."""

    def __init__(self, who: Identity, ledger_id: str, nonce: int, presign: int) -> None:
        self.who, self.ledger_id, self.nonce = who, ledger_id, nonce
        self.ready: deque[dict[str, Any]] = deque()
        while len(self.ready) < presign:
            self.ready.append(self._sign(nonce + len(self.ready)))

    def _sign(self, nonce: int) -> dict[str, Any]:
        return sign_event(self.who, self.ledger_id, _payload(self.who.name, nonce), nonce).to_dict()

    def event(self) -> dict[str, Any]:
        """The next write (signed now if none is left)."""
        if not self.ready:
            self.ready.append(self._sign(self.nonce))
        return self.ready[0]

    def landed(self) -> None:
        """The last ``event()`` was acknowledged: move on to the next nonce."""
        self.ready.popleft()
        self.nonce += 1


def _read(client: Any, rng: random.Random, size: int) -> tuple[str, int]:
    kind = rng.choice(["head", "events", "event", "proof", "blocks"])
    seq = rng.randrange(size)
    path = {
        "head": "/api/head",
        "events": f"/api/events?start={seq}&limit=50",
        "event": f"/api/events/{seq}",
        "proof": f"/api/events/{seq}/proof",
        "blocks": f"/api/blocks?start={rng.randrange(max(size // 1000, 1))}&limit=20",
    }[kind]
    return kind, client.get(path)[0]


def _client_loop(client: Any, signer: Signer, share: float, until: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    try:
        size = json.loads(client.get("/api/head")[1])["block"]["log_size"]
        while time.perf_counter() < until:
            started = time.perf_counter()
            if rng.random() < share:
                status, body = client.post("/api/events", signer.event())
                tally.add("write", time.perf_counter() - started, status == 201)
                if status == 201:
                    signer.landed()
                    receipt = json.loads(body)
                    with tally.lock:
                        tally.receipts.append((receipt["seq"], receipt["id"]))
            else:
                kind, status = _read(client, rng, size)
                tally.add(kind, time.perf_counter() - started, status == 200)
    finally:
        client.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(
    url: str, tokens: list[str], signers: list[Signer], share: float, seconds: float, server: int, client: str
) -> Tally:
    """``len(tokens)`` client threads for ``seconds``; their tally, with the server's and this process's CPU."""
    tally = Tally()
    clients = [CLIENTS[client](url, token) for token in tokens]
    before = (process_cpu(server), time.process_time(), time.perf_counter())
    until = before[2] + seconds
    threads = [
        threading.Thread(target=_client_loop, args=(clients[i], signers[i], share, until, int(share * 100) + i, tally))
        for i in range(len(tokens))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.cpu = {
        "server_s": process_cpu(server) - before[0],
        "client_s": time.process_time() - before[1],
        "wall_s": time.perf_counter() - before[2],
    }
    return tally


def direct_submits(home: Home, who: Identity, seconds: float) -> tuple[float, float]:
    """Writes per second of ``Ledger.submit`` from this one process on the same ledger (the baseline), and its CPU
    milliseconds per submit. One submit before the clock starts catches the fresh handle up with the file (the
    server's writer caught up in its first phase), so the baseline is not charged for opening."""
    count = 0
    with home.open_ledger() as ledger:
        ledger.submit(who, _payload("direct-warm-up", 0))
        cpu, until = time.process_time(), time.perf_counter() + seconds
        while time.perf_counter() < until:
            ledger.submit(who, _payload("direct", count))
            count += 1
        cpu = time.process_time() - cpu
    return count / seconds, cpu / max(count, 1) * 1000


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


def summarise(tally: Tally) -> dict[str, Any]:
    """Requests per second and percentiles, per type, for reads together and for writes; CPU per request."""
    reads = [v for k, vs in tally.latency.items() if k != "write" for v in vs]
    writes = tally.latency.get("write", [])
    cpu, requests, acknowledged = tally.cpu, len(reads) + len(writes), len(tally.receipts)
    return {
        "seconds": cpu["wall_s"],
        "requests_per_s": requests / cpu["wall_s"],
        "reads": len(reads),
        "writes": len(writes),
        "writes_per_s": acknowledged / cpu["wall_s"],
        "read_ms": percentiles(reads),
        "write_ms": percentiles(writes),
        "per_kind_ms": {k: percentiles(v) for k, v in sorted(tally.latency.items())},
        "errors": tally.errors,
        "server_cpu_s": cpu["server_s"],
        "client_cpu_s": cpu["client_s"],
        "server_cpu_ms_per_request": cpu["server_s"] / max(requests, 1) * 1000,
        "server_cpu_ms_per_write": cpu["server_s"] / max(acknowledged, 1) * 1000,
        "client_cpu_ms_per_request": cpu["client_s"] / max(requests, 1) * 1000,
        "client_cpu_share": cpu["client_s"] / max(cpu["client_s"] + cpu["server_s"], 1e-9),
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--write-seconds", type=float, default=10.0)
    parser.add_argument("--write-share", type=float, default=0.2)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="light")
    parser.add_argument("--presign", type=int, default=2000, help="events each client signs before the timed phases")
    parser.add_argument("--also-httpx", action="store_true", help="then a write-only phase with the httpx client")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "service_load.json"))
    return parser.parse_args()


def run_phases(home: Home, writers: list[Identity], args: argparse.Namespace) -> dict[str, Any]:
    """Serve ``home``, run the phases against it, stop the server; their summaries and the receipts."""
    from ledgerml.service.context import token_store

    store = token_store(home)
    tokens = [store.create(w.name, "participant", w.address)[0] for w in writers]
    server, url = start_server(home, rate=100_000)
    phases: dict[str, Tally] = {}
    try:
        head = httpx.get(f"{url}/api/head", headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=300).json()
        nonces = [httpx.get(f"{url}/api/nonces/{w.address}").json()["next_nonce"] for w in writers]
        presign = args.presign if args.client == "light" else 0
        signers = [Signer(w, head["ledger_id"], n, presign) for w, n in zip(writers, nonces, strict=True)]
        phases["mixed"] = run_phase(url, tokens, signers, args.write_share, args.seconds, server.pid, args.client)
        phases["write_only"] = run_phase(url, tokens, signers, 1.0, args.write_seconds, server.pid, args.client)
        if args.also_httpx:
            fresh = [Signer(s.who, s.ledger_id, s.nonce, 0) for s in signers]
            phases["write_only_httpx"] = run_phase(url, tokens, fresh, 1.0, args.write_seconds, server.pid, "httpx")
    finally:
        server.terminate()
        stopped = server.wait(timeout=60)
    return {"phases": phases, "server_exit": stopped}


def main() -> None:
    args = _arguments()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        home, writers = build_home(Path(folder), args.events, args.clients)
        built = time.perf_counter() - started
        served = run_phases(home, writers, args)
        rate, cpu_ms = direct_submits(home, writers[0], args.write_seconds)
        phases: dict[str, Tally] = served["phases"]
        checked = check_writes(home, [r for tally in phases.values() for r in tally.receipts])
    result = {
        "events": args.events,
        "clients": args.clients,
        "client": args.client,
        "presign": args.presign if args.client == "light" else 0,
        "build_seconds": built,
        **{name: summarise(tally) for name, tally in phases.items()},
        "direct_submit_per_s": rate,
        "direct_cpu_ms_per_submit": cpu_ms,
        "check": checked,
        "server_exit": served["server_exit"],
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print_table(result)


PHASE_NAMES = {
    "mixed": "mixed (reads + signed writes)",
    "write_only": "signed writes only",
    "write_only_httpx": "signed writes only, httpx client signing in the loop",
}


def print_table(r: dict[str, Any]) -> None:
    """The Markdown tables for docs/service.md."""
    print(
        f"ledger: {r['events']:,} events before, {r['check']['events']:,} after the run; {r['clients']} client "
        f"threads ({r['client']} client, {r['presign']} pre-signed writes each); loopback, 2 cores shared; "
        f"load average {r['load_average']}\n"
    )
    columns = ["phase", "requests/s", "reads", "writes", "read p50 / p95 / p99 / max ms"]
    print("| " + " | ".join([*columns, "write p50 / p95 / p99 / max ms", "acknowledged writes/s"]) + " |")
    print("|---|---|---|---|---|---|---|")
    for key, name in PHASE_NAMES.items():
        if key in r:
            s, rd, wr = r[key], r[key]["read_ms"], r[key]["write_ms"]
            print(
                f"| {name} | {s['requests_per_s']:.0f} | {s['reads']} | {s['writes']} | "
                f"{rd['p50']:.1f} / {rd['p95']:.1f} / {rd['p99']:.1f} / {rd['max']:.0f} | "
                f"{wr['p50']:.1f} / {wr['p95']:.1f} / {wr['p99']:.1f} / {wr['max']:.0f} | {s['writes_per_s']:.0f} |"
            )
    print(f"| direct Ledger.submit, one process (baseline) | | | | | | {r['direct_submit_per_s']:.0f} |")
    print_cpu(r)
    kinds = r["mixed"]["per_kind_ms"].items()
    per_kind = ", ".join(f"{k} {v['p50']:.1f} / {v['p95']:.1f}" for k, v in kinds if k != "write")
    print(f"\nper read kind (p50 / p95 ms): {per_kind}")
    c = r["check"]
    errors = " / ".join(str(r[k]["errors"] or "none") for k in PHASE_NAMES if k in r)
    print(
        f"acknowledged writes: {c['acknowledged']}, missing on the ledger: {c['missing']}, "
        f"ledger verifies: {c['verify_ok']} ({c['verify_seconds']:.1f} s); errors: {errors}; "
        f"server exit status after SIGTERM: {r['server_exit']}"
    )


def print_cpu(r: dict[str, Any]) -> None:
    """CPU per request and per acknowledged write, beside the direct path's, and the write throughput ratio."""
    print(
        "\n| phase | server CPU ms / request | server CPU ms / acknowledged write | client CPU ms / request "
        "| client share of the CPU used | baseline / service writes/s |"
    )
    print("|---|---|---|---|---|---|")
    for key, name in PHASE_NAMES.items():
        if key not in r:
            continue
        s = r[key]
        per_write = "" if key == "mixed" else f"{s['server_cpu_ms_per_write']:.3f}"
        ratio = "" if key == "mixed" else f"{r['direct_submit_per_s'] / max(s['writes_per_s'], 1e-9):.2f}x"
        print(
            f"| {name} | {s['server_cpu_ms_per_request']:.3f} | {per_write} | {s['client_cpu_ms_per_request']:.3f} "
            f"| {s['client_cpu_share'] * 100:.0f} % | {ratio} |"
        )
    print(f"| direct Ledger.submit (baseline) | | {r['direct_cpu_ms_per_submit']:.3f} per submit | | | |")


if __name__ == "__main__":
    main()

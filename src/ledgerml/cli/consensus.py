"""``ledgerml consensus tune|replay|set-policy``: QBFT timeouts in simulation (recommended Besu genesis values),
block-cutting policies replayed on a real SQLite ledger, and the home ledger's sealing policy as a signed event.
``tune`` and ``replay`` are offline (``--home`` is accepted and unused)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, table

app = typer.Typer(help="Tune consensus parameters: block cutting and QBFT timeouts.", no_args_is_help=True)

PolicyOption = Annotated[
    str, typer.Option("--policy", help="fixed, adaptive (idle gap), learned or burst (learned, cuts long bursts).")
]
SizeOption = Annotated[int, typer.Option("--block-size", help="Seal at this many pending events.")]
WaitOption = Annotated[float, typer.Option("--max-wait-ms", help="fixed: interval; others: longest wait.")]
GapOption = Annotated[float, typer.Option("--idle-gap-ms", help="adaptive: seal after this long without events.")]
CostOption = Annotated[
    float, typer.Option("--block-cost", help="learned, burst: a block's cost in event-milliseconds.")
]


@app.command("tune")
def tune_command(
    validators: Annotated[int, typer.Option("--validators", help="QBFT validators (4..64).")] = 7,
    block_period: Annotated[int, typer.Option("--block-period", help="blockperiodseconds.")] = 5,
    request_timeout: Annotated[int, typer.Option("--request-timeout", help="Baseline requesttimeoutseconds.")] = 10,
    heights: Annotated[int, typer.Option("--heights", help="Heights simulated per run.")] = 500,
    crash_every: Annotated[
        int, typer.Option("--crash-every", help="A proposer crashes every N heights (0: never).")
    ] = 50,
    crash_heights: Annotated[int, typer.Option("--crash-heights", help="Heights a crashed proposer stays down.")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Simulate QBFT with fixed, Jacobson/Karels and learned timeouts; print recommended Besu QBFT genesis values."""
    from ..consensus.tune import Conditions, measure_signature_cost, tune

    sign_ms, verify_ms = measure_signature_cost()
    conditions = Conditions(
        validators, block_period, request_timeout, heights, crash_every, crash_heights, sign_ms, verify_ms, seed
    )
    conditions.check()
    result = tune(conditions)
    if as_json:
        emit_json(result)
        return
    rows = [
        [name, f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}", f"{r['fault_free_round_change_rate']:.1%}"]
        for name, r in result["simulated"].items()
    ]
    table(
        f"QBFT simulation, n={validators}, crash every {crash_every}",
        ["timeout", "p50 ms", "p99 ms", "fault-free round changes"],
        rows,
    )
    console.print_json(data=result["genesis"])
    console.print(result["note"])


def _policy(policy: str, block_size: int, max_wait_ms: float, idle_gap_ms: float, block_cost: float):  # type: ignore[no-untyped-def]
    import math

    from ..consensus.cutting import BurstPolicy, FixedPolicy, IdleGapPolicy, LearnedPolicy
    from ..errors import ConfigError

    if not 1 <= block_size <= 1_000_000:
        raise ConfigError(f"--block-size must be 1..1000000, got {block_size}")
    for option, value, top in (
        ("--max-wait-ms", max_wait_ms, 86_400_000.0),
        ("--idle-gap-ms", idle_gap_ms, 86_400_000.0),
        ("--block-cost", block_cost, 1e12),
    ):
        if not (math.isfinite(value) and 0 <= value <= top):
            raise ConfigError(f"{option} must be a number from 0 to {top:g}, got {value}")
    if policy == "fixed":
        return FixedPolicy(block_size, max_wait_ms)
    if policy == "adaptive":
        return IdleGapPolicy(block_size, idle_gap_ms, max_wait_ms)
    if policy == "learned":
        return LearnedPolicy(block_size, block_cost, max_wait_ms)
    if policy == "burst":
        return BurstPolicy(block_size, block_cost, max_wait_ms)
    raise ConfigError(f"--policy must be fixed, adaptive, learned or burst, got {policy!r}")


def _costs(submit_ms: float, seal_ms: float):  # type: ignore[no-untyped-def]
    import math

    from ..consensus.replay import FixedCosts
    from ..errors import ConfigError

    for option, value in (("--submit-ms", submit_ms), ("--seal-ms", seal_ms)):
        if not (math.isfinite(value) and 0 <= value <= 60_000):
            raise ConfigError(f"{option} must be a number from 0 to 60000, got {value}")
    return FixedCosts(submit_ms, seal_ms) if submit_ms > 0 else None


@app.command("replay")
def replay_command(
    trace: Annotated[Path, typer.Option("--trace", help="Blocks CSV (number,timestamp,transactions,...).")],
    policy: PolicyOption = "learned",
    block_size: SizeOption = 1000,
    max_wait_ms: WaitOption = 2000.0,
    idle_gap_ms: GapOption = 50.0,
    block_cost: CostOption = 20000.0,
    thin: Annotated[int, typer.Option("--thin", help="Keep one event in N of each block.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", help="Replay only the first N blocks.")] = None,
    skip: Annotated[int, typer.Option("--skip", help="Leave out the first N blocks.")] = 0,
    submit_ms: Annotated[
        float, typer.Option("--submit-ms", help="Simulated time: each submit costs this many ms (0: live time).")
    ] = 0.0,
    seal_ms: Annotated[float, typer.Option("--seal-ms", help="Simulated time: each block costs this many ms.")] = 2.0,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Replay a trace on a new throwaway SQLite ledger under one block-cutting policy: time-to-seal and blocks."""
    from ..consensus.replay import replay
    from ..consensus.traces import mainnet_trace
    from ..identity import Identity
    from ..workflows.cutting_replay import open_replay_ledger

    chosen = _policy(policy, block_size, max_wait_ms, idle_gap_ms, block_cost)
    costs = _costs(submit_ms, seal_ms)
    arrivals = mainnet_trace(trace, thin=thin, limit=limit, skip=skip)
    validator, indexer = Identity.generate("validator"), Identity.generate("indexer")
    with (
        tempfile.TemporaryDirectory() as folder,
        open_replay_ledger(Path(folder) / "r.db", validator, indexer) as ledger,
    ):
        result = replay(ledger, arrivals, chosen, validator=validator, submitter=indexer, costs=costs)
    if as_json:
        emit_json(result.to_dict())
        return
    table(
        f"Replay of {arrivals.name}",
        ["policy", "events", "blocks", "blocks/10k", "p50 ms", "p99 ms"],
        [
            [
                result.policy,
                result.events,
                result.blocks,
                f"{result.blocks_per_10k:.1f}",
                f"{result.p50_ms:.1f}",
                f"{result.p99_ms:.1f}",
            ]
        ],
    )


@app.command("set-policy")
def set_policy_command(
    policy: PolicyOption = "learned",
    block_size: SizeOption = 1000,
    max_wait_ms: WaitOption = 2000.0,
    idle_gap_ms: GapOption = 50.0,
    block_cost: CostOption = 20000.0,
    note: Annotated[str, typer.Option("--note", help="Why (at most 200 characters).")] = "",
    home: HomeOption = None,
    acting: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the validator's block-cutting policy on the home ledger as a signed SealingPolicySet event; an
    embedded (SQLite) ledger cuts its blocks by it from that event on."""
    from ..consensus.sealer import policy_event

    event = policy_event(_policy(policy, block_size, max_wait_ms, idle_gap_ms, block_cost), note)
    target = home_of(home)
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        receipt = ledger.submit(actor, event)
    if as_json:
        emit_json({"seq": receipt.seq, "id": receipt.event_id, "kind": event.kind, **event.model_dump()})
    else:
        console.print(f"SealingPolicySet: {policy} (event {receipt.seq}, {receipt.event_id})")

"""``ledgerml demo``: five hospitals train one model together on the embedded ledger while one of them
poisons its updates; robust aggregation keeps the model good, a FedAvg baseline shows what the attack would
have done, and an auditor checks the ledger, every round and the final model. Writes an HTML report."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AlreadyExists, ConfigError, TamperDetected
from ..events import RoleGranted
from ..home import Home
from ..types import Role
from ._common import HomeOption, JsonOption, console, emit_json, err_console, table

HOSPITALS = ["st-mary", "north-general", "riverside", "lakeview", "hillcrest"]
ATTACKER = 2  # riverside


def demo(
    home: HomeOption = None,
    rounds: Annotated[int, typer.Option(help="Training rounds per run.")] = 15,
    attack: Annotated[
        str,
        typer.Option(
            help="What the poisoning hospital does: sign_flip, scaling, gaussian_noise, label_flip, free_ride."
        ),
    ] = "sign_flip",
    report: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the HTML report [default: HOME/report.html, "
            "or ./ledgerml-demo-report.html for a temporary home]."
        ),
    ] = None,
    ledger_kind: Annotated[
        str,
        typer.Option(
            "--ledger",
            help="sqlite: the embedded ledger; evm: the Vyper contracts on a local anvil node the demo starts "
            "(state in HOME/node) and stops.",
        ),
    ] = "sqlite",
    json_out: JsonOption = False,
) -> None:
    """Run the federated scenario end to end in a fresh ledger home (temporary unless --home is given)."""
    if ledger_kind not in ("sqlite", "evm"):
        raise ConfigError(f"--ledger is sqlite or evm, not {ledger_kind!r}")
    from ..federated.apps import run_in_process
    from ..federated.audit import audit_task
    from ..federated.report import write_report
    from ..federated.runner import FederationConfig, load_plan, register_final_model, round_history, setup_federation
    from ..incentives import audit_rewards, load_validation
    from ..provenance import verify_model
    from ..tasks import task

    started = time.perf_counter()
    root = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="ledgerml-demo-"))
    target = Home(root)
    if target.exists():
        raise AlreadyExists(f"{target.path} holds a ledger home already; the demo needs a fresh folder")
    report_path = report or (target.path / "report.html" if home is not None else Path("ledgerml-demo-report.html"))
    say = (lambda *a, **k: None) if json_out else console.print
    err_console.print("[yellow]note[/]: demo identities are stored UNENCRYPTED; never do this with real keys")
    node_started = False
    try:
        evm_rpc = None
        if ledger_kind == "evm":
            from .node import launch

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            pid, evm_rpc, chain_id = launch(target.path, port)
            node_started = True
            say(f"anvil started (pid {pid}) at {evm_rpc}, chain id {chain_id}; the ledger runs in its contracts")
        _, admin = target.init(
            admin_name="admin",
            unencrypted=True,
            ledger_name="hospital-consortium",
            evm_rpc=evm_rpc,
            dev_funding=evm_rpc is not None,
        )
        auditor = target.keys.create("auditor", None, unencrypted=True)
        ledger = target.open_ledger()
        try:
            ledger.submit(admin, RoleGranted(subject=auditor.address, role=Role.AUDITOR))
        finally:
            ledger.close()
        say(
            f"[bold]ledgerml demo[/]: 5 hospitals, hospital '{HOSPITALS[ATTACKER]}' attacks ({attack}); "
            f"home {target.path}"
        )
        common: dict[str, Any] = {
            "dataset": "digits",
            "participants": 5,
            "names": HOSPITALS,
            "partition": "dirichlet",
            "alpha": 1.0,
            "rounds": rounds,
            "epochs": 2,
            "lr": 0.5,
            "min_participants": 2,
        }
        plans = {
            "clean": FederationConfig(task_id="clean-fedavg", rule="fedavg", **common),
            "attacked": FederationConfig(
                task_id="attacked-fedavg", rule="fedavg", attack=attack, attackers=[ATTACKER], **common
            ),
            "robust": FederationConfig(
                task_id="attacked-multikrum",
                rule="multi_krum",
                rule_params={"f": 1},
                attack=attack,
                attackers=[ATTACKER],
                reward_pool=1000 * rounds,
                stake=100,
                initial_tokens=100,
                slash_on=["not selected by", "update norm", "non-finite"],
                slash_amount=25,
                **common,
            ),
        }
        labels = {
            "clean": "FedAvg, no attacker (reference)",
            "attacked": "FedAvg under attack (baseline)",
            "robust": "Multi-Krum under attack (robust)",
        }
        histories: dict[str, list[dict[str, Any]]] = {}
        for key, plan in plans.items():
            setup_federation(target, plan, unencrypted=True)
            run_in_process(target, plan.task_id, on_round=_ticker(say, labels[key], rounds, json_out))
            histories[key] = round_history(target, plan.task_id)
        model_id, attestation = register_final_model(target, plans["robust"].task_id)
        say(f"final robust model registered: {model_id[:23]}… with lineage; attestation {attestation.name}")

        checks: list[list[Any]] = []
        ledger = target.open_ledger(as_validator=False)
        try:
            verified = ledger.verify()
            checks.append(
                [
                    "ledger",
                    "PASS" if verified.ok else "FAIL",
                    f"{verified.events_checked} events, {verified.blocks_checked} blocks",
                ]
            )
            for plan in plans.values():
                audit = audit_task(ledger, target.store(), plan.task_id)
                checks.append(
                    [
                        f"rounds of {plan.task_id}",
                        "PASS" if audit.ok else "FAIL",
                        f"{len(audit.rounds)} rounds replayed from stored updates",
                    ]
                )
            model_report = verify_model(
                ledger,
                target.store(),
                target.path / "federations" / plans["robust"].task_id / "final-model.safetensors",
                attestation,
            )
            for check in model_report.checks:
                checks.append([f"model: {check.name}", "PASS" if check.ok else "FAIL", check.detail])
            record = task(ledger.state(), plans["robust"].task_id)
            assert record is not None
            validation = load_validation(load_plan(target, plans["robust"].task_id)["validation"], record)
            reward_problems = audit_rewards(ledger, target.store(), plans["robust"].task_id, validation)
            checks.append(
                [
                    "rewards of attacked-multikrum",
                    "FAIL" if reward_problems else "PASS",
                    "; ".join(reward_problems) or "every contribution, payout and slash recomputed",
                ]
            )
            payouts = _payouts(ledger.state(), plans["robust"].task_id)
            kinds = Counter(stored.event.kind for stored in ledger.events())
            names: dict[str, str] = {target.keys.info(n).address: n for n in HOSPITALS}
        finally:
            ledger.close()
        for name, result, detail in checks:
            say(f"  auditor: {result} {name}: {detail}", highlight=False)
        final = {key: h[-1]["metrics"]["val_accuracy"] for key, h in histories.items()}
        attacker_address = next(a for a, n in names.items() if n == HOSPITALS[ATTACKER])
        robust_rejections = sum(attacker_address in r["rejected"] for r in histories["robust"])
        summary: list[list[Any]] = [
            ["validation accuracy, no attacker", f"{final['clean']:.3f}"],
            ["validation accuracy, FedAvg under attack", f"{final['attacked']:.3f}"],
            ["validation accuracy, Multi-Krum under attack", f"{final['robust']:.3f}"],
            [
                f"rounds in which {HOSPITALS[ATTACKER]}'s update was rejected (robust run)",
                f"{robust_rejections} of {rounds}",
            ],
            *[
                [f"{names.get(a, a)}: reward / slashed / balance", f"{p['reward']} / {p['slashed']} / {p['balance']}"]
                for a, p in sorted(payouts.items(), key=lambda item: names.get(item[0], item[0]))
            ],
            ["events on the ledger", sum(kinds.values())],
            ["all audit checks pass", all(c[1] == "PASS" for c in checks)],
            ["seconds", f"{time.perf_counter() - started:.1f}"],
        ]
        write_report(
            report_path,
            title="ledgerml demo: federated training among five hospitals",
            runs={labels[k]: v for k, v in histories.items()},
            names=names,
            robust=labels["robust"],
            kinds=kinds,
            summary=summary,
            checks=checks,
            payouts=[
                [names.get(a, a), p["contribution"], p["reward"], p["slashed"], p["balance"]]
                for a, p in sorted(payouts.items(), key=lambda item: names.get(item[0], item[0]))
            ],
        )
    finally:
        if node_started:
            from .node import shutdown

            shutdown(target.path)
        if home is None:
            shutil.rmtree(target.path, ignore_errors=True)
    ok = all(c[1] == "PASS" for c in checks)
    if json_out:
        emit_json(
            {
                "payouts": payouts,
                "final_accuracy": final,
                "attacker_rejected_rounds": robust_rejections,
                "rounds": rounds,
                "checks": [{"check": c[0], "result": c[1], "detail": c[2]} for c in checks],
                "events": sum(kinds.values()),
                "report": str(report_path),
                "model_id": model_id,
                "seconds": round(time.perf_counter() - started, 2),
                "home": str(target.path) if home else None,
            }
        )
    else:
        table("demo summary", ["what", "value"], summary)
        console.print(f"report: {report_path}")
    if not ok:
        raise TamperDetected("an audit check failed; see the report")


def _ticker(say: Any, label: str, rounds: int, quiet: bool) -> Any:
    """A per-round progress line (a rich bar when on a terminal)."""
    if quiet or not err_console.is_terminal:
        return lambda outcome: None
    from rich.progress import Progress

    progress = Progress(console=err_console, transient=True)
    task = progress.add_task(label, total=rounds)
    progress.start()

    def tick(outcome: Any) -> None:
        progress.advance(task)
        if progress.finished:
            progress.stop()
            say(f"{label}: {rounds} rounds, final validation accuracy {outcome.metrics.get('val_accuracy', 0):.3f}")

    return tick


def _payouts(state: Any, task_id: str) -> dict[str, dict[str, int]]:
    """Per participant: summed contribution (micro-accuracy), reward, slashed tokens, balance."""
    from ..tasks import participants
    from ..tokens import balance

    result: dict[str, dict[str, int]] = {}
    for address in participants(state, task_id):
        contribution = reward = 0
        for (t, _), (contributions, payments, _) in state.rows("rewards").items():
            if t == task_id:
                contribution += dict(contributions).get(address, 0)
                reward += dict(payments).get(address, 0)
        slashed = sum(v[0] for (t, _, a), v in state.rows("slashes").items() if t == task_id and a == address)
        result[address] = {
            "contribution": contribution,
            "reward": reward,
            "slashed": slashed,
            "balance": balance(state, address),
        }
    return result

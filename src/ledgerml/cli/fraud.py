"""``ledgerml fraud train|score|explain|evaluate``: detect illicit accounts; models are registered on the
ledger with their training data's fingerprint and cross-validated metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .._extras import require
from ..errors import ConfigError
from ._common import (
    AsOption,
    HomeOption,
    JsonOption,
    check_out,
    console,
    emit_json,
    home_of,
    progress_bar,
    table,
    write_output,
)

app = typer.Typer(help="Fraud detection on Ethereum accounts.", no_args_is_help=True)

UnregisteredOption = Annotated[
    bool,
    typer.Option(
        "--unregistered",
        help="Use a model folder that is not registered on this ledger (its files are still checked).",
    ),
]
MissingOption = Annotated[
    str,
    typer.Option(help="Missing values: native (trees decide), zero (fill 0), indicator (fill 0 + is-missing columns)."),
]
SchemaOption = Annotated[
    str,
    typer.Option(
        help="Features to train on: table (every numeric column) or transactions (only the columns "
        "'fraud features' computes, so the model can score its output)."
    ),
]


def _needs_analytics(command: str, *, trees: bool = True) -> None:
    """One line naming the extra when pandas, scikit-learn or LightGBM is missing."""
    modules = ("pandas", "sklearn", "lightgbm") if trees else ("pandas", "scipy")
    require(*modules, extra="analytics", purpose=f"'ledgerml fraud {command}'")


def _metrics_table(title: str, result: dict[str, Any]) -> None:
    rows = [
        [
            i + 1,
            *[f"{r[k]:.4f}" for k in ("f1", "pr_auc", "roc_auc", "precision", "recall")],
            f"{r['train_seconds']:.1f}",
        ]
        for i, r in enumerate(result["folds"])
    ]
    rows.append(
        [
            "mean",
            *[f"{result['mean_' + k]:.4f}" for k in ("f1", "pr_auc", "roc_auc", "precision", "recall")],
            f"{result['mean_train_seconds']:.1f}",
        ]
    )
    table(title, ["fold", "F1 (illicit)", "PR-AUC", "ROC-AUC", "precision", "recall", "train s"], rows)


def load_checked_model(model: Path, home: str | None, unregistered: bool) -> Any:
    """Load a ``fraud train`` folder checked against the home's ledger (see ``load_fraud_detector``)."""
    from ..analytics.workflows import load_fraud_detector

    return load_fraud_detector(model, home_of(home), unregistered=unregistered)


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Labelled account table (FLAG column).")],
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    missing: MissingOption = "native",
    schema: SchemaOption = "table",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grouped stratified k-fold report (duplicated addresses stay in one fold)."""
    _needs_analytics("evaluate")
    from ..analytics.workflows import evaluate_fraud_detector

    with progress_bar("cross-validating (folds)", enabled=not json_out) as update:
        evaluation = evaluate_fraud_detector(data, folds=folds, missing=missing, schema=schema, progress=update)
    if json_out:
        emit_json(evaluation.cross_validation)
    else:
        title = f"{folds}-fold grouped evaluation of {data.name} ({evaluation.accounts} accounts)"
        _metrics_table(title, evaluation.cross_validation)


@app.command("train")
def train(
    data: Annotated[Path, typer.Option("--data", help="Labelled account table (FLAG column).")],
    model_out: Annotated[Path, typer.Option("--model-out", help="Folder to write the model into.")],
    missing: MissingOption = "native",
    folds: Annotated[int, typer.Option(help="Number of cross-validation folds.")] = 5,
    schema: SchemaOption = "table",
    register: Annotated[bool, typer.Option(help="Register the model (and its data) on the ledger.")] = True,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write an HTML report (date, version, ledger id, folds).")
    ] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cross-validate, train on everything, save, and register the model with its data and metrics.

    Registering signs with --as (default: the home's default identity), which needs the trainer role and, while
    the data is not registered yet, data_owner; both are checked before training starts."""
    _needs_analytics("train")
    from ..analytics.workflows import train_fraud_detector, write_training_report

    check_out(report, "--report")

    with progress_bar("training (folds, then the final fit)", enabled=not json_out) as update:
        trained = train_fraud_detector(
            data,
            model_out,
            missing=missing,
            folds=folds,
            schema=schema,
            home=home_of(home) if register else None,
            acting=acting,
            progress=update,
        )
    if report is not None:
        settings = {"missing": missing, "folds": folds, "schema": schema, "register": register}
        target = home_of(home) if register else None
        write_training_report(trained, data, report, home=target, command="ledgerml fraud train", settings=settings)
    if json_out:
        extra = {"report": str(report)} if report else {}
        emit_json(
            {
                "model": str(model_out),
                "model_id": trained.model_id,
                **trained.summary,
                "threshold": trained.threshold,
                **extra,
            }
        )
    else:
        _metrics_table(f"cross-validation ({folds} grouped folds)", trained.cross_validation)
        console.print(
            f"model saved to {model_out}; threshold {trained.threshold:.4f}"
            + (f"; registered as {trained.model_id}" if trained.model_id else "")
            + (f"; report {report}" if report else "")
        )


@app.command("score")
def score(
    data: Annotated[Path, typer.Option("--data", help="Account table (no label needed).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: Address,score,flagged.")],
    model: Annotated[Path | None, typer.Option("--model", help="A folder written by 'fraud train'.")] = None,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised", help="No model: flag outliers with an IsolationForest fitted on these accounts."
        ),
    ] = False,
    unregistered: UnregisteredOption = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score accounts: calibrated probability of being illicit and the flag at the chosen threshold (or, with
    --unsupervised, an anomaly score in [0, 1] and the forest's outlier flag)."""
    _needs_analytics("score")
    from ..analytics.workflows import keep_score_report, score_report

    if (model is None) == (not unsupervised):
        raise ConfigError("give either --model DIR or --unsupervised")
    check_out(out)
    found = home_of(home)
    frame, document = score_report(data, model, found, out=out, unregistered=unregistered)
    write_output(out, frame.to_csv(index=False).encode())
    kept = keep_score_report(found, document)
    if json_out:
        emit_json(document)
    else:
        console.print(
            f"scored {len(frame)} accounts, {document['flagged']} flagged; wrote {out}"
            + (f"; report {kept}" if kept else "")
        )


@app.command("explain")
def explain(
    model: Annotated[Path, typer.Option("--model", help="A folder written by 'fraud train'.")],
    data: Annotated[Path, typer.Option("--data", help="Account table.")],
    address: Annotated[str, typer.Option("--address", help="The account to explain.")],
    top: Annotated[int, typer.Option(help="How many features to show.")] = 10,
    unregistered: UnregisteredOption = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """What drove one account's score: TreeSHAP contributions (log-odds) of its features."""
    _needs_analytics("explain")
    from ..analytics.workflows import explain_account

    found = explain_account(model, data, address, home_of(home), top=top, unregistered=unregistered)
    if json_out:
        emit_json(
            {
                "address": found.address,
                "score": found.score,
                "flagged": found.flagged,
                "base_log_odds": found.base_log_odds,
                "contributions": [
                    {"feature": c.feature, "log_odds": c.log_odds, "value": c.value} for c in found.contributions
                ],
            }
        )
        return
    table(
        f"{address}: score {found.score:.3f} ({'flagged' if found.flagged else 'not flagged'}); "
        f"base log-odds {found.base_log_odds:.2f}",
        ["feature", "value", "contribution (log-odds)"],
        [[c.feature, c.value, f"{c.log_odds:+.3f}"] for c in found.contributions],
    )


@app.command("features")
def features(
    out: Annotated[Path, typer.Option("--out", help="Account table (CSV) to write.")],
    transactions: Annotated[
        Path | None,
        typer.Option(
            "--transactions", help="Transactions CSV/Parquet: from, to, value (ether), timestamp [, contract_creation]."
        ),
    ] = None,
    rpc: Annotated[str | None, typer.Option("--rpc", help="An EVM node's JSON-RPC URL.")] = None,
    ledger: Annotated[bool, typer.Option("--ledger", help="This ledger home's own events (actors' activity).")] = False,
    from_block: Annotated[int, typer.Option("--from-block", help="First block (with --rpc).")] = 0,
    to_block: Annotated[int | None, typer.Option("--to-block", help="Last block \\[default: latest].")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Turn raw transactions (a file, or blocks from a node - resumable) into account features."""
    _needs_analytics("features", trees=False)
    from ..analytics.features import account_features, read_transactions
    from ..analytics.rpc import fetch_transactions

    if sum(x is not None for x in (transactions, rpc)) + int(ledger) != 1:
        raise ConfigError("give exactly one of --transactions FILE, --rpc URL, --ledger")
    check_out(out)
    if ledger:
        from ..analytics.ledger_source import ledger_transactions

        with home_of(home).open_ledger(as_validator=False) as backend:
            frame = ledger_transactions(backend)
    elif transactions is not None:
        frame = read_transactions(transactions)
    else:
        assert rpc is not None
        checkpoint = out.with_name(out.name + ".transactions.csv")
        with progress_bar("fetching blocks", enabled=not json_out) as update:
            frame = fetch_transactions(rpc, from_block, to_block, checkpoint=checkpoint, progress=update)
    accounts = account_features(frame)
    write_output(out, accounts.to_csv(index=False).encode())
    if json_out:
        emit_json({"transactions": len(frame), "accounts": len(accounts), "out": str(out)})
    else:
        console.print(f"{len(frame)} transactions -> {len(accounts)} accounts; wrote {out}")


@app.command("synthetic")
def synthetic(
    out: Annotated[Path, typer.Option("--out", help="Labelled account table (CSV, FLAG = 1 for planted accounts).")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed (>= 0): another seed, another world.")] = 0,
    accounts: Annotated[int, typer.Option(help="Ordinary accounts (planted laundering groups come on top).")] = 150,
    transactions: Annotated[int, typer.Option(help="Ordinary transactions among them.")] = 1500,
    groups: Annotated[int, typer.Option(help="Planted groups per laundering pattern (5 patterns).")] = 3,
    transactions_out: Annotated[
        Path | None, typer.Option("--transactions-out", help="Also write the raw transactions (CSV).")
    ] = None,
    send: Annotated[
        str | None,
        typer.Option("--send", help="Also send the transfers to a development node (anvil) at this JSON-RPC URL."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Generate transactions with planted laundering patterns (fan-in, fan-out, peel chains, cycles,
    scatter-gather) among ordinary trades, and write their labelled account table - data to try the pipeline on."""
    _needs_analytics("synthetic", trees=False)
    from ..analytics.synthetic import generate, labelled_accounts, send_to_dev_node

    for option, value, low, high in (
        ("--accounts", accounts, 2, 10_000),
        ("--transactions", transactions, 1, 100_000),
        ("--groups", groups, 1, 100),
    ):
        if not low <= value <= high:
            raise ConfigError(f"{option} must be from {low} to {high:,}, not {value}")
    check_out(out)
    check_out(transactions_out, "--transactions-out")
    world = generate(
        ordinary_accounts=accounts, ordinary_transactions=transactions, groups_per_pattern=groups, seed=seed
    )
    table_ = labelled_accounts(world)
    sent = 0
    if send is not None:
        with progress_bar(f"sending to {send}", enabled=not json_out) as update:
            sent = send_to_dev_node(send, world, progress=update)
    write_output(out, table_.to_csv(index=False).encode())
    if transactions_out is not None:
        write_output(transactions_out, world.transactions.to_csv(index=False).encode(), "--transactions-out")
    summary = {"accounts": len(table_), "illicit": int(table_["FLAG"].sum()), "transactions": len(world.transactions)}
    if json_out:
        emit_json({**summary, "sent": sent, "out": str(out)})
    else:
        console.print(
            f"{summary['transactions']} transactions, {summary['accounts']} accounts ({summary['illicit']} planted "
            f"illicit); wrote {out}" + (f"; sent {sent} transfers to {send}" if send else "")
        )

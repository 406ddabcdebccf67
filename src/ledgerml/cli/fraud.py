"""``ledgerml fraud train|score|explain|evaluate``: detect illicit accounts; models are registered on the
ledger with their training data's fingerprint and cross-validated metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ._common import AsOption, HomeOption, JsonOption, check_out, console, emit_json, home_of, table, write_output

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
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grouped stratified k-fold report (duplicated addresses stay in one fold)."""
    from ..analytics.workflows import evaluate_fraud_detector

    evaluation = evaluate_fraud_detector(data, folds=folds, missing=missing)
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
    register: Annotated[bool, typer.Option(help="Register the model (and its data) on the ledger.")] = True,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cross-validate, train on everything, save, and register the model with its data and metrics."""
    from ..analytics.workflows import train_fraud_detector

    trained = train_fraud_detector(
        data, model_out, missing=missing, folds=folds, home=home_of(home) if register else None, acting=acting
    )
    if json_out:
        emit_json(
            {"model": str(model_out), "model_id": trained.model_id, **trained.summary, "threshold": trained.threshold}
        )
    else:
        _metrics_table(f"cross-validation ({folds} grouped folds)", trained.cross_validation)
        console.print(
            f"model saved to {model_out}; threshold {trained.threshold:.4f}"
            + (f"; registered as {trained.model_id}" if trained.model_id else "")
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
    from ..analytics.workflows import score_accounts

    if (model is None) == (not unsupervised):
        raise ConfigError("give either --model DIR or --unsupervised")
    check_out(out)
    frame = score_accounts(data, model, home_of(home), unregistered=unregistered)
    write_output(out, frame.to_csv(index=False).encode())
    if json_out:
        emit_json({"accounts": len(frame), "flagged": int(frame["flagged"].sum()), "out": str(out)})
    else:
        console.print(f"scored {len(frame)} accounts, {int(frame['flagged'].sum())} flagged; wrote {out}")


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
    to_block: Annotated[int | None, typer.Option("--to-block", help="Last block [default: latest].")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Turn raw transactions (a file, or blocks from a node - resumable) into account features."""
    from ..analytics.features import account_features, read_transactions
    from ..analytics.rpc import fetch_transactions
    from ._common import progress_bar

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

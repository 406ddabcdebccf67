"""``ledgerml fraud train|score|explain|evaluate``: detect illicit accounts; models are registered on the
ledger with their training data's fingerprint and cross-validated metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError, NotFound, StorageError
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, table
from ._provenance import check_out, write_text_atomic

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
    """Load a ``fraud train`` folder: its digest must be a model registered on the home's ledger (unless
    ``unregistered``), and both files are validated before LightGBM parses them (in a child process first)."""
    from ..analytics.detector import FraudDetector, read_detector_files
    from ..provenance.manifest import FileEntry, Manifest
    from ..state import model as registered_model
    from ..types import Digest

    files = read_detector_files(model)
    if not unregistered:
        manifest = Manifest(
            tuple(FileEntry(name, Digest.sha256(data).hex, len(data)) for name, data in sorted(files.items()))
        )
        model_id = str(manifest.digest)
        ledger = home_of(home).open_ledger(as_validator=False)
        try:
            record = registered_model(ledger.state(), model_id)
        finally:
            ledger.close()
        if record is None:
            raise NotFound(
                f"{model} ({model_id}) is not a model registered on this ledger: changed since 'fraud train', "
                "or never registered; --unregistered uses it anyway"
            )
    return FraudDetector.from_files(files, source=str(model))


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Labelled account table (FLAG column).")],
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    missing: MissingOption = "native",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grouped stratified k-fold report (duplicated addresses stay in one fold)."""
    from ..analytics import FraudDetector, cross_validate, read_accounts

    if folds < 2:
        raise ConfigError("--folds must be at least 2")
    accounts = read_accounts(data, require_label=True)
    result = cross_validate(accounts, lambda: FraudDetector(missing=missing), folds=folds)
    if json_out:
        emit_json(result)
    else:
        _metrics_table(f"{folds}-fold grouped evaluation of {data.name} ({len(accounts.addresses)} accounts)", result)


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
    from ..analytics import FraudDetector, cross_validate, read_accounts

    if model_out.exists() and not model_out.is_dir():
        raise StorageError(f"--model-out {model_out} is a file; name a folder to create")
    if model_out.exists() and any(model_out.iterdir()):
        raise ConfigError(f"{model_out} exists and is not empty")
    if not model_out.parent.is_dir():
        raise StorageError(f"--model-out {model_out}: the folder {model_out.parent} does not exist")
    if folds < 2:
        raise ConfigError("--folds must be at least 2")
    accounts = read_accounts(data, require_label=True)
    result = cross_validate(accounts, lambda: FraudDetector(missing=missing), folds=folds)
    assert accounts.labels is not None
    detector = FraudDetector(missing=missing).fit(accounts.features, accounts.labels)
    summary = {k: v for k, v in result.items() if k.startswith("mean_")}
    model_id = None
    created = not model_out.exists()
    try:
        model_id = _save_and_register(detector, result, summary, data, model_out, register, home, acting)
    except BaseException:
        if created:
            shutil.rmtree(model_out, ignore_errors=True)  # nothing half-written is left behind
        raise
    if json_out:
        emit_json({"model": str(model_out), "model_id": model_id, **summary, "threshold": detector.threshold_})
    else:
        _metrics_table(f"cross-validation ({folds} grouped folds)", result)
        console.print(
            f"model saved to {model_out}; threshold {detector.threshold_:.4f}"
            + (f"; registered as {model_id}" if model_id else "")
        )


def _save_and_register(
    detector: Any,
    result: dict[str, Any],
    summary: dict[str, Any],
    data: Path,
    model_out: Path,
    register: bool,
    home: str | None,
    acting: str | None,
) -> str | None:
    """Save the trained detector and (``register``) register its data and the model folder; the model id."""
    from ..provenance import build_manifest, register_dataset, register_model
    from ..state import dataset

    model_id = None
    if register:
        target = home_of(home)
        identity = target.identity(acting)
        ledger = target.open_ledger()
        try:
            data_id = str(build_manifest(data).digest)
            if dataset(ledger.state(), data_id) is None:
                register_dataset(ledger, target.store(), identity, data, license="see the data's source")
            detector.save(model_out, {"training_data": data_id, "cross_validation": summary})
            metrics = model_out.parent / f".{model_out.name}-metrics.json"
            metrics.write_text(json.dumps(result))
            try:
                model_id = register_model(
                    ledger,
                    target.store(),
                    identity,
                    model_out,
                    trained_on=[data_id],
                    metrics=metrics,
                    name=f"fraud detector ({data.name})",
                ).id
            finally:
                metrics.unlink(missing_ok=True)
            if ledger.validator is not None:
                ledger.seal()
        finally:
            ledger.close()
    else:
        detector.save(model_out, {"cross_validation": summary})
    return model_id


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
    import pandas as pd

    from ..analytics import read_accounts
    from ..analytics.anomaly import anomaly_scores

    if (model is None) == (not unsupervised):
        raise ConfigError("give either --model DIR or --unsupervised")
    check_out(out)
    detector = None if model is None else load_checked_model(model, home, unregistered)
    accounts = read_accounts(data, require_label=False)
    if detector is not None:
        p = detector.predict_proba(accounts.features)[:, 1]
        flags = (p >= detector.threshold_).astype(int)
    else:
        p, flags = anomaly_scores(accounts.features)
    frame = pd.DataFrame({"Address": accounts.addresses, "score": p, "flagged": flags})
    write_text_atomic(out, frame.to_csv(index=False))
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
    from ..analytics import read_accounts

    if top < 1:
        raise ConfigError("--top must be at least 1")
    detector = load_checked_model(model, home, unregistered)
    accounts = read_accounts(data, require_label=False)
    matches = accounts.addresses.str.lower() == address.lower()
    if not matches.any():
        raise NotFound(f"address {address} is not in {data}")
    row = accounts.features[matches.to_numpy()].iloc[[0]]
    contributions = detector.explain(row).iloc[0]
    base = float(contributions.pop("(base)"))
    ranked = contributions.reindex(contributions.abs().sort_values(ascending=False).index)[:top]
    p = float(detector.predict_proba(row)[0, 1])
    values = {
        name.removesuffix(" (missing)"): row.iloc[0].get(name.removesuffix(" (missing)")) for name in ranked.index
    }
    if json_out:
        emit_json(
            {
                "address": address,
                "score": p,
                "flagged": p >= detector.threshold_,
                "base_log_odds": base,
                "contributions": [
                    {"feature": k, "log_odds": float(v), "value": values[k.removesuffix(" (missing)")]}
                    for k, v in ranked.items()
                ],
            }
        )
        return
    table(
        f"{address}: score {p:.3f} ({'flagged' if p >= detector.threshold_ else 'not flagged'}); "
        f"base log-odds {base:.2f}",
        ["feature", "value", "contribution (log-odds)"],
        [[k, values[k.removesuffix(" (missing)")], f"{v:+.3f}"] for k, v in ranked.items()],
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
    import pandas as pd

    from ..analytics.features import account_features
    from ..analytics.rpc import fetch_transactions
    from ._common import progress_bar

    if sum(x is not None for x in (transactions, rpc)) + int(ledger) != 1:
        raise ConfigError("give exactly one of --transactions FILE, --rpc URL, --ledger")
    check_out(out)
    if ledger:
        from ..analytics.ledger_source import ledger_transactions

        backend = home_of(home).open_ledger(as_validator=False)
        try:
            frame = ledger_transactions(backend)
        finally:
            backend.close()
    elif transactions is not None:
        if not transactions.is_file():
            raise NotFound(f"no file {transactions}")
        try:
            frame = pd.read_parquet(transactions) if transactions.suffix == ".parquet" else pd.read_csv(transactions)
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ConfigError(f"{transactions} is not a readable table: {exc}") from None
    else:
        assert rpc is not None
        checkpoint = out.with_name(out.name + ".transactions.csv")
        with progress_bar("fetching blocks", enabled=not json_out) as update:
            frame = fetch_transactions(rpc, from_block, to_block, checkpoint=checkpoint, progress=update)
    accounts = account_features(frame)
    write_text_atomic(out, accounts.to_csv(index=False))
    if json_out:
        emit_json({"transactions": len(frame), "accounts": len(accounts), "out": str(out)})
    else:
        console.print(f"{len(frame)} transactions -> {len(accounts)} accounts; wrote {out}")

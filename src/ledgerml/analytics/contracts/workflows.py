"""Contract-scanner workflows: train (on the SolidiFI training split only), save and register the model with the
training split's fingerprint; load a model checked against the ledger; record a signed scan report."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import check_model_out, read_registered_folder, save_and_register
from .model import MODEL_FOLDER, ContractModel
from .scan import ScanReport
from .solidifi import TRAIN_CONTRACTS, LabelledContract, load_contracts, split_by_contract
from .training import training_rows

if TYPE_CHECKING:
    from ...home import Home

SPLIT = "SolidiFI buggy_1..buggy_25 of every bug type (buggy_26..50 are the test split)"


@dataclass(frozen=True)
class ContractTrainingResult:
    """A trained, saved and (with a home) registered contract model."""

    model: Path
    model_id: str | None
    training_data: str
    metrics: dict[str, Any]


def stage_training_split(contracts: list[LabelledContract], folder: Path) -> Path:
    """Copy the training contracts and their bug logs into ``folder`` (its fingerprint is the training data's)."""
    for contract in contracts:
        target = folder / contract.folder
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(contract.path, target / contract.path.name)
        log = contract.path.parent / f"BugLog_{contract.number}.csv"
        shutil.copyfile(log, target / log.name)
    return folder


def train_contract_detector(
    data: Path, model_out: Path, *, home: Home | None = None, acting: str | None = None, **params: Any
) -> ContractTrainingResult:
    """Train on the training split of the SolidiFI benchmark at ``data``, save to ``model_out`` and, with a
    ``home``, register the staged training split (if new) and the model. Nothing half-written is left."""
    from ...provenance.manifest import build_manifest

    check_model_out(model_out)
    train, _ = split_by_contract(load_contracts(data))
    features, labels = training_rows(train)
    model = ContractModel(**params).fit(features, labels)
    metrics = {
        "training_units": len(labels),
        "units_by_class": dict(sorted(Counter(labels).items())),
        "training_contracts": len(train),
        "split": SPLIT,
    }
    with tempfile.TemporaryDirectory(prefix="ledgerml-solidifi-train-") as tmp:
        staged = stage_training_split(train, Path(tmp) / "solidifi-train")
        fingerprint = str(build_manifest(staged).digest)

        def save(data_id: str | None) -> None:
            model.save(
                model_out,
                {
                    "training_data": data_id or fingerprint,
                    "training_split": SPLIT,
                    "training_contracts": [c.name for c in train],
                },
            )

        model_id = save_and_register(
            save,
            model_out,
            data=staged,
            metrics=metrics,
            name="contract vulnerability model (SolidiFI train split)",
            home=home,
            acting=acting,
        )
    return ContractTrainingResult(model_out, model_id, fingerprint, metrics)


def load_contract_model(folder: Path, home: Home, *, unregistered: bool = False) -> ContractModel:
    """A ``contracts train`` folder whose digest is a model registered on the home's ledger (unless
    ``unregistered``)."""
    files = read_registered_folder(folder, MODEL_FOLDER, home, unregistered=unregistered)
    return ContractModel.from_files(files, source=str(folder))


def record_scan(report: ScanReport, home: Home, *, acting: str | None = None) -> str:
    """Sign and append a ``ScanRecorded`` event for ``report``; returns its event id."""
    from ...vocab.scans import ScanRecorded

    payload = ScanRecorded(
        contracts_digest=report.contracts_digest(),
        findings_digest=report.findings_digest(),
        model_id=report.model_id,
        files=len(report.files),
        findings=len(report.findings),
        errors=len(report.errors),
        detectors=[f"{name}: {state}"[:256] for name, state in sorted(report.detectors.items())],
    )
    identity = home.identity(acting)
    with home.open_ledger() as ledger:
        receipt = ledger.submit(identity, payload)
        if ledger.validator is not None:
            ledger.seal()
    return receipt.event_id


__all__ = [
    "TRAIN_CONTRACTS",
    "ContractTrainingResult",
    "load_contract_model",
    "record_scan",
    "stage_training_split",
    "train_contract_detector",
]

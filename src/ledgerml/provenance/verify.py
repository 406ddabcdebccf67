"""Verification an auditor runs: a model or dataset file against the ledger, record proofs, attestations."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import InvalidProof, LedgerMLError, NotFound, Unauthorized
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ledger.merkle import verify_inclusion
from ..ledger.proofs import InclusionProof, verify_inclusion_proof
from ..state import State, ledger_info
from ..store import ArtifactStore
from ..types import Digest, Role
from ..vocab.core import DatasetRecord, ModelRecord, dataset, holders_of, model
from .attest import dataset_statement, model_statement, open_envelope, sign_statement, subject_digests
from .manifest import Manifest, artifact_digest, build_manifest
from .records import check_values, read_record, record_path, row_leaf, table_leaves, tabular_format


@dataclass
class Check:
    """One line of a verification report."""

    name: str
    ok: bool
    detail: str


@dataclass
class VerificationReport:
    """The outcome of ``verify_model`` / ``verify_dataset``: every check, in order."""

    subject: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True only if there were checks and all passed."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def first_failure(self) -> Check | None:
        """The first failed check, if any."""
        return next((check for check in self.checks if not check.ok), None)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        """Record a check; returns ``ok``."""
        self.checks.append(Check(name, ok, detail))
        return ok

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {
            "subject": self.subject,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def _registration_check(ledger: LedgerBackend, state: State, event_id: str, what: str) -> tuple[bool, str]:
    """The registering event is validly signed and included in the latest block signed by a validator."""
    try:
        stored = ledger.get_event(event_id)
        proof = ledger.inclusion_proof(stored.seq)
        verify_inclusion_proof(InclusionProof.from_dict(proof.to_dict()), set(holders_of(state, Role.VALIDATOR)))
    except LedgerMLError as exc:
        return False, f"{what}: {exc}"
    return True, (
        f"{what}: event {stored.seq} signed by {stored.event.actor}, included in block "
        f"{proof.block.height} (log size {proof.block.log_size}, {len(proof.path)}-hash proof)"
    )


def _lineage_checks(
    ledger: LedgerBackend, state: State, datasets: tuple[str, ...], parents: tuple[str, ...]
) -> tuple[bool, str]:
    """Every dataset and parent model in the lineage (transitively) is registered and its event valid."""
    pending = [("dataset", d) for d in datasets] + [("model", m) for m in parents]
    seen: set[str] = set()
    counts = {"dataset": 0, "model": 0}
    while pending:
        kind, ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        record: Any = dataset(state, ref) if kind == "dataset" else model(state, ref)
        if record is None:
            return False, f"{kind} {ref} in the lineage is not registered"
        ok, detail = _registration_check(ledger, state, record.registered_by, f"{kind} {ref[:19]}…")
        if not ok:
            return False, detail
        counts[kind] += 1
        pending.extend(("dataset", p) for p in getattr(record, "datasets", ()))
        pending.extend((kind, p) for p in record.parents)
    return True, f"{counts['dataset']} dataset(s) and {counts['model']} parent model(s), all registered and included"


def _attestation_check(
    path: str | os.PathLike[str], subject_id: str, registrant: str, expected: Callable[[], dict[str, Any]]
) -> tuple[bool, str]:
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
        envelopes = [loads_bounded(line) for line in lines]
    except (OSError, ValueError) as exc:
        return False, f"cannot read attestation {path}: {exc}"
    for envelope in envelopes:
        try:
            statement, signers = open_envelope(envelope)
        except LedgerMLError as exc:
            return False, str(exc)
        if subject_id not in subject_digests(statement):
            continue
        if registrant not in signers:
            return False, f"attestation is signed by {signers}, not by the registrant {registrant}"
        if canonical_json(statement) != canonical_json(expected()):
            return False, "attestation names this digest but its provenance differs from the ledger's record"
        return True, f"DSSE envelope signed by the registrant {registrant}; statement matches the ledger"
    return False, f"no attestation in {path} names {subject_id}"


def require_inputs(path: str | os.PathLike[str], attestation: str | os.PathLike[str] | None) -> None:
    """``NotFound`` naming the first of ``path`` and ``attestation`` that does not exist."""
    for given in (path, attestation):
        if given is not None and not Path(given).exists():
            raise NotFound(f"{given} does not exist")


def verify_model(
    ledger: LedgerBackend,
    store: ArtifactStore,
    path: str | os.PathLike[str],
    attestation: str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Check a model file or folder against the ledger; see the report's checks. ``NotFound`` (not a failed
    check) when ``path`` or ``attestation`` does not exist: a missing file is no evidence of tampering."""
    require_inputs(path, attestation)
    report = VerificationReport(str(path))
    try:
        model_id = str(artifact_digest(path))
    except LedgerMLError as exc:
        report.add("digest", False, str(exc))
        return report
    state = ledger.state()
    record = model(state, model_id)
    if not report.add(
        "digest",
        record is not None,
        f"{model_id} is registered as {record.name!r} by {record.owner}"
        if record
        else f"{model_id} is not a registered model (changed, or never registered)",
    ):
        return report
    assert record is not None
    report.add("stored copy", *_stored_check(store, model_id, Path(path).is_dir()))
    report.add("registration", *_registration_check(ledger, state, record.registered_by, "model"))
    report.add("lineage", *_lineage_checks(ledger, state, record.datasets, record.parents))
    if attestation is not None:
        expected = partial(statement_for, ledger, state, model_id)
        report.add("attestation", *_attestation_check(attestation, model_id, record.owner, expected))
    return report


def verify_dataset(
    ledger: LedgerBackend,
    store: ArtifactStore,
    path: str | os.PathLike[str],
    attestation: str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Check a dataset file or folder against the ledger (re-fingerprinting it); ``NotFound`` for a missing input."""
    require_inputs(path, attestation)
    report = VerificationReport(str(path))
    try:
        manifest = build_manifest(path)
    except LedgerMLError as exc:
        report.add("digest", False, str(exc))
        return report
    dataset_id = str(manifest.digest)
    state = ledger.state()
    record = dataset(state, dataset_id)
    if not report.add(
        "digest",
        record is not None,
        f"manifest {dataset_id} is registered as {record.name!r} by {record.owner}"
        if record
        else f"manifest {dataset_id} matches no registered dataset (data changed, or never registered)",
    ):
        return report
    assert record is not None
    report.add("stored manifest", *_stored_check(store, dataset_id, False))
    report.add("registration", *_registration_check(ledger, state, record.registered_by, "dataset"))
    report.add("lineage", *_lineage_checks(ledger, state, (), record.parents))
    if attestation is not None:
        expected = partial(statement_for, ledger, state, dataset_id)
        report.add("attestation", *_attestation_check(attestation, dataset_id, record.owner, expected))
    return report


def _stored_check(store: ArtifactStore, artifact_id: str, folder: bool) -> tuple[bool, str]:
    try:
        data = store.get(artifact_id)
        if folder:
            manifest = Manifest.from_dict(loads_bounded(data))
            for entry in manifest.files:
                store.get(Digest("sha256", bytes.fromhex(entry.sha256)))
            return True, f"manifest and {len(manifest.files)} file(s) intact in the artifact store"
    except LedgerMLError as exc:
        return False, str(exc)
    return True, f"{len(data):,} bytes intact in the artifact store"


def statement_for(ledger: LedgerBackend, state: State, subject_id: str) -> dict[str, Any]:
    """The in-toto statement the ledger's records give for a registered model or dataset."""
    info = ledger_info(state)
    assert info is not None
    found_model = model(state, subject_id)
    record: ModelRecord | DatasetRecord | None = found_model or dataset(state, subject_id)
    if record is None:
        raise NotFound(f"{subject_id} is neither a registered model nor a registered dataset")
    stored = ledger.get_event(record.registered_by)
    if isinstance(record, ModelRecord):
        return model_statement(state, record, ledger_id=info.ledger_id, seq=stored.seq, block=stored.block_height)
    return dataset_statement(state, record, ledger_id=info.ledger_id, seq=stored.seq, block=stored.block_height)


def attest(ledger: LedgerBackend, signer: Identity, subject_id: str) -> dict[str, Any]:
    """A signed DSSE envelope for a registered model or dataset; ``signer`` must be its registrant."""
    state = ledger.state()
    statement = statement_for(ledger, state, subject_id)
    registrant = statement["predicate"]["buildDefinition"]["internalParameters"]["registrant"]
    if signer.address != registrant:
        raise Unauthorized(f"only the registrant {registrant} can attest {subject_id}")
    return sign_statement(statement, signer)


# -- record proofs ---------------------------------------------------------------------------------

RECORD_PROOF_FORMAT = "ledgerml-record-proof/v1"


def prove_record(
    path: str | os.PathLike[str],
    row: int,
    *,
    file: str | None = None,
    ledger: LedgerBackend | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Prove that data row ``row`` of a tabular file belongs to the dataset at ``path``.

    The proof carries the manifest (so the dataset id can be recomputed), the record's values and its
    RFC 9162 path to the file's record root; with ``ledger``, also the inclusion proof of the dataset's
    registration, so it verifies offline all the way to a validator's signed block.
    """
    manifest = build_manifest(path, workers=workers)
    root = Path(path)
    relative = file or (manifest.files[0].path if len(manifest.files) == 1 else None)
    if relative is None:
        raise NotFound(f"{path} is a folder: name the table with --file (one of {[e.path for e in manifest.files]})")
    entry = manifest.entry(relative)
    if entry.records is None:
        raise NotFound(f"{relative} is not a tabular file (csv, tsv, parquet)")
    table = root / relative if root.is_dir() else root
    fmt = tabular_format(table)
    assert fmt is not None
    _, leaves = table_leaves(table, fmt, workers)
    if not 0 <= row < len(leaves):
        raise NotFound(f"{relative} has {len(leaves)} records; there is no row {row}")
    proof: dict[str, Any] = {
        "format": RECORD_PROOF_FORMAT,
        "dataset_id": str(manifest.digest),
        "manifest": manifest.to_dict(),
        "file": relative,
        "row": row,
        "values": read_record(table, fmt, row),
        "path": [h.hex() for h in record_path(leaves, row)],
    }
    if ledger is not None:
        record = dataset(ledger.state(), str(manifest.digest))
        if record is None:
            raise NotFound(f"dataset {manifest.digest} is not registered on this ledger")
        proof["registration"] = ledger.inclusion_proof(record.registered_by).to_dict()
    return proof


def check_record_proof(proof: Any, trusted_validators: set[str] | None = None) -> dict[str, Any]:
    """Verify a record proof without the data; returns a summary. Raises ``InvalidProof`` on any failure."""
    try:
        if proof.get("format") != RECORD_PROOF_FORMAT:
            raise InvalidProof(f"not a {RECORD_PROOF_FORMAT} document")
        manifest = Manifest.from_dict(proof["manifest"])
        values = check_values(proof["values"])
        row = int(proof["row"])
        path = [bytes.fromhex(h) for h in proof["path"]]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidProof(f"malformed record proof: {exc!r}") from None
    except LedgerMLError as exc:
        raise InvalidProof(f"malformed record proof: {exc}") from None
    if str(manifest.digest) != proof["dataset_id"]:
        raise InvalidProof("the manifest does not hash to the stated dataset id")
    try:
        entry = manifest.entry(proof["file"])
    except NotFound as exc:
        raise InvalidProof(str(exc)) from None
    if entry.records is None:
        raise InvalidProof(f"{entry.path} has no record root in the manifest")
    verify_inclusion(row_leaf(values), row, entry.records.count, path, bytes.fromhex(entry.records.root))
    summary: dict[str, Any] = {
        "dataset_id": proof["dataset_id"],
        "file": entry.path,
        "row": row,
        "columns": list(entry.records.columns),
        "values": values,
        "registered": None,
    }
    registration = proof.get("registration")
    if registration is not None:
        event = verify_inclusion_proof(InclusionProof.from_dict(registration), trusted_validators)
        if event.kind != "DatasetRegistered" or event.payload.get("dataset_id") != proof["dataset_id"]:
            raise InvalidProof("the registration proof is for another event than this dataset's registration")
        summary["registered"] = {"by": event.actor, "event": event.id, "block": registration["block"]["height"]}
    return summary

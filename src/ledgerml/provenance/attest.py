"""Attestations: in-toto Statement v1 with an SLSA Provenance v1 predicate, in a DSSE envelope.

The envelope is signed by the registrant's key: ``sig`` is the EIP-191 signature over SHA-256 of the DSSE
pre-authentication encoding ``PAE(payloadType, payload)``, and ``keyid`` is the signer's Ethereum address,
so the same key that signed the ledger event signs the attestation and either can be checked with
``ecrecover``.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import InvalidSignature, LedgerMLError
from ..identity import Identity, recover_signer
from ..state import State
from ..types import Address
from ..vocab.core import DatasetRecord, ModelRecord, dataset, model

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
MODEL_BUILD_TYPE = "https://ledgerml.dev/build/model-registration/v1"
DATASET_BUILD_TYPE = "https://ledgerml.dev/build/dataset-registration/v1"


class InvalidAttestation(LedgerMLError, ValueError):
    """An attestation is malformed, wrongly signed, or about something else."""

    exit_code = 32


def builder_id() -> str:
    """The SLSA builder id: ledgerml and its version."""
    from .. import __version__

    return f"https://ledgerml.dev/builder/ledgerml@{__version__}"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hex(digest_id: str) -> str:
    return digest_id.split(":", 1)[1]


def _position(ledger_id: str, seq: int, event_id: str, block: int | None) -> dict[str, Any]:
    return {
        "name": "ledger-event",
        "uri": f"ledgerml://{ledger_id}/events/{seq}",
        "digest": {"sha256": _hex(event_id)},
        "annotations": {"ledger": ledger_id, "seq": seq, "block": block},
    }


def _dependency(state: State, ref: str, kind: str) -> dict[str, Any]:
    """A resolvedDependencies entry for a registered dataset or model."""
    found: DatasetRecord | ModelRecord | None = dataset(state, ref) if kind == "dataset" else model(state, ref)
    return {
        "name": found.name if found else ref,
        "uri": found.uri if found else "",
        "digest": {"sha256": _hex(ref)},
        "annotations": {"kind": kind},
    }


def model_statement(
    state: State, record: ModelRecord, *, ledger_id: str, seq: int, block: int | None
) -> dict[str, Any]:
    """The in-toto statement for a registered model."""
    dependencies = [_dependency(state, d, "dataset") for d in record.datasets]
    dependencies += [_dependency(state, m, "model") for m in record.parents]
    external: dict[str, Any] = {"name": record.name, "uri": record.uri}
    if record.task is not None:
        external.update(task=record.task, round=record.round)
    if record.metrics_digest is not None:
        external["metrics"] = {"sha256": _hex(record.metrics_digest)}
    return _statement(
        record.name,
        record.model_id,
        MODEL_BUILD_TYPE,
        external,
        dependencies,
        record.owner,
        record.time,
        record.registered_by,
        ledger_id,
        seq,
        block,
    )


def dataset_statement(
    state: State, record: DatasetRecord, *, ledger_id: str, seq: int, block: int | None
) -> dict[str, Any]:
    """The in-toto statement for a registered dataset (its manifest digest is the subject)."""
    dependencies = [_dependency(state, d, "dataset") for d in record.parents]
    external = {"name": record.name, "uri": record.uri, "license": record.license, "consent_note": record.consent_note}
    return _statement(
        record.name,
        record.dataset_id,
        DATASET_BUILD_TYPE,
        external,
        dependencies,
        record.owner,
        record.time,
        record.registered_by,
        ledger_id,
        seq,
        block,
    )


def _statement(
    name: str,
    subject_id: str,
    build_type: str,
    external: dict[str, Any],
    dependencies: list[dict[str, Any]],
    owner: str,
    time_ms: int,
    event_id: str,
    ledger_id: str,
    seq: int,
    block: int | None,
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": _hex(subject_id)}}],
        "predicateType": SLSA_PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": external,
                "internalParameters": {"ledger": ledger_id, "registrant": owner},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": builder_id()},
                "metadata": {"invocationId": event_id, "startedOn": _iso(time_ms), "finishedOn": _iso(time_ms)},
                "byproducts": [_position(ledger_id, seq, event_id, block)],
            },
        },
    }


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_statement(statement: dict[str, Any], signer: Identity) -> dict[str, Any]:
    """Wrap a statement in a DSSE envelope signed by ``signer``."""
    payload = canonical_json(statement)
    digest = hashlib.sha256(pae(PAYLOAD_TYPE, payload)).digest()
    signature = signer.sign_digest(digest)
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": signer.address, "sig": base64.b64encode(signature).decode()}],
    }


def open_envelope(envelope: Any) -> tuple[dict[str, Any], list[Address]]:
    """Check a DSSE envelope's signatures; return the statement and the addresses that validly signed it."""
    try:
        if envelope["payloadType"] != PAYLOAD_TYPE:
            raise InvalidAttestation(f"payloadType must be {PAYLOAD_TYPE}")
        payload = base64.b64decode(envelope["payload"], validate=True)
        statement = loads_bounded(payload)
        signatures = envelope["signatures"]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidAttestation):
            raise
        raise InvalidAttestation(f"malformed DSSE envelope: {exc!r}") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise InvalidAttestation("the envelope does not hold an in-toto Statement v1")
    digest = hashlib.sha256(pae(PAYLOAD_TYPE, payload)).digest()
    signers: list[Address] = []
    for entry in signatures if isinstance(signatures, list) else []:
        try:
            signer = recover_signer(digest, base64.b64decode(entry["sig"], validate=True))
        except (InvalidSignature, KeyError, TypeError, ValueError):
            continue
        if signer == entry.get("keyid"):
            signers.append(signer)
    if not signers:
        raise InvalidAttestation("no valid signature on the envelope")
    return statement, signers


def subject_digests(statement: dict[str, Any]) -> set[str]:
    """``sha256:<hex>`` of every subject of a statement."""
    found = set()
    for subject in statement.get("subject", []):
        value = subject.get("digest", {}).get("sha256") if isinstance(subject, dict) else None
        if isinstance(value, str):
            found.add("sha256:" + value)
    return found

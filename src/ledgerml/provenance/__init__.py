"""Provenance: dataset and model fingerprints, registration with lineage, attestations, verification."""

from .attest import InvalidAttestation, open_envelope, sign_statement
from .manifest import FileEntry, Manifest, RecordSummary, artifact_digest, build_manifest
from .registry import Registration, check_safetensors, lineage, lineage_dot, register_dataset, register_model
from .verify import (
    Check,
    VerificationReport,
    attest,
    check_record_proof,
    prove_record,
    verify_dataset,
    verify_model,
)

__all__ = [
    "Check",
    "FileEntry",
    "InvalidAttestation",
    "Manifest",
    "RecordSummary",
    "Registration",
    "VerificationReport",
    "artifact_digest",
    "attest",
    "build_manifest",
    "check_record_proof",
    "check_safetensors",
    "lineage",
    "lineage_dot",
    "open_envelope",
    "prove_record",
    "register_dataset",
    "register_model",
    "sign_statement",
    "verify_dataset",
    "verify_model",
]

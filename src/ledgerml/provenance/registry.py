"""Register datasets and models on a ledger with their fingerprints, store their artifacts, walk lineage."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NotFound
from ..events import DatasetRegistered, ModelRegistered
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..state import State, dataset, model
from ..store import ArtifactStore
from ..types import Digest
from .manifest import Manifest, build_manifest

MAX_SAFETENSORS_HEADER = 100 << 20


@dataclass(frozen=True)
class Registration:
    """What a registration produced: the id on the ledger, the event that holds it, and its manifest."""

    id: str
    receipt: Receipt
    manifest: Manifest | None


def check_safetensors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and sanity-check a safetensors header without loading tensors; ``ConfigError`` if invalid."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ConfigError(f"{path} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_SAFETENSORS_HEADER, size - 8):
            raise ConfigError(f"{path} is not a safetensors file (header length {length} is impossible)")
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            raise ConfigError(f"{path} is not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ConfigError(f"{path} is not a safetensors file (header is not an object)")
    data_size = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            if not (0 <= start <= end <= data_size) or not isinstance(info["dtype"], str):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{path} is not a valid safetensors file (tensor {name!r} is out of bounds)") from None
    return header


def register_dataset(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    uri: str | None = None,
    license: str = "",
    consent_note: str = "",
    parents: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    workers: int | None = None,
) -> Registration:
    """Fingerprint a file or folder and register it as ``DatasetRegistered`` signed by ``owner``.

    The manifest goes to the artifact store only after the ledger accepted the event; the data stays put.
    """
    target = Path(path)
    manifest = build_manifest(target, workers=workers)
    records = sum(entry.records.count for entry in manifest.files if entry.records is not None)
    payload = DatasetRegistered(
        dataset_id=str(manifest.digest),
        name=name or target.name,
        uri=uri if uri is not None else target.resolve().as_uri(),
        license=license,
        consent_note=consent_note,
        parents=list(parents or []),
        metadata={"files": len(manifest.files), "records": records, **(metadata or {})},
    )
    receipt = ledger.submit(owner, payload)
    store.put(manifest.to_bytes())
    return Registration(payload.dataset_id, receipt, manifest)


def register_model(
    ledger: LedgerBackend,
    store: ArtifactStore,
    trainer: Identity,
    path: str | os.PathLike[str],
    *,
    trained_on: list[str],
    parents: list[str] | None = None,
    metrics: str | os.PathLike[str] | dict[str, Any] | None = None,
    name: str | None = None,
    uri: str | None = None,
    task: str | None = None,
    round: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Registration:
    """Register a safetensors file or a model folder as ``ModelRegistered`` with its lineage, and store it."""
    target = Path(path)
    if not target.exists():
        raise NotFound(f"{target} does not exist")
    manifest: Manifest | None = None
    if target.is_file():
        if target.suffix != ".safetensors":
            raise ConfigError(f"{target}: models are registered as .safetensors files or folders (never pickles)")
        check_safetensors(target)
        from ..store import sha256_file

        model_id = str(sha256_file(target))
    else:
        manifest = build_manifest(target, records=False)
        for entry in manifest.files:
            if entry.path.endswith((".pkl", ".pickle", ".joblib", ".pt", ".pth")):
                raise ConfigError(f"{entry.path}: pickled files are not accepted in a model folder; use safetensors")
            if entry.path.endswith(".safetensors"):
                check_safetensors(target / entry.path)
        model_id = str(manifest.digest)
    metrics_bytes: bytes | None = None
    if metrics is not None:
        if isinstance(metrics, dict):
            from .._canonical import canonical_json

            metrics_bytes = canonical_json(metrics)
        else:
            metrics_bytes = Path(metrics).read_bytes()
            try:
                json.loads(metrics_bytes)
            except ValueError:
                raise ConfigError(f"{metrics} is not a JSON file") from None
    payload = ModelRegistered(
        model_id=model_id,
        name=name or target.stem,
        uri=uri if uri is not None else target.resolve().as_uri(),
        parents=list(parents or []),
        datasets=list(trained_on),
        metrics_digest=None if metrics_bytes is None else str(Digest.sha256(metrics_bytes)),
        task=task,
        round=round,
        metadata=metadata or {},
    )
    receipt = ledger.submit(trainer, payload)
    if manifest is None:
        store.put_file(target)
    else:
        store.put(manifest.to_bytes())
        for entry in manifest.files:
            store.put_file(target / entry.path)
    if metrics_bytes is not None:
        store.put(metrics_bytes)
    return Registration(model_id, receipt, manifest)


def lineage(state: State, model_id: str) -> dict[str, Any]:
    """A model's lineage as nested JSON data: its datasets (with their parents) and parent models."""
    record = model(state, model_id)
    if record is None:
        raise NotFound(f"model {model_id} is not registered")

    def dataset_node(dataset_id: str) -> dict[str, Any]:
        found = dataset(state, dataset_id)
        if found is None:
            return {"type": "dataset", "id": dataset_id, "registered": False}
        return {
            "type": "dataset",
            "id": dataset_id,
            "name": found.name,
            "owner": found.owner,
            "registered": True,
            "parents": [dataset_node(p) for p in found.parents],
        }

    def model_node(current: str) -> dict[str, Any]:
        found = model(state, current)
        if found is None:
            return {"type": "model", "id": current, "registered": False}
        node: dict[str, Any] = {
            "type": "model",
            "id": current,
            "name": found.name,
            "owner": found.owner,
            "registered": True,
            "datasets": [dataset_node(d) for d in found.datasets],
            "parents": [model_node(p) for p in found.parents],
        }
        if found.task is not None:
            node["task"], node["round"] = found.task, found.round
        return node

    return model_node(record.model_id)


def lineage_dot(tree: dict[str, Any]) -> str:
    """Graphviz DOT text for a lineage tree."""
    lines = ["digraph lineage {", "  rankdir=BT;"]
    seen: set[str] = set()

    def visit(node: dict[str, Any]) -> None:
        if node["id"] in seen:
            return
        seen.add(node["id"])
        shape = "box" if node["type"] == "model" else "cylinder"
        label = f"{node.get('name', '?')}\\n{node['id'][:19]}…"
        lines.append(f'  "{node["id"]}" [shape={shape}, label="{label}"];')
        for child in [*node.get("datasets", []), *node.get("parents", [])]:
            lines.append(f'  "{node["id"]}" -> "{child["id"]}";')
            visit(child)

    visit(tree)
    lines.append("}")
    return "\n".join(lines) + "\n"

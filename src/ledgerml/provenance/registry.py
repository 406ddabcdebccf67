"""Register datasets and models on a ledger with their fingerprints, store their artifacts, walk lineage.

Order of work: fingerprint, validate the payload, dry-run the event against a copy of the current state (so a
rejection stores nothing), store the artifacts, and only then append the event. A crash or a full disk between
the store and the append leaves only content-addressed bytes behind, and a retry by the same registrant of a
registration whose event landed but whose artifacts did not fills them in.
"""

from __future__ import annotations

import json
import os
import pickletools
import re
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import read_bounded
from .._json import loads_bounded
from ..errors import ConfigError, MalformedEvent, NotFound
from ..events import Payload, build_payload, sign_event
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..state import State, apply, next_nonce
from ..store import ArtifactStore, sha256_file
from ..types import Digest
from ..vocab.core import DatasetRegistered, ModelRegistered, dataset, model
from .manifest import Manifest, build_manifest

MAX_SAFETENSORS_HEADER = 100 << 20
"""Largest safetensors JSON header read (100 MiB, as the safetensors library itself allows)."""
MAX_SAFETENSORS_HEADER_DEPTH = 8
"""Deepest nesting accepted in a safetensors header (the format itself needs 3 levels)."""
MAX_METRICS_BYTES = 1 << 20
"""Largest ``--metrics`` JSON file (1 MiB)."""
MAX_METRICS_DEPTH = 32
"""Deepest nesting accepted in a metrics JSON file."""
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".npz")
"""File name endings refused in a model folder, compared case-insensitively (the content is checked too)."""
MAX_PICKLE_SCAN_BYTES = 16 << 20
"""Files up to this size whose first byte is a protocol 0/1 pickle opcode are parsed (never run) as pickles."""

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PROTO01_OPENERS = frozenset(b"(]}cdl")


@dataclass(frozen=True)
class Registration:
    """What a registration produced: the id on the ledger, the event that holds it, and its manifest.

    ``completed`` is True when the event was on the ledger already (same registrant, same digest) and this
    call only stored artifacts that an interrupted earlier registration had not.
    """

    id: str
    receipt: Receipt
    manifest: Manifest | None
    completed: bool = False


def check_safetensors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and sanity-check a safetensors header without loading tensors; ``ConfigError`` if invalid."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ConfigError(f"{path} is not a safetensors file (too short)")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_SAFETENSORS_HEADER, size - 8):
                raise ConfigError(f"{path} is not a safetensors file (header length {length} is impossible)")
            raw = handle.read(length)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    header = loads_bounded(
        raw,
        what=f"{path}: safetensors header",
        max_bytes=MAX_SAFETENSORS_HEADER,
        max_depth=MAX_SAFETENSORS_HEADER_DEPTH,
        error=ConfigError,
    )
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
            raise ConfigError(
                f"{path} is not a valid safetensors file (tensor {_short(name)} is out of bounds)"
            ) from None
    return header


def pickle_kind(path: str | os.PathLike[str]) -> str | None:
    """What kind of pickle ``path`` holds, judged by content (never unpickled), or None if it is not one.

    Detects protocol 2+ pickles (``0x80`` and a protocol byte), protocol 0/1 pickles that parse to their final
    ``STOP`` opcode, zip archives holding a pickle (PyTorch / joblib ``data.pkl``), and NumPy ``.npy`` files of
    object arrays (which embed a pickle).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
        size = os.path.getsize(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a protocol {head[1]} pickle"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        pickled = [n for n in names if n.lower().endswith((".pkl", ".pickle")) or n.endswith("/data")]
        return f"a zip archive holding a pickle ({_short(pickled[0])})" if pickled else None
    if head.startswith(b"\x93NUMPY") and (b"'|O'" in head or b'"|O"' in head):
        return "a NumPy object array (an embedded pickle)"
    if head[:1] and head[0] in _PROTO01_OPENERS and size <= MAX_PICKLE_SCAN_BYTES:
        data = Path(path).read_bytes()
        try:
            last = None
            for opcode, _arg, position in pickletools.genops(data):
                last = (opcode.name, position)
        except Exception:  # not a pickle: genops stops at the first byte that is no opcode
            return None
        if last is not None and last[0] == "STOP" and last[1] == len(data) - 1:
            return "a protocol 0/1 pickle"
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _check_digests(values: list[str], option: str) -> list[str]:
    for value in values:
        if not isinstance(value, str) or not _DIGEST.fullmatch(value):
            raise MalformedEvent(f"{option} {_short(value)} is not a digest: 'sha256:' and 64 lowercase hex digits")
    return list(values)


def _preflight(ledger: LedgerBackend, actor: Identity, payload: Payload) -> None:
    """Dry-run the state machine on the current state (every change undone): the exact rejection ``submit``
    would give. A copy of the whole state per registration made setting up many participants quadratic."""
    state = ledger.state()
    event = sign_event(actor, ledger.ledger_id, payload, next_nonce(state, actor.address))
    with state.trial():
        apply(state, event)


def _existing_receipt(ledger: LedgerBackend, event_id: str) -> Receipt:
    stored = ledger.get_event(event_id)
    return Receipt(seq=stored.seq, event_id=stored.event.id)


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
    progress: Callable[[int, int], None] | None = None,
) -> Registration:
    """Fingerprint a file or folder and register it as ``DatasetRegistered`` signed by ``owner``.

    The manifest is stored before the event is appended (after a dry run, so a rejection stores nothing); the
    data stays put. Registering again what ``owner`` registered already completes a missing stored manifest.
    """
    target = Path(path)
    parents = _check_digests(list(parents or []), "--parent")
    manifest = build_manifest(target, workers=workers, progress=progress)
    records = sum(entry.records.count for entry in manifest.files if entry.records is not None)
    payload = build_payload(
        DatasetRegistered,
        "dataset registration",
        dataset_id=str(manifest.digest),
        name=name if name is not None else target.resolve().name,
        uri=uri if uri is not None else target.resolve().as_uri(),
        license=license,
        consent_note=consent_note,
        parents=parents,
        metadata={"files": len(manifest.files), "records": records, **(metadata or {})},
    )
    existing = dataset(ledger.state(), payload.dataset_id)
    if existing is not None and existing.owner == owner.address and not store.has(payload.dataset_id):
        store.put(manifest.to_bytes())
        return Registration(payload.dataset_id, _existing_receipt(ledger, existing.registered_by), manifest, True)
    _preflight(ledger, owner, payload)
    store.put(manifest.to_bytes())
    receipt = ledger.submit(owner, payload)
    return Registration(payload.dataset_id, receipt, manifest)


def _read_metrics(metrics: str | os.PathLike[str] | dict[str, Any] | bytes) -> bytes:
    from .._canonical import canonical_json

    if isinstance(metrics, dict):
        return canonical_json(metrics)
    if isinstance(metrics, bytes):
        return _checked_metrics(metrics, "metrics")
    source = Path(metrics)
    if not source.exists():
        raise NotFound(f"metrics file {source} does not exist")
    raw = read_bounded(source, MAX_METRICS_BYTES, what=f"metrics file {source}")
    return _checked_metrics(raw, f"metrics file {source}")


def _checked_metrics(raw: bytes, what: str) -> bytes:
    """``raw`` if it is bounded JSON holding an object; ``ConfigError`` otherwise."""
    data = loads_bounded(raw, what=what, max_bytes=MAX_METRICS_BYTES, max_depth=MAX_METRICS_DEPTH, error=ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must hold a JSON object")
    return raw


def _check_model_file(path: Path, shown: str) -> None:
    kind = pickle_kind(path)
    if kind is not None:
        raise ConfigError(f"{shown} is {kind}: pickles are never accepted as models; use safetensors")
    if path.suffix.lower() == ".safetensors":
        check_safetensors(path)


def _model_id(target: Path) -> tuple[str, Manifest | None]:
    """The id of a safetensors file (its digest) or a model folder (its manifest's digest), checked for pickles."""
    if target.is_file():
        kind = pickle_kind(target)
        if kind is not None:
            raise ConfigError(f"{target} is {kind}: pickles are never accepted as models; use safetensors")
        if target.suffix.lower() != ".safetensors":
            raise ConfigError(f"{target}: models are registered as .safetensors files or folders (never pickles)")
        check_safetensors(target)
        return str(sha256_file(target)), None
    manifest = build_manifest(target, records=False)
    for entry in manifest.files:
        if entry.path.lower().endswith(PICKLE_SUFFIXES):
            raise ConfigError(f"{entry.path}: pickled files are not accepted in a model folder; use safetensors")
        _check_model_file(target / entry.path, entry.path)
    return str(manifest.digest), manifest


def _model_artifacts(
    target: Path, model_id: str, manifest: Manifest | None, metrics_bytes: bytes | None
) -> list[tuple[str, bytes | Path]]:
    """What a model registration stores: the file (or the manifest and every file) and the metrics."""
    artifacts: list[tuple[str, bytes | Path]] = []
    if manifest is None:
        artifacts.append((model_id, target))
    else:
        artifacts.append((model_id, manifest.to_bytes()))
        artifacts.extend(("sha256:" + entry.sha256, target / entry.path) for entry in manifest.files)
    if metrics_bytes is not None:
        artifacts.append((str(Digest.sha256(metrics_bytes)), metrics_bytes))
    return artifacts


def _complete_interrupted(
    ledger: LedgerBackend,
    store: ArtifactStore,
    trainer: Identity,
    model_id: str,
    manifest: Manifest | None,
    artifacts: list[tuple[str, bytes | Path]],
    metrics_bytes: bytes | None,
) -> Registration | None:
    """Store what an interrupted registration by ``trainer`` of this model left out; None if nothing is due."""
    existing = model(ledger.state(), model_id)
    if existing is None or existing.owner != trainer.address:
        return None
    wanted = [a for a in artifacts if a[1] is not metrics_bytes or existing.metrics_digest == a[0]]
    if all(store.has(ref) for ref, _ in wanted):
        return None
    _store_all(store, wanted)
    return Registration(model_id, _existing_receipt(ledger, existing.registered_by), manifest, True)


def register_model(
    ledger: LedgerBackend,
    store: ArtifactStore,
    trainer: Identity,
    path: str | os.PathLike[str],
    *,
    trained_on: list[str],
    parents: list[str] | None = None,
    metrics: str | os.PathLike[str] | dict[str, Any] | bytes | None = None,
    name: str | None = None,
    uri: str | None = None,
    task: str | None = None,
    round: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Registration:
    """Register a safetensors file or a model folder as ``ModelRegistered`` with its lineage, and store it.

    Artifacts (model bytes, folder manifest, metrics) are stored before the event is appended, after a dry
    run; a retry by the same trainer of a model whose event landed fills in missing artifacts. ``metrics``
    is a JSON file, a dict (stored as canonical JSON) or JSON bytes (stored as given).
    """
    target = Path(path)
    if not target.exists():
        raise NotFound(f"{target} does not exist")
    trained_on = _check_digests(list(trained_on), "--trained-on")
    parents = _check_digests(list(parents or []), "--parent")
    model_id, manifest = _model_id(target)
    metrics_bytes = None if metrics is None else _read_metrics(metrics)
    payload = build_payload(
        ModelRegistered,
        "model registration",
        model_id=model_id,
        name=name if name is not None else target.resolve().stem,
        uri=uri if uri is not None else target.resolve().as_uri(),
        parents=parents,
        datasets=trained_on,
        metrics_digest=None if metrics_bytes is None else str(Digest.sha256(metrics_bytes)),
        task=task,
        round=round,
        metadata=metadata or {},
    )
    artifacts = _model_artifacts(target, model_id, manifest, metrics_bytes)
    completed = _complete_interrupted(ledger, store, trainer, model_id, manifest, artifacts, metrics_bytes)
    if completed is not None:
        return completed
    _preflight(ledger, trainer, payload)
    _store_all(store, artifacts)
    receipt = ledger.submit(trainer, payload)
    return Registration(model_id, receipt, manifest)


def ensure_dataset_registered(
    ledger: LedgerBackend, store: ArtifactStore, owner: Identity, path: str | os.PathLike[str], *, license: str = ""
) -> str:
    """The dataset id of ``path``, registered by ``owner`` first if the ledger does not know it yet."""
    data_id = str(build_manifest(Path(path)).digest)
    if dataset(ledger.state(), data_id) is None:
        register_dataset(ledger, store, owner, path, license=license)
    return data_id


def register_trained_model(
    ledger: LedgerBackend,
    store: ArtifactStore,
    trainer: Identity,
    folder: str | os.PathLike[str],
    *,
    datasets: list[str],
    metrics: Mapping[str, Any],
    name: str,
) -> Registration:
    """Register a trained model folder with the ids of the (registered) datasets it was trained on and its
    evaluation ``metrics``, stored as JSON as Python writes it (NaN scores of a degenerate fold survive)."""
    return register_model(
        ledger, store, trainer, folder, trained_on=list(datasets), metrics=json.dumps(dict(metrics)).encode(), name=name
    )


def _store_all(store: ArtifactStore, artifacts: list[tuple[str, bytes | Path]]) -> None:
    """Store each artifact; a file whose bytes no longer match the digest taken earlier is refused."""
    for ref, source in artifacts:
        if store.has(ref):
            continue
        stored = store.put(source) if isinstance(source, bytes) else store.put_file(source)
        if str(stored) != ref:
            store.delete(stored)
            what = source if isinstance(source, Path) else "an artifact"
            raise ConfigError(f"{what} changed while it was being registered; try again")


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

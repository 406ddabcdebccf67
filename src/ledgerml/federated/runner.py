"""Set up and run a federation described by a config: identities, roles, partitions registered as datasets
by their owners, the task, the rounds (in process, on Flower's simulation engine, or on its deployment
engine), and finally the model registered with lineage and attestation.

The setup writes ``federations/<task>.json`` in the ledger home (a :class:`FederationPlan`); the Flower apps
read it, so every run mode uses the same participant and server code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError
from ..events import Payload
from ..home import Home
from ..identity import Identity, KeyStore, password_from_env
from ..ledger.base import LedgerBackend
from ..ml import data as data_module
from ..ml.models import build_model
from ..ml.serialization import Weights, from_bytes
from ..provenance import build_manifest, register_dataset, register_model
from ..provenance.verify import attest
from ..store import ArtifactStore
from ..types import Role
from ..vocab.core import DatasetRegistered, RoleGranted, dataset, roles_of
from ..vocab.core import model as model_record
from ..vocab.tasks import RoundRecord, TaskCreated, progress, round_record, task
from ..vocab.tokens import TokensMinted
from .config import FederationConfig, _bad, check_dp, check_federation
from .coordinator import TaskCoordinator
from .participant import Participant
from .plan import MAX_PLAN_BYTES, FederationPlan, PlannedParticipant, load_plan, plan_path

__all__ = [
    "MAX_PLAN_BYTES",
    "FederationConfig",
    "FederationFailed",
    "FederationPlan",
    "check_dp",
    "check_federation",
    "federation_lock",
    "load_participant",
    "load_plan",
    "preflight",
    "register_final_model",
    "require_success",
    "round_history",
    "setup_federation",
    "validation_evaluator",
    "weights_of",
]


class FederationFailed(LedgerMLError):
    """A federation run produced no model: every round it ran failed."""

    exit_code = 35


_LOCKS: dict[str, tuple[Any, int]] = {}


@contextlib.contextmanager
def federation_lock(home: Home, task_id: str) -> Iterator[Path]:
    """Hold the task's run lock (``federations/TASK.lock``, an exclusive ``flock``) or refuse at once.

    Re-entrant within one process; another process running the same task gets ``ConfigError``. The lock
    ends with the process that holds it, also on kill -9, so a crashed run never blocks the next one."""
    import fcntl

    path = home.path / "federations" / f"{task_id}.lock"
    key = str(path)
    if key in _LOCKS:
        handle, count = _LOCKS[key]
        _LOCKS[key] = (handle, count + 1)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ConfigError(
                f"task {task_id!r} is being run by another process (lock {path}); wait for it to finish"
            ) from None
        _LOCKS[key] = (handle, 1)
    try:
        yield path
    finally:
        handle, count = _LOCKS[key]
        if count > 1:
            _LOCKS[key] = (handle, count - 1)
        else:
            del _LOCKS[key]
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def preflight(home: Home, config: FederationConfig) -> None:
    """Every check ``setup_federation`` makes before writing, without writing (settings, data, task event)."""
    check_federation(config)
    _plan_data(config)
    _check_new_task(home, config)


def _check_new_task(home: Home, config: FederationConfig) -> None:
    """For a task not yet on the ledger, check that its ``TaskCreated`` would be accepted."""
    with home.open_ledger(as_validator=False) as ledger:
        existing = task(ledger.state(), config.task_id)
    if existing is None:
        _check_task_payload(config)


def require_success(home: Home, task_id: str, first_round: int) -> None:
    """``FederationFailed`` unless some round from ``first_round`` on (or, if none ran, any round) succeeded."""
    history = round_history(home, task_id)
    ran = [r for r in history if r["round"] >= first_round] or history
    if not any(r["status"] == "ok" for r in ran):
        reasons = sorted(
            {why for r in ran for why in r["rejected"].values()} | {w for r in ran for _, w in r["invalid"]}
        )
        detail = f"; first reason: {reasons[0][:160]}" if reasons else ""
        raise FederationFailed(
            f"every round of task {task_id!r} that ran ({len(ran)}) failed, so no model was registered{detail}"
        )


def _identity(keys: KeyStore, name: str, unencrypted: bool) -> Identity:
    if (keys.folder / f"{name}.json").exists():
        return keys.load(name, password_from_env())
    return keys.create(name, password_from_env(), unencrypted=unencrypted)


def _grant(home: Home, admin: Identity, wanted: list[tuple[Identity, Role]]) -> None:
    with home.open_ledger() as ledger:
        state = ledger.state()
        missing = [
            RoleGranted(subject=who.address, role=role)
            for who, role in wanted
            if role not in roles_of(state, who.address)
        ]
        if missing:
            ledger.submit_batch(admin, missing)


class PartitionedData(NamedTuple):
    """A federation's data after the split: all features (for the model's shape), the training rows, the
    validation rows, the class count and one index array per participant."""

    X: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    shards: list[np.ndarray]
    license: str = "scikit-learn bundled data (BSD-3)"
    consent_note: str = "public benchmark data, partitioned for a federation"


def _plan_data(config: FederationConfig, given: PartitionedData | None = None) -> PartitionedData:
    """Load, split and partition the data (no writes), or check the organisations' own (``given``, for
    dataset ``own``: one shard per participant); ``ConfigError`` if a participant would get no rows."""
    if given is not None:
        if len(given.shards) != config.participants or any(len(s) == 0 for s in given.shards):
            raise _bad("participants", f"one non-empty partition each ({len(given.shards)} given)", config.participants)
        return given
    X, y, n_classes = data_module.load(config.dataset)
    X_train, y_train, X_val, y_val = data_module.split(X, y, config.validation_fraction, config.seed)
    if config.participants > len(X_train):
        raise _bad("participants", f"at most {len(X_train)} for {config.dataset}", config.participants)
    shards = (
        data_module.partition_iid(len(X_train), config.participants, config.seed)
        if config.partition == "iid"
        else data_module.partition_dirichlet(y_train, config.participants, config.alpha, config.seed)
    )
    return PartitionedData(X, X_train, y_train, X_val, y_val, n_classes, shards)


def _check_task_payload(config: FederationConfig) -> None:
    """Build the task's ``TaskCreated`` with placeholder digests, so that the event cannot be refused later."""
    placeholder = "sha256:" + "0" * 64
    try:
        TaskCreated(
            task_id=config.task_id,
            name=config.task_id,
            model_spec=placeholder,
            initial_model=placeholder,
            dp=config.dp,
            validation_dataset=placeholder,
            **config.task_settings(),
        )
    except (ValueError, LedgerMLError) as exc:
        raise ConfigError(f"the task's settings are refused: {str(exc).splitlines()[0]}") from None


def setup_federation(
    home: Home, config: FederationConfig, *, unencrypted: bool = False, data: PartitionedData | None = None
) -> Path:
    """Create identities and roles, partition and register the data, create the task. Idempotent per task.

    Everything that can be checked is checked before the first write (settings, data partitions, the task
    event, existing keys), so a bad config writes no event and no file."""
    check_federation(config)
    admin = home.identity(home.config().admin)
    data = _plan_data(config, data)
    _check_new_task(home, config)
    aggregator, people = _identities(home.keys, config, unencrypted)
    _grant(
        home,
        admin,
        [(aggregator, Role.AGGREGATOR), (aggregator, Role.DATA_OWNER)] + [(p, Role.DATA_OWNER) for p in people],
    )
    folder = home.path / "federations" / config.task_id
    folder.mkdir(parents=True, exist_ok=True)
    store = home.store()
    with home.open_ledger() as ledger:
        validation = data_module.write_csv(folder / "validation.csv", data.X_val, data.y_val)
        validation_id = _register_data(
            ledger, store, aggregator, validation, f"{config.task_id} validation set", data.license, data.consent_note
        )
        entries = _register_partitions(ledger, store, config, people, data, folder)
        plan = FederationPlan(
            config=config,
            aggregator=config.aggregator,
            validation=str(validation),
            n_classes=data.n_classes,
            participants=tuple(entries),
        )
        written = plan.write(plan_path(home, config.task_id))  # before the task: a crash between resumes
        if task(ledger.state(), config.task_id) is None:
            _create_task(ledger, store, config, admin, aggregator, people, data, validation_id)
        ledger.seal() if ledger.validator is not None else None
    return written


def _identities(keys: KeyStore, config: FederationConfig, unencrypted: bool) -> tuple[Identity, list[Identity]]:
    """The aggregator's and the participants' identities: existing keys loaded first, then missing ones created."""
    names = [config.aggregator, *config.participant_names()]
    loaded = {name: keys.load(name, password_from_env()) for name in names if (keys.folder / f"{name}.json").exists()}
    aggregator = loaded.get(config.aggregator) or _identity(keys, config.aggregator, unencrypted)
    people = [loaded.get(name) or _identity(keys, name, unencrypted) for name in config.participant_names()]
    return aggregator, people


def _register_data(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    path: Path,
    name: str,
    license: str = "scikit-learn bundled data (BSD-3)",
    consent_note: str = "public benchmark data, partitioned for a federation",
) -> str:
    """Register ``path`` as a dataset of ``owner`` unless it is registered already; its dataset id."""
    dataset_id = str(build_manifest(path).digest)
    if dataset(ledger.state(), dataset_id) is None:
        register_dataset(
            ledger,
            store,
            owner,
            path,
            name=name,
            license=license,
            consent_note=consent_note,
        )
    return dataset_id


def _register_partitions(
    ledger: LedgerBackend,
    store: ArtifactStore,
    config: FederationConfig,
    people: list[Identity],
    data: PartitionedData,
    folder: Path,
) -> list[PlannedParticipant]:
    """Write and register every participant's partition (sybils share their leader's); the plan's entries."""
    attackers = set(config.attacker_indices())
    sybil_leader = min(attackers) if config.attack == "sybil" and attackers else None
    entries = []
    for index, (person, shard) in enumerate(zip(people, data.shards, strict=True)):
        copies_leader = sybil_leader is not None and index in attackers
        source = data.shards[sybil_leader] if copies_leader else shard  # type: ignore[index]
        path = data_module.write_csv(folder / f"{person.name}.csv", data.X_train[source], data.y_train[source])
        entries.append(
            PlannedParticipant(
                name=person.name,
                data=str(path),
                dataset_id=_register_data(
                    ledger, store, person, path, f"{person.name} partition", data.license, data.consent_note
                ),
                attack=config.attack if index in attackers else "none",
                seed=config.seed * 1000 + (sybil_leader if copies_leader else index),  # type: ignore[operator]
            )
        )
    return entries


def _create_task(
    ledger: LedgerBackend,
    store: ArtifactStore,
    config: FederationConfig,
    admin: Identity,
    aggregator: Identity,
    people: list[Identity],
    data: PartitionedData,
    validation_id: str,
) -> None:
    """Create the task with its initial model, and in the same batch mint its reward pool and initial tokens."""
    model = build_model(
        {**config.model, "n_features": int(data.X.shape[1]), "n_classes": data.n_classes, "seed": config.seed}
    )
    mints: list[tuple[Identity, Payload]] = []
    if config.reward_pool:
        mints.append((admin, TokensMinted(amount=config.reward_pool, task_id=config.task_id)))
    if config.initial_tokens:
        mints += [(admin, TokensMinted(amount=config.initial_tokens, to=p.address)) for p in people]
    TaskCoordinator.create(
        ledger,
        store,
        aggregator,
        task_id=config.task_id,
        model=model,
        dp=config.dp or None,
        validation_dataset=validation_id,
        funding=mints,
        **config.task_settings(),
    )


def load_participant(home: Home, task_id: str, index: int) -> Participant:
    """Participant ``index`` of a planned federation, with its key and data."""
    plan = load_plan(home, task_id)
    entry = plan.participants[index]
    config = plan.config
    X, y = data_module.read_csv(Path(entry.data))
    return Participant(
        home.keys.load(entry.name, password_from_env()),
        X,
        y,
        plan.n_classes,
        datasets=[entry.dataset_id],
        attack=entry.attack,
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=entry.seed,
        attack_params=config.attack_params,
        stake=config.stake,
        receipts=home.path / "receipts" / entry.name,
        colluders=_colluders(plan, entry.attack),
        federation_size=len(plan.participants),
        norm_bound=config.max_update_norm,
    )


def _colluders(plan: FederationPlan, attack: str) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """For a colluding simulated attack (alie, ipm, adaptive): every attacker's data and seed (they pool their
    honest updates); else none."""
    from .attacks import COLLUDING

    if attack not in COLLUDING:
        return []
    return [(*data_module.read_csv(Path(p.data)), p.seed) for p in plan.participants if p.attack == attack]


def validation_evaluator(home: Home, task_id: str) -> Any:
    """The aggregator's evaluation of a global model on its registered validation set."""
    plan = load_plan(home, task_id)
    X, y = data_module.read_csv(Path(plan.validation))
    spec_holder: dict[str, Any] = {}

    def evaluate(weights: Weights) -> dict[str, float]:
        if "spec" not in spec_holder:
            with home.open_ledger(as_validator=False) as ledger:
                record = task(ledger.state(), task_id)
                assert record is not None
                spec_holder["spec"] = loads_bounded(home.store().get(record.model_spec))
        model = build_model(spec_holder["spec"])
        model.set_weights(weights)
        loss, accuracy = model.evaluate(X, y)
        return {"val_loss": loss, "val_accuracy": accuracy}

    return evaluate


def round_history(home: Home, task_id: str) -> list[dict[str, Any]]:
    """Every finalized round's record, from the ledger."""
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        done = progress(state, task_id).finalized
        rows = []
        for r in range(1, done + 1):
            record = round_record(state, task_id, r)
            assert record is not None
            rows.append(
                {
                    "round": r,
                    "status": record.status,
                    "accepted": list(record.accepted),
                    "rejected": dict(record.rejected),
                    "invalid": [list(i) for i in record.invalid],
                    "metrics": loads_bounded(record.metrics),
                    "aggregate": record.aggregate_digest,
                }
            )
        return rows


def register_final_model(home: Home, task_id: str) -> tuple[str, Path]:
    """Register the task's final global model (lineage: every accepted participant's dataset and the
    validation set) and write its attestation next to it."""
    plan = load_plan(home, task_id)
    aggregator = home.identity(plan.aggregator)
    store = home.store()
    with home.open_ledger() as ledger:
        state = ledger.state()
        current = progress(state, task_id)
        folder = home.path / "federations" / task_id
        model_path = folder / "final-model.safetensors"
        model_path.write_bytes(store.get(current.global_digest))
        if model_record(state, current.global_digest) is None:
            register_model(
                ledger,
                store,
                aggregator,
                model_path,
                trained_on=_named_lineage(
                    ledger, store, aggregator, task_id, _trained_on(state, plan, current.finalized)
                ),
                name=f"{task_id} global model",
                task=task_id,
                round=current.finalized,
                metrics=(round_history_metrics(state, task_id, current.finalized)),
            )
        if ledger.validator is not None:
            ledger.seal()
        attestation = folder / "final-model.intoto.jsonl"
        attestation.write_text(json.dumps(attest(ledger, aggregator, current.global_digest)) + "\n")
        return current.global_digest, attestation


def _trained_on(state: Any, plan: FederationPlan, finalized: int) -> list[str]:
    """The model's lineage: the datasets of participants accepted in any round, then the validation set."""
    task_id = plan.task_id
    record = task(state, task_id)
    assert record is not None
    ever_accepted = {a for r in range(1, finalized + 1) for a in (round_record(state, task_id, r) or _EMPTY).accepted}
    planned = {entry.dataset_id for entry in plan.participants}
    trained_on = sorted(d for d in planned if (found := dataset(state, d)) is not None and found.owner in ever_accepted)
    if record.validation_dataset:
        trained_on.append(record.validation_dataset)
    return trained_on


LINEAGE_GROUP = 128
"""At most this many datasets are named in one event (a ``ModelRegistered``, or one collection's parents): 128
digests are about 9 KB, under ``events.MAX_EVENT_BYTES``."""


def _named_lineage(
    ledger: LedgerBackend, store: ArtifactStore, aggregator: Identity, task_id: str, trained_on: list[str]
) -> list[str]:
    """The datasets the model's event names: ``trained_on`` itself when it fits one event; beyond that, its
    training datasets in collections of at most ``LINEAGE_GROUP`` (each a ``DatasetRegistered`` by the
    aggregator whose parents are the group, its id the digest of the stored list), then the validation set. The
    lineage check walks dataset parents, so the model's lineage is still every dataset it was trained on."""
    if len(trained_on) <= LINEAGE_GROUP:
        return trained_on
    *training, validation = trained_on
    groups = [training[i : i + LINEAGE_GROUP] for i in range(0, len(training), LINEAGE_GROUP)]
    named = []
    for number, group in enumerate(groups, 1):
        collection = str(store.put(canonical_json({"collection_of": group, "task": task_id})))
        if dataset(ledger.state(), collection) is None:  # a resumed registration finds it registered
            ledger.submit(
                aggregator,
                DatasetRegistered(
                    dataset_id=collection,
                    name=f"{task_id} training datasets {number} of {len(groups)}",
                    parents=group,
                    metadata={"collection": task_id},
                ),
            )
        named.append(collection)
    return [*named, validation]


_EMPTY = RoundRecord("failed", None, (), (), (), "{}", "")


def round_history_metrics(state: Any, task_id: str, round_: int) -> dict[str, Any]:
    """The last round's metrics, as the model's metrics file."""
    record = round_record(state, task_id, round_)
    return {} if record is None else loads_bounded(record.metrics)


def weights_of(home: Home, digest: str) -> Weights:
    """A stored model's weights."""
    return from_bytes(home.store().get(digest))

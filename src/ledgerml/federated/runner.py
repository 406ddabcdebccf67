"""Set up and run a federation described by a config: identities, roles, partitions registered as datasets
by their owners, the task, the rounds (in process, on Flower's simulation engine, or on its deployment
engine), and finally the model registered with lineage and attestation.

The setup writes ``federations/<task>.json`` in the ledger home; the Flower apps read it, so every run mode
uses the same participant and server code.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..events import Payload, RoleGranted
from ..home import Home
from ..identity import Identity, KeyStore, password_from_env
from ..provenance import register_dataset, register_model
from ..provenance.verify import attest
from ..state import dataset, roles_of
from ..tasks import progress, round_record, task
from ..tokens import TokensMinted
from ..types import Role
from . import data as data_module
from .aggregation import check_rule
from .attacks import ATTACKS
from .coordinator import TaskCoordinator
from .models import build_model
from .participant import Participant
from .serialization import Weights, from_bytes


@dataclass
class FederationConfig:
    """Everything that describes one federation."""

    task_id: str = "federation"
    dataset: str = "digits"
    participants: int = 5
    names: list[str] = field(default_factory=list)
    partition: str = "dirichlet"
    alpha: float = 0.5
    rounds: int = 10
    rule: str = "fedavg"
    rule_params: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=lambda: {"type": "softmax"})
    epochs: int = 1
    lr: float = 0.5
    batch_size: int = 32
    max_update_norm: float | None = 100.0
    min_participants: int = 2
    seed: int = 0
    validation_fraction: float = 0.2
    attack: str = "none"
    attackers: list[int] = field(default_factory=list)
    attack_fraction: float = 0.0
    attack_params: dict[str, float] = field(default_factory=dict)
    dp: dict[str, float] = field(default_factory=dict)
    aggregator: str = "aggregator"
    reward_pool: int = 0
    stake: int = 0
    initial_tokens: int = 0
    slash_on: list[str] = field(default_factory=list)
    slash_amount: int = 0
    valuation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dataset not in data_module.DATASETS:
            raise ConfigError(f"dataset must be one of {list(data_module.DATASETS)}")
        if self.participants < 1 or self.rounds < 1:
            raise ConfigError("participants and rounds must be at least 1")
        if self.partition not in ("iid", "dirichlet"):
            raise ConfigError("partition must be 'iid' or 'dirichlet'")
        if self.attack not in ATTACKS:
            raise ConfigError(f"attack must be one of {list(ATTACKS)}")
        if self.names and len(self.names) != self.participants:
            raise ConfigError(f"{len(self.names)} names given for {self.participants} participants")
        check_rule(self.rule, self.rule_params)
        if not 0 <= self.attack_fraction < 1 or any(not 0 <= a < self.participants for a in self.attackers):
            raise ConfigError("attack_fraction must be in [0, 1) and attackers must be participant indices")

    @classmethod
    def from_toml(cls, path: str | Path) -> FederationConfig:
        """Read ``[federation]`` (and optional ``[attack]``, ``[dp]``) from a TOML file."""
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        values = dict(raw.get("federation", {}))
        attack = raw.get("attack", {})
        if attack:
            values.update(
                attack=attack.get("kind", "none"),
                attackers=attack.get("participants", []),
                attack_fraction=attack.get("fraction", 0.0),
                attack_params=attack.get("params", {}),
            )
        if "dp" in raw:
            values["dp"] = raw["dp"]
        rewards = raw.get("rewards", {})
        for key in ("reward_pool", "stake", "initial_tokens", "slash_on", "slash_amount", "valuation"):
            if key in rewards:
                values[key] = rewards[key]
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown setting(s) in {path}: {sorted(unknown)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad settings in {path}: {exc}") from None

    def attacker_indices(self) -> list[int]:
        """Which participants attack: the listed ones, else the first ``attack_fraction`` of them."""
        if self.attack == "none":
            return []
        if self.attackers:
            return sorted(set(self.attackers))
        return list(range(round(self.attack_fraction * self.participants)))

    def participant_names(self) -> list[str]:
        """Identity names of the participants."""
        return self.names or [f"{self.task_id}-org{i:02d}" for i in range(self.participants)]


def _identity(keys: KeyStore, name: str, unencrypted: bool) -> Identity:
    if (keys.folder / f"{name}.json").exists():
        return keys.load(name, password_from_env())
    return keys.create(name, password_from_env(), unencrypted=unencrypted)


def _grant(home: Home, admin: Identity, wanted: list[tuple[Identity, Role]]) -> None:
    ledger = home.open_ledger()
    try:
        state = ledger.state()
        missing = [
            RoleGranted(subject=who.address, role=role)
            for who, role in wanted
            if role not in roles_of(state, who.address)
        ]
        if missing:
            ledger.submit_batch(admin, missing)
    finally:
        ledger.close()


def setup_federation(home: Home, config: FederationConfig, *, unencrypted: bool = False) -> Path:
    """Create identities and roles, partition and register the data, create the task. Idempotent per task."""
    keys = home.keys
    admin = home.identity(home.config().admin)
    aggregator = _identity(keys, config.aggregator, unencrypted)
    people = [_identity(keys, name, unencrypted) for name in config.participant_names()]
    _grant(
        home,
        admin,
        [(aggregator, Role.AGGREGATOR), (aggregator, Role.DATA_OWNER)] + [(p, Role.DATA_OWNER) for p in people],
    )
    X, y, n_classes = data_module.load(config.dataset)
    X_train, y_train, X_val, y_val = data_module.split(X, y, config.validation_fraction, config.seed)
    shards = (
        data_module.partition_iid(len(X_train), config.participants, config.seed)
        if config.partition == "iid"
        else data_module.partition_dirichlet(y_train, config.participants, config.alpha, config.seed)
    )
    folder = home.path / "federations" / config.task_id
    folder.mkdir(parents=True, exist_ok=True)
    store = home.store()
    ledger = home.open_ledger()
    try:

        def register(owner: Identity, path: Path, name: str) -> str:
            from ..provenance import build_manifest

            dataset_id = str(build_manifest(path).digest)
            if dataset(ledger.state(), dataset_id) is None:
                register_dataset(
                    ledger,
                    store,
                    owner,
                    path,
                    name=name,
                    license="scikit-learn bundled data (BSD-3)",
                    consent_note="public benchmark data, partitioned for a federation",
                )
            return dataset_id

        validation = data_module.write_csv(folder / "validation.csv", X_val, y_val)
        validation_id = register(aggregator, validation, f"{config.task_id} validation set")
        attackers = set(config.attacker_indices())
        sybil_leader = min(attackers) if config.attack == "sybil" and attackers else None
        entries = []
        for index, (person, shard) in enumerate(zip(people, shards, strict=True)):
            source = shards[sybil_leader] if sybil_leader is not None and index in attackers else shard
            path = data_module.write_csv(folder / f"{person.name}.csv", X_train[source], y_train[source])
            entries.append(
                {
                    "name": person.name,
                    "data": str(path),
                    "dataset_id": register(person, path, f"{person.name} partition"),
                    "attack": config.attack if index in attackers else "none",
                    "seed": config.seed * 1000
                    + (sybil_leader if sybil_leader is not None and index in attackers else index),
                }
            )
        model = build_model(
            {**config.model, "n_features": int(X.shape[1]), "n_classes": n_classes, "seed": config.seed}
        )
        if task(ledger.state(), config.task_id) is None:
            TaskCoordinator.create(
                ledger,
                store,
                aggregator,
                task_id=config.task_id,
                model=model,
                rounds=config.rounds,
                rule=config.rule,
                rule_params=config.rule_params,
                max_update_norm=config.max_update_norm,
                dp=config.dp or None,
                min_participants=config.min_participants,
                validation_dataset=validation_id,
                reward_pool=config.reward_pool,
                min_stake=config.stake,
                slash_on=config.slash_on,
                slash_amount=config.slash_amount,
                valuation=config.valuation,
            )
            mints: list[Payload] = []
            if config.reward_pool:
                mints.append(TokensMinted(amount=config.reward_pool, task_id=config.task_id))
            if config.initial_tokens:
                mints += [TokensMinted(amount=config.initial_tokens, to=p.address) for p in people]
            if mints:
                ledger.submit_batch(admin, mints)
        ledger.seal() if ledger.validator is not None else None
    finally:
        ledger.close()
    plan = {
        "config": asdict(config),
        "aggregator": config.aggregator,
        "validation": str(validation),
        "n_classes": n_classes,
        "participants": entries,
    }
    plan_path = home.path / "federations" / f"{config.task_id}.json"
    plan_path.write_text(json.dumps(plan, indent=2))
    return plan_path


def load_plan(home: Home, task_id: str) -> dict[str, Any]:
    """The plan ``setup_federation`` wrote."""
    path = home.path / "federations" / f"{task_id}.json"
    if not path.exists():
        raise ConfigError(f"no federation plan for task {task_id!r} in {home.path} (run 'ledgerml fl run' first)")
    plan: dict[str, Any] = json.loads(path.read_text())
    return plan


def load_participant(home: Home, task_id: str, index: int) -> Participant:
    """Participant ``index`` of a planned federation, with its key and data."""
    plan = load_plan(home, task_id)
    entry = plan["participants"][index]
    config = plan["config"]
    X, y = data_module.read_csv(Path(entry["data"]))
    return Participant(
        home.keys.load(entry["name"], password_from_env()),
        X,
        y,
        plan["n_classes"],
        datasets=[entry["dataset_id"]],
        attack=entry["attack"],
        epochs=config["epochs"],
        lr=config["lr"],
        batch_size=config["batch_size"],
        seed=entry["seed"],
        attack_params=config["attack_params"],
        stake=config.get("stake", 0),
    )


def validation_evaluator(home: Home, task_id: str) -> Any:
    """The aggregator's evaluation of a global model on its registered validation set."""
    plan = load_plan(home, task_id)
    X, y = data_module.read_csv(Path(plan["validation"]))
    spec_holder: dict[str, Any] = {}

    def evaluate(weights: Weights) -> dict[str, float]:
        if "spec" not in spec_holder:
            ledger = home.open_ledger(as_validator=False)
            try:
                record = task(ledger.state(), task_id)
                assert record is not None
                spec_holder["spec"] = json.loads(home.store().get(record.model_spec))
            finally:
                ledger.close()
        model = build_model(spec_holder["spec"])
        model.set_weights(weights)
        loss, accuracy = model.evaluate(X, y)
        return {"val_loss": loss, "val_accuracy": accuracy}

    return evaluate


@dataclass
class FederationResult:
    """What a finished federation produced."""

    task_id: str
    accuracy: list[float]
    rounds: list[dict[str, Any]]
    model_id: str | None
    attestation: Path | None
    seconds: float


def round_history(home: Home, task_id: str) -> list[dict[str, Any]]:
    """Every finalized round's record, from the ledger."""
    ledger = home.open_ledger(as_validator=False)
    try:
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
                    "metrics": json.loads(record.metrics),
                    "aggregate": record.aggregate_digest,
                }
            )
        return rows
    finally:
        ledger.close()


def register_final_model(home: Home, task_id: str) -> tuple[str, Path]:
    """Register the task's final global model (lineage: every accepted participant's dataset and the
    validation set) and write its attestation next to it."""
    plan = load_plan(home, task_id)
    aggregator = home.identity(plan["aggregator"])
    ledger = home.open_ledger()
    store = home.store()
    try:
        state = ledger.state()
        record = task(state, task_id)
        assert record is not None
        current = progress(state, task_id)
        folder = home.path / "federations" / task_id
        model_path = folder / "final-model.safetensors"
        model_path.write_bytes(store.get(current.global_digest))
        ever_accepted = {
            a for r in range(1, current.finalized + 1) for a in (round_record(state, task_id, r) or _empty()).accepted
        }
        by_owner = {entry["dataset_id"]: entry for entry in plan["participants"]}
        trained_on = sorted(d for d in by_owner if dataset(state, d) and dataset(state, d).owner in ever_accepted)  # type: ignore[union-attr]
        if record.validation_dataset:
            trained_on.append(record.validation_dataset)
        from ..state import model as model_record

        if model_record(state, current.global_digest) is None:
            register_model(
                ledger,
                store,
                aggregator,
                model_path,
                trained_on=trained_on,
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
    finally:
        ledger.close()


def _empty() -> Any:
    from ..tasks import RoundRecord

    return RoundRecord("failed", None, (), (), (), "{}", "")


def round_history_metrics(state: Any, task_id: str, round_: int) -> dict[str, Any]:
    """The last round's metrics, as the model's metrics file."""
    record = round_record(state, task_id, round_)
    return {} if record is None else json.loads(record.metrics)


def weights_of(home: Home, digest: str) -> Weights:
    """A stored model's weights."""
    return from_bytes(home.store().get(digest))

"""Set up and run a federation described by a config: identities, roles, partitions registered as datasets
by their owners, the task, the rounds (in process, on Flower's simulation engine, or on its deployment
engine), and finally the model registered with lineage and attestation.

The setup writes ``federations/<task>.json`` in the ledger home; the Flower apps read it, so every run mode
uses the same participant and server code.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError
from ..events import Payload, RoleGranted
from ..home import Home
from ..identity import Identity, KeyStore, password_from_env
from ..ml import data as data_module
from ..ml.models import build_model
from ..ml.serialization import Weights, from_bytes
from ..provenance import register_dataset, register_model
from ..provenance.verify import attest
from ..state import dataset, roles_of
from ..tasks import TaskCreated, progress, round_record, task
from ..tokens import TokensMinted
from ..types import Role
from .aggregation import RULES, check_rule
from .attacks import ATTACKS
from .coordinator import TaskCoordinator
from .dp import check_dp_settings, gaussian_epsilon
from .participant import Participant


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
        check_federation(self)

    @classmethod
    def from_toml(cls, path: str | Path) -> FederationConfig:
        """Read ``[federation]`` (and optional ``[attack]``, ``[dp]``) from a TOML file."""
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        values = _toml_settings(raw, path)
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown setting(s) in {path}: {sorted(unknown)}")
        return cls(**values)

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


TABLES = {
    "federation": None,
    "attack": {"kind": "attack", "participants": "attackers", "fraction": "attack_fraction", "params": "attack_params"},
    "dp": {},
    "rewards": {k: k for k in ("reward_pool", "stake", "initial_tokens", "slash_on", "slash_amount", "valuation")},
}
"""The TOML tables a federation config may have, and how their keys map to :class:`FederationConfig` fields."""


def _toml_settings(raw: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The config's fields from its TOML tables; ``ConfigError`` for an unknown table or key."""
    unknown_tables = set(raw) - set(TABLES)
    if unknown_tables:
        raise ConfigError(f"unknown table(s) in {path}: {sorted(unknown_tables)}; known: {sorted(TABLES)}")
    for name in raw:
        if not isinstance(raw[name], dict):
            raise ConfigError(f"'{name}' in {path} must be a table")
    values = dict(raw.get("federation", {}))
    for table in ("attack", "rewards"):
        mapping = TABLES[table]
        assert mapping is not None
        section = raw.get(table, {})
        unknown = set(section) - set(mapping)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) in table '{table}' of {path}: {sorted(unknown)}; known: {sorted(mapping)}"
            )
        values.update({mapping[key]: value for key, value in section.items()})
    if "dp" in raw:
        values["dp"] = raw["dp"]
    return values


MAX_PARTICIPANTS = 100
"""Most participants a federation config may name (each gets a key file and a registered partition)."""
MAX_ROUNDS = 10_000
"""Most rounds a task may have."""
MAX_EPOCHS = 100
"""Most local epochs per round."""
MAX_BATCH_SIZE = 100_000
"""Largest local mini-batch."""
MAX_LR = 100.0
"""Largest learning rate."""
MAX_HIDDEN = 1024
"""Widest hidden layer of the ``mlp`` model (its weights are allocated by every participant)."""
MAX_TOKENS = 10**15
"""Largest token amount in a config (reward pool, stake, initial tokens, slash amount)."""
MAX_SEED = 2**32 - 1
"""Largest seed."""
MAX_PARAM = 1e6
"""Largest magnitude of an attack parameter, a norm bound, a DP clip."""
MAX_NOISE_MULTIPLIER = 1e3
"""Largest DP noise multiplier (the smallest is anything above 0: 0 gives epsilon = infinity)."""
MAX_PERMUTATIONS = 100_000
"""Most Monte Carlo permutations per round's valuation."""
MAX_EXACT_PLAYERS = 16
"""Most participants valued with exact Shapley (2^n utility evaluations per round)."""
VALUATION_METHODS = ("exact", "monte_carlo", "leave_one_out")
_TASK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LABELS = {
    "attack": "attack.kind",
    "attackers": "attack.participants",
    "attack_fraction": "attack.fraction",
    "attack_params": "attack.params",
    **{key: f"rewards.{key}" for key in ("reward_pool", "stake", "initial_tokens", "slash_on", "slash_amount")},
    "valuation": "rewards.valuation",
    "dp": "dp",
}


def _bad(field_name: str, wanted: str, value: Any) -> ConfigError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ConfigError(f"setting '{_LABELS.get(field_name, field_name)}' must be {wanted}, got {shown}")


def _int(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(name, f"an integer from {low} to {high:,}", value)
    return value


def _number(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False, open_high: bool = False
) -> float:
    wanted = f"a number {'>' if open_low else '>='} {low:g} and {'<' if open_high else '<='} {high:g}"
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _bad(name, wanted, value)
    if value < low or (open_low and value == low) or value > high or (open_high and value == high):
        raise _bad(name, wanted, value)
    return float(value)


def _choice(name: str, value: Any, choices: Iterable[str]) -> str:
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise _bad(name, f"one of {options}", value)
    return value


def _name(name: str, value: Any) -> str:
    from ..identity import check_identity_name

    try:
        check_identity_name(value)
    except LedgerMLError:
        raise _bad(name, "an identity name (letters, digits, '_', '.', '-'; at most 64)", value) from None
    return str(value)


def _table(name: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, "a table", value)
    unknown = set(value) - allowed
    if unknown:
        raise _bad(name, f"a table with keys from {sorted(allowed)}", sorted(unknown))
    return value


def check_federation(config: FederationConfig) -> None:
    """Check every setting, types and bounds, before anything is written; ``ConfigError`` names the first bad one."""
    c = config
    if not isinstance(c.task_id, str) or not _TASK_ID.match(c.task_id):
        raise _bad(
            "task_id", "lower-case letters, digits, '.', '_', '-' (at most 64, starting alphanumeric)", c.task_id
        )
    _choice("dataset", c.dataset, data_module.DATASETS)
    n = _int("participants", c.participants, 1, MAX_PARTICIPANTS)
    if not isinstance(c.names, list):
        raise _bad("names", "a list of identity names", c.names)
    if c.names and len(c.names) != n:
        raise _bad("names", f"{n} identity names (one per participant)", c.names)
    for name in c.names:
        _name("names", name)
    _name("aggregator", c.aggregator)
    people = c.participant_names()
    for name in people:
        _name("names" if c.names else "task_id", name)
    if len(set(people)) != len(people) or c.aggregator in people:
        raise _bad("names", "distinct names, none of them the aggregator's", c.names)
    _choice("partition", c.partition, ("iid", "dirichlet"))
    _number("alpha", c.alpha, 0, 1000, open_low=True)
    _int("rounds", c.rounds, 1, MAX_ROUNDS)
    if not isinstance(c.rule_params, dict):
        raise _bad("rule_params", "a table", c.rule_params)
    _choice("rule", c.rule, RULES)
    check_rule(c.rule, c.rule_params, participants=n)
    model = _table("model", c.model, {"type", "hidden", "l2"})
    _choice("model", model.get("type"), ("softmax", "mlp"))
    if "hidden" in model:
        if model["type"] != "mlp":
            raise _bad("model", "a table with 'hidden' only for type 'mlp'", model)
        _int("model.hidden", model["hidden"], 1, MAX_HIDDEN)
    if "l2" in model:
        _number("model.l2", model["l2"], 0, 1)
    _int("epochs", c.epochs, 1, MAX_EPOCHS)
    _number("lr", c.lr, 0, MAX_LR, open_low=True)
    _int("batch_size", c.batch_size, 1, MAX_BATCH_SIZE)
    if c.max_update_norm is not None:
        _number("max_update_norm", c.max_update_norm, 0, MAX_PARAM, open_low=True)
    _int("min_participants", c.min_participants, 1, n)
    _int("seed", c.seed, 0, MAX_SEED)
    _number("validation_fraction", c.validation_fraction, 0.05, 0.5)
    _choice("attack", c.attack, ATTACKS)
    if not isinstance(c.attackers, list):
        raise _bad("attackers", "a list of participant indices", c.attackers)
    for index in c.attackers:
        _int("attackers", index, 0, n - 1)
    _number("attack_fraction", c.attack_fraction, 0, 1, open_high=True)
    params = _table("attack_params", c.attack_params, {"scale", "boost", "sigma"})
    for key, value in params.items():
        _number(f"attack.params.{key}", value, -MAX_PARAM, MAX_PARAM)
    check_dp(c.dp, c.rounds)
    for key in ("reward_pool", "stake", "initial_tokens", "slash_amount"):
        _int(key, getattr(c, key), 0, MAX_TOKENS)
    if not isinstance(c.slash_on, list) or len(c.slash_on) > 32:
        raise _bad("slash_on", "a list of at most 32 reason prefixes", c.slash_on)
    for prefix in c.slash_on:
        if not isinstance(prefix, str) or not 1 <= len(prefix) <= 512:
            raise _bad("slash_on", "reason prefixes of 1 to 512 characters", prefix)
    valuation = _table("valuation", c.valuation, {"method", "permutations", "truncation"})
    if "method" in valuation:
        _choice("valuation.method", valuation["method"], VALUATION_METHODS)
        if valuation["method"] == "exact" and n > MAX_EXACT_PLAYERS:
            raise _bad("valuation.method", f"not 'exact' for more than {MAX_EXACT_PLAYERS} participants", "exact")
    if "permutations" in valuation:
        _int("valuation.permutations", valuation["permutations"], 1, MAX_PERMUTATIONS)
    if "truncation" in valuation:
        _number("valuation.truncation", valuation["truncation"], 0, 1)


def check_dp(dp: Any, rounds: int) -> None:
    """Check DP settings: exactly clip, noise_multiplier > 0 and delta in (0, 1), with a finite budget."""
    if not isinstance(dp, dict):
        raise _bad("dp", "a table", dp)
    if not dp:
        return
    if set(dp) != {"clip", "noise_multiplier", "delta"}:
        raise _bad("dp", "a table with exactly clip, noise_multiplier and delta", sorted(dp))
    _number("dp.clip", dp["clip"], 0, MAX_PARAM, open_low=True)
    _number("dp.noise_multiplier", dp["noise_multiplier"], 0, MAX_NOISE_MULTIPLIER, open_low=True)
    _number("dp.delta", dp["delta"], 0, 1, open_low=True, open_high=True)
    epsilon = gaussian_epsilon(float(dp["noise_multiplier"]), rounds, float(dp["delta"]))
    if not math.isfinite(epsilon):
        raise _bad("dp.noise_multiplier", "large enough for a finite epsilon", dp["noise_multiplier"])
    check_dp_settings(dp, rounds)


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
    ledger = home.open_ledger(as_validator=False)
    try:
        existing = task(ledger.state(), config.task_id)
    finally:
        ledger.close()
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


def _plan_data(config: FederationConfig) -> tuple[Any, ...]:
    """Load, split and partition the data (no writes); ``ConfigError`` if a participant would get no rows."""
    X, y, n_classes = data_module.load(config.dataset)
    X_train, y_train, X_val, y_val = data_module.split(X, y, config.validation_fraction, config.seed)
    if config.participants > len(X_train):
        raise _bad("participants", f"at most {len(X_train)} for {config.dataset}", config.participants)
    shards = (
        data_module.partition_iid(len(X_train), config.participants, config.seed)
        if config.partition == "iid"
        else data_module.partition_dirichlet(y_train, config.participants, config.alpha, config.seed)
    )
    return X, X_train, y_train, X_val, y_val, n_classes, shards


def _check_task_payload(config: FederationConfig) -> None:
    """Build the task's ``TaskCreated`` with placeholder digests, so that the event cannot be refused later."""
    placeholder = "sha256:" + "0" * 64
    try:
        TaskCreated(
            task_id=config.task_id,
            name=config.task_id,
            model_spec=placeholder,
            initial_model=placeholder,
            rounds=config.rounds,
            rule=config.rule,
            rule_params=config.rule_params,
            max_update_norm=config.max_update_norm,
            dp=config.dp,
            min_participants=config.min_participants,
            reward_pool=config.reward_pool,
            min_stake=config.stake,
            validation_dataset=placeholder,
            slash_on=config.slash_on,
            slash_amount=config.slash_amount,
            valuation=config.valuation,
        )
    except (ValueError, LedgerMLError) as exc:
        raise ConfigError(f"the task's settings are refused: {str(exc).splitlines()[0]}") from None


def setup_federation(home: Home, config: FederationConfig, *, unencrypted: bool = False) -> Path:
    """Create identities and roles, partition and register the data, create the task. Idempotent per task.

    Everything that can be checked is checked before the first write (settings, data partitions, the task
    event, existing keys), so a bad config writes no event and no file."""
    check_federation(config)
    keys = home.keys
    admin = home.identity(home.config().admin)
    X, X_train, y_train, X_val, y_val, n_classes, shards = _plan_data(config)
    ledger = home.open_ledger(as_validator=False)
    try:
        existing = task(ledger.state(), config.task_id)
    finally:
        ledger.close()
    if existing is None:
        _check_task_payload(config)
    names = [config.aggregator, *config.participant_names()]
    loaded = {name: keys.load(name, password_from_env()) for name in names if (keys.folder / f"{name}.json").exists()}
    aggregator = loaded.get(config.aggregator) or _identity(keys, config.aggregator, unencrypted)
    people = [loaded.get(name) or _identity(keys, name, unencrypted) for name in config.participant_names()]
    _grant(
        home,
        admin,
        [(aggregator, Role.AGGREGATOR), (aggregator, Role.DATA_OWNER)] + [(p, Role.DATA_OWNER) for p in people],
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
                funding=mints,
            )
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
    partial = plan_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(plan, indent=2))
    os.replace(partial, plan_path)  # a crash leaves the old plan or the new one, never half of one
    return plan_path


MAX_PLAN_BYTES = 16 * 1024 * 1024
"""Largest federation plan file read."""


def load_plan(home: Home, task_id: str) -> dict[str, Any]:
    """The plan ``setup_federation`` wrote."""
    path = home.path / "federations" / f"{task_id}.json"
    if not path.exists():
        raise ConfigError(f"no federation plan for task {task_id!r} in {home.path} (run 'ledgerml fl run' first)")
    plan: dict[str, Any] = loads_bounded(path.read_bytes(), what=str(path), max_bytes=MAX_PLAN_BYTES, error=ConfigError)
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
        receipts=home.path / "receipts" / entry["name"],
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
                spec_holder["spec"] = loads_bounded(home.store().get(record.model_spec))
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
                    "metrics": loads_bounded(record.metrics),
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
    return {} if record is None else loads_bounded(record.metrics)


def weights_of(home: Home, digest: str) -> Weights:
    """A stored model's weights."""
    return from_bytes(home.store().get(digest))

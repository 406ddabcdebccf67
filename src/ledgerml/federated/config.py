"""A federation's settings (``FederationConfig``): read from TOML and checked, types and bounds, before any write."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import read_bounded
from ..errors import ConfigError, LedgerMLError
from ..identity import check_identity_name
from ..ml import data as data_module
from .aggregation import RULES, check_rule
from .attacks import ATTACKS
from .dp import check_dp_settings, gaussian_epsilon


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
    secure: bool = False
    screening: dict[str, Any] = field(default_factory=dict)
    clients_per_round: int | None = None

    def __post_init__(self) -> None:
        check_federation(self)

    @classmethod
    def from_toml(cls, path: str | Path) -> FederationConfig:
        """Read ``[federation]`` (and optional ``[attack]``, ``[dp]``, ``[rewards]``) from a TOML file: the whole
        file is checked against the schema (``federated.schema``: unknown tables and keys, types), then every
        bound; ``ConfigError`` names the first bad key."""
        text = read_bounded(Path(path), MAX_CONFIG_BYTES, what=f"federation config {path}")
        try:
            raw = tomllib.loads(text.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}): not a TOML federation config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        from .schema import config_settings

        return cls(**config_settings(raw, str(path)))

    def attacker_indices(self) -> list[int]:
        """Which participants attack: the listed ones, else the first ``attack_fraction`` of them."""
        if self.attack == "none":
            return []
        if self.attackers:
            return sorted(set(self.attackers))
        return list(range(round(self.attack_fraction * self.participants)))

    def task_settings(self) -> dict[str, Any]:
        """The settings the task's ``TaskCreated`` records, by its field names (all but digests and DP)."""
        return {
            "rounds": self.rounds,
            "rule": self.rule,
            "rule_params": self.rule_params,
            "max_update_norm": self.max_update_norm,
            "min_participants": self.min_participants,
            "reward_pool": self.reward_pool,
            "min_stake": self.stake,
            "slash_on": screening_slash_on(self.slash_on, self.screening),
            "slash_amount": self.slash_amount,
            "valuation": self.valuation,
            "secure_aggregation": secure_settings(self) if self.secure else {},
            "screening": screening_settings(self.screening),
            "clients_per_round": self.clients_per_round or 0,
        }

    def participant_names(self) -> list[str]:
        """Identity names of the participants."""
        return self.names or [f"{self.task_id}-org{i:02d}" for i in range(self.participants)]


MAX_CONFIG_BYTES = 1 << 20
"""Largest federation config file read (a TOML file of a few dozen settings)."""
MAX_PARTICIPANTS = 4096
"""Most participants a federation config may name (each gets a key file and a registered partition): what a task
on the EVM ledger holds (``Ledger.vy``'s ``MAX_PARTICIPANTS``)."""
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
SECURE_RULE = "norm_clipped_mean"
"""The one aggregation rule a ``secure = true`` task may use: the aggregator sees only the masked sum."""
VALUATION_METHODS = ("exact", "monte_carlo", "leave_one_out", "kernel", "kernel_adjusted")
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


def secure_settings(config: FederationConfig) -> dict[str, Any]:
    """What ``TaskCreated.secure_aggregation`` records for a ``secure = true`` federation: the protocol, the
    clip bound every client applies and the fixed-point layout it fixes (``federated.secure.quantize``);
    ``ConfigError`` if the bound and the number of participants leave too few fraction bits."""
    from .secure import quantize

    clip = float(config.rule_params.get("clip", 1.0))
    try:
        bits = quantize.frac_bits(config.participants, clip)
    except ValueError as exc:
        raise _bad("secure", f"usable with these settings ({exc})", config.secure) from None
    if config.valuation.get("method") if isinstance(config.valuation, dict) else None:
        raise _bad(
            "valuation.method",
            "left out under secure = true (single updates are hidden: rounds are valued by weight share)",
            config.valuation["method"],
        )
    return {
        "protocol": "ledgerml-secagg/1",
        "clip": clip,
        "frac_bits": bits,
        "max_weight": quantize.MAX_WEIGHT,
        "modulus_bits": 64,
        "threshold": "majority",
    }


def check_federation(config: FederationConfig) -> None:
    """Check every setting, types and bounds, before anything is written; ``ConfigError`` names the first bad one."""
    n = _check_people(config)
    per_round = _check_sampling(config, n)
    _check_training(config, per_round)
    _check_attack(config, n)
    check_dp(config.dp, config.rounds)
    _check_rewards(config, per_round)
    screening_settings(config.screening)
    if config.secure and config.screening:
        raise _bad("screening", "left out when secure = true (no single update is stored in the clear)", "table")


def screening_slash_on(slash_on: list[str], table: Any) -> list[str]:
    """The task's ``slash_on``: with ``[screening] action = "slash"`` it also names the screening exclusion."""
    from ..screening.policy import SCREENING_REASON

    wanted = isinstance(table, dict) and table.get("action") == "slash" and SCREENING_REASON not in slash_on
    return [*slash_on, SCREENING_REASON] if wanted else list(slash_on)


def screening_settings(table: Any) -> dict[str, Any]:
    """What ``TaskCreated.screening`` records for a ``[screening]`` table (every key explicit), or {} for none;
    ``ConfigError`` names a bad key."""
    from ..screening.policy import check_policy

    return check_policy(table).to_dict() if table else {}


def _check_people(c: FederationConfig) -> int:
    """Task id, dataset, participant count and names; the number of participants."""
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
    return n


def _check_sampling(c: FederationConfig, n: int) -> int:
    """``clients_per_round`` (1 to the participants; not with secure aggregation); how many train each round."""
    if c.clients_per_round is None:
        return n
    _int("clients_per_round", c.clients_per_round, 1, n)
    if c.secure is True:
        raise _bad("clients_per_round", "left out when secure = true (every participant takes part in the masking)", 1)
    return c.clients_per_round


def _check_training(c: FederationConfig, n: int) -> None:
    """Partition, rounds, aggregation rule, model and local training settings (``n``: updates per round)."""
    _choice("partition", c.partition, ("iid", "dirichlet"))
    _number("alpha", c.alpha, 0, 1000, open_low=True)
    _int("rounds", c.rounds, 1, MAX_ROUNDS)
    if not isinstance(c.rule_params, dict):
        raise _bad("rule_params", "a table", c.rule_params)
    _choice("rule", c.rule, RULES)
    check_rule(c.rule, c.rule_params, participants=n)
    model = _table("model", c.model, {"type", "hidden", "l2", "target_scale"})
    _choice("model", model.get("type"), ("softmax", "mlp", "linear", "mlp_regressor"))
    if "hidden" in model:
        if model["type"] not in ("mlp", "mlp_regressor"):
            raise _bad("model", "a table with 'hidden' only for type 'mlp' or 'mlp_regressor'", model)
        _int("model.hidden", model["hidden"], 1, MAX_HIDDEN)
    if "l2" in model:
        _number("model.l2", model["l2"], 0, 1)
    if "target_scale" in model:
        if model["type"] not in ("linear", "mlp_regressor"):
            raise _bad("model", "a table with 'target_scale' only for type 'linear' or 'mlp_regressor'", model)
        _number("model.target_scale", model["target_scale"], 1e-6, 1e9)
    _int("epochs", c.epochs, 1, MAX_EPOCHS)
    _number("lr", c.lr, 0, MAX_LR, open_low=True)
    _int("batch_size", c.batch_size, 1, MAX_BATCH_SIZE)
    if c.max_update_norm is not None:
        _number("max_update_norm", c.max_update_norm, 0, MAX_PARAM, open_low=True)
    _int("min_participants", c.min_participants, 1, n)
    _int("seed", c.seed, 0, MAX_SEED)
    _number("validation_fraction", c.validation_fraction, 0.05, 0.5)
    if type(c.secure) is not bool:
        raise _bad("secure", "true or false", c.secure)
    if c.secure and c.rule != SECURE_RULE:
        raise _bad("secure", f"used with rule = {SECURE_RULE!r} only (a masked sum cannot feed {c.rule!r})", c.secure)
    if c.secure:
        secure_settings(c)


def _check_attack(c: FederationConfig, n: int) -> None:
    """The simulated attack: kind, attackers, fraction and parameters."""
    _choice("attack", c.attack, ATTACKS)
    if not isinstance(c.attackers, list):
        raise _bad("attackers", "a list of participant indices", c.attackers)
    for index in c.attackers:
        _int("attackers", index, 0, n - 1)
    _number("attack_fraction", c.attack_fraction, 0, 1, open_high=True)
    params = _table("attack_params", c.attack_params, {"scale", "boost", "sigma", "z", "epsilon"})
    for key, value in params.items():
        _number(f"attack.params.{key}", value, -MAX_PARAM, MAX_PARAM)


def _check_rewards(c: FederationConfig, n: int) -> None:
    """Token amounts, slashing reasons and the valuation method (``n``: updates valued per round)."""
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
            raise _bad(
                "valuation.method", f"not 'exact' for more than {MAX_EXACT_PLAYERS} participants per round", "exact"
            )
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

"""The one schema of a federation config file (TOML): tables, keys, types and defaults, checked by pydantic
before anything else happens; errors are translated to one line naming the key (``rewards.reward_pol``)."""

from __future__ import annotations

import difflib
import json
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..ml.data import DATASETS
from .aggregation import RULES
from .attacks import ATTACKS


class _Table(BaseModel):
    """A TOML table: unknown keys refused, exact types (no "10" for 10, no true for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ModelTable(_Table):
    """``model = { type = "mlp", hidden = 16 }``."""

    type: Literal["softmax", "mlp", "linear", "mlp_regressor"] = Field(
        "softmax",
        description="softmax regression, a one-hidden-layer MLP, or a regressor (linear, mlp_regressor)",
    )
    hidden: int | None = Field(None, description="width of the MLP's hidden layer (1 to 1024; mlp only)")
    l2: float | None = Field(None, description="L2 penalty, 0 to 1")
    target_scale: float | None = Field(None, description="regressors learn y / target_scale (> 0)")


class FederationTable(_Table):
    """``[federation]``: who trains what, how, for how many rounds."""

    task_id: str = Field("federation", description="the task's id: a-z, 0-9, '.', '_', '-' (at most 64)")
    dataset: str = Field("digits", description="a built-in data set: " + ", ".join(DATASETS))
    participants: int = Field(5, description="how many participants (1 to 4,096)")
    names: list[str] = Field(default_factory=list, description="their identity names [default: TASK-org00, ...]")
    partition: Literal["iid", "dirichlet"] = Field("dirichlet", description="how the training rows are split")
    alpha: float = Field(0.5, description="Dirichlet concentration (> 0; small = skewed labels)")
    rounds: int = Field(10, description="training rounds (1 to 10,000)")
    rule: str = Field("fedavg", description="aggregation rule: " + ", ".join(RULES))
    rule_params: dict[str, Any] = Field(default_factory=dict, description="the rule's parameters, e.g. { f = 1 }")
    model: ModelTable = Field(default_factory=ModelTable, description="the model (a table, see below)")
    epochs: int = Field(1, description="local epochs per round (1 to 100)")
    lr: float = Field(0.5, description="local learning rate (> 0, at most 100)")
    batch_size: int = Field(32, description="local mini-batch size")
    max_update_norm: float | None = Field(100.0, description="updates with a larger L2 norm are rejected")
    min_participants: int = Field(2, description="fewest accepted updates for a round to count")
    seed: int = Field(0, description="seed of the split, the partition and training")
    validation_fraction: float = Field(0.2, description="share of rows held out for validation (0.05 to 0.5)")
    aggregator: str = Field("aggregator", description="identity name of the aggregator")
    secure: bool = Field(False, description="secure aggregation: the aggregator sees only the masked sum")
    clients_per_round: int | None = Field(
        None, description="participants that train each round (1 to participants; a keyed-hash sample) [default: all]"
    )


class AttackTable(_Table):
    """``[attack]``: a simulated attack, for evaluation."""

    kind: str = Field("none", description="the simulated attack: " + ", ".join(ATTACKS))
    participants: list[int] = Field(default_factory=list, description="indices of the attackers (from 0)")
    fraction: float = Field(0.0, description="else: the first FRACTION of participants attack (0 to < 1)")
    params: AttackParams = Field(default_factory=lambda: AttackParams(), description="the attack's parameters")


class AttackParams(_Table):
    """``params = { scale = -5.0 }`` of ``[attack]``."""

    scale: float | None = Field(None, description="sign_flip / scaling factor; adaptive: step in spreads")
    boost: float | None = Field(None, description="scaling boost")
    sigma: float | None = Field(None, description="gaussian_noise standard deviation")
    z: float | None = Field(None, description="alie: std multiplier [default: Baruch et al.'s z_max for n, f]")
    epsilon: float | None = Field(None, description="ipm: multiple of the attackers' mean update, reversed")


class DpTable(_Table):
    """``[dp]``: client-side differential privacy (all three keys, or no table)."""

    clip: float = Field(description="L2 clip of each update (> 0)")
    noise_multiplier: float = Field(description="Gaussian noise multiplier z (> 0)")
    delta: float = Field(description="delta of the (epsilon, delta) budget, in (0, 1)")


class ValuationTable(_Table):
    """``valuation = { method = "monte_carlo", permutations = 50 }`` of ``[rewards]``."""

    method: Literal["exact", "monte_carlo", "leave_one_out", "kernel", "kernel_adjusted"] | None = Field(
        None, description="how to value updates"
    )
    permutations: int | None = Field(None, description="Monte Carlo permutations per round")
    truncation: float | None = Field(None, description="Monte Carlo truncation tolerance, 0 to 1")


class RewardsTable(_Table):
    """``[rewards]``: the reward pool, stakes and slashing."""

    reward_pool: int = Field(0, description="tokens paid out over the task, split by contribution")
    stake: int = Field(0, description="tokens each participant stakes to join")
    initial_tokens: int = Field(0, description="tokens minted to each participant at setup")
    slash_on: list[str] = Field(default_factory=list, description="rejection reasons (prefixes) that slash a stake")
    slash_amount: int = Field(0, description="tokens slashed per such rejection")
    valuation: ValuationTable = Field(default_factory=ValuationTable, description="contribution valuation")


class ScreeningTable(_Table):
    """``[screening]``: score every participant every round and act on suspicious ones (see docs/screening.md)."""

    detector: Literal["separation", "alignment", "consensus", "history"] = Field(
        "separation",
        description=(
            "the detector (cross-round, per participant): separation (v4), alignment (v3), consensus (v2) or"
            " history (v1)"
        ),
    )
    threshold: float = Field(0.5, description="scores at or above it are suspicious, in (0, 1)")
    action: Literal["flag", "exclude", "slash"] = Field(
        "flag", description="flag: record only; exclude: leave out of the aggregate; slash: exclude and slash"
    )


class FederationFile(_Table):
    """A federation config file: ``[federation]`` and the optional ``[attack]``, ``[dp]``, ``[rewards]``,
    ``[screening]``."""

    federation: FederationTable = Field(default_factory=FederationTable)
    attack: AttackTable | None = None
    dp: DpTable | None = None
    rewards: RewardsTable | None = None
    screening: ScreeningTable | None = None


AttackTable.model_rebuild()

_ATTACK_FIELDS = {
    "kind": "attack",
    "participants": "attackers",
    "fraction": "attack_fraction",
    "params": "attack_params",
}


def config_settings(document: dict[str, Any], where: str) -> dict[str, Any]:
    """The :class:`FederationConfig` keyword arguments of a parsed TOML document, after the schema check;
    ``ConfigError`` naming the first bad key."""
    try:
        parsed = FederationFile.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, document, where)) from None
    given = document.get("federation", {})
    values = {k: v for k, v in parsed.federation.model_dump().items() if k in given}
    if "model" in values:
        values["model"] = parsed.federation.model.model_dump(exclude_none=True)
    if parsed.attack is not None:
        attack = parsed.attack.model_dump()
        attack["params"] = parsed.attack.params.model_dump(exclude_none=True)
        values.update({_ATTACK_FIELDS[k]: v for k, v in attack.items() if k in document["attack"]})
    if parsed.dp is not None:
        values["dp"] = parsed.dp.model_dump()
    if parsed.screening is not None:
        values["screening"] = parsed.screening.model_dump()
    if parsed.rewards is not None:
        rewards = parsed.rewards.model_dump()
        rewards["valuation"] = parsed.rewards.valuation.model_dump(exclude_none=True)
        values.update({k: v for k, v in rewards.items() if k in document["rewards"]})
    return values


_TYPE_WORDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows at the table that holds ``loc``."""
    model: Any = FederationFile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        model = next((a for a in inner if issubclass(a, BaseModel)), annotation)
    return list(model.model_fields)


def describe_error(exc: ValidationError, document: dict[str, Any], where: str) -> str:
    """One line for the first schema error: the key's dotted path, what it must be, what was found."""
    order = {"extra_forbidden": 0, "missing": 1}
    error = min(exc.errors(), key=lambda e: order.get(e["type"], 2))  # a misspelt key first: it explains the rest
    loc = tuple(error["loc"])
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        what = f"table [{loc[0]}]" if len(loc) == 1 else f"key '{key}'"
        scope = "tables" if len(loc) == 1 else "keys here"
        return f"unknown {what} in {where}{hint} (known {scope}: {', '.join(known)}){more}"
    if kind == "missing":
        return f"key '{key}' is missing in {where}{more}"
    shown = repr(error.get("input"))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if kind in _TYPE_WORDS:
        wanted = _TYPE_WORDS[kind]
    elif kind == "literal_error":
        wanted = "one of " + str(error.get("ctx", {}).get("expected", "the listed values"))
    else:
        wanted = "valid: " + str(error["msg"]).lower()
    return f"setting '{key}' in {where} must be {wanted}, got {shown}{more}"


def _rows(model: type[BaseModel], table: str) -> list[str]:
    """Markdown rows of one table's keys."""
    rows = []
    for name, info in model.model_fields.items():
        default = "(required)" if info.is_required() else _default_text(info)
        rows.append(f"| `{table}.{name}` | {_type_text(info.annotation)} | {default} | {info.description or ''} |")
    return rows


def _type_text(annotation: Any) -> str:
    """A key's type in words for the docs table (TOML terms)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f'"{a}"' for a in args)
    if type(None) in args:
        return _type_text(next(a for a in args if a is not type(None))) + " (optional)"
    if typing.get_origin(annotation) is list:
        return f"array of {_type_text(args[0])}s"
    if typing.get_origin(annotation) is dict:
        return "inline table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "inline table"
    return {str: "string", int: "integer", float: "number"}.get(annotation, str(annotation))


def _default_text(info: Any) -> str:
    if info.default_factory is not None:
        value = info.default_factory()
        return f"`{json.dumps(value)}`" if not isinstance(value, BaseModel) else "(table)"
    return "none" if info.default is None else f"`{json.dumps(info.default)}`"


def schema_table() -> str:
    """Every key of the schema as one Markdown table (docs/federation-config.md holds exactly this)."""
    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    body = _rows(FederationTable, "federation") + _rows(ModelTable, "federation.model")
    body += _rows(AttackTable, "attack") + _rows(AttackParams, "attack.params") + _rows(DpTable, "dp")
    body += _rows(RewardsTable, "rewards") + _rows(ValuationTable, "rewards.valuation")
    body += _rows(ScreeningTable, "screening")
    return "\n".join(header + body) + "\n"


__all__ = ["FederationFile", "config_settings", "describe_error", "schema_table"]

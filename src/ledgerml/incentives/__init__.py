"""Incentives: contribution valuation (exact / Monte Carlo GTG-style / leave-one-out Shapley), rewards paid
from a task's pool in proportion to contributions, stakes slashed for rejected updates - all as events."""

from .rewards import RoundSettler, RoundValue, audit_rewards, load_validation, value_round
from .valuation import Valuation, exact_shapley, leave_one_out, monte_carlo_shapley, spearman

__all__ = [
    "RoundSettler",
    "RoundValue",
    "Valuation",
    "audit_rewards",
    "exact_shapley",
    "leave_one_out",
    "load_validation",
    "monte_carlo_shapley",
    "spearman",
    "value_round",
]

"""Incentives: Shapley properties, token rules, rewards/slashing/settlement, free riders, sybils, audits."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import DuplicateRegistration, InsufficientFunds, InvalidTransition, Unauthorized
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.runner import FederationConfig, load_plan, setup_federation
from ledgerml.home import Home
from ledgerml.incentives import (
    audit_rewards,
    exact_shapley,
    leave_one_out,
    load_validation,
    monte_carlo_shapley,
    spearman,
)
from ledgerml.state import State, apply
from ledgerml.vocab.core import LedgerCreated
from ledgerml.vocab.rewards import RewardPaid, StakeSlashed, TaskSettled, expected_payments, payouts
from ledgerml.vocab.tasks import task
from ledgerml.vocab.tokens import TokensMinted, TokensTransferred, balance, supply

from ..conftest import make_identity

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

# -- Shapley properties on synthetic utilities -----------------------------------------------------------------

weights_strategy = st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=6)


def additive(weights: list[float], interaction: float = 0.0):  # type: ignore[no-untyped-def]
    return lambda s: sum(weights[i] for i in s) + interaction * (len(s) ** 2)


@settings(max_examples=60, deadline=None)
@given(weights_strategy, st.floats(-1, 1))
def test_efficiency(weights: list[float], interaction: float) -> None:
    n = len(weights)
    v = additive(weights, interaction)
    values = exact_shapley(n, v).values
    assert math.isclose(sum(values), v(frozenset(range(n))) - v(frozenset()), abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(weights_strategy, st.floats(-1, 1))
def test_symmetry_and_null_player(weights: list[float], interaction: float) -> None:
    n = len(weights) + 2
    w = [*weights, weights[0], 0.0]  # player n-2 duplicates player 0; player n-1 adds nothing ...

    def v(s):  # type: ignore[no-untyped-def]
        core = frozenset(i for i in s if i != n - 1)  # ... and never changes any coalition's value
        return sum(w[i] for i in core) + interaction * len({min(i, 0) if i in (0, n - 2) else i for i in core}) ** 2

    values = exact_shapley(n, v).values
    assert math.isclose(values[0], values[n - 2], abs_tol=1e-9)
    assert math.isclose(values[n - 1], 0.0, abs_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(weights_strategy, weights_strategy)
def test_additivity(a: list[float], b: list[float]) -> None:
    n = min(len(a), len(b))
    va, vb = additive(a[:n], 0.3), additive(b[:n], -0.2)
    both = exact_shapley(n, lambda s: va(s) + vb(s)).values
    separate = [x + y for x, y in zip(exact_shapley(n, va).values, exact_shapley(n, vb).values, strict=True)]
    assert np.allclose(both, separate, atol=1e-9)


def test_exact_by_hand_and_leave_one_out() -> None:
    # glove game: player 0 holds a left glove, 1 and 2 right gloves; a pair is worth 1
    v = lambda s: 1.0 if 0 in s and (1 in s or 2 in s) else 0.0  # noqa: E731
    values = exact_shapley(3, v).values
    assert np.allclose(values, [2 / 3, 1 / 6, 1 / 6])
    assert exact_shapley(3, v).evaluations == 8
    assert leave_one_out(3, v).values == (1.0, 0.0, 0.0)


def test_monte_carlo_converges_to_exact() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=8)
    v = lambda s: float(sum(w[i] for i in s) + 0.1 * len(s) ** 1.5)  # noqa: E731
    exact = np.array(exact_shapley(8, v).values)
    errors = [
        np.abs(np.array(monte_carlo_shapley(8, v, permutations=p, seed=1).values) - exact).max() for p in (8, 64, 512)
    ]
    assert errors[2] < errors[0] and errors[2] < 0.05
    assert spearman(monte_carlo_shapley(8, v, permutations=512, seed=1).values, exact) > 0.95


def test_truncation_skips_flat_rounds() -> None:
    result = monte_carlo_shapley(5, lambda s: 0.5, permutations=20, truncation=1e-3)
    assert result.values == (0.0,) * 5 and result.evaluations == 2


# -- token and reward rules -------------------------------------------------------------------------------------


def test_expected_payments_integer_split() -> None:
    assert expected_payments(100, {"a": 3, "b": 1, "c": -5}) == {"a": 75, "b": 25}
    assert expected_payments(100, {"a": 1, "b": 1, "c": 1}) == {"a": 33, "b": 33, "c": 33}
    assert expected_payments(100, {"a": 0, "b": -1}) == {}


class Chain:
    def __init__(self) -> None:
        self.state = State()
        self.nonces: dict[str, int] = {}
        self.admin = make_identity("admin", 1)
        self.do(self.admin, LedgerCreated(name="t", admin=self.admin.address, validator=self.admin.address))

    def do(self, who, payload):  # type: ignore[no-untyped-def]
        from ledgerml.events import sign_event

        event = sign_event(who, "ab" * 16, payload, self.nonces.get(who.address, 0), time_ms=1)
        apply(self.state, event)
        self.nonces[who.address] = self.nonces.get(who.address, 0) + 1


PEOPLE = [make_identity(f"p{i}", 70 + i) for i in range(4)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 3), st.integers(1, 500)), max_size=30))
def test_tokens_always_add_up(operations: list[tuple[int, int, int, int]]) -> None:
    chain = Chain()
    for kind, frm, to, amount in operations:
        before = chain.state.snapshot()
        try:
            if kind == 0:
                chain.do(chain.admin, TokensMinted(amount=amount, to=PEOPLE[to].address))
            elif kind == 1:
                chain.do(PEOPLE[frm], TokensMinted(amount=amount, to=PEOPLE[to].address))  # not admin
            else:
                chain.do(PEOPLE[frm], TokensTransferred(to=PEOPLE[to].address, amount=amount))
        except (Unauthorized, InsufficientFunds):
            assert chain.state.snapshot() == before
        totals = supply(chain.state)
        assert totals.balanced and all(balance(chain.state, p.address) >= 0 for p in PEOPLE)


# -- federations with rewards ---------------------------------------------------------------------------------


def rewarded(tmp_path: Path, **settings: object) -> tuple[Home, FederationConfig]:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    config = FederationConfig(
        **{
            "task_id": "paid",
            "participants": 5,
            "rounds": 3,
            "epochs": 2,
            "reward_pool": 3000,
            "stake": 100,
            "initial_tokens": 100,
            "slash_on": ["not selected by"],
            "slash_amount": 40,
            "rule": "multi_krum",
            "rule_params": {"f": 1},
            **settings,
        }
    )  # type: ignore[arg-type]
    setup_federation(home, config, unencrypted=True)
    return home, config


def set_attack(home: Home, task_id: str, index: int, attack: str) -> str:
    path = home.path / "federations" / f"{task_id}.json"
    plan = json.loads(path.read_text())
    plan["participants"][index]["attack"] = attack
    path.write_text(json.dumps(plan))
    return str(home.keys.info(plan["participants"][index]["name"]).address)


def test_free_rider_earns_nothing_and_attacker_is_slashed(tmp_path: Path) -> None:
    home, config = rewarded(tmp_path, attack="sign_flip", attackers=[2])
    free_rider = set_attack(home, "paid", 4, "free_ride")
    attacker = str(home.keys.info(config.participant_names()[2]).address)
    run_in_process(home, "paid")
    ledger = home.open_ledger()
    state = ledger.state()
    paid_rounds = list(payouts(state, "paid").rewards.values())
    total_paid = sum(sum(dict(p.payments).values()) for p in paid_rounds)
    assert total_paid > 0 and len(paid_rounds) == 3
    free_rider_paid = payouts(state, "paid").paid_to(free_rider)
    assert free_rider_paid == 0  # a free rider is a null player: its Shapley value is exactly 0
    assert all(dict(p.contributions)[free_rider] == 0 for p in paid_rounds)
    # the attacker is rejected every round: slashed 40 + 40 + 20 (its stake of 100 runs out), never paid
    slashes = sorted(s.amount for (_, a), s in payouts(state, "paid").slashes.items() if a == attacker)
    assert slashes == [20, 40, 40] and balance(state, attacker) == 0
    assert supply(state).balanced and state.get("settled", "paid") is not None
    record = task(state, "paid")
    validation = load_validation(load_plan(home, "paid").validation, record)  # type: ignore[arg-type]
    assert audit_rewards(ledger, home.store(), "paid", validation) == []
    ledger.close()


def test_sybil_copies_earn_no_more_than_the_single_update(tmp_path: Path) -> None:
    """Same data, same base model: participants 2 and 3 either drop out (baseline) or submit exact copies of
    participant 1's update (sybils). The copies are one player, so together they earn what 1 earns alone."""
    settings = {"participants": 4, "rounds": 1, "rule": "fedavg", "rule_params": {}, "slash_on": []}
    single_home, _ = rewarded(tmp_path / "a", **settings)
    run_in_process(single_home, "paid", drop={2, 3})
    sybil_home, _ = rewarded(tmp_path / "b", **settings)
    plan_path = sybil_home.path / "federations" / "paid.json"
    plan = json.loads(plan_path.read_text())
    for index in (2, 3):
        plan["participants"][index]["data"] = plan["participants"][1]["data"]
        plan["participants"][index]["seed"] = plan["participants"][1]["seed"]
    plan_path.write_text(json.dumps(plan))
    run_in_process(sybil_home, "paid")

    def earnings(home: Home, indices: list[int]) -> int:
        ledger = home.open_ledger()
        state = ledger.state()
        names = load_plan(home, "paid").participants
        addresses = {str(home.keys.info(names[i].name).address) for i in indices}
        total = sum(payouts(state, "paid").paid_to(a) for a in addresses)
        ledger.close()
        return total

    alone, copies = earnings(single_home, [1]), earnings(sybil_home, [1, 2, 3])
    assert alone > 0 and alone - 3 <= copies <= alone  # equal up to integer rounding, never more
    assert earnings(sybil_home, [0]) == earnings(single_home, [0])  # the honest participant is unaffected


def test_reward_and_slash_rules_reject_lies(tmp_path: Path) -> None:
    home, config = rewarded(tmp_path, rounds=2, attack="sign_flip", attackers=[2])
    run_in_process(home, "paid")
    plan = load_plan(home, "paid")
    aggregator = home.identity(plan.aggregator)
    ledger = home.open_ledger()
    state = ledger.state()
    attacker = str(home.keys.info(config.participant_names()[2]).address)
    honest = str(home.keys.info(config.participant_names()[0]).address)
    with pytest.raises(DuplicateRegistration):
        ledger.submit(aggregator, RewardPaid(task_id="paid", round=1, contributions={}, payments={}))
    with pytest.raises(DuplicateRegistration):
        ledger.submit(
            aggregator,
            StakeSlashed(
                task_id="paid",
                round=1,
                participant=attacker,
                amount=40,
                reason="not selected by multi_krum",
                update_digest=state.get("commits", ("paid", 1, attacker)).update_digest,
            ),
        )
    with pytest.raises(InvalidTransition, match="not rejected"):
        ledger.submit(
            aggregator,
            StakeSlashed(
                task_id="paid",
                round=1,
                participant=honest,
                amount=40,
                reason="not selected by multi_krum",
                update_digest="sha256:" + "0" * 64,
            ),
        )
    with pytest.raises(DuplicateRegistration):
        ledger.submit(aggregator, TaskSettled(task_id="paid"))
    with pytest.raises(Unauthorized):
        ledger.submit(home.identity("admin"), TaskSettled(task_id="paid"))
    ledger.close()


def test_inflated_contributions_are_caught_by_the_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = rewarded(tmp_path, rounds=1, slash_on=[], rule="fedavg", rule_params={})
    plan = load_plan(home, "paid")
    from ledgerml.incentives import RoundSettler, value_round

    monkeypatch.setattr(RoundSettler, "wanted", staticmethod(lambda record: False))  # pay by hand below
    run_in_process(home, "paid")
    monkeypatch.undo()
    ledger = home.open_ledger()
    record = task(ledger.state(), "paid")
    assert record is not None
    validation = load_validation(plan.validation, record)
    value = value_round(
        ledger.state(), home.store(), record, 1, json.loads(home.store().get(record.model_spec)), validation
    )
    friend = sorted(value.contributions)[0]
    inflated = {a: (c + 500_000 if a == friend else c) for a, c in value.contributions.items()}
    budget = record.reward_pool // record.rounds
    ledger.submit(
        home.identity(plan.aggregator),
        RewardPaid(task_id="paid", round=1, contributions=inflated, payments=expected_payments(budget, inflated)),
    )
    problems = audit_rewards(ledger, home.store(), "paid", validation)
    assert problems and "differ from the recomputation" in problems[0]
    ledger.close()


def test_staking_needs_tokens(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    setup_federation(home, FederationConfig(task_id="poor", participants=2, rounds=1, stake=50), unencrypted=True)
    strategy = run_in_process(home, "poor")  # nobody holds tokens, so every join is refused
    assert strategy.join_problems and all("InsufficientFunds" in p or "holds 0" in p for p in strategy.join_problems)


def test_a_failing_valuation_pays_nothing_instead_of_wedging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerml.incentives import rewards

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise FloatingPointError("valuation blew up")

    home, _ = rewarded(tmp_path, participants=3, rounds=2, rule="fedavg", rule_params={}, slash_on=[])
    monkeypatch.setattr(rewards, "value_round", broken)
    run_in_process(home, "paid")  # every round finalized and paid (nothing), the task settled
    ledger = home.open_ledger()
    state = ledger.state()
    paid = payouts(state, "paid").rewards
    assert sorted(paid) == [1, 2]
    assert all(not v.payments and not any(dict(v.contributions).values()) for v in paid.values())
    assert state.get("settled", "paid") is not None
    validation = load_validation(load_plan(home, "paid").validation, task(state, "paid"))  # type: ignore[arg-type]
    assert audit_rewards(ledger, home.store(), "paid", validation) == []  # the replay fails the same way
    monkeypatch.undo()
    assert audit_rewards(ledger, home.store(), "paid", validation)  # a working valuation would have paid
    ledger.close()


def test_a_kernel_valued_task_pays_and_its_rewards_replay(tmp_path: Path) -> None:
    home, _ = rewarded(tmp_path, participants=4, rounds=2, rule="fedavg", rule_params={}, slash_on=[],
                       valuation={"method": "kernel"})  # fmt: skip
    run_in_process(home, "paid")
    ledger = home.open_ledger()
    state = ledger.state()
    record = task(state, "paid")
    assert record is not None and json.loads(record.valuation) == {"method": "kernel"}
    paid = payouts(state, "paid").rewards
    assert sorted(paid) == [1, 2] and all(sum(dict(p.payments).values()) > 0 for p in paid.values())
    validation = load_validation(load_plan(home, "paid").validation, record)
    assert audit_rewards(ledger, home.store(), "paid", validation) == []  # the auditor replays it from the seed
    ledger.close()

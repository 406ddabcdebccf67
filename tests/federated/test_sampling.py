"""Per-round client sampling: the setting's bounds, the keyed-hash sample, the coordinator's refusal of
unsampled commitments and the round auditor's check, on the in-process engine with tiny data."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.events import event_from_dict
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.coordinator import Reply, TaskCoordinator
from ledgerml.federated.runner import FederationConfig, load_participant, load_plan, setup_federation
from ledgerml.federated.sampling import NOT_SAMPLED, RoundSampler, choose, not_sampled_reason
from ledgerml.home import Home
from ledgerml.ml.serialization import to_bytes
from ledgerml.types import Address
from ledgerml.vocab.tasks import commits, round_record, task

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

ADDRESSES = [f"0x{i:040x}" for i in range(1, 41)]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    target = Home(tmp_path / "home")
    target.init(unencrypted=True)
    return target


def planned(home: Home, **settings: object) -> FederationConfig:
    base = {"task_id": "s1", "participants": 6, "clients_per_round": 3, "rounds": 2, "partition": "iid"}
    config = FederationConfig(**{**base, "min_participants": 1, **settings})  # type: ignore[arg-type]
    setup_federation(home, config, unencrypted=True)
    return config


def join(home: Home, indices: list[int]) -> list:  # type: ignore[type-arg]
    people = [load_participant(home, "s1", i) for i in indices]
    with home.open_ledger() as ledger:
        for p in people:
            ledger.append(p.join(ledger.ledger_id, "s1", ledger.next_nonce(p.address)))
    return people


def coordinator(home: Home) -> TaskCoordinator:
    return TaskCoordinator(home.open_ledger(), home.store(), home.identity(load_plan(home, "s1").aggregator), "s1")


def replies(coord: TaskCoordinator, people: list) -> list[Reply]:  # type: ignore[type-arg]
    cfg = coord.train_config()
    cfg["nonces"] = json.dumps({p.address: coord.ledger.next_nonce(p.address) for p in people})
    spec, base = coord.model_spec(), to_bytes(coord.global_weights())
    found = []
    for p in people:
        data, event, _ = p.train(base, cfg, spec)
        found.append(Reply(p.address, event.to_dict(), data))
    return found


def problems(home: Home) -> list[str]:
    with home.open_ledger(as_validator=False) as ledger:
        report = audit_task(ledger, home.store(), "s1")
    return [p for r in report.rounds for p in r.problems] + report.problems


# -- the sample itself: pure functions ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    eligible=st.lists(st.sampled_from(ADDRESSES), max_size=40),
    k=st.integers(min_value=1, max_value=50),
    round_=st.integers(min_value=1, max_value=10_000),
    key=st.text(min_size=1, max_size=20),
)
def test_the_sample_is_k_of_the_eligible_in_any_order(eligible: list[str], k: int, round_: int, key: str) -> None:
    chosen = choose(key, round_, eligible, k)
    assert set(chosen) <= set(eligible) and len(chosen) == min(k, len(set(eligible)))
    assert chosen == sorted(chosen) == choose(key, round_, list(reversed(eligible)), k)


def test_the_sample_changes_with_the_round_and_the_task_key() -> None:
    samples = {tuple(choose("sha256:task", r, ADDRESSES, 10)) for r in range(1, 21)}
    assert len(samples) == 20  # 20 rounds, 20 different samples of 10 out of 40
    assert choose("sha256:task", 1, ADDRESSES, 10) != choose("sha256:other", 1, ADDRESSES, 10)
    assert choose("sha256:task", 1, ADDRESSES, 10) == choose("sha256:task", 1, ADDRESSES, 10)


def test_one_more_eligible_participant_displaces_at_most_one() -> None:
    before = set(choose("k", 3, ADDRESSES[:30], 10))
    after = set(choose("k", 3, ADDRESSES[:31], 10))
    assert len(before - after) <= 1 and after - before <= {ADDRESSES[30]}


def test_a_sample_of_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        choose("k", 1, ADDRESSES, 0)


# -- the setting ------------------------------------------------------------------------------------------

BAD_SAMPLING = [  # (settings, the error must name)
    ({"clients_per_round": 0}, "clients_per_round"),
    ({"clients_per_round": 7}, "clients_per_round"),
    ({"clients_per_round": -1}, "clients_per_round"),
    ({"clients_per_round": 2.5}, "clients_per_round"),
    ({"clients_per_round": True}, "clients_per_round"),
    ({"clients_per_round": "3"}, "clients_per_round"),
    ({"clients_per_round": 2, "min_participants": 3}, "min_participants"),
    ({"participants": 20, "clients_per_round": 17, "valuation": {"method": "exact"}}, "valuation.method"),
    ({"clients_per_round": 3, "secure": True, "rule": "norm_clipped_mean"}, "clients_per_round"),
]


@pytest.mark.parametrize("given_settings,setting", BAD_SAMPLING, ids=[f"{i}" for i in range(len(BAD_SAMPLING))])
def test_bad_sampling_settings_are_one_line_naming_the_setting(given_settings: dict, setting: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=f"'{setting}") as caught:
        FederationConfig(**{"task_id": "t", "participants": 6, **given_settings})
    assert len(str(caught.value).splitlines()) == 1


def test_exact_valuation_fits_the_per_round_count_not_the_participants() -> None:
    FederationConfig(task_id="t", participants=1000, clients_per_round=10, valuation={"method": "exact"})
    with pytest.raises(ConfigError, match="per round"):
        FederationConfig(task_id="t", participants=1000, valuation={"method": "exact"})
    FederationConfig(task_id="t", participants=4096, clients_per_round=100, valuation={"method": "monte_carlo"})
    with pytest.raises(ConfigError, match="'participants'"):
        FederationConfig(task_id="t", participants=4097)


def test_a_bad_clients_per_round_in_a_file_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledgerml.cli import main

    monkeypatch.setenv("LEDGERML_HOME", str(tmp_path / "clihome"))
    Home(tmp_path / "clihome").init(unencrypted=True)
    before = sorted((p.name, p.stat().st_size) for p in (tmp_path / "clihome").rglob("*") if p.is_file())
    for text in ("clients_per_round = 9\n", 'clients_per_round = "3"\n'):
        (tmp_path / "bad.toml").write_text('[federation]\ntask_id = "x"\nparticipants = 4\n' + text)
        monkeypatch.setattr(sys, "argv", ["ledgerml", "fl", "run", str(tmp_path / "bad.toml"), "--unencrypted"])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "clients_per_round" in err, err
        assert "Traceback" not in err
    after = sorted((p.name, p.stat().st_size) for p in (tmp_path / "clihome").rglob("*") if p.is_file())
    assert [n for n, _ in after if not n.endswith(("-wal", "-shm"))] == [
        n for n, _ in before if not n.endswith(("-wal", "-shm"))
    ]


def test_the_setting_is_recorded_only_when_given(home: Home) -> None:
    planned(home)
    setup_federation(home, FederationConfig(task_id="plain", participants=2, rounds=1), unencrypted=True)
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        sampled, plain = task(state, "s1"), task(state, "plain")
        assert sampled is not None and plain is not None
        bodies = {tid: ledger.get_event(r.created_by).event.body for tid, r in (("s1", sampled), ("plain", plain))}
    assert sampled.clients_per_round == 3 and plain.clients_per_round == 0
    assert b'"clients_per_round":3' in bodies["s1"] and b"clients_per_round" not in bodies["plain"]


# -- the run, the coordinator and the auditor ----------------------------------------------------------------


def test_an_in_process_run_trains_exactly_each_rounds_sample_and_audits(home: Home) -> None:
    planned(home)
    run_in_process(home, "s1")
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        record = task(state, "s1")
        assert record is not None
        joined = sorted(a for (tid, a) in state.rows("participants") if tid == "s1")
        for round_ in (1, 2):
            expected = choose(record.created_by, round_, joined, 3)
            assert sorted(commits(state, "s1", round_)) == expected
            finalized = round_record(state, "s1", round_)
            assert finalized is not None and finalized.status == "ok" and not finalized.invalid
            assert RoundSampler(ledger, record).sample(round_) == frozenset(expected)
    assert len(joined) == 6 and problems(home) == []


def test_replies_from_outside_the_sample_are_refused_before_commitment(home: Home) -> None:
    planned(home, rounds=1)
    people = join(home, list(range(6)))
    coord = coordinator(home)
    sample = coord.sampler.sample(1)
    assert sample is not None and len(sample) == 3
    outcome = coord.process_round(replies(coord, people))
    outsiders = sorted(p.address for p in people if p.address not in sample)
    assert sorted(outcome.accepted) == sorted(sample)
    assert sorted(who for who, _ in outcome.invalid) == outsiders
    assert all(why.startswith(NOT_SAMPLED) for _, why in outcome.invalid)
    assert sorted(commits(coord.ledger.state(), "s1", 1)) == sorted(sample)  # nothing else reached the ledger
    coord.ledger.close()
    assert problems(home) == []


def test_a_commitment_an_unsampled_participant_appends_itself_is_rejected_and_audited(home: Home) -> None:
    planned(home, rounds=1)
    people = join(home, list(range(6)))
    coord = coordinator(home)
    sample = coord.sampler.sample(1)
    assert sample is not None
    all_replies = replies(coord, people)
    sneaky = next(r for r in all_replies if Address(r.node) not in sample)
    coord.ledger.append(event_from_dict(sneaky.event))  # straight to the ledger, past the aggregator
    home.store().put(sneaky.update)  # type: ignore[arg-type]
    outcome = coord.process_round([r for r in all_replies if Address(r.node) in sample])
    assert outcome.rejected == {sneaky.node: not_sampled_reason(1)}
    assert sorted(outcome.accepted) == sorted(sample)
    coord.ledger.close()
    assert problems(home) == []
    from ledgerml.federated.coordinator import update_verdict
    from ledgerml.federated.screening import screenable

    with home.open_ledger(as_validator=False) as ledger:  # the monitor scores the sample only, as the audit does
        (scored,) = screenable(ledger.state(), home.store(), "s1", update_verdict).rounds()
    assert sorted(scored.scores) == sorted(sample)


def test_the_auditor_flags_an_accepted_commitment_from_outside_the_sample(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned(home, rounds=1)
    people = join(home, list(range(6)))
    coord = coordinator(home)
    sample = coord.sampler.sample(1)
    assert sample is not None
    outsider = next(p for p in people if p.address not in sample)
    monkeypatch.setattr(coord.sampler, "sample", lambda round_: None)  # an aggregator that ignores the sample
    outcome = coord.process_round(replies(coord, people))
    assert outsider.address in outcome.accepted
    coord.ledger.close()
    found = problems(home)
    assert any(f"{outsider.address}: accepted in round 1 but not in the round's sample" in p for p in found), found


def test_who_joins_after_a_rounds_first_commitment_is_eligible_from_the_next_round(home: Home) -> None:
    planned(home, rounds=2, clients_per_round=6)
    early = join(home, list(range(5)))
    coord = coordinator(home)
    first = replies(coord, early[:1])[0]
    coord.ledger.append(event_from_dict(first.event))
    late = join(home, [5])[0]
    assert late.address not in coord.sampler.eligible(1) and len(coord.sampler.eligible(1)) == 5
    assert late.address in coord.sampler.eligible(2)
    sample = coord.sampler.sample(1)
    assert sample is not None and late.address not in sample
    coord.ledger.close()


def test_nodes_join_in_chunks_and_every_one_is_known(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerml.federated import flower

    planned(home, rounds=1)
    monkeypatch.setattr(flower, "JOIN_CHUNK", 4)  # 6 nodes: two chunks
    strategy = run_in_process(home, "s1")
    with home.open_ledger(as_validator=False) as ledger:
        joined = sorted(a for (tid, a) in ledger.state().rows("participants") if tid == "s1")
    assert len(strategy.nodes) == 6 and sorted(strategy.nodes.values()) == joined and not strategy.join_problems


def test_rewards_value_only_each_rounds_sampled_updates_and_audit(home: Home) -> None:
    from ledgerml.federated.workflow import audit_federation
    from ledgerml.vocab.rewards import payouts

    planned(home, reward_pool=600, valuation={"method": "exact"})
    run_in_process(home, "s1")
    report = audit_federation(home, "s1")
    assert report.ok, report.problems + [p for r in report.rounds for p in r.problems]
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        found = payouts(state, "s1")
        for round_, reward in found.rewards.items():
            assert {a for a, _ in reward.contributions} <= set(commits(state, "s1", round_))
    assert found.rewards and sum(found.paid_to(a) for a in {a for r in found.rewards.values() for a, _ in r.payments})

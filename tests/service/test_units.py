"""The service's plain parts: the rate limit, the token store, problem statuses, the lineage layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml import errors
from ledgerml.errors import ConfigError, NotFound
from ledgerml.ledger.remote import BodyTooLarge, Forbidden, Unauthenticated, error_from_problem
from ledgerml.service.auth import TokenStore, require_writer
from ledgerml.service.graph import layout, svg
from ledgerml.service.problems import problem, status_of
from ledgerml.service.ratelimit import RateLimit

ADDRESS = "0x" + "ab" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_limit_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    limit = RateLimit(rate=2.0, burst=3, clock=clock)
    assert [limit.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("a") == pytest.approx(0.5)
    assert limit.take("b") == 0.0  # per key
    clock.now = 0.5
    assert limit.take("a") == 0.0 and limit.take("a") > 0


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=60))
def test_a_rate_limit_never_allows_more_than_burst_plus_rate_times_time(gaps: list[float]) -> None:
    clock = Clock()
    limit = RateLimit(rate=3.0, burst=4, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += limit.take("k") == 0.0
    assert allowed <= 4 + 3.0 * clock.now + 1e-9


def test_tokens_are_hashed_revocable_and_checked(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "service" / "tokens.json")
    token, record = store.create("org", "participant", ADDRESS.lower())
    assert token not in store.path.read_text() and record.sha256 in store.path.read_text()
    assert store.authenticate(token).identity == record.identity
    require_writer(record, record.identity or "")
    with pytest.raises(Forbidden):
        require_writer(record, "0x" + "cd" * 20)
    store.revoke(record.token_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        store.authenticate(token)
    with pytest.raises(Unauthenticated, match="needs an API token"):
        store.authenticate(None)
    with pytest.raises(NotFound):
        store.revoke("nope")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "auditor", ADDRESS), "do not"),
        (("x", "participant", None), "names its identity"),
        (("x", "root", None), "scope must be"),
        (("", "auditor", None), "1 to 64"),
        (("x", "participant", "0x12"), "not an Ethereum address"),
    ],
)
def test_a_bad_token_request_is_one_config_error_and_stores_nothing(tmp_path: Path, args: tuple, message: str) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with pytest.raises(ConfigError, match=message):
        store.create(*args)
    assert not store.path.exists()


def test_every_error_class_has_a_status_and_comes_back_by_name() -> None:
    for cls in [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.LedgerMLError)]:
        exc = cls("something")
        doc = problem(exc, "/api/x")
        back = error_from_problem(doc, doc["status"])
        assert type(back) is cls and str(back) == "something"
        assert 400 <= status_of(exc) < 600
    assert status_of(errors.ReplayedNonce("x")) == 409 and status_of(BodyTooLarge("x")) == 413
    assert status_of(errors.StorageError("x")) == 500


def test_lineage_layout_puts_each_node_once_and_draws_every_edge() -> None:
    shared = {"type": "dataset", "id": "sha256:d1", "name": "d1", "registered": True, "parents": []}
    graph = {
        "type": "model",
        "id": "sha256:m2",
        "name": "m2",
        "datasets": [shared],
        "parents": [{"type": "model", "id": "sha256:m1", "name": "m1", "datasets": [shared], "parents": []}],
    }
    nodes, edges = layout(graph, {"sha256:m2": "task round 3"})
    assert sorted(n.id for n in nodes) == ["round:task round 3", "sha256:d1", "sha256:m1", "sha256:m2"]
    assert ("sha256:d1", "sha256:m1") in edges and ("round:task round 3", "sha256:m2") in edges
    drawing = svg(nodes, edges)
    assert drawing.count("<g class=") == 4 and drawing.count("<line") == len(edges)

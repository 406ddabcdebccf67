"""Budget matching of block-cutting results: the fixed setting a row is compared with, and the intervals that
bracket a row's block count."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.consensus.budget import bracketing, cheaper, rival


@dataclass(frozen=True)
class Row:
    blocks: int
    p99_ms: float


FIXED = [Row(100, 150.0), Row(90, 160.0), Row(60, 300.0), Row(20, 12_000.0)]


def test_the_rival_is_the_lowest_p99_within_ten_percent_more_blocks() -> None:
    assert rival(Row(85, 1.0), FIXED) == Row(90, 160.0)
    assert rival(Row(91, 1.0), FIXED) == Row(100, 150.0)


def test_without_a_close_budget_the_rival_is_the_nearest_above_and_never_one_with_fewer_blocks() -> None:
    assert rival(Row(30, 1.0), FIXED) == Row(60, 300.0)
    assert rival(Row(101, 1.0), FIXED) is None


def test_cheaper_is_the_lowest_p99_with_no_more_blocks() -> None:
    assert cheaper(Row(70, 1.0), FIXED) == Row(60, 300.0)
    assert cheaper(Row(10, 1.0), FIXED) is None


COUNTS = {100.0: 50, 150.0: 40, 200.0: 30, 250.0: 30, 300.0: 20}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (35, [100.0, 150.0, 200.0, 250.0]),  # 150 ms cuts >= 35, 200 ms fewer; one neighbour each side
        (30, [200.0, 250.0, 300.0]),  # the longest interval still cutting 30 is 250 ms
        (60, [100.0, 150.0]),  # every interval cuts fewer: the shortest ones
        (10, [250.0, 300.0]),  # every interval cuts more: the longest ones
    ],
)
def test_bracketing_picks_the_intervals_around_the_target(target: int, expected: list[float]) -> None:
    assert bracketing(target, COUNTS) == expected


def test_bracketing_refuses_negative_neighbours_and_handles_no_intervals() -> None:
    with pytest.raises(ValueError, match="neighbours"):
        bracketing(3, COUNTS, neighbours=-1)
    assert bracketing(3, {}) == []


@settings(max_examples=40)
@given(
    st.dictionaries(st.integers(1, 5000).map(float), st.integers(0, 3000), min_size=1, max_size=30),
    st.integers(0, 3000),
)
def test_bracketing_always_holds_a_setting_at_or_above_and_one_below_when_they_exist(
    counts: dict[float, int], target: int
) -> None:
    picked = bracketing(target, counts, neighbours=0)
    at_least = [i for i in sorted(counts) if counts[i] >= target]
    assert 1 <= len(picked) <= 2
    if at_least:
        assert picked[0] == at_least[-1]
        later = [i for i in sorted(counts) if i > at_least[-1]]
        assert picked[1:] == later[:1]
    else:
        assert picked == [min(counts)]

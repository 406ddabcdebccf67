"""detectors.flagged_windows, the one grouping of flagged blocks into alert windows: properties over any scores."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.analytics.chainwatch.detectors import Window, flagged_windows

scores_st = st.lists(st.floats(-5.0, 5.0) | st.just(float("nan")), max_size=60).map(np.array)


@settings(max_examples=60, deadline=None)
@given(scores=scores_st, threshold=st.floats(-5.0, 5.0), merge_gap=st.integers(0, 5))
def test_windows_cover_exactly_the_flagged_blocks_disjoint_and_sorted(
    scores: np.ndarray, threshold: float, merge_gap: int
) -> None:
    windows = flagged_windows(scores, threshold, merge_gap=merge_gap)
    flagged = [int(i) for i in np.nonzero(scores >= threshold)[0]]
    inside = [[i for i in flagged if w.start <= i <= w.end] for w in windows]
    assert [i for group in inside for i in group] == flagged  # each flagged block in exactly one window, in order
    for earlier, later in pairwise(windows):
        assert later.start - earlier.end > merge_gap + 1  # sorted, disjoint, further apart than a merged gap
    for w, group in zip(windows, inside, strict=True):
        assert (w.start, w.end) == (group[0], group[-1])  # a window starts and ends at a flagged block
        assert all(b - a <= merge_gap + 1 for a, b in pairwise(group))
        best = max(scores[i] for i in group)
        assert w.peak == best and w.peak_at == next(i for i in group if scores[i] == best)


def test_a_gap_of_merge_gap_blocks_is_merged_and_one_more_splits() -> None:
    scores = np.array([9.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0, 9.5])
    assert flagged_windows(scores, 5.0, merge_gap=2) == [Window(0, 3, 9.0, 0), Window(7, 7, 9.5, 7)]
    assert flagged_windows(scores, 5.0, merge_gap=3) == [Window(0, 7, 9.5, 7)]
    assert flagged_windows(scores, 10.0) == []

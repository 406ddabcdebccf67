"""Pragma -> solc-js release: the installed release that satisfies the pragma, the same 0.x line with the pragma
relaxed, none installed (0.7), or an unknown pragma."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.analytics.contracts.compilers import (
    LATEST_PATCH,
    SHIPPED,
    UnknownPragma,
    choose_compiler,
    parse_constraint,
)
from ledgerml.errors import ConfigError


@pytest.mark.parametrize(
    ("pragma", "version", "minor", "relaxed"),
    [
        ("pragma solidity ^0.4.24;", "0.4.26", 4, False),
        ("pragma solidity >=0.4.22 <0.6.0;", "0.5.17", 4, False),  # may be built by 0.4: written for 0.4 rules
        ("pragma solidity >=0.5.11;", "0.5.17", 5, False),  # open-ended: stays on its line, not 0.8
        ("pragma solidity ^0.5.0;", "0.5.17", 5, False),
        ("pragma solidity >=0.6.0 <0.8.0;", "0.6.12", 6, False),
        ("pragma solidity ^0.8.20;", "0.8.30", 8, False),
        ("pragma solidity 0.4.18;", "0.4.26", 4, True),
        ("pragma solidity =0.5.0;", "0.5.17", 5, True),
        ("pragma solidity ~0.4.11;", "0.4.26", 4, False),
        ("pragma solidity ^0.4.0 || ^0.5.0;", "0.5.17", 4, False),
    ],
)
def test_the_pragma_picks_an_installed_release(pragma: str, version: str, minor: int, relaxed: bool) -> None:
    choice = choose_compiler([pragma])
    assert (choice.version, choice.minor, choice.relaxed) == (version, minor, relaxed)


def test_a_line_without_an_installed_compiler_has_no_version_but_a_reason() -> None:
    choice = choose_compiler(["pragma solidity ^0.7.0;"])
    assert choice.version is None and choice.minor == 7 and "not installed" in choice.note


def test_no_pragma_means_the_newest_installed_release() -> None:
    assert choose_compiler([]).version == SHIPPED[-1]


@pytest.mark.parametrize(
    "pragma",
    ["pragma solidity ^0.9.0;", "pragma solidity >0.5.0 <0.4.0;", "pragma solidity banana;", "pragma solidity ;"],
)
def test_an_unknown_pragma_is_refused(pragma: str) -> None:
    with pytest.raises(UnknownPragma) as caught:
        choose_compiler([pragma])
    assert isinstance(caught.value, ConfigError) and "\n" not in str(caught.value)


@given(st.sampled_from(sorted(LATEST_PATCH)), st.integers(min_value=0, max_value=40))
def test_a_caret_pragma_stays_on_its_line(minor: int, patch: int) -> None:
    patch = min(patch, LATEST_PATCH[minor])
    choice = choose_compiler([f"pragma solidity ^0.{minor}.{patch};"])
    assert choice.minor == minor
    if choice.version is not None and not choice.relaxed:
        low, high = parse_constraint(f"pragma solidity ^0.{minor}.{patch};")[0]
        chosen = tuple(int(p) for p in choice.version.split("."))
        assert low[1] <= chosen < high[1]

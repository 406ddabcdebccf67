"""The suite's run order (tests/conftest.py): files with slow tests first, each file's tests together and in order."""

from __future__ import annotations

from dataclasses import dataclass

from .conftest import slow_files_first


@dataclass
class FakeItem:
    """The two things the ordering reads from a pytest item."""

    nodeid: str
    slow: bool = False

    def get_closest_marker(self, name: str) -> object | None:
        return "slow" if name == "slow" and self.slow else None


def test_files_with_more_slow_tests_go_first_and_stay_whole() -> None:
    items = [
        FakeItem("a.py::t1"),
        FakeItem("b.py::t1", slow=True),
        FakeItem("b.py::t2"),
        FakeItem("c.py::t1", slow=True),
        FakeItem("c.py::t2", slow=True),
        FakeItem("d.py::t1"),
        FakeItem("e.py::t1", slow=True),
    ]
    ordered = [item.nodeid for item in slow_files_first(items)]  # type: ignore[arg-type]
    assert ordered == ["c.py::t1", "c.py::t2", "b.py::t1", "b.py::t2", "e.py::t1", "a.py::t1", "d.py::t1"]


def test_a_suite_without_slow_tests_keeps_its_order() -> None:
    items = [FakeItem(f"{name}.py::t") for name in "zyx"]
    assert slow_files_first(items) == items  # type: ignore[arg-type]

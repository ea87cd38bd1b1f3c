"""The wait between a long-running command's failure and its restart: cut short by a stop, longer at each failure in a row."""

from __future__ import annotations

import pytest

from aitrader.commands.common import RetryWait, wait_unless_stopped

HOUR = 3600.0  # a wait no test could sit out (pytest's timeout ends it first): returning at all proves it was cut short


def test_a_stop_asked_before_the_wait_ends_it_at_once() -> None:
    announced: list[float] = []
    assert RetryWait(lambda: True, HOUR).wait_after(announced.append) is True
    assert announced == [HOUR]  # said before waiting, so the log tells why the process is idle
    assert wait_unless_stopped(lambda: True, HOUR) is True


def test_a_stop_asked_during_the_wait_ends_it() -> None:
    asked = iter([False, False, True])  # the flag turns while the wait polls it
    assert wait_unless_stopped(lambda: next(asked), HOUR) is True


def test_without_a_stop_the_wait_runs_out_and_says_so() -> None:
    checks: list[int] = []
    assert wait_unless_stopped(lambda: bool(checks.append(1)), 0.05) is False
    assert checks  # the flag was looked at while waiting


@pytest.mark.parametrize(("first", "most", "expected"), [
    (0.01, 0.03, [0.01, 0.02, 0.03, 0.03]),  # doubled at each failure in a row, up to the longest wait
    (0.02, 0.01, [0.02, 0.02, 0.02]),  # a first wait longer than the longest: that one, every time
])
def test_failures_in_a_row_wait_longer_up_to_the_longest(first: float, most: float, expected: list[float]) -> None:
    retry = RetryWait(lambda: False, first, most)
    announced: list[float] = []
    for _ in expected:
        assert retry.wait_after(announced.append) is False
    assert announced == pytest.approx(expected)

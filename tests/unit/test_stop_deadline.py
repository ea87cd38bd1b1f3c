"""A worker's stop has a deadline (processors/live/stop_deadline.py): overdue once, never after a disarm."""

from __future__ import annotations

import threading

from processors.live.stop_deadline import StopDeadline

WAIT_S = 10.0  # generous: only a deadline that never fires waits this long


def test_an_armed_deadline_is_overdue_once_however_often_it_is_armed() -> None:
    calls: list[int] = []
    fired = threading.Event()
    deadline = StopDeadline(0.05, lambda: (calls.append(1), fired.set()))
    deadline.arm()
    deadline.arm()  # a second stop (a signal during a crash's stop) keeps the first deadline
    assert fired.wait(WAIT_S)
    deadline.arm()
    fired.clear()
    assert not fired.wait(0.3)
    assert calls == [1]


def test_a_stop_that_finished_in_time_is_never_overdue() -> None:
    fired = threading.Event()
    deadline = StopDeadline(0.2, fired.set)
    deadline.arm()
    deadline.disarm()
    assert not fired.wait(0.6)


def test_a_deadline_never_armed_is_never_overdue() -> None:
    fired = threading.Event()
    StopDeadline(0.01, fired.set).disarm()
    assert not fired.wait(0.2)

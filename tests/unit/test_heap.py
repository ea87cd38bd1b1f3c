"""frozen_heap: what a run holds from its start is out of the collections while it lasts, and collectable after."""

from __future__ import annotations

import gc
import threading
import weakref

from processors.heap import frozen_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_the_heap_is_frozen_during_a_run_and_thawed_after() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_garbage_held_when_a_run_began_is_kept_during_it_and_collected_after() -> None:
    node = _Node()
    gone = weakref.ref(node)
    with frozen_heap():
        del node  # a cycle, garbage from here on, but frozen with the rest
        gc.collect()
        assert gone() is not None
    gc.collect()
    assert gone() is None


def test_overlapping_runs_thaw_when_the_last_ends() -> None:
    first_in, second_done = threading.Event(), threading.Event()
    frozen_after_second: list[int] = []

    def first() -> None:
        with frozen_heap():
            first_in.set()
            second_done.wait(10)
            frozen_after_second.append(gc.get_freeze_count())

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with frozen_heap():
        pass
    second_done.set()
    thread.join()
    assert frozen_after_second[0] > 0  # the second run's end did not thaw the first's heap
    assert gc.get_freeze_count() == 0

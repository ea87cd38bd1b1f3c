"""Keeping the garbage collector off what a long run holds from its start.

A replay or a live worker allocates records by the hundred thousand. Their
allocations trigger collections, and each full collection walks every object
the process holds: modules, the calendars, the scorer, the kernels. Frozen
(``gc.freeze``), those are left out of every collection while the run lasts.
Thawed at the end, any garbage among them is collectable again, so a process
that outlives the run (the API runs replays as jobs) does not keep it forever.
Runs may overlap on threads: the heap thaws when the last of them ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_runs = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freezes what the process holds now (and, for a nested run, since); thaws when the last run ends."""
    global _runs
    with _lock:
        _runs += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()

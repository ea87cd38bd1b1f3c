"""A stop with a deadline: a Faust worker that cannot finish stopping exits instead of hanging.

The live worker stops by committing its flushed offsets and closing its
input consumer, which leaves the group. When the broker never answers, the
commit or the close can wait forever and so does the process: it keeps its
place in the group while no input moves, and nothing restarts it because it
never exits. Exiting is safe: an input's offset is committed only after its
outputs were acknowledged, so what was not committed is applied again by the
next owner and its outputs deduplicate (same ids, same bytes).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import faust

STOP_DEADLINE_S = 60.0  # a clean stop takes seconds: the last batch flushed, offsets committed, the group left
EXIT_OVERDUE = 1

log = logging.getLogger(__name__)


class StopDeadline:
    """Calls ``overdue`` once, ``seconds`` after the first ``arm()``, unless ``disarm()`` came first."""

    def __init__(self, seconds: float, overdue: Callable[[], None]) -> None:
        self.seconds = seconds
        self._overdue = overdue
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.seconds, self._overdue)
                self._timer.daemon = True
                self._timer.start()

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()


def exit_overdue(seconds: float) -> Callable[[], None]:
    """What a deadline does when the stop is overdue: say so and end the process at once."""

    def overdue() -> None:
        log.critical(
            "the worker did not finish stopping within %.0f s (a commit or flush the broker never answered): "
            "exiting %d; inputs not committed are applied again by the next owner", seconds, EXIT_OVERDUE,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_OVERDUE)  # the event loop is the thing stuck: no orderly way out is left

    return overdue


class DeadlineWorker(faust.Worker):
    """A Faust worker whose stop (a signal, a crash, the end of a bounded run) arms a ``StopDeadline``."""

    def __init__(self, *args: Any, deadline: StopDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    async def stop(self) -> None:
        self.deadline.arm()
        await super().stop()

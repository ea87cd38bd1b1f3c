"""Fault-injection points: named places where the live worker can be made to fail on purpose.

A SIGKILL sent from outside lands wherever the worker happens to be, so a test
that needs "killed after applying, before flushing" or "a batch still in hand
while the group rebalances" would depend on timing luck. Instead the worker
consults one fault, read from ``AITRADER_FAULT`` when it starts, at named
points of its commit protocol. Unset (always, outside tests) there is no fault
and each point costs one ``is None`` test. The project's chaos tests reuse
these names, so they say where and what, not which test wants them.

``AITRADER_FAULT=ACTION-POINT:N[:PATH]``

points
  ``before-apply``  a batch was taken from Faust's stream and is about to go to
                    the kernel thread (on the event loop, so rebalances go on
                    while it waits);
  ``after-apply``   the batch is applied and its outputs are queued on the
                    producer, not yet flushed (on the kernel thread).
actions
  ``kill``          the worker SIGKILLs itself: no flush, no commit, no goodbye;
  ``hold``          the batch waits as long as the file PATH exists: the test
                    creates it to close the gate and deletes it to let the
                    batch go on.
``N``               the fault arms once the worker has applied N inputs,
                    counted at the point; a kill fires once, a hold holds every
                    batch that reaches the point while PATH exists.

Examples: ``kill-after-apply:25000``, ``hold-before-apply:2000:/tmp/gate``.
Every fault that fires says so on the worker's log, with the batch it caught.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENVIRONMENT = "AITRADER_FAULT"
BEFORE_APPLY = "before-apply"
AFTER_APPLY = "after-apply"
POINTS = (BEFORE_APPLY, AFTER_APPLY)
KILL = "kill"
HOLD = "hold"
ACTIONS = (KILL, HOLD)
GATE_POLL_S = 0.05


@dataclass(frozen=True)
class Fault:
    """One fault: what happens at which point, from which input count on."""

    action: str
    point: str
    after_inputs: int
    gate: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.action}-{self.point}"

    def at(self, point: str, applied: int, batch: Callable[[], str]) -> None:
        """A point on the kernel thread: kills the worker, or blocks until the gate opens."""
        if self._fires(point, applied, batch):
            while self._gate_closed():
                time.sleep(GATE_POLL_S)
            log.warning("fault %s: released", self.name)

    async def at_async(self, point: str, applied: int, batch: Callable[[], str]) -> None:
        """A point on the event loop: kills the worker, or waits, without blocking the loop, until the gate opens."""
        if self._fires(point, applied, batch):
            while self._gate_closed():
                await asyncio.sleep(GATE_POLL_S)
            log.warning("fault %s: released", self.name)

    def _fires(self, point: str, applied: int, batch: Callable[[], str]) -> bool:
        """Whether a hold must wait here; a kill never returns."""
        if point != self.point or applied < self.after_inputs:
            return False
        if self.action == KILL:
            log.warning("fault %s: SIGKILL after %d inputs applied; batch %s", self.name, applied, batch())
            os.kill(os.getpid(), signal.SIGKILL)
        if not self._gate_closed():
            return False
        log.warning("fault %s: holding after %d inputs applied while %s exists; batch %s", self.name, applied, self.gate, batch())
        return True

    def _gate_closed(self) -> bool:
        return self.gate is not None and self.gate.exists()


def parse(text: str) -> Fault:
    """A fault from its ``ACTION-POINT:N[:PATH]`` text; ``ValueError`` says what is wrong."""
    name, _, rest = text.partition(":")
    action, _, point = name.partition("-")
    count, _, path = rest.partition(":")
    if action not in ACTIONS or point not in POINTS:
        raise ValueError(f"{ENVIRONMENT}={text!r}: expected ACTION-POINT:N[:PATH], ACTION one of {ACTIONS}, POINT one of {POINTS}")
    if not count.isdigit():
        raise ValueError(f"{ENVIRONMENT}={text!r}: N, the inputs applied before the fault arms, must be a whole number")
    if (action == HOLD) != bool(path):
        raise ValueError(f"{ENVIRONMENT}={text!r}: a hold needs the PATH of its gate file, a kill takes none")
    return Fault(action, point, int(count), Path(path) if path else None)


def from_environment(environ: Mapping[str, str] = os.environ) -> Fault | None:
    """The fault this worker was started with, or None (the normal case)."""
    text = environ.get(ENVIRONMENT, "")
    return parse(text) if text else None

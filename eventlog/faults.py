"""Fault-injection points: named places where a long-running process can be made to fail on purpose.

A SIGKILL sent from outside lands wherever the process happens to be (often
idle, which proves nothing), so a test that needs "killed after applying,
before flushing" or "a batch still in hand while the group rebalances" would
depend on timing luck. Instead each long-running process consults one fault,
read from ``AITRADER_FAULT`` when it starts, at named points of its commit
protocol. Unset (always, outside tests) there is no fault and each point costs
one ``is None`` test. The chaos tests (``tests/faults/``) reuse these names, so
they say where and what, not which test wants them.

``AITRADER_FAULT=ACTION-POINT:N[:PATH]``

points, by process (``N`` counts that process's own unit of work)
  ``before-apply``  live worker (``processors/live/app.py``), inputs applied: a
                    batch was taken from the input consumer and is about to be
                    applied (its partitions paused, the group's rebalances go
                    on while it waits);
  ``after-apply``   live worker, inputs applied: the batch is applied and its
                    outputs are queued on the producer, not yet flushed (on the
                    kernel thread);
  ``before-commit`` projector (``projections/projector.py``), records
                    projected: a batch's rows and offsets are written inside
                    its transaction, not yet committed;
  ``before-seal``   notary (``eventlog/audit/notary.py``), checkpoints
                    produced: the next checkpoint is computed and signed, not
                    yet produced (those before it in the pass may be produced,
                    none is flushed);
  ``mid-fold``      account monitor (``processors/live/monitor.py``), fills
                    folded: in the middle of a poll's fills, the rest of them
                    not folded yet;
  ``mid-export``    API (``api/routers/export.py``), export blocks sent: an
                    export's status, headers and a block of its body are handed
                    to the server, more of the body is still to come.
actions
  ``kill``          the process SIGKILLs itself: no flush, no commit, no goodbye;
  ``hold``          the batch waits as long as the file PATH exists: the test
                    creates it to close the gate and deletes it to let the
                    batch go on.
``N``               the fault arms once the process has done N units of work
                    since it started, counted at the point; a kill fires once, a
                    hold holds every batch that reaches the point while PATH
                    exists.

Examples: ``kill-after-apply:25000``, ``hold-before-apply:2000:/tmp/gate``,
``kill-before-commit:1200``, ``kill-mid-export:1``. Every fault that fires says so on the process's
log, with the work it caught.
"""

from __future__ import annotations

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
BEFORE_COMMIT = "before-commit"
BEFORE_SEAL = "before-seal"
MID_FOLD = "mid-fold"
MID_EXPORT = "mid-export"
# What N counts at each point, as the fault's log line says it.
UNITS = {
    BEFORE_APPLY: "inputs applied",
    AFTER_APPLY: "inputs applied",
    BEFORE_COMMIT: "records projected",
    BEFORE_SEAL: "checkpoints produced",
    MID_FOLD: "fills folded",
    MID_EXPORT: "export blocks sent",
}
POINTS = tuple(UNITS)
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

    def at(self, point: str, applied: int, batch: Callable[[], str], wait: Callable[[float], None] = time.sleep) -> None:
        """A point: kills the process, or blocks until the gate opens, calling ``wait(seconds)`` meanwhile.

        ``wait`` is where the process keeps doing what must go on while a batch
        is held (the live worker serves its consumer group's rebalances).
        """
        if self._fires(point, applied, batch):
            while self._gate_closed():
                wait(GATE_POLL_S)
            log.warning("fault %s: released", self.name)

    def _fires(self, point: str, applied: int, batch: Callable[[], str]) -> bool:
        """Whether a hold must wait here; a kill never returns."""
        if point != self.point or applied < self.after_inputs:
            return False
        if self.action == KILL:
            log.warning("fault %s: SIGKILL after %d %s; batch %s", self.name, applied, UNITS[point], batch())
            os.kill(os.getpid(), signal.SIGKILL)
        if not self._gate_closed():
            return False
        log.warning("fault %s: holding after %d %s while %s exists; batch %s", self.name, applied, UNITS[point], self.gate, batch())
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
        raise ValueError(f"{ENVIRONMENT}={text!r}: N, the units of work done before the fault arms, must be a whole number")
    if (action == HOLD) != bool(path):
        raise ValueError(f"{ENVIRONMENT}={text!r}: a hold needs the PATH of its gate file, a kill takes none")
    return Fault(action, point, int(count), Path(path) if path else None)


def from_environment(environ: Mapping[str, str] = os.environ) -> Fault | None:
    """The fault this process was started with, or None (the normal case)."""
    text = environ.get(ENVIRONMENT, "")
    return parse(text) if text else None

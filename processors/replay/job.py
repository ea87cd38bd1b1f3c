"""A replay as a background job in a process of its own: ``python -m processors.replay.job DIR``.

Why a process: a replay holds whole kernels in memory and runs for minutes,
and pipeline mode stops its Faust worker with a signal to its own process; in
a process of its own it can neither block nor take down whoever started it
(the API). Why files: the starter follows the job through its directory, never
through its printed output, and the directory stays a record of the run after
both processes are gone. The directory holds:

* ``job.json``, written by the starter before the start (``write_job``):
  ``{"spec": ReplaySpec.to_json(), "bootstrap": "host:port"}``;
* ``progress.json``, rewritten by the job at each phase and every 10,000
  inputs: ``{"phase", "inputs_done", "inputs_total", "started_ms", "updated_ms"}``
  (phases in ``progress.py``);
* ``outcome.json``, written once, at the end: ``{"state": "succeeded" |
  "diverged" | "failed", "exit_code", "error", "code_versions",
  "scoring_provider", "report", "files", "finished_ms"}``; ``report`` is what ``report.json`` says, or null
  when the replay did not run;
* the report files (``report.json``, ``fills.csv``, ``equity.csv``, ``equity.png``).

Each file is written whole under a temporary name and renamed over the old
one, so a reader sees the previous version or the next, never a part of one.
The exit code is the outcome's: 0 succeeded, 1 diverged, 2 refused, 3 crashed
(the traceback goes to stderr).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from processors.replay.errors import ReplayRefused
from processors.replay.progress import ReplayProgress
from processors.replay.run import run_replay
from processors.replay.spec import ReplaySpec

JOB_FILE, PROGRESS_FILE, OUTCOME_FILE = "job.json", "progress.json", "outcome.json"
FAILED = "failed"
CRASHED_EXIT = 3


def wall_ms() -> int:
    return int(time.time() * 1000)  # when things happened, for people; no event depends on it


def write_json(path: Path, value: Any) -> None:
    """Replaces ``path`` with ``value`` at once (a temporary file renamed over it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(value, indent=2, default=str) + "\n")  # str: Decimals and enums in the report
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The object in ``path``; None while it does not exist."""
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return found


def write_job(directory: Path, spec: ReplaySpec, bootstrap: str) -> None:
    write_json(directory / JOB_FILE, {"spec": spec.to_json(), "bootstrap": bootstrap})


def failure(error: str, exit_code: int | None) -> dict[str, Any]:
    """The outcome of a job that did not replay: refused, crashed, stopped (None: its process never started)."""
    return {"state": FAILED, "exit_code": exit_code, "error": error, "code_versions": [], "scoring_provider": None, "report": None, "files": []}


def write_outcome(directory: Path, outcome: dict[str, Any]) -> None:
    write_json(directory / OUTCOME_FILE, {**outcome, "finished_ms": wall_ms()})


class ProgressFile:
    """The ``progress`` sink of a job: each report rewrites ``progress.json`` (from any thread)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / PROGRESS_FILE
        self.started_ms = wall_ms()
        self._lock = threading.Lock()

    def __call__(self, progress: ReplayProgress) -> None:
        with self._lock:
            write_json(self.path, {**progress.to_json(), "started_ms": self.started_ms, "updated_ms": wall_ms()})


def run_job(directory: Path) -> int:
    """Runs the replay ``job.json`` asks for; writes its progress and outcome; returns the exit code."""
    progress = ProgressFile(directory)
    try:
        job = read_json(directory / JOB_FILE)
        if job is None:
            raise ReplayRefused(f"{directory / JOB_FILE} does not exist: nothing to run")
        outcome = run_replay(ReplaySpec.from_json(job["spec"]), job["bootstrap"], progress)
    except ReplayRefused as exc:
        write_outcome(directory, failure(str(exc), exc.exit_code))
        return exc.exit_code
    except Exception as exc:
        traceback.print_exc()
        write_outcome(directory, failure(f"the replay crashed: {type(exc).__name__}: {exc}", CRASHED_EXIT))
        return CRASHED_EXIT
    write_outcome(directory, outcome.to_json())
    return outcome.exit_code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m processors.replay.job JOB_DIRECTORY", file=sys.stderr)
        return 2
    return run_job(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())

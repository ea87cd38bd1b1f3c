"""Replays asked for over the API, run in the background as ``python -m aitrader replay ... --report DIR``.

A subprocess rather than a thread: a replay holds whole kernels in memory and
runs for minutes, and in its own process it can neither block the API's event
loop nor take the API down. Its output goes to ``replay.log`` beside the
report; the exit code and ``report.json`` say how it ended:

* ``succeeded``  exit 0: replayed (and identical to live when compared);
* ``diverged``   exit 1 and the report says the digests differ;
* ``failed``     anything else (the log does not allow the replay, a crash,
                 the API stopping), with the error line of the output.

Jobs run one at a time by default (``workers``): replays into the same
``into`` topics must not interleave, and one replay already keeps a core busy.

Job state lives in the memory of this API process: another process (or this
one after a restart) does not know its jobs. The reports stay on disk, under
``root/<job id>``. A job id is ``id_from_parts("replay", request, n)`` with the
first sequence number ``n`` whose directory does not exist yet, so ids are a
function of the request and never repeat under one root, across restarts too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aitrader.stack.endpoints import KAFKA_ENV
from api.serialize import iso_time
from kernel.ids import id_from_parts
from kernel.topics import Namespace

QUEUED, RUNNING, SUCCEEDED, DIVERGED, FAILED = "queued", "running", "succeeded", "diverged", "failed"
FINISHED = (SUCCEEDED, DIVERGED, FAILED)
DIVERGED_EXIT = 1  # aitrader replay: 1 = diverged from live, 2 = could not run as asked
TAIL_LINES = 25
STOP_WAIT_S = 10.0
# The command prints these as it goes: the last one seen is the job's phase.
PHASES = (("replay ", "replaying"), ("replayed ", "comparing"), ("report: ", "reported"))


@dataclass(frozen=True)
class ReplaySpec:
    """A checked replay request, in the command's terms."""

    day: str | None = None
    from_offsets: dict[int, int] | None = None
    to_offsets: dict[int, int] | None = None
    symbols: tuple[str, ...] = ()
    into: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    compare: bool = False

    def canonical(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def arguments(self, live: Namespace, report: Path) -> list[str]:
        def offsets(pairs: dict[int, int]) -> str:
            return ",".join(f"{p}:{o}" for p, o in sorted(pairs.items()))

        args = ["replay", "--namespace", live.prefix, "--report", str(report)]
        if self.day is not None:
            args += ["--day", self.day]
        if self.from_offsets is not None:
            args += ["--from-offsets", offsets(self.from_offsets)]
        if self.to_offsets is not None:
            args += ["--to-offsets", offsets(self.to_offsets)]
        if self.symbols:
            args += ["--symbols", ",".join(self.symbols)]
        if self.into is not None:
            args += ["--into", self.into]
        for key, value in sorted(self.overrides.items()):
            args += ["--set", f"{key}={value}"]
        if self.compare:
            args.append("--compare")
        return args


@dataclass
class ReplayJob:
    id: str
    sequence: int
    spec: ReplaySpec
    command: list[str]
    directory: Path
    state: str = QUEUED
    queued_ms: int = 0
    started_ms: int | None = None
    finished_ms: int | None = None
    exit_code: int | None = None
    error: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "replay.log"


def _wall_ms() -> int:
    return int(time.time() * 1000)  # when jobs ran, for people; no event depends on it


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with path.open(errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, lines)]
    except FileNotFoundError:
        return []


def _phase(lines: list[str]) -> str | None:
    found = None
    for line in lines:
        for marker, phase in PHASES:
            if line.startswith(marker):
                found = phase
    return found


def _error(lines: list[str]) -> str | None:
    """The command's own ``error:`` line, else the last line (a traceback's exception)."""
    for line in reversed(lines):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    return lines[-1].strip() if lines else None


def _report(directory: Path) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads((directory / "report.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return found


def _verdict(report: dict[str, Any]) -> dict[str, Any]:
    """What the comparison found: identical digests, or the first divergence."""
    found = report.get("determinism", {})
    return {
        "compared": found.get("compared"),
        "identical": found.get("identical"),
        "digests": {
            topic: {side: None if digest is None else {"sha256": digest["sha256"], "events": digest["events"]}
                    for side, digest in (("live", t.get("live")), ("replay", t.get("replay")))}
            for topic, t in found.get("topics", {}).items()
        },
        "first_divergence": found.get("first_divergence"),
    }


class ReplayJobs:
    def __init__(self, bootstrap: str, live: Namespace, root: Path, workers: int = 1, timeout_s: float = 3600.0) -> None:
        self.bootstrap = bootstrap
        self.live = live
        self.root = root
        self.timeout_s = timeout_s
        self._jobs: dict[str, ReplayJob] = {}
        self._lock = threading.Lock()
        self._next = 1
        self._stopping = False
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="replay-job")

    def submit(self, spec: ReplaySpec) -> ReplayJob:
        with self._lock:
            job = self._claim(spec)
            self._jobs[job.id] = job
        self._executor.submit(self._run, job)
        return job

    def _claim(self, spec: ReplaySpec) -> ReplayJob:
        """The first sequence number whose report directory is free; making the directory claims it."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            sequence, self._next = self._next, self._next + 1
            job_id = id_from_parts("replay", spec.canonical(), sequence)
            directory = self.root / job_id
            try:
                directory.mkdir()
            except FileExistsError:
                continue  # an earlier process (or another one) has it
            command = [sys.executable, "-m", "aitrader", *spec.arguments(self.live, directory)]
            return ReplayJob(job_id, sequence, spec, command, directory, queued_ms=_wall_ms())

    def get(self, job_id: str) -> ReplayJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[ReplayJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.queued_ms)

    def close(self) -> None:
        """Stops queued jobs and the running replays (they end ``failed``)."""
        with self._lock:
            self._stopping = True
            running = [j.process for j in self._jobs.values() if j.process is not None and j.state == RUNNING]
        for process in running:
            process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for job in self._jobs.values():
                if job.state == QUEUED:
                    job.state, job.error, job.finished_ms = FAILED, "the API stopped before the replay started", _wall_ms()

    def _run(self, job: ReplayJob) -> None:
        environment = {**os.environ, KAFKA_ENV: self.bootstrap}
        with self._lock:
            if self._stopping:
                return
            job.state, job.started_ms = RUNNING, _wall_ms()
            with job.log.open("wb") as log:
                job.process = subprocess.Popen(
                    job.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment
                )
        try:
            code = job.process.wait(self.timeout_s)
        except subprocess.TimeoutExpired:
            job.process.kill()
            code = job.process.wait(STOP_WAIT_S)
            self._finish(job, code, f"stopped after {self.timeout_s:.0f} s")
            return
        self._finish(job, code, None)

    def _finish(self, job: ReplayJob, code: int, reason: str | None) -> None:
        report = _report(job.directory)
        diverged = code == DIVERGED_EXIT and report is not None and report.get("determinism", {}).get("identical") is False
        state = SUCCEEDED if code == 0 and reason is None else DIVERGED if diverged else FAILED
        error = None if state != FAILED else reason or ("stopped with the API" if self._stopping else _error(_tail(job.log)))
        with self._lock:
            job.exit_code, job.state, job.error, job.finished_ms = code, state, error, _wall_ms()
            job.process = None

    def view(self, job: ReplayJob) -> dict[str, Any]:
        """The job as the API shows it: state, command, timing, and once done the report's findings."""
        with self._lock:
            state, started, finished, code, error = job.state, job.started_ms, job.finished_ms, job.exit_code, job.error
        lines = _tail(job.log)
        report = _report(job.directory) if state in FINISHED else None
        end = finished if finished is not None else _wall_ms() if started is not None else None
        return {
            "id": job.id,
            "state": state,
            "phase": state if state in FINISHED or started is None else _phase(lines) or "starting",
            "request": json.loads(job.spec.canonical()),
            "replay_topics": f"{self.live.prefix}replay.{job.spec.into or job.spec.day or 'offsets'}.*",
            "command": ["python", *job.command[1:]],
            "exit_code": code,
            "error": error,
            "timing": {
                "queued_at": iso_time(job.queued_ms),
                "started_at": None if started is None else iso_time(started),
                "finished_at": None if finished is None else iso_time(finished),
                "seconds": None if started is None or end is None else round((end - started) / 1000, 3),
                "replay": None if report is None else report.get("timing"),
            },
            "result": None if report is None else _verdict(report),
            "inputs": None if report is None else report.get("inputs"),
            "outputs": None if report is None else report.get("outputs"),
            "counts": None if report is None else report.get("counts"),
            "report": {
                "directory": str(job.directory),
                "files": sorted(p.name for p in job.directory.iterdir()) if job.directory.exists() else [],
            },
            "output_tail": lines,
        }

"""Replays asked for over the API, each run as a job in a process of its own (``python -m processors.replay.job DIR``).

The job runs the replay use case and writes its progress and its outcome into
its directory (``processors/replay/job.py`` gives the format); this module
starts it, stops it, and reads those files: never the job's printed output,
which goes to ``replay.log`` for people. A job is

* ``queued``     until a worker thread starts its process;
* ``running``    from then until its outcome is on disk (``phase``: how far it is);
* ``succeeded``  replayed (and identical to live when compared);
* ``diverged``   replayed and compared, and the digests differ;
* ``failed``     the log does not allow the replay, a crash, or the job was
                 stopped; a process that ended without writing an outcome
                 (killed at the timeout, or with the API) gets one written here.

Jobs run one at a time by default (``workers``): replays into the same
``into`` topics must not interleave, and one replay already keeps a core busy.

Which jobs exist is known to this API process only: another process (or this
one after a restart) does not know them; their directories stay on disk,
under ``root/<job id>``. A job id is ``id_from_parts("replay", request, n)``
with the first sequence number ``n`` whose directory does not exist yet, so
ids are a function of the request and never repeat under one root, across
restarts too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from api.serialize import iso_time
from contract.ids import id_from_parts
from contract.topics import Namespace
from processors.replay import job as job_files
from processors.replay.outcome import DIVERGED, SUCCEEDED
from processors.replay.spec import ReplaySpec
from processors.replay.window import DayWindow

QUEUED, RUNNING, FAILED = "queued", "running", job_files.FAILED
FINISHED = (SUCCEEDED, DIVERGED, FAILED)
JOB_MODULE = "processors.replay.job"
LOG_FILE = "replay.log"
TAIL_LINES = 25
STOP_WAIT_S = 10.0


def request_json(spec: ReplaySpec) -> dict[str, Any]:
    """What was asked for, in the request's terms (the job's identity, and echoed back as ``request``)."""
    window = spec.window
    day = window.day if isinstance(window, DayWindow) else None
    starts = None if isinstance(window, DayWindow) else window.starts
    ends = None if isinstance(window, DayWindow) else window.ends
    return {
        "day": None if day is None else day.isoformat(),
        "from_offsets": None if starts is None else {str(p): o for p, o in starts.items()},
        "to_offsets": None if ends is None else {str(p): o for p, o in ends.items()},
        "symbols": list(spec.symbols),
        "into": spec.into,
        "overrides": dict(spec.overrides),
        "compare": spec.compare,
    }


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class ReplayJob:
    """A job this API process queued: what it runs and where; its state is in its directory."""

    id: str
    sequence: int
    spec: ReplaySpec  # its report directory is the job's directory
    directory: Path
    command: list[str]
    queued_ms: int
    started_ms: int | None = None  # when this process started the job's process
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / LOG_FILE


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with path.open(errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, lines)]
    except FileNotFoundError:
        return []


def _verdict(report: dict[str, Any], code_versions: list[dict[str, Any]]) -> dict[str, Any]:
    """What the comparison found: identical digests, or the first divergence (and code versions that explain it)."""
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
        "code_versions_differ": code_versions,
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
        """Queues ``spec`` against this API's live topics; the job's directory becomes its report directory."""
        with self._lock:
            job = self._claim(spec)
            self._jobs[job.id] = job
        job_files.write_job(job.directory, job.spec, self.bootstrap)
        self._executor.submit(self._run, job)
        return job

    def _claim(self, spec: ReplaySpec) -> ReplayJob:
        """The first sequence number whose directory is free; making the directory claims it."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            sequence, self._next = self._next, self._next + 1
            job_id = id_from_parts("replay", _canonical(request_json(spec)), sequence)
            directory = self.root / job_id
            try:
                directory.mkdir()
            except FileExistsError:
                continue  # an earlier process (or another one) has it
            command = [sys.executable, "-m", JOB_MODULE, str(directory)]
            spec = replace(spec, live=self.live, report=directory)
            return ReplayJob(job_id, sequence, spec, directory, command, job_files.wall_ms())

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
            running = [j.process for j in self._jobs.values() if j.process is not None]
        for process in running:
            process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            never_started = [j for j in self._jobs.values() if j.started_ms is None]
        for job in never_started:
            job_files.write_outcome(job.directory, job_files.failure("the API stopped before the replay started", None))

    def _run(self, job: ReplayJob) -> None:
        with self._lock:
            if self._stopping:
                return
            job.started_ms = job_files.wall_ms()
            with job.log.open("wb") as log:
                job.process = subprocess.Popen(job.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        reason = None
        try:
            code = job.process.wait(self.timeout_s)
        except subprocess.TimeoutExpired:
            job.process.kill()
            code = job.process.wait(STOP_WAIT_S)
            reason = f"stopped after {self.timeout_s:.0f} s"
        with self._lock:
            job.process = None
            stopping = self._stopping
        if reason is not None or job_files.read_json(job.directory / job_files.OUTCOME_FILE) is None:
            why = reason or ("stopped with the API" if stopping else f"the replay process ended with exit code {code} and no outcome")
            job_files.write_outcome(job.directory, job_files.failure(why, code))

    def view(self, job: ReplayJob) -> dict[str, Any]:
        """The job as the API shows it: state and progress from its directory, and once done the report's findings."""
        outcome = job_files.read_json(job.directory / job_files.OUTCOME_FILE)
        progress = job_files.read_json(job.directory / job_files.PROGRESS_FILE)
        started = job.started_ms
        state = outcome["state"] if outcome is not None else QUEUED if started is None else RUNNING
        finished = outcome.get("finished_ms") if outcome is not None else None
        end = finished if finished is not None else job_files.wall_ms() if started is not None else None
        report = outcome.get("report") if outcome is not None else None
        running_phase = progress["phase"] if progress is not None else "starting"
        return {
            "id": job.id,
            "state": state,
            "phase": running_phase if state == RUNNING else state,
            "progress": progress,
            "request": request_json(job.spec),
            "replay_topics": f"{job.spec.target.prefix}*",
            "command": ["python", *job.command[1:]],
            "exit_code": None if outcome is None else outcome["exit_code"],
            "error": None if outcome is None else outcome["error"],
            "timing": {
                "queued_at": iso_time(job.queued_ms),
                "started_at": None if started is None else iso_time(started),
                "finished_at": None if finished is None else iso_time(finished),
                "seconds": None if started is None or end is None else round((end - started) / 1000, 3),
                "replay": None if report is None else report.get("timing"),
            },
            "result": None if outcome is None or report is None else _verdict(report, outcome["code_versions"]),
            "inputs": None if report is None else report.get("inputs"),
            "outputs": None if report is None else report.get("outputs"),
            "counts": None if report is None else report.get("counts"),
            "report": {
                "directory": str(job.directory),
                "files": sorted(p.name for p in job.directory.iterdir() if not p.name.startswith(".")),
            },
            "output_tail": _tail(job.log),
        }

"""A replay run as a job (``python -m processors.replay.job DIR``): progress and outcome on disk, never printed text.

The log is a small slice (two hours around the 2013-09-03 session's open,
2,848 ticks) with the live kernel's outputs beside it, as in ``test_api_ops.py``.
The first test runs the job in this process and records every version of
``progress.json`` a reader could have found; the second runs the job's own
process on a range the log refuses.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contract.topics import CATALOG, Namespace
from eventlog.admin import TopicAdmin
from processors.replay import job, tally
from processors.replay.spec import ReplaySpec
from processors.replay.window import DayWindow, OffsetWindow
from tests.integration.test_replay import (
    ES_PARTITION,
    LiveLog,
    _delete_replays,
    chicago_ms,
    publish_and_run_live,
    sample_ticks,
)

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
SLICE = ("2013-09-02T15:00", "2013-09-02T19:00")
EVERY = 500  # progress every 500 inputs, so this small day reports some on the way


@pytest.fixture(scope="module")
def small_log(kafka_bootstrap: str) -> Iterator[LiveLog]:
    space = Namespace(f"test.job.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        yield publish_and_run_live(kafka_bootstrap, space, sample_ticks(*(chicago_ms(t) for t in SLICE)))
    finally:
        _delete_replays(kafka_bootstrap, space)
        admin.delete(CATALOG)


def _read(directory: Path, name: str) -> dict[str, Any]:
    found = job.read_json(directory / name)
    assert found is not None, f"no {name} in {sorted(p.name for p in directory.iterdir())}"
    return found


def test_a_job_reports_its_phases_in_order_and_an_outcome_that_matches_its_report(
    small_log: LiveLog, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tally, "PROGRESS_EVERY", EVERY)
    seen: list[dict[str, Any]] = []
    write = job.write_json

    def recorded(path: Path, value: Any) -> None:
        write(path, value)
        if path.name == job.PROGRESS_FILE:
            seen.append(json.loads(path.read_text()))  # what a reader finds right after each write

    monkeypatch.setattr(job, "write_json", recorded)
    job.write_job(tmp_path, ReplaySpec(DayWindow(date(2013, 9, 3)), small_log.namespace, into="job", report=tmp_path),
                  kafka_bootstrap)
    assert job.run_job(tmp_path) == 0

    total = small_log.inputs  # the slice holds the day's first ticks: the day starts at offset 0
    phases = [p["phase"] for n, p in enumerate(seen) if n == 0 or p["phase"] != seen[n - 1]["phase"]]
    assert phases == ["planning", "planned", "replaying", "comparing", "reporting"]
    assert [p["inputs_done"] for p in seen if p["phase"] == "replaying"] == list(range(0, total, EVERY))
    assert all(p["inputs_total"] == total for p in seen[1:]) and seen[-1]["inputs_done"] == total
    assert len({p["started_ms"] for p in seen}) == 1 and all(p["updated_ms"] >= p["started_ms"] for p in seen)
    assert _read(tmp_path, job.PROGRESS_FILE) == seen[-1]

    outcome = _read(tmp_path, job.OUTCOME_FILE)
    report = json.loads((tmp_path / "report.json").read_text())
    assert (outcome["state"], outcome["exit_code"], outcome["error"], outcome["code_versions"]) == ("succeeded", 0, None, [])
    assert outcome["report"] == report
    assert report["counts"]["inputs"] == total and report["determinism"]["identical"] is True
    assert report["inputs"][str(ES_PARTITION)]["start"] == 0
    assert outcome["files"] == ["report.json", "fills.csv", "equity.csv", "equity.png"]
    assert outcome["finished_ms"] >= seen[-1]["updated_ms"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_a_job_process_the_log_refuses_ends_failed_with_the_reason_and_exit_code_2(
    small_log: LiveLog, kafka_bootstrap: str, tmp_path: Path
) -> None:
    spec = ReplaySpec(OffsetWindow({ES_PARTITION: 100}), small_log.namespace, report=tmp_path)
    job.write_job(tmp_path, spec, kafka_bootstrap)
    done = subprocess.run([sys.executable, "-m", "processors.replay.job", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    outcome = _read(tmp_path, job.OUTCOME_FILE)
    assert (outcome["state"], outcome["exit_code"], outcome["report"], outcome["files"]) == ("failed", 2, None, [])
    assert "no kernel snapshot right before input offset 100" in outcome["error"]
    assert _read(tmp_path, job.PROGRESS_FILE)["phase"] == "planning"  # refused while building the start states
    assert not (tmp_path / "report.json").exists()

"""``aitrader --log-format json``: a long-running process's stderr is JSON lines, record-level lines say where on the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from contract.topics import INPUTS, Namespace
from tests.seed import sample_ticks, seed
from tests.workers import ROOT

pytestmark = pytest.mark.infra


def test_the_processors_log_json_lines_with_the_records_position(kafka_bootstrap: str, namespace: Namespace) -> None:
    seed(kafka_bootstrap, namespace, sample_ticks(step=1000))
    command = [sys.executable, "-m", "aitrader", "--log-format", "json", "run", "processors", "--namespace", namespace.prefix,
               "--stop-at-end"]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line, Faust's and the summary's included
    assert lines and all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    assert {line["logger"].split(".")[0] for line in lines} >= {"faust", "processors", "aitrader"}, {line["logger"] for line in lines}
    about_records = [line for line in lines if {"topic", "partition", "offset"} <= set(line)]
    recovered = [line for line in about_records if line["message"].startswith("recovered partition")]
    assert {line["topic"] for line in recovered} == {namespace.topic(INPUTS)}
    assert {line["partition"] for line in recovered} == set(range(INPUTS.partitions)) & {line["partition"] for line in recovered}
    assert all(f"partition {line['partition']}:" in line["message"] for line in recovered)
    assert recovered, about_records

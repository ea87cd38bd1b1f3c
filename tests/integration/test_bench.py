"""``aitrader bench --quick --report DIR`` on the real stack: every benchmark reports, nothing is left behind.

Speed is not asserted here (bench/ is for figures): the report's structure is,
that every figure is a positive number, and that the run's scratch topics are gone.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import BENCHES
from eventlog.admin import TopicAdmin

# A long form: every benchmark once, about 5 minutes on a quiet 2-core machine, which CI's 45 minutes cannot spare;
# run it by hand with `python -m pytest -m long tests/integration/test_bench.py`.
pytestmark = [pytest.mark.infra, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]


def test_a_quick_report_has_every_benchmark_with_positive_figures_and_leaves_no_scratch_topics(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "aitrader", "bench", "--quick", "--report", str(tmp_path / "tmp")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((tmp_path / "tmp" / "report.json").read_text())

    assert report["quick"] is True
    assert report["failed"] == {}
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"] and report["machine"]["python"]
    assert report["date"].startswith("20")
    assert sorted(report["results"]) == sorted(BENCHES)
    for name, result in report["results"].items():
        assert result["bench"] == name
        assert result["figures"], f"{name} reported no figures"
        for row in result["figures"]:
            assert isinstance(row["what"], str) and row["what"] and isinstance(row["unit"], str) and row["unit"]
            value = row["value"]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (name, row)
            assert math.isfinite(value) and value > 0, (name, row)

    assert report["scratch_prefix"].startswith("bench.")
    assert report["scratch_left_behind"] == []
    left = [name for name in TopicAdmin(kafka_bootstrap).existing() if name.startswith(report["scratch_prefix"])]
    assert left == []

    markdown = (tmp_path / "tmp" / "report.md").read_text()
    assert done.stdout == markdown  # the table on stdout is the report
    assert f"{report['machine']['cores']} cores" in markdown
    for name in BENCHES:
        assert f"## {name}:" in markdown

"""The benchmark report's pure parts: the sample slices and how figures become Markdown (no broker)."""

from __future__ import annotations

import gzip
from pathlib import Path

from bench.common import figure, figures_table, sample_file, sample_ticks
from bench.report import markdown
from eventlog.ingest import SAMPLE_DAY

MACHINE = {"cores": 2, "cpu": "Some CPU", "python": "3.11.7", "system": "Linux 6", "load_average_1m": 1.5}


def test_every_step_th_tick_then_the_first_n_of_those() -> None:
    first = sample_ticks(40)
    assert [t.event_id for t in sample_ticks(4, step=10)] == [t.event_id for t in first[::10]]


def test_a_sample_slice_is_the_header_and_the_first_n_rows(tmp_path: Path) -> None:
    assert sample_file(tmp_path, None) == SAMPLE_DAY
    with gzip.open(sample_file(tmp_path, 3), "rt") as sliced, gzip.open(SAMPLE_DAY, "rt") as whole:
        assert sliced.readlines() == [next(whole) for _ in range(4)]


def test_figures_print_ratios_latencies_and_rates_each_their_way() -> None:
    rows = figures_table([figure("ratio", 1.704, "x"), figure("p50", 0.1234, "ms"), figure("replay", 45123.6, "inputs/s")])
    assert rows == ["| what | figure |", "|---|---|", "| ratio | 1.70x |", "| p50 | 0.123 ms |", "| replay | 45,124 inputs/s |"]


def test_the_markdown_names_each_benchmark_the_machine_failures_and_leftovers() -> None:
    report = {
        "date": "2026-12-01T15:00:00+00:00", "quick": True, "machine": MACHINE, "scratch_prefix": "bench.run.x.",
        "results": {"ingest": {"about": "ingest", "figures": [figure("encode", 10.0, "events/s")]}},
        "failed": {"api": "SystemExit: the API did not come up"},
        "scratch_left_behind": ["bench.run.x.abc.inputs"],
    }
    text = markdown(report)
    assert "quick (small slices) run" in text
    assert "Machine: 2 cores, Some CPU, Python 3.11.7, Linux 6, load 1.5." in text
    assert "## ingest: ingest\n\n| what | figure |\n|---|---|\n| encode | 10 events/s |" in text
    assert "- api: SystemExit: the API did not come up" in text
    assert "bench.run.x.abc.inputs" in text

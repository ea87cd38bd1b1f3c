"""``aitrader replay --mode pipeline`` on a real broker: the live Faust worker replays a day like fast mode and live.

The log is ``test_replay.py``'s (ES slice across the 2013-09-03 session
boundary, "live" derived in-process), made once for this module by its fixture.
The pipeline worker runs inside the replay command, reading the live input
records and writing to ``replay.NAME.`` topics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aitrader.commands.replay import replay
from contract.topics import CATALOG, DERIVED, INPUTS, Namespace
from eventlog.consumer import LogReader
from processors.live.app import CommitProbe, group_id
from tests.integration.test_replay import DAY_START, ES_PARTITION, LiveLog, invoke
from tests.integration.test_replay import live_log as live_log  # noqa: F401  # the same log, made once for this module

pytestmark = pytest.mark.infra

WHAT_IF = "strategy.threshold=0.5"


def _replay(live: LiveLog, name: str, report: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    code, out = invoke(replay, "--day", "2013-09-03", "--namespace", live.namespace.prefix, "--into", name,
                       "--report", str(report), *args)
    loaded = json.loads((report / "report.json").read_text()) if (report / "report.json").exists() else {}
    return code, out, loaded


def _replay_digests(report: dict[str, Any]) -> dict[str, str]:
    return {name: t["replay"]["sha256"] for name, t in report["determinism"]["topics"].items()}


def _committed(bootstrap: str, live: LiveLog, name: str) -> int:
    probe = CommitProbe(bootstrap, group_id(Namespace(f"{live.namespace.prefix}replay.{name}.")), live.namespace.topic(INPUTS))
    try:
        return probe.committed([ES_PARTITION])[ES_PARTITION]
    finally:
        probe.close()


def test_pipeline_mode_derives_what_live_and_fast_mode_derive(live_log: LiveLog, kafka_bootstrap: str, tmp_path: Path) -> None:
    with LogReader(kafka_bootstrap) as reader:
        live_before = {s.name: reader.watermarks(live_log.namespace.topic(s)) for s in CATALOG}
    code, out, piped = _replay(live_log, "pipe", tmp_path / "pipe", "--mode", "pipeline")
    assert code == 0, out
    start = live_log.snapshots[DAY_START] + 1
    assert f"inputs[{ES_PARTITION}] offsets [{start:,}, {live_log.inputs:,})" in out
    assert "through the Faust worker" in out and "inputs/s" in out
    assert "deterministic" in out and "DIFFERENT" not in out

    code, out, fast = _replay(live_log, "fast", tmp_path / "fast")
    assert code == 0, out

    # Both modes agree with live and with each other, topic by topic, byte for byte.
    assert piped["determinism"]["identical"] is True and fast["determinism"]["identical"] is True
    assert set(_replay_digests(piped)) == {s.name for s in DERIVED}
    assert _replay_digests(piped) == _replay_digests(fast)
    assert all(t["live"]["sha256"] == t["replay"]["sha256"] for t in piped["determinism"]["topics"].values())
    assert piped["counts"] == fast["counts"] and piped["counts"]["inputs"] == live_log.inputs - start
    assert piped["counts"]["by_topic"]["fills"] > 0
    assert piped["pnl"] == fast["pnl"]  # the worker's kernels end where fast mode's do
    assert piped["manifest"]["mode"] == "pipeline" and piped["timing"]["inputs_per_second"] > 0

    # The replay group stopped exactly at the window's end; live's topics were not touched.
    assert _committed(kafka_bootstrap, live_log, "pipe") == live_log.inputs
    with LogReader(kafka_bootstrap) as reader:
        assert {s.name: reader.watermarks(live_log.namespace.topic(s)) for s in CATALOG} == live_before


def test_a_pipeline_range_ending_mid_stream_applies_nothing_past_its_end_and_can_run_again(
    live_log: LiveLog, kafka_bootstrap: str
) -> None:
    after = live_log.snapshots["interval"]  # the first interval snapshot, before the session boundary
    end = live_log.inputs - 1234
    # The second run finds the group committed at the end and must start over from the range's start.
    for _ in range(2):
        code, out = invoke(
            replay, "--from-offsets", f"{ES_PARTITION}:{after + 1}", "--to-offsets", f"{ES_PARTITION}:{end}",
            "--namespace", live_log.namespace.prefix, "--into", "piperange", "--mode", "pipeline",
        )
        assert code == 0, out
        assert f"replayed {end - after - 1:,} inputs" in out
        assert "deterministic" in out
        assert _committed(kafka_bootstrap, live_log, "piperange") == end


def test_a_pipeline_what_if_diverges_from_live_exactly_as_fast_mode_does(live_log: LiveLog, tmp_path: Path) -> None:
    code, out, piped = _replay(live_log, "pipewhatif", tmp_path / "pipe", "--mode", "pipeline", "--set", WHAT_IF, "--compare")
    assert code == 1, out
    assert "DIVERGED" in out
    assert f"first difference: intents[{ES_PARTITION}]" in out
    assert any(line.strip().startswith("field ") for line in out.splitlines())

    code, out, fast = _replay(live_log, "fastwhatif", tmp_path / "fast", "--set", WHAT_IF, "--compare")
    assert code == 1, out
    assert _replay_digests(piped) == _replay_digests(fast)
    assert piped["determinism"]["first_divergence"] == fast["determinism"]["first_divergence"]
    assert piped["manifest"]["partitions"] == fast["manifest"]["partitions"]


def test_pipeline_mode_refuses_flat(live_log: LiveLog) -> None:
    code, out = invoke(replay, "--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--mode", "pipeline", "--flat")
    assert code == 2
    assert "--flat is for --mode fast" in " ".join(out.split())

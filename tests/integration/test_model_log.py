"""Model versions on the log, on a real broker.

``aitrader model activate`` writes a ``ModelActivated`` to every input partition
(and refuses a model this build cannot provide); one log with two activations
is derived alike by the pure kernel, fast and pipeline replay, and the live
worker killed between apply and flush; ``replay --model --compare`` reports
what another model would have done.

The log is the multi-symbol golden day (``tests/multi_symbol_day.py``, every
56th trade) with, on every partition, an activation of a model no build has
on Labor Day (the partitions fail closed: no intents) and the baseline again
on 2013-09-03 at 09:00 Chicago. So the 2013-09-03 session-start snapshot holds
a closed partition, and the day switches back to trading mid-morning: the
model is state a replay and a recovery must both restore, and a switch they
must both make at the same offset. Only models ``load_scorer`` provides are
used: the live worker is a subprocess with no test resolver.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from aitrader.cli import app
from aitrader.commands.replay import replay
from contract.events import Envelope, Event, ModelActivated, ModelApplied
from contract.ids import id_from_parts
from contract.serde import EventCodec
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import decode
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from tests.integration.test_replay import _delete_replays, invoke
from tests.multi_symbol_day import SETTINGS, chicago_ms, partition_inputs
from tests.seed import put_inputs, seed_partitions
from tests.workers import first_difference, killed_and_restored, read_records

pytestmark = pytest.mark.infra

EVERY = 56
UNKNOWN = ("gbm-onnx", "9.9.9", "ab" * 32)
ACTIVATIONS = (("2013-09-02 12:00", UNKNOWN), ("2013-09-03 09:00", ("baseline", "1.0.0", BaselineScorer.sha256)))
RUN_S = 240.0


def with_activations(inputs: dict[int, list[Event]]) -> dict[int, list[Event]]:
    """Each partition's inputs with the activations placed as ``aitrader model activate`` writes them.

    After the partition's last input at or before the activation's time, stamped with that input's time.
    """
    result = {}
    for partition, events in inputs.items():
        placed = list(events)
        for at, (name, version, sha256) in sorted(ACTIVATIONS, key=lambda a: chicago_ms(a[0]), reverse=True):
            index = sum(1 for e in events if e.event_time_ms <= chicago_ms(at))
            event_id = id_from_parts("control", INPUTS.name, partition, index, f"activate {name}@{version}")
            envelope = Envelope(event_id, placed[index - 1].event_time_ms, "control/test", None, event_id)
            placed.insert(index, ModelActivated(envelope, name, version, sha256, "model drill", "ops"))
        result[partition] = placed
    return result


@dataclass(frozen=True)
class Day:
    namespace: Namespace
    inputs: dict[int, list[Event]]


@pytest.fixture(scope="module")
def day(kafka_bootstrap: str) -> Iterator[Day]:
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    inputs = with_activations(partition_inputs(every=EVERY))
    try:
        seed_partitions(kafka_bootstrap, space, inputs, SETTINGS)
        yield Day(space, inputs)
    finally:
        _delete_replays(kafka_bootstrap, space)
        admin.delete(CATALOG)


def test_activate_writes_every_partition_and_refuses_a_model_this_build_cannot_provide(
    kafka_bootstrap: str, namespace: Namespace
) -> None:
    code, out = invoke(app, "model", "activate", "gbm-onnx@1.0.0", "--reason", "try", "--namespace", namespace.prefix)
    assert code == 2 and "unknown scorer 'gbm-onnx'" in out
    code, out = invoke(app, "model", "activate", "baseline@1.0.0", "--sha256", "0" * 64, "--reason", "x",
                       "--namespace", namespace.prefix)
    assert code == 2 and "another build" in out
    assert read_records(kafka_bootstrap, namespace, INPUTS) == []

    code, out = invoke(app, "model", "activate", "baseline@1.0.0", "--reason", "back to the reference",
                       "--namespace", namespace.prefix)
    assert code == 0, out
    records = read_records(kafka_bootstrap, namespace, INPUTS)
    assert sorted(r.partition for r in records) == list(range(INPUTS.partitions))
    codec = EventCodec()
    for record in records:
        activation = decode(codec, record)
        assert isinstance(activation, ModelActivated)
        assert (activation.name, activation.version, activation.sha256) == ("baseline", "1.0.0", BaselineScorer.sha256)
        (applied,) = [r.event for r in KernelRunner(TradingKernel(record.partition, KernelSettings.parse(),
                                                                  BaselineScorer())).apply(record)
                      if isinstance(r.event, ModelApplied)]
        assert applied.refusal is None and applied.envelope.causation_id == activation.event_id


@pytest.mark.parametrize("mode", ["fast", "pipeline"])
def test_a_replay_restores_the_closed_partitions_and_switches_back_where_live_did(
    day: Day, mode: str, tmp_path: Path
) -> None:
    code, out = invoke(replay, "--day", "2013-09-03", "--mode", mode, "--namespace", day.namespace.prefix,
                       "--into", f"models{mode}", "--report", str(tmp_path))
    assert code == 0, out
    assert "deterministic" in out and "DIFFERENT" not in out
    report = json.loads((tmp_path / "report.json").read_text())
    models = [p["scorer"] for p in report["manifest"]["partitions"].values()]
    assert models and all("unknown scorer 'gbm-onnx'" in (m["refusal"] or "") for m in models)  # the day starts closed
    assert report["counts"]["by_type"]["ModelApplied"] == INPUTS.partitions
    assert report["counts"]["by_type"]["OrderIntent"] > 0  # after the switch back


def test_what_if_another_model_reports_the_difference_and_the_same_model_none(day: Day, tmp_path: Path) -> None:
    prefix = day.namespace.prefix
    code, out = invoke(replay, "--day", "2013-09-03", "--namespace", prefix, "--into", "whatifbase",
                       "--model", "baseline@1.0.0", "--compare", "--report", str(tmp_path / "other"))
    assert code == 0, out  # a what-if report, not a divergence
    assert "not a divergence" in out and "what-if against the recorded day" in out
    other_report = json.loads((tmp_path / "other" / "report.json").read_text())
    other = other_report["what_if"]
    # Live was closed until 09:00; the baseline from the day's start orders in the night and the early morning too
    # (limit orders resting 20 ticks behind the market, which this day never reaches: the fills are live's).
    assert other["difference"]["intents"] > 0
    assert other["replay"]["intents"] == other["live"]["intents"] + other["difference"]["intents"]
    assert other["difference"]["fills"] == other["replay"]["fills"] - other["live"]["fills"]
    assert set(other["difference"]["pnl"]) == {"ES", "SYN_NQ", "SYN_SP500_ETF", "SYN_YM", "SYN_ZN"}
    # Each side's P&L is the day's: for the replay, what its own kernels booked (report "pnl").
    assert {s: Decimal(v) for s, v in other["replay"]["pnl"].items()} == {
        s: Decimal(p["daily_pnl"]) for s, p in other_report["pnl"].items()
    }

    # 2013-09-02 started under the baseline, so the baseline as a what-if changes nothing.
    code, out = invoke(replay, "--day", "2013-09-02", "--namespace", prefix, "--into", "whatifsame",
                       "--model", "baseline@1.0.0", "--compare", "--report", str(tmp_path / "same"))
    assert code == 0, out
    assert "no difference in intents, fills or P&L" in out and "deterministic" in out
    same = json.loads((tmp_path / "same" / "report.json").read_text())["what_if"]
    assert same["difference"]["intents"] == same["difference"]["fills"] == 0 and same["live"]["intents"] > 0

    code, out = invoke(replay, "--day", "2013-09-03", "--namespace", prefix, "--into", "whatifnone",
                       "--model", "gbm-onnx@1.0.0", "--compare")
    assert code == 2 and "unknown scorer 'gbm-onnx'" in out


def test_the_live_worker_killed_mid_day_derives_the_pure_kernels_bytes_across_the_switches(
    kafka_bootstrap: str, namespace: Namespace, day: Day, tmp_path: Path
) -> None:
    put_inputs(EventProducer(kafka_bootstrap, namespace), day.inputs)
    # Killed after partition 1 passed its 2013-09-03 session start, which it took while closed.
    survivor, got, expected = killed_and_restored(kafka_bootstrap, namespace, SETTINGS, tmp_path / "logs", 15_000, RUN_S)
    # Partition 1 was rebuilt from a snapshot taken while it was closed (after the refused activation).
    refused_at = next(o for o, e in enumerate(day.inputs[1]) if isinstance(e, ModelActivated))
    recovered = re.search(r"recovered partition 1: snapshot after input (\d+)", survivor.text())
    assert recovered is not None and int(recovered.group(1)) >= refused_at, survivor.tail()
    assert got == expected, first_difference(got, expected)

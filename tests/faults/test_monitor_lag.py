"""The account monitor's lag, measured: from the fill that breaches an account-wide limit to the halt in every kernel.

Per-symbol kernels cannot see each other, so account-wide limits hold within
the monitor's lag (``oms/account.py``). Here the live worker and the monitor
run over a slice of the multi-symbol day with a daily-loss limit low enough to
breach; the monitor writes HALTED to every input partition and each kernel
applies it when it reaches it: behind every input already on its partition.
One form paces the ticks as a feed would (scaled in time); the other ingests
the slice at once, the worst case, where the halt lands behind the whole
backlog. Both are ``long``: run them by hand to read the figures.

Reported (printed, not asserted: the machine is shared and loaded): how far
apart the breaching fill and each partition's halt are in input offsets and in
event time, the wall time from the breaching fill appearing on the log to the
halt written on the inputs and to the kernel's ``TradingStateApplied``
appearing (seen by a watcher polling the end offsets, so its poll period is
the resolution), and the fills the kernels accepted after the breach and before
the halt reached them. Asserted: the halt arrives on every partition, and from
where each kernel applied it no order is accepted and nothing fills.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from aitrader.commands.common import parse_settings
from contract.events import (
    OrderAccepted,
    OrderFilled,
    TradingState,
    TradingStateApplied,
    TradingStateChanged,
)
from contract.records import decode
from contract.topics import CONTROL, FILLS, INPUTS, Namespace
from eventlog.consumer import LogReader
from eventlog.sampledata import write_multi_symbol_day
from kernel.settings import KernelSettings
from tests.faults.chaos import Chaos, Kind, committed_to_end
from tests.workers import (
    CODEC,
    as_outputs,
    derived_on_log,
    first_difference,
    ingest,
    pure_kernel,
    read_records,
)

pytestmark = pytest.mark.infra

SINCE, UNTIL = "2013-09-01 17:00", "2013-09-02 09:00"
EVERY = 80
# The slice's 16 hours of ticks in about 30 s, as a feed delivers them (scaled); "max" ingests the whole slice at once, so the monitor's halt queues behind every tick not yet applied.
PACED = "2000"
MAX_DAILY_LOSS = "1"  # USD, fees and open positions included: the account is that far down early in the slice
ACTOR = "account-monitor"
WATCH_S = 0.02
RUN_S = 600.0
DETECT_S = 30.0  # after the kernel committed every tick: the monitor polls every second
# What the monitor prints when it acts (aitrader/commands/monitor.py); its console may wrap the line anywhere between words.
DETECTED = r"HALTED:[\s\S]*?\(after\s+(\S+),\s+detected\s+([\d,]+)\s+ms\s+of\s+event\s+time\s+later\)"


class EndWatch:
    """Polls the end offsets of some topics on a thread; when each offset first appeared, in wall seconds."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap, self.topics = bootstrap, topics
        self.seen: list[tuple[float, dict[tuple[str, int], int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="end-watch", daemon=True)

    def __enter__(self) -> EndWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with LogReader(self.bootstrap) as reader:
            while not self._stop.is_set():
                ends = {(t, p): high for t in self.topics for p, (_, high) in reader.watermarks(t).items()}
                self.seen.append((time.monotonic(), ends))
                self._stop.wait(WATCH_S)

    def appeared(self, topic: str, partition: int, offset: int) -> float:
        """The first poll that saw ``offset`` on the log."""
        return next(at for at, ends in self.seen if ends.get((topic, partition), 0) > offset)

    @property
    def resolution_s(self) -> float:
        return (self.seen[-1][0] - self.seen[0][0]) / max(1, len(self.seen) - 1)


@pytest.mark.long  # about a minute each: a report, not a CI check (the kill tests hold the kernels to their halts)
@pytest.mark.parametrize("speed", [PACED, "max"])
def test_the_monitor_halts_every_kernel_after_an_account_wide_breach_and_its_lag_is_reported(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path, speed: str
) -> None:
    day = write_multi_symbol_day(tmp_path / "day", every=EVERY, since=SINCE, until=UNTIL)
    prefix = namespace.prefix
    kinds = (
        Kind("processors", ("run", "processors", "--namespace", prefix, "--settings", str(day.settings), "--batch", "500"), (), 0),
        Kind("monitor", ("run", "monitor", "--namespace", prefix, "--max-daily-loss", MAX_DAILY_LOSS, "--max-gross-exposure", "0"),
             (), 0),
    )
    chaos = Chaos({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, tmp_path / "logs", {})
    fills_topic, control_topic, inputs_topic = namespace.topic(FILLS), namespace.topic(CONTROL), namespace.topic(INPUTS)
    try:
        with EndWatch(kafka_bootstrap, [fills_topic, control_topic, inputs_topic]) as watch:
            for kind in kinds:
                chaos.start(kind)
            chaos.current("monitor").wait_for("metrics on", RUN_S)  # it is up: the breach finds it polling, not starting
            ingest(kafka_bootstrap, namespace, day, "--speed", speed)
            chaos.supervise(lambda: committed_to_end(kafka_bootstrap, namespace), RUN_S)
            detected = chaos.current("monitor").wait_for(DETECTED, DETECT_S)
            chaos.stop("monitor")  # it acted; the kernel then applies what it wrote
            chaos.supervise(lambda: committed_to_end(kafka_bootstrap, namespace), RUN_S)
    finally:
        chaos.stop_all()
    breaching_id, monitor_lag_ms = detected.group(1), int(detected.group(2).replace(",", ""))

    inputs = read_records(kafka_bootstrap, namespace, INPUTS)
    derived = pure_kernel(inputs, KernelSettings.parse(parse_settings(day.settings, [])))
    got = derived_on_log(kafka_bootstrap, namespace)
    assert got == as_outputs(derived), f"the worker and the pure kernel disagree: {first_difference(got, as_outputs(derived))}"
    halts = {r.partition: (r.offset, e) for r in inputs if isinstance(e := decode(CODEC, r), TradingStateChanged) and e.actor == ACTOR}
    assert sorted(halts) == list(range(INPUTS.partitions)), f"the halt reached partitions {sorted(halts)} only"
    assert {e.state for _, e in halts.values()} == {TradingState.HALTED}

    events = [(d, CODEC.decode(d.value)) for d in derived]
    breaching = next((d, e) for d, e in events if isinstance(e, OrderFilled) and e.fill_id == breaching_id)
    fills_on_log = {decode(CODEC, r).event_id: r for r in read_records(kafka_bootstrap, namespace, FILLS)}
    fill_record = fills_on_log[breaching[1].event_id]
    fill_seen = watch.appeared(fills_topic, fill_record.partition, fill_record.offset)
    applied_on_log = {decode(CODEC, r).event_id: r for r in read_records(kafka_bootstrap, namespace, CONTROL)}
    print(f"ingest at speed {speed}: account-wide breach (daily loss over {MAX_DAILY_LOSS} USD) by fill {breaching_id} of input partition "
          f"{breaching[0].input_partition} offset {breaching[0].input_offset}; the monitor saw it {monitor_lag_ms:,} ms of event time "
          f"after it (watch resolution {watch.resolution_s * 1000:.0f} ms, the machine shared and loaded)")
    for partition, (offset, halt) in sorted(halts.items()):
        applied = next(e for d, e in events if isinstance(e, TradingStateApplied) and (d.input_partition, d.input_offset) == (partition, offset))
        written = watch.appeared(inputs_topic, partition, offset)
        halt_seen = watch.appeared(control_topic, partition, applied_on_log[applied.event_id].offset)
        late = [e for d, e in events if isinstance(e, OrderFilled) and d.input_partition == partition and d.input_offset < offset
                and e.event_time_ms > breaching[1].event_time_ms]
        after_offsets = (offset - breaching[0].input_offset - 1) if partition == breaching[0].input_partition else None
        print(f"  partition {partition}: halt at input offset {offset}"
              + ("" if after_offsets is None else f" ({after_offsets:,} inputs after the breaching one)")
              + f", {halt.event_time_ms - breaching[1].event_time_ms:,} ms of event time after the fill, written "
              f"{(written - fill_seen) * 1000:,.0f} ms and applied {(halt_seen - fill_seen) * 1000:,.0f} ms of wall time after the "
              f"fill appeared; {len(late)} fills accepted in between")
        after = [e for d, e in events if d.input_partition == partition and d.input_offset > offset]
        assert applied.partition_state is TradingState.HALTED
        assert all(e.partition_state is TradingState.HALTED for e in after if isinstance(e, TradingStateApplied)), "the halt was lifted"
        traded = [e for e in after if isinstance(e, (OrderAccepted, OrderFilled))]
        assert traded == [], f"partition {partition}: {len(traded)} orders accepted or filled after the halt was applied"

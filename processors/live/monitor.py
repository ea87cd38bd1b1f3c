"""The account monitor's loop: fills of every partition in, kill-switch events on every input partition out.

Each poll reads what is new on the fills topic across all partitions and folds
it in event-time order (ties by partition and offset), so the outcome does not
depend on which partition the reader happened to fetch first. Instruments come
from the kernels' ``ConfigApplied`` announcements on the control topic, each
fill valued with its own partition's; a fill whose instrument is not announced
yet waits for the next poll rather than being valued with a guess.

On start it folds every fill already on the log without acting (those breaches
were acted on before), then re-asserts the breach the log calls for, if any
(it may have been detected but not sent before a crash), and from then on
writes a kill-switch event to every input partition on each escalation.
Account-wide limits therefore hold within the monitor's lag, which every
detection reports: how far in event time the newest fill read was past the one
that breached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contract.events import ConfigApplied, OrderFilled
from contract.serde import EventCodec
from contract.topics import CONTROL, FILLS, Namespace
from eventlog import faults
from eventlog.consumer import LogReader, RawRecord, decode
from eventlog.metrics import ProcessMetrics
from marketdata.calendar import VenueCalendars
from oms.account import AccountMonitor, Breach
from oms.instruments import ReferenceData, UnknownInstrument

POLL_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Detection:
    """A breach the monitor acted on, and how late it saw it."""

    breach: Breach
    cause: str  # the fill id that crossed the limit, or "start" for a breach re-asserted on start
    fill_time_ms: int
    newest_time_ms: int  # the latest fill time read when it was detected

    @property
    def lag_ms(self) -> int:
        return self.newest_time_ms - self.fill_time_ms


Act = Callable[[Detection], None]


@dataclass
class AccountWatch:
    """Folds the log's fills into an ``AccountMonitor`` and calls ``act`` on each escalation once live."""

    bootstrap: str
    namespace: Namespace
    monitor: AccountMonitor
    act: Act
    poll_interval_s: float = POLL_INTERVAL_S
    detections: list[Detection] = field(default_factory=list)
    waiting_for: str | None = None  # a symbol whose instrument no kernel announced yet
    metrics: ProcessMetrics | None = None
    # The broker's data directory, whose free space the metrics report (event topics keep everything).
    broker_data_dir: Path | None = None

    def __post_init__(self) -> None:
        self._codec = EventCodec()
        self._calendars = VenueCalendars()
        self._reference = ReferenceData()
        self._positions: dict[str, dict[int, int]] = {}
        self._fault = faults.from_environment()  # tests only (eventlog/faults.py)
        self._folded = 0  # fills folded since start, what the fault counts

    def run(self, stop_at_end: bool = False, should_stop: Callable[[], bool] = lambda: False) -> None:
        with LogReader(self.bootstrap) as reader:
            self.poll(reader, live=False)
            if self.monitor.last_breach is not None:
                breach = self.monitor.last_breach
                self._detected(Breach(breach.state, f"re-asserted on start: {breach.reason}"), "start", 0, 0)
            while not stop_at_end and not should_stop():
                time.sleep(self.poll_interval_s)
                self.poll(reader, live=True)

    def poll(self, reader: LogReader, live: bool) -> None:
        """Folds everything new on the fills topic (in event-time order); acts on breaches when ``live``."""
        started = time.perf_counter()
        fills = self._new(reader, FILLS.name)
        self._announcements(reader)
        if self.metrics is not None:
            self.metrics.observe_batch(time.perf_counter() - started)
            if self.broker_data_dir is not None:
                self.metrics.observe_disk(self.broker_data_dir)
        if not fills:
            return
        fills.sort(key=lambda item: (item[1].event_time_ms, item[0].partition, item[0].offset))
        newest = fills[-1][1].event_time_ms
        positions = self._positions[FILLS.name]
        for record, fill in fills:
            try:
                instrument = self._reference.instrument(record.partition, fill.symbol)
            except UnknownInstrument:
                self.waiting_for = fill.symbol
                # Read again from here next poll (per partition, the earliest fill not folded).
                for later, _ in fills[fills.index((record, fill)) :]:
                    positions[later.partition] = min(positions[later.partition], later.offset)
                return
            session = self._calendars(instrument.venue).session_of(fill.event_time_ms).day
            breach = self.monitor.on_fill(fill, instrument, session)
            self._folded += 1
            if self._fault is not None:  # between folding a fill and acting on the breach it may have caused
                self._fault.at(faults.MID_FOLD, self._folded, lambda: f"fill {fill.fill_id} at partition {record.partition} offset {record.offset}")
            if breach is not None and live:
                self._detected(breach, fill.fill_id, fill.event_time_ms, newest)
        self.waiting_for = None

    def _detected(self, breach: Breach, cause: str, fill_time_ms: int, newest_ms: int) -> None:
        detection = Detection(breach, cause, fill_time_ms, newest_ms)
        self.detections.append(detection)
        self.act(detection)

    def _announcements(self, reader: LogReader) -> None:
        for record, event in self._new(reader, CONTROL.name):
            if isinstance(event, ConfigApplied):
                self._reference.apply(event)

    def _new(self, reader: LogReader, name: str) -> list[tuple[RawRecord, OrderFilled]]:
        """The records of a topic after the last poll, decoded; fills only for the fills topic."""
        topic = self.namespace.topic(name)
        marks = reader.watermarks(topic)
        positions = self._positions.setdefault(name, {p: low for p, (low, _) in marks.items()})
        ranges = {p: (positions[p], high) for p, (_, high) in marks.items() if high > positions[p]}
        found = []
        for batch in reader.read(topic, ranges) if ranges else ():
            for record in batch:
                positions[record.partition] = record.offset + 1
                event = decode(self._codec, record)
                if isinstance(event, OrderFilled) or name != FILLS.name:
                    found.append((record, event))
        if self.metrics is not None:
            for partition, (start, high) in ranges.items():
                self.metrics.count_inputs(topic, partition, positions[partition] - start)
            self.metrics.set_lag(topic, {p: high - positions[p] for p, (_, high) in marks.items()})
        return found

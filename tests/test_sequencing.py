"""Tick identity: a sequence orders the ticks of one (venue, symbol) across files and days."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from contract import sequencing
from contract.events import Tick
from contract.sequencing import (
    DEFAULT_LATE_TOLERANCE_MS,
    SequenceGate,
    SequenceOverflow,
    merge_in_time,
    sequence_time_ms,
    tick_sequence,
)
from marketdata.tickfile import TickFileError, TickParser, parse_lines

CHICAGO = ZoneInfo("America/Chicago")
HEADER = "DateTime,Price,Volume\n"


def _ticks(name: str, rows: list[str], symbol: str = "ES") -> list[Tick]:
    items = list(parse_lines([HEADER, *(f"{row}\n" for row in rows)], TickParser(name, symbol, "CME", CHICAGO)))
    assert all(isinstance(item, Tick) for item in items), items
    return items  # type: ignore[return-value]


def test_the_sequence_is_event_time_then_position_within_the_millisecond() -> None:
    ticks = _ticks("a.csv", ["2013-09-01 17:00:00.083,1640.25,8", "2013-09-01 17:00:00.083,1640.25,1",
                             "2013-09-01 17:00:00.083,1640.5,2", "2013-09-01 17:00:00.101,1640.25,1"])
    t0 = 1378072800083
    assert [t.sequence for t in ticks] == [t0 * 1_000_000, t0 * 1_000_000 + 1, t0 * 1_000_000 + 2, (t0 + 18) * 1_000_000]
    assert [sequence_time_ms(t.sequence) for t in ticks] == [t.event_time_ms for t in ticks]


def test_sequences_order_ticks_across_files_and_days_where_line_numbers_restart() -> None:
    day1 = _ticks("es_2013-09-02.csv", ["2013-09-02 10:59:59.998,1650.25,1", "2013-09-02 10:59:59.999,1650.5,2"])
    day2 = _ticks("es_2013-09-03.csv", ["2013-09-02 17:00:00.026,1651.0,1", "2013-09-02 17:00:00.026,1651.0,4"])
    assert [t.envelope.event_id for t in day1] != [t.envelope.event_id for t in day2]  # ids still come from file + line
    sequences = [t.sequence for t in day1 + day2]
    assert sequences == sorted(sequences) and len(set(sequences)) == 4
    assert day2[0].sequence > day1[-1].sequence


def test_the_same_row_in_another_file_has_the_same_sequence_but_its_own_id() -> None:
    row = ["2013-09-01 17:00:00.083,1640.25,8"]
    first, again = _ticks("a.csv", row)[0], _ticks("b.csv", row)[0]
    assert first.sequence == again.sequence
    assert first.event_id != again.event_id


def test_a_millisecond_holds_at_most_a_million_ticks() -> None:
    assert tick_sequence(5, 999_999) == 5_999_999
    with pytest.raises(SequenceOverflow):
        tick_sequence(5, 1_000_000)
    with pytest.raises(SequenceOverflow):
        tick_sequence(5, -1)


def test_a_file_with_too_many_rows_in_one_millisecond_is_refused_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequencing, "SLOTS_PER_MS", 3)  # the rule, with a limit a test can reach
    rows = ["2013-09-01 17:00:00.083,1640.25,1"] * 4
    with pytest.raises(TickFileError, match="line 5: .*3 rows in one millisecond"):
        _ticks("crowded.csv", rows)


def test_the_gate_admits_only_ticks_after_the_last_of_their_venue_and_symbol() -> None:
    es = _ticks("a.csv", ["2013-09-01 17:00:00.083,1640.25,8", "2013-09-01 17:00:00.083,1640.25,1",
                          "2013-09-01 17:00:00.101,1640.25,1"])
    nq = _ticks("n.csv", ["2013-09-01 17:00:00.083,3100.25,8"], symbol="NQ")
    gate = SequenceGate({("CME", "ES"): es[0].sequence})
    assert [gate.admits(t) for t in [es[0], es[1], nq[0], es[1], es[2], es[0]]] == [False, True, True, False, True, False]
    assert gate.last == {("CME", "ES"): es[2].sequence, ("CME", "NQ"): nq[0].sequence}


def test_files_merge_by_event_time_ties_in_file_order_then_line_order() -> None:
    a = _ticks("a.csv", ["2013-09-01 17:00:00.083,1,1", "2013-09-01 17:00:00.083,2,1", "2013-09-01 17:00:00.200,3,1"])
    b = _ticks("b.csv", ["2013-09-01 17:00:00.050,4,1", "2013-09-01 17:00:00.083,5,1", "2013-09-01 17:00:00.300,6,1"], "NQ")
    merged = list(merge_in_time([a, b]))
    assert [int(t.price) for t in merged] == [4, 1, 2, 5, 3, 6]
    assert [int(t.price) for t in merge_in_time([b, a])] == [4, 5, 1, 2, 3, 6]


def test_the_late_tolerance_default_is_one_second() -> None:
    assert DEFAULT_LATE_TOLERANCE_MS == 1000

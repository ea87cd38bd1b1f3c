"""Parsing trade files: good rows become ticks, bad rows are named by line number."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from contract.events import Tick
from marketdata.tickfile import BadRow, TickFileError, TickParser, check_lines, parse_lines

CHICAGO = ZoneInfo("America/Chicago")


def _parse(text: str) -> list[Tick | BadRow]:
    return list(parse_lines(text.splitlines(keepends=True), TickParser("f.csv", "ES", "CME", CHICAGO)))


def test_a_good_row_becomes_a_tick_in_utc_milliseconds() -> None:
    (tick,) = _parse("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n")
    assert isinstance(tick, Tick)
    assert tick.event_time_ms == 1378072800083  # 22:00:00.083 UTC (CDT is UTC-5)
    assert (tick.price, tick.size, tick.symbol) == (Decimal("1640.25"), Decimal(8), "ES")
    assert tick.sequence == 1378072800083 * 1_000_000  # event time, then 0: the first row of that millisecond
    assert tick.envelope.causation_id is None


def test_ids_depend_on_file_and_line_only() -> None:
    first = _parse("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n2013-09-01 17:00:00.083,1640.25,8\n")
    again = _parse("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n")
    assert first[0].event_id == again[0].event_id  # type: ignore[union-attr]
    assert first[0].event_id != first[1].event_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2013-09-01 17:00:00.083,1640.25", "expected 3 columns"),
        ("yesterday,1640.25,8", "bad DateTime"),
        ("2013-09-01 17:00:00.083,abc,8", "bad number"),
        ("2013-09-01 17:00:00.083,-1,8", "price must be positive"),
        ("2013-09-01 17:00:00.083,1640.25,0", "volume must be positive"),
        ("2013-09-01 17:00:00.083+00:00,1640.25,1", "without a zone"),
        ("2013-09-01 16:59:59.000,1640.25,1", "time goes backwards"),
    ],
)
def test_bad_rows_are_reported_with_their_line_number(row: str, reason: str) -> None:
    rows = _parse(f"DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n{row}\n")
    bad = rows[1]
    assert isinstance(bad, BadRow)
    assert bad.line_number == 3
    assert reason in bad.reason
    assert str(bad).startswith("line 3:")


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(TickFileError, match="line 1: expected header"):
        _parse("time,price,size\n2013-09-01 17:00:00.083,1640.25,8\n")


def test_the_check_pass_finds_the_same_sequences_and_bad_rows_as_the_parse() -> None:
    text = (
        "DateTime,Price,Volume\n"
        "2013-09-01 17:00:00.083,1640.25,8\n"
        "2013-09-01 17:00:00.083,1640.50,1\n"  # the same millisecond: the next slot
        "\n"
        "2013-09-01 17:00:00.084,oops,1\n"
        "2013-09-01 17:00:00.082,1640.25,2\n"  # back in time
        "2013-09-01 17:00:00.083,1640.25,3\n"  # the millisecond again, after a bad row: its third slot
        "2013-09-01 17:00:01,1640.75,2,9\n"
        "2013-09-01 17:00:01.500,1641,0\n"
        "2013-09-01 17:00:02.000,1641.00,4\n"
    )
    parsed = _parse(text)
    checked = list(check_lines(text.splitlines(keepends=True), TickParser("f.csv", "ES", "CME", CHICAGO)))
    assert checked == [item.sequence if isinstance(item, Tick) else item for item in parsed]
    assert [type(item).__name__ for item in checked] == ["int", "int", "BadRow", "BadRow", "int", "BadRow", "BadRow", "int"]
    assert checked[4] == checked[0] + 2

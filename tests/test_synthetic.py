"""The multi-symbol day: synthetic symbols derived from the real ES day, deterministic and placed on purpose."""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from datetime import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_market_calendars as mcal
import pytest
from typer.testing import CliRunner

from aitrader.cli import app
from aitrader.commands.common import parse_settings
from contract.events import Tick
from contract.partitioner import partition_for
from contract.sequencing import merge_in_time
from contract.topics import INPUTS
from eventlog.ingest import SAMPLE_DAY, TickFile
from eventlog.sampledata import WrittenDay, multi_symbol_ticks, write_multi_symbol_day
from marketdata.calendar import venue_zone
from marketdata.synthetic import DEFAULT_SYMBOLS, SYNTHETIC_PREFIX, Cut, file_name
from oms.instruments import (
    BUILTIN_INSTRUMENT_SETTINGS,
    SYMBOL,
    instruments_from_settings,
)

SMALL = {"every": 4, "until": "2013-09-02 04:00"}  # ~8,000 ES rows, YM already trading (from 03:00)
WHOLE_DAY_EVERY = 20
NEW_YORK = venue_zone("NYSE")


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> WrittenDay:
    """The whole sample span, every 20th row: both CME sessions, Labor Day and NYSE's 2013-09-03."""
    return write_multi_symbol_day(tmp_path_factory.mktemp("whole"), every=WHOLE_DAY_EVERY)


def _frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"DateTime": str, "Price": str, "Volume": str})


def _utc_ms(local: pd.Series, zone: str) -> np.ndarray:
    stamps = pd.to_datetime(local, format="%Y-%m-%d %H:%M:%S.%f").dt.tz_localize(zone).dt.as_unit("ms")
    return stamps.astype("int64").to_numpy()


def test_the_default_set_is_placed_on_purpose_and_pinned() -> None:
    placement = {d.symbol: partition_for(d.symbol, INPUTS.partitions) for d in DEFAULT_SYMBOLS}
    assert placement == {"ES": 1, "SYN_NQ": 1, "SYN_SP500_ETF": 1, "SYN_YM": 0, "SYN_ZN": 2}
    crowd = Counter(placement.values())
    assert max(crowd.values()) >= 3 and len(crowd) >= 2
    es = placement["ES"]
    synthetic = [d for d in DEFAULT_SYMBOLS if d.symbol != "ES"]
    assert len(synthetic) >= 4
    assert all(d.symbol.startswith(SYNTHETIC_PREFIX) and SYMBOL.match(d.symbol) for d in synthetic)
    assert {placement[d.symbol] == es for d in synthetic} == {True, False}  # some beside ES, some not
    assert [d.symbol for d in synthetic if d.venue == "NYSE"] == ["SYN_SP500_ETF"]
    assert DEFAULT_SYMBOLS[0].instrument_settings() == BUILTIN_INSTRUMENT_SETTINGS  # the copy is the built-in ES


def test_the_command_writes_the_set_and_refuses_a_bad_time(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "synth", str(tmp_path), "--every", "50", "--until", "2013-09-01 18:00"])
    assert result.exit_code == 0, result.output
    assert "ES: 92 rows" in result.output and "SYN_NQ: 46 rows" in result.output and "aitrader ingest --settings" in result.output
    readme = (tmp_path / "README.md").read_text()
    assert "synthetic" in readme and "SYN_ZN" in readme
    bad = CliRunner().invoke(app, ["data", "synth", str(tmp_path), "--until", "tomorrow"])
    assert bad.exit_code == 2 and "tomorrow" in bad.output


def test_two_runs_write_identical_bytes_and_gzip_headers_carry_no_time_or_name(tmp_path: Path) -> None:
    first = write_multi_symbol_day(tmp_path / "a", **SMALL)
    again = write_multi_symbol_day(tmp_path / "b", **SMALL)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"instruments.conf", "README.md", "ES.csv.gz", "SYN_NQ.csv.gz", "SYN_SP500_ETF.csv.gz"} <= set(names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for _, path in first.files:
        header = path.read_bytes()[:10]
        assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08  # mtime 0, no FNAME field
    assert [s for s, _ in first.files] == [s for s, _ in again.files] == [d.symbol for d in DEFAULT_SYMBOLS]


def test_the_es_copy_keeps_the_samples_name_only_when_nothing_cuts_it() -> None:
    assert file_name("ES", Cut()) == SAMPLE_DAY.name
    assert file_name("ES", Cut(every=2)) == "ES.csv.gz"
    assert file_name("ES", Cut(until_ms=1)) == "ES.csv.gz"
    assert file_name("SYN_NQ", Cut()) == "SYN_NQ.csv.gz"


def test_the_es_copy_is_the_sample_cut_by_the_window(whole: WrittenDay) -> None:
    es = dict(whole.files)["ES"]
    with gzip.open(SAMPLE_DAY, "rt", newline="") as sample, gzip.open(es, "rt", newline="") as copy:
        sample_lines = sample.readlines()
        assert copy.readlines() == [sample_lines[0], *sample_lines[1::WHOLE_DAY_EVERY]]


def test_every_synthetic_price_is_on_its_tick_grid_and_every_size_is_whole(whole: WrittenDay) -> None:
    settings = parse_settings(whole.settings, [])
    instruments = instruments_from_settings({**BUILTIN_INSTRUMENT_SETTINGS, **settings})
    assert sorted(instruments) == sorted(d.symbol for d in DEFAULT_SYMBOLS)
    for symbol, path in whole.files:
        frame = _frame(path)
        assert len(frame) > 100, symbol
        prices = [Decimal(p) for p in frame.Price]
        sizes = [Decimal(s) for s in frame.Volume]
        assert all(p > 0 and instruments[symbol].is_on_tick(p) for p in prices), symbol
        assert all(s >= 1 and s == s.to_integral_value() for s in sizes), symbol


def test_the_nyse_symbol_trades_only_in_nyse_sessions(whole: WrittenDay) -> None:
    frame = _frame(dict(whole.files)["SYN_SP500_ETF"])
    local = pd.to_datetime(frame.DateTime)  # the file states New York time
    assert set(local.dt.date.astype(str)) == {"2013-09-03"}  # Labor Day 2013-09-02: NYSE closed
    assert local.dt.time.min() >= time(9, 30) and local.dt.time.max() < time(16, 0)
    # ...while the real day it derives from did trade then: the calendar, not the data, removed those rows.
    es = _frame(dict(whole.files)["ES"])
    es_new_york = pd.to_datetime(es.DateTime).dt.tz_localize("America/Chicago").dt.tz_convert(NEW_YORK.key)
    labor_day = es_new_york[es_new_york.dt.date.astype(str) == "2013-09-02"]
    assert ((labor_day.dt.time >= time(9, 30)) & (labor_day.dt.time < time(16, 0))).sum() > 100


@pytest.mark.parametrize("symbol", ["SYN_YM", "SYN_ZN"])
def test_an_independent_oracle_recomputes_a_symbol_from_the_es_file(whole: WrittenDay, symbol: str) -> None:
    """pandas + numpy + the CME schedule. float64 is exact for SYN_YM (quarter points x 9 + 50, whole-point ticks:
    np.round is half-even) and never near a half tick for SYN_ZN (multiples of a fifth of a tick)."""
    spec = next(d for d in DEFAULT_SYMBOLS if d.symbol == symbol)
    assert spec.venue == "CME"
    es = _frame(SAMPLE_DAY).iloc[:: WHOLE_DAY_EVERY * spec.every]
    source_ms = _utc_ms(es.DateTime, "America/Chicago")
    keep = source_ms >= spec.since_ms if spec.since_ms is not None else np.ones(len(es), bool)
    es, shifted = es[keep], source_ms[keep] + spec.shift_ms
    schedule = mcal.get_calendar("CME_Equity").schedule("2013-08-30", "2013-09-06")
    opens = schedule.market_open.dt.as_unit("ms").astype("int64").to_numpy()
    closes = schedule.market_close.dt.as_unit("ms").astype("int64").to_numpy()
    in_session = ((shifted[:, None] >= opens) & (shifted[:, None] < closes)).any(axis=1)
    in_ticks = (es.Price.astype(float).to_numpy() * float(spec.price_factor) + float(spec.price_offset)) / float(spec.tick_size)
    expected_price = np.round(in_ticks) * float(spec.tick_size)
    expected_size = np.maximum(1, np.round(es.Volume.astype(float).to_numpy() * float(spec.size_factor)))

    got = _frame(dict(whole.files)[symbol])
    assert len(got) == in_session.sum() > 1000
    np.testing.assert_array_equal(_utc_ms(got.DateTime, "America/Chicago"), shifted[in_session])
    np.testing.assert_array_equal(got.Price.astype(float).to_numpy(), expected_price[in_session])
    np.testing.assert_array_equal(got.Volume.astype(float).to_numpy(), expected_size[in_session])
    if symbol == "SYN_YM":
        assert not keep.all()  # its own window started after the sample
        assert (np.modf(in_ticks[in_session])[0] == 0.5).any()  # half-way prices occurred: half-even was exercised
    else:
        assert not in_session.all()  # shifted 250 ms early, the first trade fell before the session opened


def test_the_pure_tick_list_is_what_ingesting_the_written_files_reads(tmp_path: Path) -> None:
    day = write_multi_symbol_day(tmp_path, **SMALL)
    settings = {**BUILTIN_INSTRUMENT_SETTINGS, **parse_settings(day.settings, [])}
    venues = {s: i.venue for s, i in instruments_from_settings(settings).items()}
    files = [TickFile(path, symbol, venues[symbol], venue_zone(venues[symbol])) for symbol, path in day.files]
    from_files = list(merge_in_time([f.ticks() for f in files]))
    ticks = multi_symbol_ticks(**SMALL)
    assert ticks == from_files
    assert {t.symbol for t in ticks} == {d.symbol for d in DEFAULT_SYMBOLS} - {"SYN_SP500_ETF"}  # NYSE opens 9/3
    assert [t.event_time_ms for t in ticks] == sorted(t.event_time_ms for t in ticks)
    assert len({t.event_id for t in ticks}) == len(ticks)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for tick in ticks:
        by_key[(tick.venue, tick.symbol)].append(tick.sequence)
    assert all(s == sorted(set(s)) for s in by_key.values())
    symbols_at: dict[int, set[str]] = defaultdict(set)
    for tick in ticks:
        symbols_at[tick.event_time_ms].add(tick.symbol)
    assert any({"ES", "SYN_NQ"} <= s for s in symbols_at.values())  # two symbols of one partition share milliseconds
    assert all(isinstance(t, Tick) for t in ticks)

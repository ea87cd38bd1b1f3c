"""``TradingCalendar.session_of`` remembers the last session it found: the answers must be the search's, always.

The oracle is the same calendar's search with that memory cleared before each
call, and the definition itself: the first session whose close is after the time.
Times come in any order, across year ends and over years not loaded yet.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketdata.calendar import TradingCalendar

FROM_MS = int(datetime(2012, 12, 20, tzinfo=timezone.utc).timestamp() * 1000)
TO_MS = int(datetime(2015, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)
HOUR_MS = 3_600_000


def _searched(calendar: TradingCalendar, time_ms: int):
    calendar._last = None  # the search alone
    return calendar.session_of(time_ms)


# Runs of nearby times (as ticks come) starting anywhere in the range, in any order between runs.
runs = st.lists(
    st.tuples(st.integers(FROM_MS, TO_MS), st.lists(st.integers(0, 30 * HOUR_MS), min_size=1, max_size=20)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue=st.sampled_from([("CME_Equity", "America/Chicago"), ("NYSE", "America/New_York")]), runs=runs)
def test_remembered_answers_equal_the_search_and_the_definition(venue: tuple[str, str], runs: list) -> None:
    remembering, searching = TradingCalendar(*venue), TradingCalendar(*venue)
    for start, steps in runs:
        for step in sorted(steps):
            time_ms = start + step
            found = remembering.session_of(time_ms)
            assert found == _searched(searching, time_ms), time_ms
            closes = remembering._closes
            index = closes.index(found.close_ms)
            assert found.close_ms > time_ms and (index == 0 or closes[index - 1] <= time_ms), time_ms


def test_a_year_end_and_a_later_year_loaded_between_two_asks_change_nothing() -> None:
    calendar = TradingCalendar("CME_Equity", "America/Chicago")
    new_year_eve = int(datetime(2013, 12, 31, 20, tzinfo=timezone.utc).timestamp() * 1000)
    first = calendar.session_of(new_year_eve)
    calendar.session_of(int(datetime(2014, 6, 2, 15, tzinfo=timezone.utc).timestamp() * 1000))  # loads 2014
    assert calendar.session_of(new_year_eve) == first == _searched(TradingCalendar("CME_Equity", "America/Chicago"), new_year_eve)
    assert first.day == calendar._sessions[bisect.bisect_right(calendar._closes, new_year_eve)].day


def test_a_year_end_break_finds_the_next_session_when_a_later_year_two_on_is_loaded() -> None:
    # The kernels of a worker share one calendar, so which years it holds depends on which partitions ran there:
    # the answer must not. After 2013's last close the next session is 2014's first, even with 2015 loaded and
    # 2014 not.
    after_last_close = int(datetime(2013, 12, 31, 23, 30, tzinfo=timezone.utc).timestamp() * 1000)
    cold = TradingCalendar("CME_Equity", "America/Chicago").session_of(after_last_close)
    calendar = TradingCalendar("CME_Equity", "America/Chicago")
    calendar.session_of(int(datetime(2015, 6, 2, 15, tzinfo=timezone.utc).timestamp() * 1000))
    assert cold.day == "2014-01-02"
    assert calendar.session_of(after_last_close) == cold


def test_warming_a_calendar_loads_no_year() -> None:
    calendar = TradingCalendar("NYSE", "America/New_York")
    calendar.warm()
    assert calendar._years == set()
    new_year_eve = int(datetime(2013, 12, 31, 23, tzinfo=timezone.utc).timestamp() * 1000)
    assert calendar.session_of(new_year_eve) == TradingCalendar("NYSE", "America/New_York").session_of(new_year_eve)


def test_calendars_of_a_venue_share_each_years_schedule_and_keep_their_own_years() -> None:
    # Every kernel restored, every replay builds its own calendars: a year is computed once a process.
    first, second = TradingCalendar("CME_Equity", "America/Chicago"), TradingCalendar("CME_Equity", "America/Chicago")
    september_3 = int(datetime(2013, 9, 3, 15, tzinfo=timezone.utc).timestamp() * 1000)
    assert first.session_of(september_3) is second.session_of(september_3)
    first.session_of(int(datetime(2014, 6, 2, 15, tzinfo=timezone.utc).timestamp() * 1000))
    assert (first._years, second._years) == ({2013, 2014}, {2013})
    assert second._sessions[-1].day == "2013-12-31"  # no 2014 session reached the calendar that did not ask

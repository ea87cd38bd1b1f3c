"""Trading sessions: which trading day an event time belongs to.

A trading day is a session window in the venue's zone, e.g. CME Globex equity
futures trade day D from 17:00 America/Chicago on the evening before to 16:00
on D (12:00 on early-close holidays). Sessions come from
``pandas-market-calendars``, a maintained calendar, not hand-written tables.
Every venue a symbol may trade on is registered in ``VENUE_CALENDARS``: an
unknown venue is an error, never a silent fallback to some default sessions.

The schedule is computed once per year and then looked up with bisect, so the
kernel can ask for every tick.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

# venue -> (pandas-market-calendars name, zone). The zone is where the venue's files
# state local time; the calendar decides which trading day an event time belongs to.
VENUE_CALENDARS: dict[str, tuple[str, str]] = {
    "CME": ("CME_Equity", "America/Chicago"),  # Globex equity futures: 17:00 the evening before to 16:00
    "NYSE": ("NYSE", "America/New_York"),  # regular hours 09:30-16:00; closed on US holidays such as Labor Day
    "EUREX": ("EUREX", "Europe/Berlin"),
}


# A week whose schedule ``TradingCalendar.warm`` computes and throws away.
WARM_RANGE = ("2000-01-03", "2000-01-07")


class UnknownVenue(ValueError):
    """A venue that has no registered calendar."""

    def __init__(self, venue: str) -> None:
        super().__init__(f"unknown venue {venue!r}; known venues: {', '.join(sorted(VENUE_CALENDARS))}")
        self.venue = venue


def venue_zone(venue: str) -> ZoneInfo:
    """The zone in which ``venue`` states local times; ``UnknownVenue`` if it is not registered."""
    if venue not in VENUE_CALENDARS:
        raise UnknownVenue(venue)
    return ZoneInfo(VENUE_CALENDARS[venue][1])


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day: ``day`` (ISO date) over [open_ms, close_ms)."""

    day: str
    open_ms: int
    close_ms: int


class TradingCalendar:
    def __init__(self, calendar_name: str, zone: str) -> None:
        self.calendar_name = calendar_name
        self.zone = ZoneInfo(zone)
        self._years: set[int] = set()
        self._closes: list[int] = []
        self._sessions: list[Session] = []
        # [from_ms, to_ms) over which session_of gives ``session`` with the sessions loaded now: ticks come in runs
        # of one session, and this spares each of them the date arithmetic and the search.
        self._last: tuple[int, int, Session] | None = None

    @classmethod
    def for_venue(cls, venue: str) -> TradingCalendar:
        if venue not in VENUE_CALENDARS:
            raise UnknownVenue(venue)
        name, zone = VENUE_CALENDARS[venue]
        return cls(name, zone)

    def session_of(self, time_ms: int) -> Session:
        """The session that contains ``time_ms``, or the next one when it falls in a break."""
        last = self._last
        if last is not None and last[0] <= time_ms < last[1]:
            return last[2]
        year = datetime.fromtimestamp(time_ms / 1000, self.zone).year
        self._ensure_year(year)
        start, end = _year_start_ms(year, self.zone), _year_start_ms(year + 1, self.zone)
        index = bisect.bisect_right(self._closes, time_ms)
        if index == len(self._sessions) or self._closes[index] >= end:
            # Past the year's last close: the next session is next year's first, which a later year loaded
            # before it (the kernels of a worker share a calendar) must not stand in for.
            self._ensure_year(year + 1)
            index = bisect.bisect_right(self._closes, time_ms)
        session = self._sessions[index]
        # Every time from the previous close to this close gets this session, but only within ``year``: the search
        # is only right for a time whose year is loaded, and loading a year forgets this (see _ensure_year).
        previous_close = self._closes[index - 1] if index else start
        self._last = (max(previous_close, start), min(session.close_ms, end), session)
        return session

    def session(self, day: date) -> Session:
        """The session of trading day ``day``; ValueError when the venue does not trade then."""
        self._ensure_year(day.year)
        for session in self._sessions:
            if session.day == day.isoformat():
                return session
        raise ValueError(f"{day.isoformat()} is not a trading day of {self.calendar_name}")

    def warm(self) -> None:
        """Pays the calendar library's one-off costs now (its import, its holiday rules), loading no year.

        A year's schedule costs about 0.1 s, but the first one of a process
        0.3-1.3 s more: a live worker warms up at start instead of stalling
        on its first tick. No year is kept: the years loaded must stay the
        ones asked for, or a time after a year's last close would find a
        later year's first session instead of the next one.
        """
        import pandas_market_calendars as mcal

        mcal.get_calendar(self.calendar_name).schedule(*WARM_RANGE)

    def _ensure_year(self, year: int) -> None:
        if year in self._years:
            return
        self._years.add(year)
        self._last = None
        merged = {s.day: s for s in self._sessions}
        merged.update({s.day: s for s in year_sessions(self.calendar_name, year)})
        self._sessions = sorted(merged.values(), key=lambda s: s.close_ms)
        self._closes = [s.close_ms for s in self._sessions]


# A year's schedule is a function of the calendar's rules alone, and costs about 0.13-0.2 s to compute: every
# calendar of the process shares it (each kernel restored, each replay, the projector's marks build their own
# TradingCalendar). Which years a calendar holds is still its own (``_ensure_year``).
@functools.lru_cache(maxsize=256)
def year_sessions(calendar_name: str, year: int) -> tuple[Session, ...]:
    """The sessions of ``calendar_name`` whose trading day falls in ``year``, in time order."""
    import pandas_market_calendars as mcal  # heavy import, only for venues that have a calendar

    schedule = mcal.get_calendar(calendar_name).schedule(f"{year}-01-01", f"{year}-12-31")
    return tuple(
        Session(day.date().isoformat(), _ms(row.market_open.to_pydatetime()), _ms(row.market_close.to_pydatetime()))
        for day, row in schedule.iterrows()
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _year_start_ms(year: int, zone: ZoneInfo) -> int:
    return _ms(datetime(year, 1, 1, tzinfo=zone))


class VenueCalendars:
    """One ``TradingCalendar`` per venue, built on first use (each caches its own years)."""

    def __init__(self) -> None:
        self._by_venue: dict[str, TradingCalendar] = {}

    def __call__(self, venue: str) -> TradingCalendar:
        calendar = self._by_venue.get(venue)
        if calendar is None:
            calendar = self._by_venue[venue] = TradingCalendar.for_venue(venue)
        return calendar

    def warm(self) -> None:
        """Warms every registered venue's calendar (``TradingCalendar.warm``)."""
        for venue in sorted(VENUE_CALENDARS):
            self(venue).warm()

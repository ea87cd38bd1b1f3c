"""Trading sessions: which trading day an event time belongs to.

A trading day is a session window in the venue's zone, e.g. CME Globex equity
futures trade day D from 17:00 America/Chicago on the evening before to 16:00
on D (12:00 on early-close holidays). Sessions come from
``pandas-market-calendars``, a maintained calendar, not hand-written tables;
venues without one get plain midnight-to-midnight days in their zone.

The schedule is computed once per year and then looked up with bisect, so the
kernel can ask for every tick.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000

# venue -> (pandas-market-calendars name or None, zone)
VENUE_CALENDARS: dict[str, tuple[str | None, str]] = {
    "CME": ("CME_Equity", "America/Chicago"),
}


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day: ``day`` (ISO date) over [open_ms, close_ms)."""

    day: str
    open_ms: int
    close_ms: int


class TradingCalendar:
    def __init__(self, calendar_name: str | None, zone: str) -> None:
        self.calendar_name = calendar_name
        self.zone = ZoneInfo(zone)
        self._years: set[int] = set()
        self._closes: list[int] = []
        self._sessions: list[Session] = []

    @classmethod
    def for_venue(cls, venue: str) -> TradingCalendar:
        name, zone = VENUE_CALENDARS.get(venue, (None, "UTC"))
        return cls(name, zone)

    def session_of(self, time_ms: int) -> Session:
        """The session that contains ``time_ms``, or the next one when it falls in a break."""
        self._ensure_year(datetime.fromtimestamp(time_ms / 1000, self.zone).year)
        index = bisect.bisect_right(self._closes, time_ms)
        if index == len(self._sessions):  # past the last close of the year: next year's first session
            self._ensure_year(datetime.fromtimestamp(time_ms / 1000, self.zone).year + 1)
            index = bisect.bisect_right(self._closes, time_ms)
        return self._sessions[index]

    def session(self, day: date) -> Session:
        """The session of trading day ``day``; ValueError when the venue does not trade then."""
        self._ensure_year(day.year)
        for session in self._sessions:
            if session.day == day.isoformat():
                return session
        raise ValueError(f"{day.isoformat()} is not a trading day of {self.calendar_name or 'this venue'}")

    def _ensure_year(self, year: int) -> None:
        if year in self._years:
            return
        self._years.add(year)
        merged = {s.day: s for s in self._sessions}
        merged.update({s.day: s for s in self._year_sessions(year)})
        self._sessions = sorted(merged.values(), key=lambda s: s.close_ms)
        self._closes = [s.close_ms for s in self._sessions]

    def _year_sessions(self, year: int) -> list[Session]:
        if self.calendar_name is None:
            first = datetime(year, 1, 1, tzinfo=self.zone)
            days = (datetime(year + 1, 1, 1, tzinfo=self.zone) - first).days
            result = []
            for n in range(days):
                start = first + timedelta(days=n)
                end = start + timedelta(days=1)
                result.append(Session(start.date().isoformat(), _ms(start), _ms(end)))
            return result
        import pandas_market_calendars as mcal  # heavy import, only for venues that have a calendar

        schedule = mcal.get_calendar(self.calendar_name).schedule(f"{year}-01-01", f"{year}-12-31")
        return [
            Session(day.date().isoformat(), _ms(row.market_open.to_pydatetime()), _ms(row.market_close.to_pydatetime()))
            for day, row in schedule.iterrows()
        ]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)

"""Query parameters, checked: each bad value is a 400 with its own code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from api.errors import bad_request
from projections.batch import CANONICAL_UUID
from projections.models import SYMBOL_PATTERN

_SYMBOL = re.compile(SYMBOL_PATTERN)
SCORE_DECIMALS = 8
SCORE_QUANTUM = Decimal(1).scaleb(-SCORE_DECIMALS)


def symbol(value: str | None) -> str | None:
    if value is None:
        return None
    if not _SYMBOL.match(value):
        raise bad_request("bad_symbol", f"symbol {value!r} does not match {SYMBOL_PATTERN}", parameter="symbol")
    return value


def identifier(value: str, parameter: str) -> str:
    if not CANONICAL_UUID.match(value):
        raise bad_request("bad_id", f"{parameter} {value!r} is not a UUID (lower-case, hyphenated)", parameter=parameter)
    return value


def time_ms(value: str | None, parameter: str) -> int | None:
    """ISO 8601 with a zone (``2013-09-03T08:30:00-05:00``, ``...Z``) -> epoch milliseconds."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request("bad_time", f"{parameter}={value!r} is not ISO 8601", parameter=parameter) from None
    if moment.tzinfo is None:
        raise bad_request(
            "time_zone_required", f"{parameter}={value!r} has no zone; add one (Z, +00:00, -05:00)", parameter=parameter
        )
    return int(moment.timestamp() * 1000)


def day(value: str | None, parameter: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request("bad_date", f"{parameter}={value!r} is not a date (YYYY-MM-DD)", parameter=parameter) from None


@dataclass(frozen=True)
class TimeRange:
    """[start, end): either end open."""

    start: int | None
    end: int | None


def time_range(start: str | None, end: str | None) -> TimeRange:
    low, high = time_ms(start, "from"), time_ms(end, "to")
    if low is not None and high is not None and high <= low:
        raise bad_request("inverted_time_range", f"'to' ({end}) must be after 'from' ({start})", parameter="to")
    return TimeRange(low, high)


def day_range(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    low, high = day(start, "from_day"), day(end, "to_day")
    if low is not None and high is not None and high < low:
        raise bad_request("inverted_time_range", f"to_day ({end}) is before from_day ({start})", parameter="to_day")
    return low, high


def limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise bad_request("limit_out_of_range", f"limit must be between 1 and {maximum}, got {value}", parameter="limit")
    return value


def score(value: str | None, parameter: str) -> Decimal | None:
    """A number in [-1, 1] with at most ``SCORE_DECIMALS`` decimals.

    Like every decimal of the contract, more decimals are refused, never rounded; and a value such as
    ``1e-999999999``, in range but beyond what PostgreSQL's NUMERIC holds, never reaches the database.
    """
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise bad_request("bad_score", f"{parameter}={value!r} is not a number", parameter=parameter) from None
    if not number.is_finite() or not -1 <= number <= 1:
        raise bad_request("bad_score", f"{parameter} must be in [-1, 1], got {value}", parameter=parameter)
    if number != number.quantize(SCORE_QUANTUM):
        raise bad_request("bad_score", f"{parameter} has more than {SCORE_DECIMALS} decimals", parameter=parameter)
    return number


def choice(value: str | None, allowed: tuple[str, ...], parameter: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise bad_request(f"bad_{parameter}", f"{parameter} must be one of {', '.join(allowed)}", parameter=parameter)
    return value

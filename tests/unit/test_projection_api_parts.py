"""The API's pure parts: cursors, parameters, decimal and time rendering, the rate limiter, prefetching."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal

import pytest

from api import pagination, params
from api.errors import ApiError
from api.pagination import Key
from api.ratelimit import RateLimiter
from api.serialize import decimal_text, iso_time
from projections.prefetch import prefetched

KEYS = (Key("event_time_ms", "int"), Key("event_id", "uuid"))
ROW = {"event_time_ms": 1378215000000, "event_id": "6a0e7a39-4f7d-5a52-9c53-5c1a0bd1f0a1"}


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code


CURSORS = pagination.Cursors(b"k" * 32)


def test_a_cursor_round_trips_and_is_bound_to_its_filters() -> None:
    mark = pagination.fingerprint("signals", {"symbol": "ES", "from": None})
    cursor = CURSORS.encode(KEYS, ROW, mark)
    assert CURSORS.decode(cursor, KEYS, mark) == [ROW["event_time_ms"], ROW["event_id"]]
    assert mark == pagination.fingerprint("signals", {"symbol": "ES"})  # absent and None filters are the same
    assert _code(lambda: CURSORS.decode(cursor, KEYS, pagination.fingerprint("signals", {"symbol": "NQ"}))) == "cursor_mismatch"
    assert _code(lambda: CURSORS.decode(cursor, KEYS, pagination.fingerprint("fills", {"symbol": "ES"}))) == "cursor_mismatch"


def _body(content: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")


def _forge(content: object) -> str:
    """A cursor holding ``content``, signed with the key: what only the API itself could make."""
    body = _body(content)
    return f"{body}.{CURSORS._tag(body)}"


def test_only_cursors_signed_with_the_deployments_key_are_read() -> None:
    cursor = CURSORS.encode(KEYS, ROW, "x")
    body, tag = cursor.split(".")
    other = pagination.Cursors(b"o" * 32).encode(KEYS, ROW, "x")
    moved = _body({"v": 2, "f": "x", "k": [ROW["event_time_ms"] + 1, ROW["event_id"]]})
    for bad in (body, _body({"v": 1, "f": "x", "k": [1, ROW["event_id"]]}), other, f"{moved}.{tag}", f"{body}.{tag[:-1]}"):
        assert _code(lambda: CURSORS.decode(bad, KEYS, "x")) == "bad_cursor", bad
    with pytest.raises(ValueError):
        pagination.Cursors(b"short")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "." * 600,
        _forge([1, 2]),
        _forge({"v": 1, "f": "x", "k": [1, ROW["event_id"]]}),
        _forge({"v": 2, "f": "x", "k": ["1", ROW["event_id"]]}),
        _forge({"v": 2, "f": "x", "k": [True, ROW["event_id"]]}),
        _forge({"v": 2, "f": "x", "k": [2**63, ROW["event_id"]]}),
        _forge({"v": 2, "f": "x", "k": [1, "not-a-uuid"]}),
        _forge({"v": 2, "f": "x", "k": [1]}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_forged_or_broken_cursor_is_a_bad_cursor(cursor: str) -> None:
    assert _code(lambda: CURSORS.decode(cursor, KEYS, "x")) == "bad_cursor"


def test_date_keys_round_trip_as_iso_dates() -> None:
    keys = (Key("trading_day", "date"), Key("symbol", "text"))
    cursor = CURSORS.encode(keys, {"trading_day": date(2013, 9, 3), "symbol": "ES"}, "p")
    assert CURSORS.decode(cursor, keys, "p") == [date(2013, 9, 3), "ES"]
    assert _code(lambda: CURSORS.decode(_forge({"v": 2, "f": "p", "k": ["2013-02-30", "ES"]}), keys, "p")) == "bad_cursor"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2013-09-03T08:30:00-05:00", None, (1378215000000, None)),
        ("2013-09-03T13:30:00Z", "2013-09-03T13:31:00+00:00", (1378215000000, 1378215060000)),
        (None, "2013-09-03T13:30:00.250Z", (None, 1378215000250)),
    ],
)
def test_time_ranges_need_a_zone_and_an_order(start: str | None, end: str | None, expected: tuple) -> None:
    window = params.time_range(start, end)
    assert (window.start, window.end) == expected


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2013-09-03T08:30:00", None, "time_zone_required"),
        ("2013-09-03 8h30", None, "bad_time"),
        ("2013-09-03T09:00:00Z", "2013-09-03T09:00:00Z", "inverted_time_range"),
        ("2013-09-03T09:00:00Z", "2013-09-03T08:00:00Z", "inverted_time_range"),
    ],
)
def test_bad_time_ranges_have_their_own_codes(start: str, end: str | None, code: str) -> None:
    assert _code(lambda: params.time_range(start, end)) == code


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: params.symbol("es"), "bad_symbol"),
        (lambda: params.symbol("ES;--"), "bad_symbol"),
        (lambda: params.limit(0, 100, 1000), "limit_out_of_range"),
        (lambda: params.limit(1001, 100, 1000), "limit_out_of_range"),
        (lambda: params.score("1.5", "min_score"), "bad_score"),
        (lambda: params.score("Infinity", "min_score"), "bad_score"),
        (lambda: params.score("x", "min_score"), "bad_score"),
        (lambda: params.score("1e-999999999", "min_score"), "bad_score"),  # in range, beyond NUMERIC
        (lambda: params.score("0.123456789", "min_score"), "bad_score"),  # refused, never rounded
        (lambda: params.identifier("6A0E7A39-4F7D-5A52-9C53-5C1A0BD1F0A1", "order_id"), "bad_id"),
        (lambda: params.day_range("2013-09-04", "2013-09-03"), "inverted_time_range"),
    ],
)
def test_bad_parameters_have_their_own_codes(call, code: str) -> None:  # type: ignore[no-untyped-def]
    assert _code(call) == code


def test_good_parameters_pass() -> None:
    assert params.symbol("ES") == "ES" and params.symbol("BRK.B") == "BRK.B" and params.symbol(None) is None
    assert params.limit(None, 100, 1000) == 100 and params.limit(1000, 100, 1000) == 1000
    assert params.score("-0.25", "min_score") == Decimal("-0.25")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("-512.5000000000000000"), "-512.5"),
        (Decimal("1650.00000000"), "1650"),
        (Decimal("1E+2"), "100"),
        (Decimal("0E-8"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("0.00000001"), "0.00000001"),
    ],
)
def test_decimals_render_exact_and_plain(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


def test_times_render_in_iso_8601_utc_with_milliseconds() -> None:
    assert iso_time(1378215000250) == "2013-09-03T13:30:00.250Z"


def test_the_rate_limiter_refills_at_its_rate_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=2, size=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0  # each key has its own bucket
    now[0] = 0.5
    assert limiter.take("a") == 0 and limiter.take("a") > 0
    now[0] = 100.0
    assert [limiter.take("a") for _ in range(4)][:3] == [0, 0, 0]  # never more than the bucket holds
    assert RateLimiter.retry_after(0.01) == "1" and RateLimiter.retry_after(1.2) == "2"


def test_waiting_takes_nothing_and_refilled_buckets_are_dropped_past_the_bound() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=1, size=2, clock=lambda: now[0], max_buckets=3)
    assert limiter.wait("a") == 0 and limiter.wait("a") == 0  # peeking never empties the bucket
    assert [limiter.take("a"), limiter.take("a"), limiter.wait("a")] == [0, 0, 1.0]
    for name in ("b", "c"):
        limiter.take(name)
    now[0] = 10.0  # every bucket full again
    limiter.take("d")
    assert len(limiter._buckets) == 1  # the three full ones went; "d" is the only one that holds anything


@pytest.mark.parametrize(
    ("query", "code", "parameter"),
    [
        (b"pattern=%00", "bad_text", "pattern"),
        (b"symbol=ES%0d%0aSet-Cookie:x", "bad_text", "symbol"),
        (b"x%00y=1", "bad_text", "x\\x00y"),
        (b"cursor=" + b"A" * 1025, "too_long", "cursor"),
        (b"&".join(b"a%d=1" % n for n in range(3000)), "query_too_long", None),
    ],
)
def test_hostile_query_strings_are_refused_naming_the_parameter(query: bytes, code: str, parameter: str | None) -> None:
    from api.inputs import check_query

    with pytest.raises(ApiError) as caught:
        check_query(query)
    assert (caught.value.code, caught.value.details["parameter"]) == (code, parameter)
    check_query(b"symbol=ES&from=2013-09-03T08:30:00%2B05:00&min_score=0.5&cursor=" + b"A" * 1024)  # fine


def test_the_cursor_key_comes_from_the_environment_a_secret_file_or_is_made_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.cursor_key import FILE_ENV, KEY_ENV, cursor_key

    made = tmp_path / "secrets" / "cursor.key"
    first = cursor_key({}, made)
    assert len(first) == 32 and cursor_key({}, made) == first  # made once, then read
    assert made.stat().st_mode & 0o777 == 0o600
    assert cursor_key({KEY_ENV: "ab" * 32}, made) == b"\xab" * 32
    mounted = tmp_path / "mounted"
    mounted.write_text("cd" * 40 + "\n")
    assert cursor_key({FILE_ENV: str(mounted)}, made) == b"\xcd" * 40
    for bad in ("ab" * 8, "not hex"):
        with pytest.raises(ValueError):
            cursor_key({KEY_ENV: bad}, made)
    with pytest.raises(OSError):
        cursor_key({FILE_ENV: str(tmp_path / "missing")}, made)  # a named file is never made up


def test_prefetching_keeps_order_passes_errors_and_stops_early() -> None:
    assert list(prefetched(iter(range(100)))) == list(range(100))

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("broken")

    items = prefetched(failing())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="broken"):
        next(items)
    produced: list[int] = []

    def counting():  # type: ignore[no-untyped-def]
        for n in range(10_000):
            produced.append(n)
            yield n

    early = prefetched(counting(), depth=2)
    assert next(early) == 0
    early.close()
    assert len(produced) < 10


def test_keys_in_logged_urls_are_redacted() -> None:
    import logging

    from api.redact import RedactKeys

    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/api/ws/monitor?symbol=ES&key=ait_0123456789ab_secret&types=Signal"), None,
    )
    RedactKeys().filter(record)
    line = record.getMessage()
    assert "secret" not in line and "key=[redacted]&types=Signal" in line and "symbol=ES" in line

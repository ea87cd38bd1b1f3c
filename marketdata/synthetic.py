"""The multi-symbol day: synthetic symbols derived from the real ES day, for tests and benchmarks beyond one symbol.

There is one real trading day in the repository (ES, CME, 2013-09-01 to 09-03).
Several symbols on several partitions and venues are derived from it, never
invented: each synthetic trade is an ES trade moved to another price level
(factor and offset, rounded half-even to the new tick size), another size,
another time (a shift of a few milliseconds, so symbols interleave and some
share milliseconds), thinned (every Nth trade) and cut to a window, and kept
only inside its venue's real sessions (``marketdata.calendar``): the NYSE symbol is
closed on Labor Day, 2013-09-02, when CME trades an early-close session.
Decimal arithmetic and no randomness: the same inputs give the same bytes.

Names start with ``SYN_`` so nobody mistakes them for market data. The default
set is placed on the 3-partition input topic on purpose (a test pins it):
ES, SYN_NQ and SYN_SP500_ETF (NYSE) share ES's partition 1, SYN_YM is on 0 and
SYN_ZN on 2. The real ES day stays the golden day; this set is for what one
symbol cannot show: several symbols and venues in one partition, several
partitions, files merged by time.

Pure: lines of the sample day in, lines of each symbol's file (``DateTime,Price,Volume``,
the venue's local time) or the ticks ``aitrader ingest`` would read from them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from zoneinfo import ZoneInfo

from contract.events import Tick
from contract.partitioner import partition_for
from contract.sequencing import merge_in_time
from contract.topics import INPUTS
from marketdata.calendar import VenueCalendars, venue_zone
from marketdata.tickfile import (
    BadRow,
    Row,
    TickParser,
    check_header,
    local_time_ms,
    parse_lines,
    parse_row,
)

SYNTHETIC_PREFIX = "SYN_"
SOURCE_SYMBOL = "ES"
SOURCE_VENUE = "CME"
SAMPLE_FILE_NAME = "es_2013-09-01_03_ticks.csv.gz"  # data/README.md
DECIMAL = Context(prec=34, rounding=ROUND_HALF_EVEN)  # whatever context the caller has set
ONE = Decimal(1)


@dataclass(frozen=True)
class Cut:
    """What every file keeps of the sample day: every ``every``-th row (counted from the file's first), in [since, until).

    The window is on the real trades' times, before any shift.
    """

    every: int = 1
    since_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be at least 1, not {self.every}")

    @property
    def whole(self) -> bool:
        return self.every == 1 and self.since_ms is None and self.until_ms is None


@dataclass(frozen=True)
class Derivation:
    """One symbol of the set: an instrument, and how its trades derive from ES's.

    ``every`` thins further (row index multiple of ``Cut.every * every``, plus
    ``phase`` of those rows: symbols with the same ``every`` and other phases
    share the rows out rather than repeat them); [since_ms, until_ms) is this
    symbol's own window on the real trades' times. The ES entry copies its rows
    verbatim.
    """

    symbol: str
    venue: str
    currency: str
    multiplier: Decimal
    tick_size: Decimal
    fee_per_unit: Decimal
    price_factor: Decimal = ONE
    price_offset: Decimal = Decimal(0)
    size_factor: Decimal = ONE
    shift_ms: int = 0
    every: int = 1
    since_ms: int | None = None
    until_ms: int | None = None
    purpose: str = ""
    phase: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.phase < self.every:
            raise ValueError(f"{self.symbol}: phase {self.phase} is not in [0, every={self.every})")

    @property
    def is_copy(self) -> bool:
        return self.symbol == SOURCE_SYMBOL

    @property
    def zone(self) -> ZoneInfo:
        return venue_zone(self.venue)

    def recipe(self) -> str:
        """How its trades derive from ES's, in one line (README)."""
        if self.is_copy:
            return "the real trades, unchanged"
        window = _window_text(self.since_ms, self.until_ms)
        offset = f" {'-' if self.price_offset < 0 else '+'} {abs(self.price_offset)}" if self.price_offset else ""
        phase = f" (row numbers {self.phase} modulo {self.every})" if self.phase else ""
        thinning = f"one in {self.every} of the kept rows{phase}" if self.every > 1 else "every kept row"
        return (
            f"price = ES x {self.price_factor}{offset}, rounded half-even to {self.tick_size}; "
            f"size = ES x {self.size_factor}, rounded half-even, at least 1; time = ES {self.shift_ms:+d} ms; "
            f"{thinning}{f', {window}' if window else ''}; only inside {self.venue} sessions"
        )

    def instrument_settings(self) -> dict[str, str]:
        """The ``instrument.<SYMBOL>.*`` settings that define it (``oms.instruments``)."""
        fields = {"venue": self.venue, "currency": self.currency, "multiplier": self.multiplier,
                  "tick_size": self.tick_size, "fee_per_unit": self.fee_per_unit}
        return {f"instrument.{self.symbol}.{name}": str(value) for name, value in fields.items()}

    def derive(self, row: Row, line: str, calendars: VenueCalendars) -> str | None:
        """This symbol's line for one real trade, or None when it keeps none."""
        if self.is_copy:
            return line
        if (self.since_ms is not None and row.time_ms < self.since_ms) or (self.until_ms is not None and row.time_ms >= self.until_ms):
            return None
        time_ms = row.time_ms + self.shift_ms
        session = calendars(self.venue).session_of(time_ms)
        if not session.open_ms <= time_ms < session.close_ms:
            return None
        level = DECIMAL.add(DECIMAL.multiply(row.price, self.price_factor), self.price_offset)
        price = DECIMAL.multiply(DECIMAL.divide(level, self.tick_size).quantize(ONE, ROUND_HALF_EVEN), self.tick_size)
        if price <= 0:
            raise ValueError(f"{self.symbol}: ES {row.price} gives a price of {price}; choose another factor or offset")
        size = max(ONE, DECIMAL.multiply(row.size, self.size_factor).quantize(ONE, ROUND_HALF_EVEN))
        return f"{_local_text(time_ms, self.zone)},{price:f},{size:f}\n"


def _chicago_ms(text: str) -> int:
    return local_time_ms(datetime.fromisoformat(text), venue_zone(SOURCE_VENUE))


D = Decimal
DEFAULT_SYMBOLS: tuple[Derivation, ...] = (
    Derivation("ES", "CME", "USD", D(50), D("0.25"), D("2.25"), purpose="the real E-mini S&P 500 day (partition 1)"),
    Derivation(
        "SYN_NQ", "CME", "USD", D(20), D("0.25"), D("2.25"), price_factor=D("1.9"), every=2,
        purpose="a Nasdaq-like future beside ES on partition 1, at the very same milliseconds (ties go in file order)",
    ),
    Derivation(
        "SYN_SP500_ETF", "NYSE", "USD", D(1), D("0.01"), D("0.0035"), price_factor=D("0.1"), price_offset=D("-0.37"),
        size_factor=D(100), shift_ms=1,
        purpose="an index ETF on a second venue with its own calendar, on partition 1: NYSE regular hours, closed on Labor Day",
    ),
    Derivation(
        "SYN_YM", "CME", "USD", D(5), D(1), D("2.25"), price_factor=D(9), price_offset=D(50), size_factor=D("0.5"),
        shift_ms=137, every=3, since_ms=_chicago_ms("2013-09-02 03:00"),
        purpose="a Dow-like future on partition 0, whole-point ticks, starting mid-session (its own window)",
    ),
    Derivation(
        "SYN_ZN", "CME", "USD", D(1000), D("0.015625"), D("1.10"), price_factor=D("-0.05"), price_offset=D(208),
        size_factor=D(3), shift_ms=-250, every=5,
        purpose="a note-like future on partition 2, 1/64 ticks, moving against ES, a quarter second early",
    ),
)


SCALED_PREFIX = f"{SYNTHETIC_PREFIX}S"


def scaled_symbols(count: int, partitions: int = INPUTS.partitions) -> tuple[Derivation, ...]:
    """``count`` ES-like futures that share the kept rows out between them: the same tick budget for any ``count``.

    Symbol k takes kept rows k, k + count, k + 2 * count, ... at ES's prices, sizes
    and times, so the set has as many ticks as one symbol with every row (a few
    fewer: no file keeps a row outside its sessions, and ES's are the same). The
    names (``SYN_S000``, ``SYN_S001``, ...) are picked in order so that symbol k
    lands on input partition ``k % partitions`` by its key: every partition gets
    a share, none more than one symbol over another's. For scaling benchmarks.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    es = DEFAULT_SYMBOLS[0]
    names: list[str] = []
    candidates = (f"{SCALED_PREFIX}{number:03d}" for number in range(10**6))
    waiting: dict[int, list[str]] = {p: [] for p in range(partitions)}  # names passed over, by partition
    for k in range(count):
        wanted = k % partitions
        while not waiting[wanted]:
            name = next(candidates)
            waiting[partition_for(name, partitions)].append(name)
        names.append(waiting[wanted].pop(0))
    return tuple(
        Derivation(
            name, es.venue, es.currency, es.multiplier, es.tick_size, es.fee_per_unit, every=count, phase=k,
            purpose=f"one of {count} ES-like futures sharing the rows out, on partition {k % partitions}",
        )
        for k, name in enumerate(names)
    )


def cut_from_text(every: int = 1, since: str | None = None, until: str | None = None) -> Cut:
    """A ``Cut`` from ISO 8601 times; without a zone they are CME time (America/Chicago), the sample's own."""
    return Cut(every, *(None if text is None else _instant_ms(text) for text in (since, until)))


def _instant_ms(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return local_time_ms(moment, venue_zone(SOURCE_VENUE)) if moment.tzinfo is None else int(moment.timestamp() * 1000)


def file_name(symbol: str, cut: Cut) -> str:
    """``<SYMBOL>.csv.gz``; the ES copy keeps the sample's name while nothing cuts it, so its tick ids are the sample's."""
    return SAMPLE_FILE_NAME if symbol == SOURCE_SYMBOL and cut.whole else f"{symbol}.csv.gz"


def derive_lines(source: Iterable[str], cut: Cut, derivations: Sequence[Derivation] = DEFAULT_SYMBOLS) -> Iterator[tuple[str, str]]:
    """(symbol, line) of every file, in one pass over the sample: each symbol's header first, then data lines in time order."""
    lines = iter(source)
    header = next(lines, "")
    check_header(header)
    for derivation in derivations:
        yield derivation.symbol, header
    calendars = VenueCalendars()
    source_zone = venue_zone(SOURCE_VENUE)
    for index, line in enumerate(lines):
        if index % cut.every or not line.strip():
            continue
        row = parse_row(line, source_zone)
        if isinstance(row, str):
            raise ValueError(f"sample line {index + 2}: {row}")
        if cut.since_ms is not None and row.time_ms < cut.since_ms:
            continue
        if cut.until_ms is not None and row.time_ms >= cut.until_ms:
            return  # the sample is in time order: nothing later is kept
        for derivation in derivations:
            if (index // cut.every) % derivation.every != derivation.phase:
                continue
            derived = derivation.derive(row, line, calendars)
            if derived is not None:
                yield derivation.symbol, derived


def day_ticks(source: Iterable[str], cut: Cut, derivations: Sequence[Derivation] = DEFAULT_SYMBOLS) -> list[Tick]:
    """The set's ticks exactly as ``aitrader ingest`` of its files (given in ``derivations`` order) puts them on a fresh log.

    Same parser, same file names (so the same ids and sequences), same merge by
    event time, ties in file order then line order.
    """
    files: dict[str, list[str]] = {d.symbol: [] for d in derivations}
    for symbol, line in derive_lines(source, cut, derivations):
        files[symbol].append(line)
    streams = []
    for derivation in derivations:
        parser = TickParser(file_name(derivation.symbol, cut), derivation.symbol, derivation.venue, derivation.zone)
        streams.append([_good(item) for item in parse_lines(files[derivation.symbol], parser)])
    return list(merge_in_time(streams))


def _good(item: Tick | BadRow) -> Tick:
    if isinstance(item, BadRow):
        raise ValueError(f"a derived row does not parse: {item}")
    return item


def _local_text(time_ms: int, zone: ZoneInfo) -> str:
    """The sample's ``DateTime`` format in ``zone``; refused when that wall time is ambiguous (the autumn hour)."""
    moment = datetime.fromtimestamp(time_ms // 1000, zone)
    text = f"{moment:%Y-%m-%d %H:%M:%S}.{time_ms % 1000:03d}"
    if local_time_ms(datetime.fromisoformat(text), zone) != time_ms:
        raise ValueError(f"{time_ms} ms has no unambiguous local time in {zone.key}")
    return text


def _window_text(since_ms: int | None, until_ms: int | None) -> str:
    """``from ... CME time, until ... CME time`` (either part only when given)."""
    source_zone = venue_zone(SOURCE_VENUE)
    bounds = (("from", since_ms), ("until", until_ms))
    return ", ".join(f"{word} {_local_text(ms, source_zone)} CME time" for word, ms in bounds if ms is not None)


def settings_text(derivations: Sequence[Derivation] = DEFAULT_SYMBOLS) -> str:
    """``instruments.conf``: key=value lines defining every synthetic symbol (ES is built in)."""
    lines = ["# Synthetic instruments derived from the real ES day (marketdata/synthetic.py); ES itself is built in."]
    lines += [f"{key}={value}" for key, value in instrument_settings(derivations).items()]
    return "\n".join(lines) + "\n"


def instrument_settings(derivations: Sequence[Derivation] = DEFAULT_SYMBOLS) -> dict[str, str]:
    """The kernel settings (``instrument.*``) that define every synthetic symbol of the set, as ``instruments.conf`` has them."""
    return {key: value for d in derivations if not d.is_copy for key, value in d.instrument_settings().items()}


def readme_text(cut: Cut, counts: dict[str, int], derivations: Sequence[Derivation] = DEFAULT_SYMBOLS) -> str:
    """The README.md written beside the files: what is synthetic, how each symbol was derived, how to load them."""
    names = {d.symbol: file_name(d.symbol, cut) for d in derivations}
    window = _window_text(cut.since_ms, cut.until_ms)
    rows = [
        f"| `{d.symbol}` | {'real' if d.is_copy else 'synthetic'} | {d.venue} | {partition_for(d.symbol, INPUTS.partitions)} "
        f"| `{names[d.symbol]}` | {counts.get(d.symbol, 0):,} | {d.recipe()} | {d.purpose} |"
        for d in derivations
    ]
    arguments = " ".join(f"{d.symbol}={names[d.symbol]}" for d in derivations)
    return "\n".join([
        "# The multi-symbol day",
        "",
        f"Written by `aitrader data synth` (marketdata/synthetic.py) from `{SAMPLE_FILE_NAME}`, the real ES day, "
        f"keeping {f'one row in {cut.every}' if cut.every > 1 else 'every row'}{f', {window}' if window else ''}.",
        "Every symbol whose name starts with `SYN_` is **synthetic**: derived from the real ES trades, not market data.",
        "Times are each venue's local time; `instruments.conf` defines the synthetic instruments.",
        "",
        "| symbol | data | venue | partition | file | rows | derivation | why |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Load them together, from this directory and in this order (ties in event time go in the order the files are given):",
        "",
        "```bash",
        f"aitrader ingest --settings instruments.conf {arguments}",
        "```",
        "",
    ])

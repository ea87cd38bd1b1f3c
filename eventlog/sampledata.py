"""The multi-symbol day (``marketdata.synthetic``) from the bundled sample file: as Tick events, or written as files.

``multi_symbol_ticks`` is for pure tests (a golden multi-symbol run); the files
from ``write_multi_symbol_day`` are for ``aitrader ingest`` (a multi-worker run).
Both give the same ticks: same lines, same file names, same parser, same merge.
The gzip files are byte-deterministic (mtime 0, no file name in the header) for
a given zlib, so two runs can be compared with ``cmp``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from contract.events import Tick
from eventlog.ingest import SAMPLE_DAY, open_text
from marketdata.synthetic import (
    DEFAULT_SYMBOLS,
    Derivation,
    cut_from_text,
    day_ticks,
    derive_lines,
    file_name,
    readme_text,
    settings_text,
)

SETTINGS_NAME = "instruments.conf"
README_NAME = "README.md"


def sample_lines() -> Iterator[str]:
    with open_text(SAMPLE_DAY) as lines:
        yield from lines


def multi_symbol_ticks(
    every: int = 1, since: str | None = None, until: str | None = None, derivations: Sequence[Derivation] = DEFAULT_SYMBOLS
) -> list[Tick]:
    """The set's ticks as ``aitrader ingest`` of the files ``write_multi_symbol_day`` writes puts them on a fresh log.

    ``every`` keeps every Nth row of the sample for all symbols; ``since`` /
    ``until`` (ISO 8601, CME time without a zone) cut it. The whole day is about
    1.4 million ticks: keep tests small with both.
    """
    return day_ticks(sample_lines(), cut_from_text(every, since, until), derivations)


@dataclass(frozen=True)
class WrittenDay:
    directory: Path
    files: list[tuple[str, Path]]  # (symbol, file), in the order to give them to ``aitrader ingest``
    settings: Path
    readme: Path
    rows: dict[str, int]

    def ingest_args(self) -> list[str]:
        """``SYMBOL=FILE`` arguments for ``aitrader ingest`` (with ``--settings`` ``self.settings``)."""
        return [f"{symbol}={path}" for symbol, path in self.files]


def write_multi_symbol_day(
    directory: Path,
    every: int = 1,
    since: str | None = None,
    until: str | None = None,
    derivations: Sequence[Derivation] = DEFAULT_SYMBOLS,
) -> WrittenDay:
    """One ``.csv.gz`` per symbol, ``instruments.conf`` and ``README.md`` in ``directory``, in one pass over the sample."""
    cut = cut_from_text(every, since, until)
    directory.mkdir(parents=True, exist_ok=True)
    files = [(d.symbol, directory / file_name(d.symbol, cut)) for d in derivations]
    rows: Counter[str] = Counter()
    with ExitStack() as stack:
        outputs = {symbol: _deterministic_gzip(stack, path) for symbol, path in files}
        for symbol, line in derive_lines(sample_lines(), cut, derivations):
            outputs[symbol].write(line.encode())
            rows[symbol] += 1
    data_rows = {symbol: rows[symbol] - 1 for symbol, _ in files}  # less the header
    settings = directory / SETTINGS_NAME
    settings.write_text(settings_text(derivations))
    readme = directory / README_NAME
    readme.write_text(readme_text(cut, data_rows, derivations))
    return WrittenDay(directory, files, settings, readme, data_rows)


def _deterministic_gzip(stack: ExitStack, path: Path) -> gzip.GzipFile:
    """gzip with mtime 0 and no name in the header, so the bytes depend on the content only; closed by ``stack``."""
    raw = stack.enter_context(path.open("wb"))
    return stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))

"""The ``--report DIR`` of a replay: what ran, what it derived, and how it did.

Files written:

* ``report.json``  counts, P&L per symbol, input and output offset ranges,
                   the run manifest, digests and comparison, run time, events/s;
* ``fills.csv``    every fill of the run;
* ``equity.csv``   per symbol, position and session P&L sampled once per
                   event-time minute and after every fill;
* ``equity.png``   the same as a chart (session P&L above, position below).

The fills and samples are ``RunObserver``'s (``observe.py``), taken while the
driver runs.
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contract import __version__
from contract.digest import Divergence, TopicDigest
from contract.schema_registry import default_registry
from eventlog.consumer import OffsetRanges
from kernel.engine import PRODUCER, TradingKernel, config_hash
from processors.replay.compare import Comparison
from processors.replay.observe import EquitySample, FillRow, RunObserver
from processors.replay.tally import ReplayRun
from processors.replay.window import ReplayPlan


def pnl_by_symbol(kernels: Mapping[int, TradingKernel]) -> dict[str, dict[str, Any]]:
    """The books at the end of the run."""
    result: dict[str, dict[str, Any]] = {}
    for partition, kernel in sorted(kernels.items()):
        for symbol, state in sorted(kernel.symbols.items()):
            book = state.book
            result[symbol] = {
                "partition": partition,
                "session": state.session,
                "position": str(book.position_qty),
                "avg_entry_price": None if book.avg_entry_price is None else str(book.avg_entry_price),
                "last_price": None if book.last_price is None else str(book.last_price),
                "daily_realized_pnl": str(book.daily_realized_pnl),
                "daily_fees": str(book.daily_fees),
                "unrealized_pnl": str(book.unrealized_pnl),
                "daily_pnl": str(book.daily_pnl),
                "realized_pnl_since_start": str(book.realized_pnl),
                "open_orders": len(book.open_orders),
            }
    return result


def run_manifest(kernels: Mapping[int, TradingKernel], overrides: Mapping[str, str], mode: str) -> dict[str, Any]:
    """What the replay ran with; taken before the first input (inputs may change the settings later)."""
    return {
        "code_version": __version__,
        "producer": PRODUCER,
        "git_commit": _git_commit(),
        "mode": mode,
        "overrides": dict(sorted(overrides.items())),
        "partitions": {
            str(partition): {
                **kernel.settings.to_state(),
                "config_hash": config_hash(kernel.settings.values),
                # name, version, sha256, provider; refusal when the partition starts closed
                "scorer": {**kernel.model.to_state(), "provider": kernel.model.provider},
            }
            for partition, kernel in sorted(kernels.items())
        },
        "schema_fingerprints": default_registry().fingerprints(),
    }


def _git_commit() -> str | None:
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                               cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None


def digest_json(digest: TopicDigest | None) -> dict[str, Any] | None:
    if digest is None:
        return None
    return {
        "sha256": digest.sha256,
        "events": digest.events,
        "duplicates": digest.duplicates,
        "partitions": {str(p.partition): {"events": p.events, "sha256": p.sha256} for p in digest.partitions},
    }


def divergence_json(divergence: Divergence | None) -> dict[str, Any] | None:
    if divergence is None:
        return None
    sides = {"live": divergence.live, "replay": divergence.replay}
    return {
        "topic": divergence.topic,
        "partition": divergence.partition,
        "index": divergence.index,
        **{
            side: None if e is None else {"offset": e.offset, "time_ms": e.timestamp_ms, "type": type(e.event).__name__,
                                          "event_id": e.event.event_id}
            for side, e in sides.items()
        },
        "fields": [{"path": f.path, "live": f.live, "replay": f.replay} for f in divergence.fields],
    }


def summary(
    title: str,
    plan: ReplayPlan,
    starts: Mapping[int, str],
    run: ReplayRun,
    comparison: Comparison,
    written: Mapping[str, OffsetRanges],
    manifest: Mapping[str, Any],
    wall_seconds: float,
) -> dict[str, Any]:
    """Everything ``report.json`` says about one replay."""
    return {
        "title": title,
        "plan": plan.label,
        "day": plan.day,
        "inputs": {
            str(p.partition): {"start": p.start, "end": p.end, "start_state": starts.get(p.partition)}
            for p in plan.partitions
        },
        "outputs": {topic: {str(p): list(r) for p, r in ranges.items()} for topic, ranges in written.items()},
        "counts": {"inputs": run.inputs, "outputs": run.outputs, "by_type": dict(sorted(run.by_type.items())),
                   "by_topic": dict(sorted(run.by_topic.items()))},
        "pnl": pnl_by_symbol(run.kernels),
        "manifest": dict(manifest),
        "determinism": {
            "compared": comparison.compared,
            "identical": comparison.identical if comparison.compared else None,
            "topics": {
                t.topic: {"replay": digest_json(t.replay), "live": digest_json(t.live),
                          "divergence": divergence_json(t.divergence)}
                for t in comparison.topics
            },
            "first_divergence": divergence_json(comparison.first_divergence),
        },
        "timing": {"replay_seconds": round(run.seconds, 3), "inputs_per_second": round(run.rate, 1),
                   "wall_seconds": round(wall_seconds, 3)},
    }


def write_report(directory: Path, summary: Mapping[str, Any], observer: RunObserver, tz: ZoneInfo) -> list[Path]:
    """Writes the report files; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "report.json", directory / "fills.csv", directory / "equity.csv", directory / "equity.png"]
    written[0].write_text(json.dumps(summary, indent=2, default=str) + "\n")  # str: Decimals and enums of the events
    _write_rows(written[1], _names(FillRow), [_row(f, tz) for f in observer.fills])
    _write_rows(written[2], _names(EquitySample), [_row(s, tz) for s in observer.samples])
    _plot(written[3], observer.samples, str(summary.get("title", "replay")), tz)
    return written


def _names(row_type: type[FillRow] | type[EquitySample]) -> list[str]:
    return [f.name for f in fields(row_type)]


def _row(item: FillRow | EquitySample, tz: ZoneInfo) -> list[Any]:
    values = [getattr(item, name) for name in _names(type(item))]
    values[0] = datetime.fromtimestamp(item.time_ms / 1000, tz).isoformat(timespec="milliseconds")
    return values


def _write_rows(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time" if name == "time_ms" else name for name in header])
        writer.writerows(rows)


def _plot(path: Path, samples: list[EquitySample], title: str, tz: ZoneInfo) -> None:
    import matplotlib  # heavy: only when a report is asked for

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (pnl_axes, position_axes) = plt.subplots(2, 1, sharex=True, figsize=(11, 6), height_ratios=(2, 1))
    for symbol in sorted({s.symbol for s in samples}):
        series = [s for s in samples if s.symbol == symbol]
        times = [datetime.fromtimestamp(s.time_ms / 1000, tz) for s in series]
        pnl_axes.plot(times, [float(s.daily_pnl) for s in series], label=symbol, linewidth=1)
        position_axes.step(times, [float(s.position) for s in series], where="post", label=symbol, linewidth=1)
    pnl_axes.set_title(title)
    pnl_axes.set_ylabel("session P&L (USD)")
    position_axes.set_ylabel("position (contracts)")
    position_axes.set_xlabel(f"event time ({tz.key})")
    for axes in (pnl_axes, position_axes):
        axes.grid(True, alpha=0.3)
        if samples:
            axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

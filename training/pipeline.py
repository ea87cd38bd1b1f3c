"""``aitrader model train``: tick file -> bar rows -> labels -> walk-forward fit -> ONNX -> model card."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from contract.events import Tick
from eventlog.ingest import SAMPLE_DAY, read_ticks
from inference.registry import ModelCard, sha256_hex
from inference.scorer import FEATURE_NAMES, SCORE_QUANTUM
from kernel.settings import KernelSettings
from training import evaluate
from training.features import NO_SIGNAL_SCORE, BarRow, bar_rows
from training.fit import HYPERPARAMETERS, SEED, TARGET_OPSET, converter_versions, feature_matrix, fit_onnx
from training.labels import Label, RoundTripCost, forward_labels
from training.metrics import figures
from training.split import Split, walk_forward

DEFAULT_HORIZON = 5
DEFAULT_NAME = "gbm-bars"
DEFAULT_VERSION = "1.0.0"


@dataclass(frozen=True, slots=True)
class TrainingRun:
    card: ModelCard
    model: bytes
    rows: list[BarRow]
    labels: list[Label | None]
    split: Split


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(
    data: Path = SAMPLE_DAY,
    *,
    symbol: str = "ES",
    venue: str = "CME",
    horizon: int = DEFAULT_HORIZON,
    name: str = DEFAULT_NAME,
    version: str = DEFAULT_VERSION,
    ticks: Iterable[Tick] | None = None,
) -> TrainingRun:
    """Trains on every session of ``data`` but the last and evaluates on the last; nothing is written.

    ``ticks``: the file's ticks when the caller has already read them (tests share one read).
    """
    settings = KernelSettings.parse().for_symbol(symbol)
    _progress(f"reading {data} and closing bars with the live pattern engine ...")
    rows = bar_rows(read_ticks(data, symbol, venue) if ticks is None else ticks, settings)
    cost = RoundTripCost.of(settings)
    labels = forward_labels(rows, horizon, cost)
    split = walk_forward(rows, labels)
    _progress(f"{len(rows)} bars; fitting on {len(split.train)} labelled bars of {', '.join(split.train_sessions)}, "
              f"holding out {len(split.held_out)} of {split.held_out_session}")
    model = fit_onnx(feature_matrix([rows[i].features for i in split.train]), [_value(labels, i) for i in split.train])
    threshold = settings.strategy.threshold
    signal_bars = tuple(i for i in split.held_out if rows[i].pattern is not None)
    metrics = {
        "held_out": _figures(model, rows, labels, split.held_out, threshold),
        "baseline_held_out": _figures(None, rows, labels, split.held_out, threshold),
        # The live strategy scores only where a pattern fired: the same figures on those bars alone.
        "held_out_signal_bars": _figures(model, rows, labels, signal_bars, threshold),
        "baseline_held_out_signal_bars": _figures(None, rows, labels, signal_bars, threshold),
        "train": _figures(model, rows, labels, split.train, threshold),
    }
    card = ModelCard(
        name=name,
        version=version,
        sha256=sha256_hex(model),
        features=FEATURE_NAMES,
        training=_training_section(data, symbol, rows, labels, split, horizon, cost, threshold),
        metrics=metrics,
    )
    return TrainingRun(card, model, rows, labels, split)


def _figures(
    model: bytes | None, rows: list[BarRow], labels: list[Label | None], indices: tuple[int, ...], threshold: Decimal
) -> dict[str, object]:
    """The figures of the model (or, with None, of the baseline formula) on the labelled rows ``indices``."""
    features = [rows[i].features for i in indices]
    scores = evaluate.baseline_scores(features) if model is None else evaluate.model_scores(model, features)
    return figures(scores, [_value(labels, i) for i in indices], threshold).to_json()


def _label(labels: list[Label | None], i: int) -> Label:
    label = labels[i]
    assert label is not None  # the split holds labelled rows only
    return label


def _value(labels: list[Label | None], i: int) -> int:
    return _label(labels, i).value


def _window(rows: list[BarRow], indices: tuple[int, ...]) -> dict[str, object]:
    first, last = rows[indices[0]], rows[indices[-1]]
    return {
        "first_bar_close": _iso(first.closed_at_ms),
        "last_bar_close": _iso(last.closed_at_ms),
        "labelled_bars": len(indices),
        "signal_bars": sum(rows[i].pattern is not None for i in indices),
    }


def _leak_check(rows: list[BarRow], labels: list[Label | None], split: Split) -> dict[str, str]:
    """When the last training label's window ends and the held-out session's first bar closes (``walk_forward`` checked the order)."""
    label_end = max(rows[_label(labels, i).exit_index].closed_at_ms for i in split.train)
    return {
        "last_training_label_ends": _iso(label_end),
        "first_held_out_bar_closes": _iso(rows[split.held_out[0]].closed_at_ms),
    }


def _iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _training_section(
    data: Path, symbol: str, rows: list[BarRow], labels: list[Label | None], split: Split,
    horizon: int, cost: RoundTripCost, threshold: Decimal,
) -> dict[str, object]:
    unlabelled = Counter(row.session for row, label in zip(rows, labels) if label is None)
    return {
        "data": {"file": data.name, "symbol": symbol, "sha256": sha256_hex(data.read_bytes()), "bar_rows": len(rows)},
        "train_sessions": list(split.train_sessions),
        "held_out_session": split.held_out_session,
        "train_window": _window(rows, split.train),
        "held_out_window": _window(rows, split.held_out),
        "unlabelled_bars_by_session": dict(sorted(unlabelled.items())),
        "label": {
            "horizon_bars": horizon,
            "definition": "1 if close[i+h] - close[i] > cost, 0 if < -cost, else no label; "
                          "no label when bar i+h is in another session",
            "round_trip_cost_points": str(cost.points),
            "slippage_ticks": cost.slippage_ticks,
            "tick_size": str(cost.tick_size),
            "fee_per_unit": str(cost.fee_per_unit),
            "multiplier": str(cost.multiplier),
        },
        "leak_check": _leak_check(rows, labels, split),
        "signal_score_without_signal": NO_SIGNAL_SCORE,
        "signal_score_definition": "the score of the bar's signal (the first in pattern order when several fire); "
                                   f"{NO_SIGNAL_SCORE} at a bar close with no signal",
        "model": {
            "kind": "sklearn.ensemble.GradientBoostingClassifier",
            "hyperparameters": HYPERPARAMETERS,
            "seed": SEED,
            "tuned_on_held_out": False,
            "target_opset": TARGET_OPSET,
        },
        "converters": converter_versions(),
        "strategy_threshold": str(threshold),
        "score_quantum": str(SCORE_QUANTUM),
    }

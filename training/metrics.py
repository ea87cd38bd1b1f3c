"""Held-out figures of a scorer: AUC, hit rate, calibration. Plain Python, so tests can check them against sklearn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

CALIBRATION_BINS = 5


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting half (Mann-Whitney)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise ValueError("AUC needs both classes")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_rank = (start + end) / 2 + 1  # ranks are 1-based; tied scores share their mean rank
        rank_sum += average_rank * sum(labels[order[k]] for k in range(start, end + 1))
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True, slots=True)
class HitRate:
    """How often the score's sign was the label's direction, over the bars with |score| >= ``min_abs_score``."""

    min_abs_score: str
    bars: int
    hits: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.bars if self.bars else None


def hit_rate(scores: Sequence[Decimal], labels: Sequence[int], min_abs_score: Decimal) -> HitRate:
    taken = [(s, y) for s, y in zip(scores, labels) if s != 0 and abs(s) >= min_abs_score]
    return HitRate(str(min_abs_score), len(taken), sum((s > 0) == (y == 1) for s, y in taken))


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Bars whose predicted P(up) = (score + 1) / 2 fell in [low, high): mean predicted and observed rate of up."""

    low: float
    high: float
    bars: int
    mean_predicted: float | None
    observed: float | None


def calibration(probabilities: Sequence[float], labels: Sequence[int], bins: int = CALIBRATION_BINS) -> list[CalibrationBin]:
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(p, y) for p, y in zip(probabilities, labels) if low <= p < high or (b == bins - 1 and p == 1.0)]
        n = len(members)
        table.append(
            CalibrationBin(
                low, high, n,
                sum(p for p, _ in members) / n if n else None,
                sum(y for _, y in members) / n if n else None,
            )
        )
    return table


@dataclass(frozen=True, slots=True)
class Figures:
    """One scorer's figures on one window of labelled bars."""

    bars: int
    up_rate: float  # the share of bars labelled up: the rate a constant guess would hit
    auc: float
    hit_rate_any: HitRate  # every nonzero score
    hit_rate_traded: HitRate  # scores the strategy would act on (its threshold)
    calibration: list[CalibrationBin]

    def to_json(self) -> dict:
        return {
            "bars": self.bars,
            "up_rate": self.up_rate,
            "auc": self.auc,
            "hit_rate": {
                "any_score": {**asdict(self.hit_rate_any), "rate": self.hit_rate_any.rate},
                "traded": {**asdict(self.hit_rate_traded), "rate": self.hit_rate_traded.rate},
            },
            "calibration": [asdict(b) for b in self.calibration],
        }


def figures(scores: Sequence[Decimal], labels: Sequence[int], threshold: Decimal) -> Figures:
    """The figures of quantized scores in [-1, 1] (the values decisions see) against 0/1 labels."""
    as_float = [float(s) for s in scores]
    return Figures(
        bars=len(labels),
        up_rate=sum(labels) / len(labels),
        auc=auc(as_float, labels),
        hit_rate_any=hit_rate(scores, labels, Decimal(0)),
        hit_rate_traded=hit_rate(scores, labels, threshold),
        calibration=calibration([(s + 1.0) / 2.0 for s in as_float], labels),
    )

"""The sentiment scorer interface: texts in, quantized scores out, with the identity recorded on every event."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable


@runtime_checkable
class SentimentScorer(Protocol):
    """A sentiment model.

    ``score_texts`` returns one score per text, in order: in [-1, 1], positive
    minus negative, quantized by ``inference.scorer.quantize_score``; each
    text's score must not depend on the other texts of the call, so how ingest
    groups headlines never changes a score. ``name``, ``version`` and ``sha256``
    (of the artifacts the scores depend on) go on every ``NewsScored`` event.
    """

    name: str
    version: str
    sha256: str

    def score_texts(self, texts: Sequence[str]) -> list[Decimal]: ...

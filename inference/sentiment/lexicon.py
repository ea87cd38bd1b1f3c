"""The offline sentiment scorer: VADER's rule-based lexicon with a small update for market headlines.

VADER (the ``vaderSentiment`` package) ships its lexicon in the package, so it
scores with no download and no network. Its lexicon was built for social
media: common market words carry no valence there ("beats", "downgrade",
"plunge", "bankruptcy" are absent), so a headline such as "XYZ beats estimates,
shares surge" would score neutral. ``FINANCIAL_TERMS`` adds those words on
VADER's own scale (-4 .. +4, mostly about +-2, like "gain" 2.4 and "loss" -1.3
already there); a word VADER knows keeps its value. The score is VADER's
``compound`` (already in [-1, 1]), quantized to 1e-6.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from importlib import metadata, resources
from types import MappingProxyType

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from inference.scorer import quantize_score

NAME = "vader-fin"
VERSION = "1.0.0"  # bump with any change to FINANCIAL_TERMS

FINANCIAL_TERMS: Mapping[str, float] = MappingProxyType(
    {
        "beat": 1.8, "beats": 1.8, "outperform": 1.8, "outperforms": 1.8, "upgrade": 2.0, "upgraded": 2.0,
        "upgrades": 2.0, "surge": 2.0, "surges": 2.0, "soar": 2.2, "soars": 2.2, "rally": 1.8, "rallies": 1.8,
        "rebound": 1.5, "rebounds": 1.5, "jump": 1.2, "jumps": 1.2, "rise": 1.0, "rises": 1.0, "bullish": 2.0,
        "downgrade": -2.0, "downgraded": -2.0, "downgrades": -2.0, "underperform": -1.8, "underperforms": -1.8,
        "plunge": -2.4, "plunges": -2.4, "tumble": -2.0, "tumbles": -2.0, "slump": -2.0, "slumps": -2.0,
        "fall": -1.0, "falls": -1.0, "drops": -1.1, "selloff": -2.0, "rout": -2.4, "crashes": -2.6,
        "bearish": -2.0, "bankruptcy": -3.0, "default": -2.2, "layoffs": -2.0, "recall": -1.5, "probe": -1.2,
    }
)


def _lexicon_bytes() -> bytes:
    return resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_bytes()


def lexicon_sha256() -> str:
    """SHA-256 of what the scores depend on: VADER's lexicon file, its package version, our update."""
    digest = hashlib.sha256(_lexicon_bytes())
    digest.update(metadata.version("vaderSentiment").encode())
    digest.update(json.dumps(dict(FINANCIAL_TERMS), sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


class LexiconScorer:
    """VADER plus ``FINANCIAL_TERMS``; a word VADER already rates keeps VADER's value."""

    name: str = NAME
    version: str = VERSION

    def __init__(self) -> None:
        self.sha256 = lexicon_sha256()
        self._analyzer = SentimentIntensityAnalyzer()
        for word, valence in FINANCIAL_TERMS.items():
            self._analyzer.lexicon.setdefault(word, valence)

    def score_texts(self, texts: Sequence[str]) -> list[Decimal]:
        return [quantize_score(self._analyzer.polarity_scores(text)["compound"]) for text in texts]

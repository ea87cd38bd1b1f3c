"""The sentiment scorers: the transformer's whole serving path on a tiny model built here, and the lexicon scorer."""

from __future__ import annotations

import importlib.util
import json
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from onnx import save_model
from typer.testing import CliRunner

from aitrader.cli import app

from inference.scorer import SCORE_QUANTUM
from inference.sentiment.finbert import CARD_FILE, MODEL_FILE, FinbertScorer
from inference.sentiment.lexicon import FINANCIAL_TERMS, LexiconScorer
from inference.sentiment.load import SentimentModelUnavailable, load_sentiment_scorer
from inference.sentiment.scorer import SentimentScorer
from tests import sentiment_model

HEADLINES = (
    "ES futures rally after Fed meets on rates",
    "Lender files for bankruptcy, shares plunge",
    "The Fed meets on rates",
    "Record estimates beats; downgrade probe",
    "Unknown words only: zzz qqq",
)
FINBERT_TONE_LABELS = ("neutral", "positive", "negative")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sentiment_model.build(tmp_path_factory.mktemp("tiny") / "model")


def _oracle(text: str, labels: tuple[str, ...] = sentiment_model.FINBERT_LABELS) -> Decimal:
    logits = sentiment_model.reference_logits(text, labels)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return Decimal(float(p[labels.index("positive")] - p[labels.index("negative")]))


def test_the_onnx_path_scores_what_the_network_computes(tiny: Path) -> None:
    scorer = FinbertScorer(tiny)
    assert isinstance(scorer, SentimentScorer)
    scores = scorer.score_texts(HEADLINES)
    for text, score in zip(HEADLINES, scores):
        assert abs(score - _oracle(text)) <= SCORE_QUANTUM, text
        assert score == score.quantize(SCORE_QUANTUM)
    rally, bankruptcy, neutral = scores[:3]
    assert rally > 0 > bankruptcy
    assert neutral == 0  # no leaning word: positive and negative logits tie


def test_the_card_label_order_is_honoured(tmp_path: Path, tiny: Path) -> None:
    """finbert-tone puts neutral first: the same network with its logits permuted scores alike."""
    tone = sentiment_model.build(tmp_path / "tone", labels=FINBERT_TONE_LABELS)
    assert FinbertScorer(tone).score_texts(HEADLINES) == FinbertScorer(tiny).score_texts(HEADLINES)


def test_a_headline_scores_alike_alone_in_a_batch_and_again(tiny: Path) -> None:
    scorer = FinbertScorer(tiny)
    together = scorer.score_texts(HEADLINES)
    assert [scorer.score_texts([text])[0] for text in HEADLINES] == together
    assert FinbertScorer(tiny).score_texts(list(reversed(HEADLINES))) == list(reversed(together))


def test_the_identity_covers_network_tokenizer_and_labels(tmp_path: Path, tiny: Path) -> None:
    scorer = FinbertScorer(tiny)
    assert (scorer.name, scorer.version) == ("tiny-finbert", "1")
    assert FinbertScorer(sentiment_model.build(tmp_path / "same")).sha256 == scorer.sha256
    assert FinbertScorer(sentiment_model.build(tmp_path / "tone", labels=FINBERT_TONE_LABELS)).sha256 != scorer.sha256


def test_a_known_name_not_exported_here_says_how_to_place_it(tmp_path: Path) -> None:
    with pytest.raises(SentimentModelUnavailable) as refused:
        load_sentiment_scorer("ProsusAI/finbert", tmp_path)
    message = str(refused.value)
    assert str(tmp_path / "ProsusAI/finbert") in message
    assert "aitrader model export-sentiment" in message and "never downloaded" in message


def test_a_name_or_path_resolves_to_its_scorer(tmp_path: Path, tiny: Path) -> None:
    shutil.copytree(tiny, tmp_path / "yiyanghkust/finbert-tone")
    by_name = load_sentiment_scorer("yiyanghkust/finbert-tone", tmp_path)
    by_path = load_sentiment_scorer(str(tiny))
    assert by_name.score_texts(HEADLINES) == by_path.score_texts(HEADLINES)
    assert isinstance(load_sentiment_scorer("vader-fin"), LexiconScorer)
    with pytest.raises(SentimentModelUnavailable, match="no sentiment scorer 'nope'"):
        load_sentiment_scorer("nope", tmp_path)


def test_an_incomplete_or_foreign_model_directory_is_refused(tmp_path: Path, tiny: Path) -> None:
    partial = shutil.copytree(tiny, tmp_path / "partial")
    (partial / CARD_FILE).unlink()
    with pytest.raises(SentimentModelUnavailable, match="no sentiment.json"):
        load_sentiment_scorer(str(partial))
    foreign = shutil.copytree(tiny, tmp_path / "foreign")
    model = sentiment_model.graph(sentiment_model.FINBERT_LABELS)
    model.graph.output[0].name = "scores"
    model.graph.node[-1].output[0] = "scores"
    save_model(model, str(foreign / MODEL_FILE))
    with pytest.raises(ValueError, match="gives 'logits'"):
        FinbertScorer(foreign)


def test_the_lexicon_scorer_reads_market_headlines() -> None:
    scorer = LexiconScorer()
    beats, bankruptcy, flat, gain = scorer.score_texts(
        ["XYZ beats estimates, shares surge", "Lender files for bankruptcy as stocks plunge", "Fed meeting on Wednesday", "gain"]
    )
    assert beats > Decimal("0.5") and bankruptcy < Decimal("-0.5") and flat == 0
    assert gain > 0  # a word VADER rates keeps its own value
    assert all(s == s.quantize(SCORE_QUANTUM) for s in (beats, bankruptcy, flat, gain))
    assert "bankruptcy" in FINANCIAL_TERMS and len(scorer.sha256) == 64 and scorer.sha256 == LexiconScorer().sha256


def test_the_score_command_prints_each_headline_with_the_scorers_identity(tiny: Path) -> None:
    result = CliRunner().invoke(app, ["sentiment", "score", "--scorer", str(tiny), *HEADLINES[:2]])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    scorer = FinbertScorer(tiny)
    assert [(x["headline"], Decimal(x["score"]), x["sha256"]) for x in lines] == [
        (h, s, scorer.sha256) for h, s in zip(HEADLINES[:2], scorer.score_texts(HEADLINES[:2]))
    ]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed: export would run")
def test_export_without_torch_says_which_extra_to_install(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["model", "export-sentiment", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "pip install '.[sentiment-export]'" in result.output and not (tmp_path / "out").exists()

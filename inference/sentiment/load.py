"""A sentiment scorer by name or path: the lexicon scorer, or a FinBERT-class model exported to ONNX.

The transformer's packages (``onnxruntime``, ``tokenizers``: the ``sentiment``
extra) are imported only when a transformer is asked for, so the lexicon
scorer works on the default install.
"""

from __future__ import annotations

from pathlib import Path

from inference.sentiment.lexicon import NAME as LEXICON_NAME
from inference.sentiment.scorer import SentimentScorer

# Checkpoints known by name; each is looked for, exported, under ``models_root / name``.
KNOWN_CHECKPOINTS = ("ProsusAI/finbert", "yiyanghkust/finbert-tone")
DEFAULT_MODELS_ROOT = Path("models/sentiment")


class SentimentModelUnavailable(LookupError):
    """The asked-for scorer cannot be built here; the message says what to do."""


def load_sentiment_scorer(name_or_path: str, models_root: Path = DEFAULT_MODELS_ROOT) -> SentimentScorer:
    """``vader-fin``, a known checkpoint name, or a directory holding an exported model."""
    if name_or_path == LEXICON_NAME:
        from inference.sentiment.lexicon import LexiconScorer

        return LexiconScorer()
    path = Path(name_or_path)
    if name_or_path in KNOWN_CHECKPOINTS:
        path = models_root / name_or_path
        if not path.is_dir():
            raise SentimentModelUnavailable(_how_to_place(name_or_path, path))
    elif not path.is_dir():
        raise SentimentModelUnavailable(
            f"no sentiment scorer {name_or_path!r}: give {LEXICON_NAME!r}, one of {list(KNOWN_CHECKPOINTS)} "
            "or the directory of an exported model"
        )
    try:
        from inference.sentiment.finbert import FinbertScorer, SentimentModelMissing
    except ImportError as exc:
        raise SentimentModelUnavailable(
            f"{name_or_path}: a transformer scorer needs onnxruntime and tokenizers ({exc.name} is missing): "
            "pip install '.[sentiment]'"
        ) from None
    try:
        return FinbertScorer(path)
    except SentimentModelMissing as exc:
        raise SentimentModelUnavailable(str(exc)) from None


def _how_to_place(name: str, path: Path) -> str:
    return (
        f"{name} is not exported at {path}, and checkpoints are never downloaded here. On a machine with the "
        f"checkpoint (a local directory holding its config, weights and tokenizer): pip install '.[sentiment-export]' "
        f"and `aitrader model export-sentiment CHECKPOINT_DIR {path} --name {name}`; then copy {path} to this machine "
        f"(or pass the exported directory itself instead of the name)."
    )

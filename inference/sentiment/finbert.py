"""A FinBERT-class transformer served with ONNX Runtime, without torch.

A model directory (written once by ``aitrader model export-sentiment`` from a
checkpoint, or placed by hand) holds:

    model.onnx       inputs input_ids, attention_mask, token_type_ids (int64, [batch, tokens]),
                     output logits (float32, [batch, 3]): FinBERT's own signature
    tokenizer.json   the checkpoint's tokenizer, read by the ``tokenizers`` package
    sentiment.json   {"name", "version", "labels": the three logits' labels in order
                      (ProsusAI/finbert: positive, negative, neutral; finbert-tone:
                      neutral, positive, negative), "max_length"}

The score is P(positive) - P(negative) of the softmax over the logits. Each
headline runs alone (batch of one, no padding): a row's logits then cannot
depend on what else was in a batch, and news is far too sparse for batching to
matter. ONNX Runtime runs on the CPU with one thread, so the float arithmetic
is the same run after run; the score is quantized to 1e-6 and recorded on the
event, so a replay never runs the model at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from inference.onnx_session import CPU, open_session
from inference.scorer import quantize_score

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CARD_FILE = "sentiment.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "logits"
LABELS = frozenset({"positive", "negative", "neutral"})
DEFAULT_MAX_LENGTH = 128


class SentimentModelMissing(FileNotFoundError):
    """No exported model where one was asked for; the message says how to place one."""


@dataclass(frozen=True, slots=True)
class SentimentCard:
    """What ``sentiment.json`` says about the model next to it."""

    name: str
    version: str
    labels: tuple[str, ...]
    max_length: int

    @classmethod
    def read(cls, path: Path) -> SentimentCard:
        raw = json.loads(path.read_text())
        labels = tuple(raw["labels"])
        if len(labels) != 3 or set(labels) != LABELS:
            raise ValueError(f"{path}: labels must name positive, negative and neutral once each, in logit order; got {list(labels)}")
        return cls(str(raw["name"]), str(raw["version"]), labels, int(raw.get("max_length", DEFAULT_MAX_LENGTH)))

    def to_json(self) -> str:
        body = {"name": self.name, "version": self.version, "labels": list(self.labels), "max_length": self.max_length}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"


def model_sha256(directory: Path, card: SentimentCard) -> str:
    """SHA-256 of everything a score depends on: the network, the tokenizer, the label order and the truncation."""
    digest = hashlib.sha256()
    for name in (MODEL_FILE, TOKENIZER_FILE):
        digest.update(hashlib.sha256((directory / name).read_bytes()).digest())
    digest.update(json.dumps({"labels": card.labels, "max_length": card.max_length}).encode())
    return digest.hexdigest()


def cpu_session(model_path: Path) -> ort.InferenceSession:
    """The one ONNX Runtime session this module opens: CPU provider, one thread each way, so runs repeat exactly."""
    return open_session(model_path.read_bytes(), [CPU]).session


class FinbertScorer:
    """Scores headlines with the model in ``directory`` (``SentimentModelMissing`` if a file is absent)."""

    def __init__(self, directory: Path) -> None:
        missing = [name for name in (MODEL_FILE, TOKENIZER_FILE, CARD_FILE) if not (directory / name).is_file()]
        if missing:
            raise SentimentModelMissing(f"{directory}: no {', '.join(missing)}; an exported sentiment model directory holds "
                                        f"{MODEL_FILE}, {TOKENIZER_FILE} and {CARD_FILE}")
        card = SentimentCard.read(directory / CARD_FILE)
        self.name, self.version = card.name, card.version
        self.sha256 = model_sha256(directory, card)
        self._positive, self._negative = card.labels.index("positive"), card.labels.index("negative")
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(card.max_length)
        self._session = cpu_session(directory / MODEL_FILE)
        _check_signature(self._session, directory / MODEL_FILE)

    def score_texts(self, texts: Sequence[str]) -> list[Decimal]:
        return [self._score(text) for text in texts]

    def probabilities(self, text: str) -> np.ndarray:
        """The softmax over the three logits, in the card's label order (float64)."""
        encoding = self._tokenizer.encode(text)
        feeds = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        (logits,) = self._session.run([OUTPUT_NAME], feeds)
        row = logits[0].astype(np.float64)
        exp = np.exp(row - row.max())
        return exp / exp.sum()

    def _score(self, text: str) -> Decimal:
        p = self.probabilities(text)
        return quantize_score(float(p[self._positive] - p[self._negative]))


def _check_signature(session: ort.InferenceSession, path: Path) -> None:
    inputs = sorted(i.name for i in session.get_inputs())
    outputs = [o.name for o in session.get_outputs()]
    if inputs != sorted(INPUT_NAMES) or OUTPUT_NAME not in outputs:
        raise ValueError(f"{path}: inputs {inputs} and outputs {outputs}; a FinBERT-class model takes "
                         f"{list(INPUT_NAMES)} and gives {OUTPUT_NAME!r}")

"""A tiny FinBERT-shaped sentiment model the tests build themselves (no checkpoint, no torch).

Same signature as FinBERT: ``input_ids``, ``attention_mask``, ``token_type_ids``
(int64, [batch, tokens]) -> ``logits`` (float32, [batch, 3]); a WordPiece
``tokenizers`` tokenizer over a small vocabulary with BERT's normalizer,
pre-tokenizer and [CLS]/[SEP] template. The network: word embedding + token
type embedding, mean-pooled under the attention mask, then a linear layer to
three logits. Its weights make market words lean: ``POSITIVE`` words push the
positive logit, ``NEGATIVE`` words the negative one, the rest neutral.
``reference_logits`` computes the same network in numpy, the tests' oracle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save_model
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from inference.sentiment.finbert import CARD_FILE, MODEL_FILE, TOKENIZER_FILE, SentimentCard

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
POSITIVE = ("beats", "surge", "record", "upgrade", "rally")
NEGATIVE = ("plunge", "bankruptcy", "misses", "downgrade", "probe")
NEUTRAL = ("shares", "estimates", "files", "for", "fed", "meets", "on", "rates", "the", "es", "futures", "after", ",", ".", "##s")
VOCAB = (*SPECIALS, *POSITIVE, *NEGATIVE, *NEUTRAL)
FINBERT_LABELS = ("positive", "negative", "neutral")  # ProsusAI/finbert's order


def tokenizer() -> Tokenizer:
    built = Tokenizer(models.WordPiece({token: i for i, token in enumerate(VOCAB)}, unk_token="[UNK]"))
    built.normalizer = normalizers.BertNormalizer(lowercase=True)
    built.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    built.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return built


def weights(labels: Sequence[str]) -> dict[str, np.ndarray]:
    """The network's parameters, with the logits in ``labels`` order."""
    column = {label: labels.index(label) for label in FINBERT_LABELS}
    word = np.zeros((len(VOCAB), 3), dtype=np.float32)
    for token in POSITIVE:
        word[VOCAB.index(token), column["positive"]] = 2.5
    for token in NEGATIVE:
        word[VOCAB.index(token), column["negative"]] = 2.5
    for token in NEUTRAL:
        word[VOCAB.index(token), column["neutral"]] = 0.75
    types = np.array([[0.0, 0.0, 0.0], [0.1, -0.1, 0.0]], dtype=np.float32)
    mixing = np.eye(3, dtype=np.float32) * np.float32(1.5) + np.float32(0.05)
    bias = np.zeros(3, dtype=np.float32)
    bias[column["neutral"]] = 0.2
    return {"word": word, "types": types, "mixing": mixing, "bias": bias}


def graph(labels: Sequence[str]):  # noqa: ANN201 - an onnx ModelProto
    p = weights(labels)
    names = ("input_ids", "attention_mask", "token_type_ids")
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in names]
    nodes = [
        helper.make_node("Gather", ["word", "input_ids"], ["word_vectors"]),
        helper.make_node("Gather", ["types", "token_type_ids"], ["type_vectors"]),
        helper.make_node("Add", ["word_vectors", "type_vectors"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last_axis"], ["mask3"]),
        helper.make_node("Mul", ["vectors", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "token_axis"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "token_axis"], ["counted"], keepdims=0),
        helper.make_node("Div", ["summed", "counted"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "mixing"], ["mixed"]),
        helper.make_node("Add", ["mixed", "bias"], ["logits"]),
    ]
    initializers = [numpy_helper.from_array(v, k) for k, v in p.items()]
    initializers += [numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
                     numpy_helper.from_array(np.array([1], dtype=np.int64), "token_axis")]
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    body = helper.make_graph(nodes, "tiny_finbert", ints, [logits], initializers)
    return helper.make_model(body, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def build(directory: Path, labels: Sequence[str] = FINBERT_LABELS, name: str = "tiny-finbert", version: str = "1") -> Path:
    """Writes the model directory FinbertScorer reads; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    save_model(graph(labels), str(directory / MODEL_FILE))
    tokenizer().save(str(directory / TOKENIZER_FILE))
    (directory / CARD_FILE).write_text(SentimentCard(name, version, tuple(labels), 32).to_json())
    return directory


def reference_logits(text: str, labels: Sequence[str] = FINBERT_LABELS) -> np.ndarray:
    """The network in numpy, float64: the oracle the ONNX Runtime path is checked against."""
    p = {k: v.astype(np.float64) for k, v in weights(labels).items()}
    encoding = tokenizer().encode(text)
    vectors = p["word"][encoding.ids] + p["types"][encoding.type_ids]
    mask = np.asarray(encoding.attention_mask, dtype=np.float64)[:, None]
    pooled = (vectors * mask).sum(axis=0) / mask.sum()
    return pooled @ p["mixing"] + p["bias"]

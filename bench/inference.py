"""Scoring latency and throughput on every path this host has, and how far the GPU paths agree with the CPU.

    python -m bench.inference [--model models/NAME/VERSION] [--calls 400] [--rows 20000] [--ticks N]

Paths: the baseline formula (pure Python), ONNX Runtime on CPU, on CUDA and on
TensorRT, and the native TensorRT engine. A path the host lacks is printed as
"not available: reason"; the same command on a GPU host with the gpu extra
measures the GPU rows. Each latency is one ``score_batch`` call, features in
and quantized scores out (the whole cost the kernel pays), at batch 1, 16, 64
and 256; p50 and p99 over ``--calls`` calls; throughput both as rows over the
calls' total time and as batch / p50 (a shared host's stalls weigh on the first).

Models: the one given, else the newest shipped under models/ (card.json), else
a gradient-boosted-trees model built here; plus a small MLP built here, the kind
TensorRT can build an engine from (trees are ONNX-ML operators it cannot).

Kernel: the pure ``TradingKernel`` over the sample file's ticks (the work a
fast replay does after decoding) with the baseline formula and with the model
on CPU: inputs/s and what each derived.

Agreement: every path's quantized scores on ``--rows`` feature rows against ONNX
Runtime on CPU with one thread: identical rows, and the largest difference in
quanta (1e-6). A CPU session with two intra-op threads is in the list too: it
shows why the thread count is fixed.

Figures on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench.common import figure, rate, sample_ticks
from bench.pipeline import pure_kernel
from inference.baseline import BaselineScorer
from inference.onnx_scorer import OnnxScorer
from inference.onnx_session import (
    CPU,
    CUDA,
    TENSORRT,
    SessionThreads,
    available_providers,
)
from inference.scorer import SCORE_QUANTUM, Scorer
from inference.tensorrt_engine import NATIVE_TENSORRT
from tests.onnx_models import (
    BuiltModel,
    feature_rows,
    mlp_model,
    rows_as_features,
    tree_model,
)

BATCHES = (1, 16, 64, 256)
# rows/s: all rows over all the calls' time; at p50: batch / p50, steadier on a shared host whose stalls fill the p99.
HEADER = f"  {'path':<28} {'batch':>5} {'p50 ms':>10} {'p99 ms':>10} {'rows/s':>12} {'rows/s @p50':>12}"
MODELS = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelFile:
    label: str
    path: Path
    name: str
    version: str
    sha256: str
    input_name: str = "features"
    output_name: str = "probabilities"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def shipped_model(directory: Path | None) -> ModelFile | None:
    """The model of ``directory`` (a registry version directory), else the newest card under models/."""
    cards = [directory / "card.json"] if directory is not None else sorted(MODELS.glob("*/*/card.json"))
    if not cards:
        return None
    card = json.loads(cards[-1].read_text())
    label = f"{card['name']}@{card['version']}"
    return ModelFile(label, cards[-1].parent / "model.onnx", card["name"], card["version"], card["sha256"],
                     card.get("input", "features"), card.get("output", "probabilities"))


def built(label: str, model: BuiltModel) -> ModelFile:
    return ModelFile(label, model.path, label, "bench", model.sha256)


# A path: how to open the model on it, and which provider it must end up on to count as present.
PATHS: tuple[tuple[str, dict[str, object], str], ...] = (
    ("onnxruntime CPU", {"providers": (CPU,), "native_tensorrt": False}, CPU),
    ("onnxruntime CPU, 2 intra-op threads", {"providers": (CPU,), "native_tensorrt": False,
                                             "threads": SessionThreads(intra_op=2)}, CPU),
    ("onnxruntime CUDA", {"providers": (CUDA, CPU), "native_tensorrt": False}, CUDA),
    ("onnxruntime TensorRT", {"providers": (TENSORRT, CUDA, CPU), "native_tensorrt": False}, TENSORRT),
    ("native TensorRT engine", {"providers": (CPU,), "native_tensorrt": True}, NATIVE_TENSORRT),
)
_LATENCY_PATHS = {"onnxruntime CPU", "onnxruntime CUDA", "onnxruntime TensorRT", "native TensorRT engine"}


def open_path(model: ModelFile, options: Mapping[str, object], wanted: str) -> tuple[Scorer | None, str]:
    """The scorer on that path, or None and why the host does not have it."""
    offered = available_providers()
    if wanted in (CUDA, TENSORRT) and wanted not in offered:
        return None, f"{wanted} is not in this ONNX Runtime build ({', '.join(offered)})"
    try:
        scorer = OnnxScorer(model.path, name=model.name, version=model.version, sha256=model.sha256,
                            input_name=model.input_name, output_name=model.output_name, **options)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 -- a path that cannot open is reported, not fatal
        return None, f"cannot open: {exc}"
    if scorer.provider != wanted:
        why = "; ".join((*scorer.not_available, *scorer.fallbacks)) or f"ran on {scorer.provider}"
        return None, why
    return scorer, ""


def latencies(score_batch: Callable[[Sequence[Mapping[str, float]]], list[Decimal]],
              rows: Sequence[Mapping[str, float]], batch: int, calls: int) -> list[float]:
    """Seconds per call over ``calls`` calls on consecutive slices of ``rows``, after a few warm-up calls."""
    starts = [(i * batch) % (len(rows) - batch) for i in range(calls)]
    slices = [rows[start : start + batch] for start in starts]
    for part in slices[:5]:
        score_batch(part)
    times = []
    for part in slices:
        started = time.perf_counter()
        score_batch(part)
        times.append(time.perf_counter() - started)
    return times


def latency_table(label: str, score_batch: Callable[[Sequence[Mapping[str, float]]], list[Decimal]],
                  rows: Sequence[Mapping[str, float]], calls: int) -> list[dict[str, object]]:
    figures = []
    for batch in BATCHES:
        _progress(f"  {label}: batch {batch}")
        times = latencies(score_batch, rows, batch, max(20, calls // max(1, batch // 16)))
        cuts = statistics.quantiles(times, n=100)
        p50, p99 = cuts[49] * 1e3, cuts[98] * 1e3
        per_s = batch * len(times) / sum(times)
        print(f"  {label:<28} {batch:>5} {p50:>10.3f} {p99:>10.3f} {per_s:>12,.0f} {batch / (p50 / 1e3):>12,.0f}")
        figures += [figure(f"{label}, batch {batch}: p50", p50, "ms"), figure(f"{label}, batch {batch}: p99", p99, "ms"),
                    figure(f"{label}, batch {batch}: throughput", per_s, "rows/s")]
    return figures


def agreement(label: str, scores: list[Decimal], reference: list[Decimal]) -> None:
    same = sum(a == b for a, b in zip(scores, reference))
    worst = max(abs(a - b) for a, b in zip(scores, reference)) / SCORE_QUANTUM
    print(f"  {label:<36} {same:>8,}/{len(reference):,} identical ({same / len(reference):.4%}), "
          f"max difference {worst:.0f} quanta")


def bench_model(model: ModelFile, rows: Sequence[Mapping[str, float]], calls: int) -> list[dict[str, object]]:
    print(f"\nmodel {model.label} ({model.path.name}, sha256 {model.sha256[:16]})")
    print(HEADER)
    figures: list[dict[str, object]] = []
    reference: list[Decimal] | None = None
    compared: list[tuple[str, list[Decimal]]] = []
    for label, options, wanted in PATHS:
        _progress(f"{model.label}: {label}")
        scorer, why = open_path(model, options, wanted)
        if scorer is None:
            print(f"  {label:<28} not available: {why}")
            continue
        if label in _LATENCY_PATHS:
            table = latency_table(label, scorer.score_batch, rows, calls)
            figures += [{**row, "what": f"{model.label}, {row['what']}"} for row in table]
        scores = scorer.score_batch(rows)
        if reference is None:
            reference = scores
        else:
            compared.append((label, scores))
    if reference is not None and compared:
        print(f"  agreement with onnxruntime CPU (1 thread) after quantization, {len(rows):,} rows:")
        for label, scores in compared:
            agreement(label, scores, reference)
    return figures


def kernel_rates(model: ModelFile, ticks: int | None) -> list[dict[str, object]]:
    """The pure kernel over the sample ticks, with the baseline and with ``model`` on CPU."""
    sample = sample_ticks(ticks)
    print(f"\npure TradingKernel over {len(sample):,} sample ticks (what a fast replay runs after decoding)")
    onnx = OnnxScorer(model.path, name=model.name, version=model.version, sha256=model.sha256,
                      input_name=model.input_name, output_name=model.output_name, providers=(CPU,),
                      native_tensorrt=False)
    scorers = (("baseline formula", BaselineScorer()), (f"{model.label} on CPU", onnx))
    best: dict[str, float] = {}
    derived: dict[str, list[object]] = {}
    # Interleaved rounds, best of each: the load of a shared host drifts during a run.
    for round_ in range(3):
        for label, scorer in scorers:
            _progress(f"kernel with {label}, round {round_ + 1} of 3")
            derived[label] = []
            seconds = rate(len(sample), lambda s=scorer, out=derived[label]: out.extend(pure_kernel(sample, s)))[0]
            best[label] = min(seconds, best.get(label, seconds))
    for label, _ in scorers:
        kinds = Counter(type(e).__name__ for e in derived[label])
        print(f"  {label:<36} {len(sample) / best[label]:>10,.0f} inputs/s ({best[label]:.1f} s): "
              f"{kinds['Signal']:,} signals, {kinds['OrderIntent']:,} intents, {kinds['OrderFilled']:,} fills")
    return [figure(f"pure TradingKernel with {label}", len(sample) / best[label], "inputs/s") for label, _ in scorers]


def measure(model_dir: Path | None = None, calls: int = 400, rows_n: int = 20_000, ticks: int | None = None) -> dict:
    """Prints the figures and returns them."""
    rows = rows_as_features(feature_rows(rows_n, seed=2024))
    print(f"host: onnxruntime providers {list(available_providers())}")
    print(f"{len(rows):,} synthetic feature rows; latency = one score_batch call (features -> quantized scores)")
    print(f"\nbaseline formula ({BaselineScorer.name} {BaselineScorer.version}, pure Python)")
    print(HEADER)
    figures = latency_table("baseline", BaselineScorer().score_batch, rows, calls)

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        shipped = shipped_model(model_dir)
        if shipped is None:
            _progress("no model under models/: building gradient-boosted trees (scikit-learn, skl2onnx)")
            shipped = built("built gradient-boosted trees", tree_model(directory)[0])
        for model in (shipped, built("built MLP", mlp_model(directory))):
            figures += bench_model(model, rows, calls)
        figures += kernel_rates(shipped, ticks)
    return {"bench": "inference", "providers": list(available_providers()), "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a registry version directory (default: newest under models/)")
    parser.add_argument("--calls", type=int, default=400, help="timed calls at batch 1 (fewer at larger batches)")
    parser.add_argument("--rows", type=int, default=20_000, help="feature rows scored for the agreement figures")
    parser.add_argument("--ticks", type=int, help="sample ticks through the kernel (default: the whole file)")
    args = parser.parse_args()
    measure(args.model, args.calls, args.rows, args.ticks)


if __name__ == "__main__":
    main()

"""A scorer backed by an ONNX model: the native TensorRT engine, else ONNX Runtime over TensorRT -> CUDA -> CPU.

The model contract (the registry's card): input ``features``, float32
[N, len(FEATURE_NAMES)] in ``FEATURE_NAMES`` order; output ``probabilities``,
float32 [N, 2], column 1 = P(label positive); score = 2 * p1 - 1, quantized
by ``quantize_score`` before anything looks at it.

Where it runs: the first path that works, in this order, each skipped with a
reason kept on the scorer:

* ``not_available``: paths this host does not have at all (no ``tensorrt``
  package, an ONNX Runtime build without CUDA). Expected, not a fault.
* ``fallbacks``: paths the host offers that failed (no driver, engine build
  error, session creation error, out of memory while running). The scorer
  goes on with the next path, logs a warning and ``healthy`` turns False;
  the pipeline never stops for a GPU failure. Only a failure on the last
  path (CPU) is raised: there is nothing left to fall back to.

``provider`` is the path in use, read back from the session (never from the
list requested); the run manifest records it so that a replay on another
provider is reported as such. The model file's SHA-256 is checked against the
one given before anything is loaded, and the bytes hashed are the bytes run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np

from inference.onnx_session import (
    CHAIN,
    ONE_THREAD,
    OpenedSession,
    SessionThreads,
    available_providers,
    open_session,
    provider_chain,
)
from inference.scorer import FEATURE_NAMES, Scorer, feature_vector, quantize_score
from inference.tensorrt_engine import (
    NATIVE_TENSORRT,
    TensorRTEngine,
    unavailable_reason,
)

log = logging.getLogger(__name__)


def default_engine_cache() -> Path:
    """Where native TensorRT engines are cached unless a directory is given: outside the repository."""
    return Path.home() / ".cache" / "aitrader" / "tensorrt"


def chain_after(chain: Sequence[str], failed: str) -> tuple[str, ...]:
    """What a scorer falls back to when ``failed`` errs while running: the whole ONNX Runtime chain after the
    native engine, the providers after ``failed`` otherwise, nothing after the last (the error is raised)."""
    chain = tuple(chain)
    if failed == NATIVE_TENSORRT:
        return chain
    return chain[chain.index(failed) + 1 :] if failed in chain else ()


class _Backend(Protocol):
    provider: str

    def run(self, matrix: np.ndarray) -> np.ndarray: ...


class _OrtBackend:
    """An ONNX Runtime session as a backend."""

    def __init__(self, opened: OpenedSession, input_name: str, output_name: str) -> None:
        self.opened = opened
        self.provider = opened.provider
        self._input, self._output = input_name, output_name

    def run(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.opened.session.run([self._output], {self._input: matrix})[0])


class OnnxScorer(Scorer):
    """An ONNX model as a ``Scorer``; ``score_batch`` returns exactly what ``score`` row by row would."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str,
        version: str,
        sha256: str,
        input_name: str = "features",
        output_name: str = "probabilities",
        providers: Sequence[str] | None = None,
        threads: SessionThreads = ONE_THREAD,
        native_tensorrt: bool = True,
        engine_cache: Path | None = None,
    ) -> None:
        """``providers`` defaults to the chain this host's ONNX Runtime offers; ``native_tensorrt`` tries the engine first."""
        model = Path(model_path).read_bytes()
        found = hashlib.sha256(model).hexdigest()
        if found != sha256.lower():
            raise ValueError(f"model file {model_path} has SHA-256 {found}, not the {sha256} of {name} {version}")
        self.name, self.version, self.sha256 = name, version, found
        self._model, self._input, self._output, self._threads = model, input_name, output_name, threads
        self.not_available: tuple[str, ...] = ()
        self.fallbacks: tuple[str, ...] = ()
        if providers is None:
            offered = available_providers()
            self._chain = provider_chain(offered)
            self.not_available = tuple(f"{p}: not in this ONNX Runtime build" for p in CHAIN if p not in offered)
        else:
            self._chain = tuple(providers)
        native = self._native_engine(engine_cache) if native_tensorrt else None
        self._use(native if native is not None else self._open(self._chain))

    def _use(self, backend: _Backend) -> None:
        self._backend = backend
        self.provider = backend.provider  # where the scores come from now

    @property
    def healthy(self) -> bool:
        """False once any path this host offers has failed and a later one took over."""
        return not self.fallbacks

    def score(self, features: Mapping[str, float]) -> Decimal:
        return self.score_batch([features])[0]

    def score_batch(self, rows: Sequence[Mapping[str, float]]) -> list[Decimal]:
        if not rows:
            return []
        matrix = np.array([feature_vector(row) for row in rows], dtype=np.float32)
        probabilities = self._run(matrix)
        if probabilities.shape != (len(rows), 2):
            raise ValueError(f"{self.name} {self.version}: output {self._output!r} has shape {probabilities.shape}, "
                             f"not ({len(rows)}, 2)")
        # float(p1) is the float32 exactly; 2p - 1 in double is the same on every host.
        return [quantize_score(2.0 * float(p1) - 1.0) for p1 in probabilities[:, 1]]

    def _run(self, matrix: np.ndarray) -> np.ndarray:
        while True:
            backend = self._backend
            try:
                return backend.run(matrix)
            except Exception as exc:  # a GPU error of any kind: out of memory, lost device, engine fault
                rest = chain_after(self._chain, backend.provider)
                if not rest:
                    raise
                self._fall_back(f"{backend.provider} failed to run: {exc}")
                self._use(self._open(rest))

    def _open(self, chain: Sequence[str]) -> _OrtBackend:
        opened = open_session(self._model, chain, self._threads)
        self.fallbacks += opened.fallbacks
        _check_contract(opened, self._input, self._output)
        return _OrtBackend(opened, self._input, self._output)

    def _native_engine(self, cache: Path | None) -> TensorRTEngine | None:
        reason = unavailable_reason()
        if reason is not None:
            self.not_available += (f"{NATIVE_TENSORRT}: {reason}",)
            return None
        try:
            return TensorRTEngine(self._model, self.sha256, self._input, self._output, cache or default_engine_cache())
        except Exception as exc:  # noqa: BLE001 -- an engine build or load error must not stop scoring
            self._fall_back(f"{NATIVE_TENSORRT} could not be built or loaded: {exc}")
            return None

    def _fall_back(self, reason: str) -> None:
        log.warning("scoring falls back: %s", reason)
        self.fallbacks += (reason,)


def _check_contract(opened: OpenedSession, input_name: str, output_name: str) -> None:
    """``ValueError`` unless the model takes ``input_name`` [N, len(FEATURE_NAMES)] and gives ``output_name``."""
    inputs = {i.name: i.shape for i in opened.session.get_inputs()}
    outputs = [o.name for o in opened.session.get_outputs()]
    width = inputs.get(input_name, [None, None])[-1]
    if width != len(FEATURE_NAMES) or output_name not in outputs:
        raise ValueError(f"the model takes {inputs} and gives {outputs}; a scorer needs {input_name!r} "
                         f"[N, {len(FEATURE_NAMES)}] in and {output_name!r} [N, 2] out")

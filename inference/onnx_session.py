"""An ONNX Runtime session over the ordered provider chain TensorRT -> CUDA -> CPU.

ONNX Runtime silently drops an execution provider it cannot load (no driver,
no library, no device) and runs on the next one, so the provider in use is read
back from ``session.get_providers()``, never taken from the list requested. A
provider that fails to create a session at all is dropped here the same way,
with the reason kept. Either is a fallback: the session works, but not where it
was asked to, and ``OpenedSession.healthy`` says so.

Thread counts are fixed (1 by default): a session's arithmetic must not depend
on how many cores the host happens to have (docs/design.md, "Determinism").
``onnxruntime`` is imported here only, at call time: the pure packages stay
importable without it, and a GPU host may have ``onnxruntime-gpu`` under the
same module name instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
CHAIN: tuple[str, ...] = (TENSORRT, CUDA, CPU)

log = logging.getLogger(__name__)


class SessionUnavailable(RuntimeError):
    """No provider of the chain could open the model."""


@dataclass(frozen=True, slots=True)
class SessionThreads:
    """ONNX Runtime's thread pools, fixed so that a score never depends on the host's core count."""

    intra_op: int = 1
    inter_op: int = 1

    def __post_init__(self) -> None:
        if self.intra_op < 1 or self.inter_op < 1:
            raise ValueError(f"thread counts must be at least 1, not {self}")


ONE_THREAD = SessionThreads()


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session, the provider it really runs on, and why any preferred provider is not that one."""

    session: Any  # onnxruntime.InferenceSession
    provider: str  # session.get_providers()[0]
    requested: tuple[str, ...]
    fallbacks: tuple[str, ...]  # one reason per provider skipped, in chain order

    @property
    def healthy(self) -> bool:
        """True when the session runs on the first provider requested."""
        return not self.fallbacks


def available_providers() -> tuple[str, ...]:
    """What this host's ONNX Runtime build offers (``onnxruntime.get_available_providers()``)."""
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def provider_chain(available: Sequence[str], preferred: Sequence[str] = CHAIN) -> tuple[str, ...]:
    """The providers of ``preferred`` that ``available`` offers, in ``preferred``'s order.

    ``ValueError`` when none is left: an ONNX Runtime without the CPU provider
    is not a build this project can run on.
    """
    chain = tuple(p for p in preferred if p in available)
    if not chain:
        raise ValueError(f"none of the providers {list(preferred)} is available (this host offers {list(available)})")
    return chain


def open_session(model: bytes, providers: Sequence[str], threads: SessionThreads = ONE_THREAD) -> OpenedSession:
    """A session on the first of ``providers`` that loads, falling down the list on failure.

    Each attempt requests the rest of the chain from that provider on, so ONNX
    Runtime may itself drop a provider it cannot load; that drop is found from
    ``get_providers()`` and recorded like a failed attempt. Raises
    ``SessionUnavailable`` only when no provider at all can open the model (a
    corrupt model fails on CPU too, and must stop there rather than score nothing).
    """
    import onnxruntime

    requested = tuple(providers)
    if not requested:
        raise ValueError("no provider requested")
    fallbacks: list[str] = []
    failure: Exception | None = None
    for index in range(len(requested)):
        attempt = list(requested[index:])
        try:
            session = onnxruntime.InferenceSession(model, sess_options=_options(threads), providers=attempt)
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own pybind exception types, not a common base
            fallbacks.append(f"{attempt[0]} could not open the model: {exc}")
            log.warning("scoring falls back from %s: %s", attempt[0], exc)
            failure = exc
            continue
        in_use = session.get_providers()[0]
        dropped = attempt[: attempt.index(in_use)] if in_use in attempt else attempt
        for provider in dropped:
            fallbacks.append(f"{provider} requested but not loaded by ONNX Runtime (running on {in_use})")
            log.warning("scoring falls back from %s to %s: ONNX Runtime did not load it", provider, in_use)
        return OpenedSession(session, in_use, requested, tuple(fallbacks))
    raise SessionUnavailable(f"no provider of {list(requested)} could open the model: {fallbacks}") from failure


def _options(threads: SessionThreads) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads.intra_op
    options.inter_op_num_threads = threads.inter_op
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: scoring is one row per signal, the cores are shared.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options

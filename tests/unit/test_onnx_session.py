"""The provider chain TensorRT -> CUDA -> CPU: selection under each availability, and fallback on real failures."""

from __future__ import annotations

import logging

import pytest

from inference.onnx_session import (
    CHAIN,
    CPU,
    CUDA,
    TENSORRT,
    SessionThreads,
    SessionUnavailable,
    available_providers,
    open_session,
    provider_chain,
)
from tests.onnx_models import mlp_model

AZURE = "AzureExecutionProvider"  # offered by the CPU wheel, never part of the chain


@pytest.mark.parametrize(
    ("available", "chain"),
    [
        ((TENSORRT, CUDA, CPU), (TENSORRT, CUDA, CPU)),
        ((CPU, CUDA, TENSORRT), (TENSORRT, CUDA, CPU)),  # the chain's order, not the host's
        ((CUDA, CPU), (CUDA, CPU)),
        ((TENSORRT, CPU), (TENSORRT, CPU)),
        ((AZURE, CPU), (CPU,)),
        ((CPU,), (CPU,)),
    ],
)
def test_the_chain_takes_what_the_host_offers_in_chain_order(available: tuple[str, ...], chain: tuple[str, ...]) -> None:
    assert provider_chain(available) == chain


def test_a_host_without_any_chain_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="none of the providers"):
        provider_chain((AZURE,))


def test_this_host_runs_on_what_its_onnx_runtime_build_offers() -> None:
    offered = available_providers()
    assert CPU in offered
    assert provider_chain(offered)[-1] == CPU
    assert set(provider_chain(offered)) <= set(CHAIN)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return mlp_model(tmp_path_factory.mktemp("models")).path.read_bytes()


def test_a_session_on_the_cpu_chain_is_healthy_and_reads_its_provider_back(model: bytes) -> None:
    opened = open_session(model, (CPU,))
    assert (opened.provider, opened.healthy, opened.fallbacks) == (CPU, True, ())
    assert opened.session.get_providers()[0] == CPU
    assert opened.session.get_session_options().intra_op_num_threads == 1


@pytest.mark.parametrize("missing", [TENSORRT, CUDA])
def test_a_listed_provider_onnx_runtime_cannot_load_falls_back_to_cpu_with_a_reason(
    model: bytes, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    if missing in available_providers():
        pytest.skip(f"{missing} loads on this host: the fallback needs a host without it")
    # ONNX Runtime only warns, and runs on what it could load.
    with caplog.at_level(logging.WARNING, logger="inference.onnx_session"), pytest.warns(UserWarning, match=missing):
        opened = open_session(model, (missing, CPU))
    # Requested first, yet ONNX Runtime runs on CPU: the provider comes from the session, not the request.
    assert opened.provider == CPU and opened.requested == (missing, CPU)
    assert not opened.healthy
    assert opened.fallbacks == (f"{missing} requested but not loaded by ONNX Runtime (running on {CPU})",)
    assert any(missing in r.getMessage() for r in caplog.records)


@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")
def test_a_model_no_provider_can_open_is_an_error_naming_every_attempt() -> None:
    with pytest.raises(SessionUnavailable, match="no provider of") as raised:
        open_session(b"not an onnx model", (CUDA, CPU))
    assert CUDA in str(raised.value) and CPU in str(raised.value)


def test_thread_counts_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SessionThreads(intra_op=0)

"""The native TensorRT path: an engine built from the ONNX file, cached per GPU model and TensorRT version.

A serialized TensorRT engine is only valid for the GPU model and TensorRT
version that built it, so the cache key names both (and the model's SHA-256
and the batch range). Building takes seconds to minutes; loading a cached
engine takes milliseconds.

Needs ``tensorrt`` and ``cuda-python`` (the ``gpu`` extra), imported here at
call time only. ``unavailable_reason()`` says why this path cannot run on this
host (package missing, no CUDA device) so the scorer selects it out with that
reason. Tree ensembles (ONNX-ML operators) are not TensorRT layers: their
engine build fails, and the scorer falls back to ONNX Runtime with that reason.

No GPU runs on the project's own machines: this path is exercised by the tests
marked ``gpu`` on a GPU host only.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

NATIVE_TENSORRT = "TensorRT (native engine)"
MAX_BATCH = 256  # the engine's largest batch; larger batches run in slices of this size
_OPTIMAL_BATCH = 1  # the kernel scores one signal at a time

log = logging.getLogger(__name__)


class EngineError(RuntimeError):
    """The engine could not be built, loaded or run."""


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime  # cuda-python 12.6 and later
    except ImportError:
        from cuda import cudart as runtime  # earlier cuda-python
    return runtime


def unavailable_reason() -> str | None:
    """Why the native TensorRT path cannot run here, or None when it can."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return f"tensorrt is not installed (the gpu extra): {exc}"
    try:
        cudart = _cudart()
    except ImportError as exc:
        return f"cuda-python is not installed (the gpu extra): {exc}"
    error, count = cudart.cudaGetDeviceCount()
    if error != cudart.cudaError_t.cudaSuccess or count == 0:
        return f"no CUDA device ({error})"
    return None


def gpu_model() -> str:
    """Device 0's name, e.g. "NVIDIA L4"."""
    cudart = _cudart()
    props = _check(cudart, cudart.cudaGetDeviceProperties(0))
    name = props.name
    return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00").strip()


def engine_path(cache_dir: Path, sha256: str, gpu: str, tensorrt_version: str) -> Path:
    """Where the engine of this model for this GPU model and TensorRT version is cached."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", gpu).strip("-")
    return cache_dir / f"{sha256[:16]}-{slug}-trt{tensorrt_version}-b{MAX_BATCH}.engine"


class TensorRTEngine:
    """One model's engine on device 0; ``run`` maps a float32 [N, n] matrix to the output [N, k]."""

    provider = NATIVE_TENSORRT

    def __init__(self, model: bytes, sha256: str, input_name: str, output_name: str, cache_dir: Path) -> None:
        import tensorrt as trt

        self._trt = trt
        self._cudart = _cudart()
        self._input, self._output = input_name, output_name
        self._logger = trt.Logger(trt.Logger.WARNING)
        path = engine_path(cache_dir, sha256, gpu_model(), trt.__version__)
        if path.exists():
            serialized = path.read_bytes()
        else:
            serialized = self._build(model)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(serialized)
            log.info("TensorRT engine built and cached at %s", path)
        self._engine = trt.Runtime(self._logger).deserialize_cuda_engine(serialized)
        if self._engine is None:
            raise EngineError(f"TensorRT could not load the engine {path}; delete it to rebuild")
        names = {self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)}
        if names != {input_name, output_name}:
            raise EngineError(f"the engine's tensors are {sorted(names)}, not just {input_name!r} and {output_name!r}")
        self._context = self._engine.create_execution_context()
        self._stream = _check(self._cudart, self._cudart.cudaStreamCreate())

    def _build(self, model: bytes) -> bytes:
        trt = self._trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch, the only mode of TensorRT 10
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(model):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineError(f"TensorRT cannot parse the model: {errors}")
        features = network.get_input(0).shape[1]
        config = builder.create_builder_config()
        profile = builder.create_optimization_profile()
        profile.set_shape(self._input, (1, features), (_OPTIMAL_BATCH, features), (MAX_BATCH, features))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise EngineError("TensorRT could not build an engine from the model")
        return bytes(serialized)

    def run(self, matrix: np.ndarray) -> np.ndarray:
        slices = [self._run_slice(matrix[i : i + MAX_BATCH]) for i in range(0, len(matrix), MAX_BATCH)]
        return np.concatenate(slices) if slices else np.empty((0, 2), np.float32)

    def _run_slice(self, rows: np.ndarray) -> np.ndarray:
        cudart, context = self._cudart, self._context
        host_in = np.ascontiguousarray(rows, dtype=np.float32)
        context.set_input_shape(self._input, host_in.shape)
        host_out = np.empty(tuple(context.get_tensor_shape(self._output)), np.float32)
        device_in = _check(cudart, cudart.cudaMalloc(host_in.nbytes))
        device_out = _check(cudart, cudart.cudaMalloc(host_out.nbytes))
        try:
            to_device, to_host = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            _check(cudart, cudart.cudaMemcpyAsync(device_in, host_in.ctypes.data, host_in.nbytes, to_device, self._stream))
            context.set_tensor_address(self._input, int(device_in))
            context.set_tensor_address(self._output, int(device_out))
            if not context.execute_async_v3(self._stream):
                raise EngineError("TensorRT could not run the engine")
            _check(cudart, cudart.cudaMemcpyAsync(host_out.ctypes.data, device_out, host_out.nbytes, to_host, self._stream))
            _check(cudart, cudart.cudaStreamSynchronize(self._stream))
        finally:
            cudart.cudaFree(device_in)
            cudart.cudaFree(device_out)
        return host_out


def _check(cudart: Any, result: Any) -> Any:
    """The value of a cuda-python call's (error, value...) result; ``EngineError`` when error is set."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if error != cudart.cudaError_t.cudaSuccess:
        raise EngineError(f"CUDA call failed: {error}")
    return values[0] if len(values) == 1 else None

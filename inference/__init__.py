"""Model scoring for AITrader: turns a signal's features into a quantized score.

``scorer`` defines the interface every model implements (and the order of the
features models receive); ``baseline`` is the deterministic reference scorer;
``onnx_scorer`` runs an ONNX model on the native TensorRT engine
(``tensorrt_engine``) or an ONNX Runtime session (``onnx_session``) over the
providers TensorRT -> CUDA -> CPU, whichever works first.
A scorer's output is quantized to 1e-6 before any decision looks at it, so
hardware or library differences below that resolution cannot change a decision,
and its name, version and SHA-256 are recorded in the run manifest.
"""

"""The exported model honours the registry's I/O contract and its bytes do not depend on the process (training/fit.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from inference.scorer import FEATURE_NAMES

pytest.importorskip("skl2onnx", reason="training needs the `train` extra")

from training import evaluate  # noqa: E402
from training.fit import INPUT_NAME, OUTPUT_NAME, MissingTrainingExtra, feature_matrix, fit_onnx  # noqa: E402

_FIT = (
    "import hashlib, numpy as np\n"
    "from training.fit import fit_onnx\n"
    "rng = np.random.default_rng(5)\n"
    "x = rng.normal(size=(300, 5)).astype(np.float32)\n"
    "y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)\n"
    "print(hashlib.sha256(fit_onnx(x, y)).hexdigest())\n"
)


def _data() -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, len(FEATURE_NAMES))).astype(np.float32)
    return x, (x[:, 0] + rng.normal(size=300) > 0).astype(int).tolist()


def test_the_model_takes_features_and_gives_two_probabilities() -> None:
    x, y = _data()
    model = fit_onnx(x, y)
    session = evaluate.cpu_session(model)
    assert [(i.name, i.shape[1], i.type) for i in session.get_inputs()] == [(INPUT_NAME, len(FEATURE_NAMES), "tensor(float)")]
    (probabilities,) = session.run([OUTPUT_NAME], {INPUT_NAME: feature_matrix(x[:7].tolist())})
    assert probabilities.dtype == np.float32 and probabilities.shape == (7, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    # The feature that drives the label moves P(up) the right way.
    low, high = x[:1].copy(), x[:1].copy()
    low[0, 0], high[0, 0] = -2.0, 2.0
    up_high, up_low = evaluate.up_probabilities(model, [high[0], low[0]]).tolist()
    assert up_high > up_low


def test_the_same_fit_gives_the_same_bytes_in_any_process() -> None:
    # String hashing is randomized per process; the ONNX bytes must not follow it.
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _FIT], env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    x, y = _data()
    assert digests == {hashlib.sha256(fit_onnx(x, y)).hexdigest()}


def test_without_the_train_extra_training_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # what Python does for a package that is not installed
    x, y = _data()
    with pytest.raises(MissingTrainingExtra, match=r"\.\[train\]"):
        fit_onnx(x, y)

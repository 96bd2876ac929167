"""The networks as ONNX-exportable modules, with inputs for checks and calibration.

Our torch rebuilds are exported, not the original ONNX files: they run at any
size (the shipped arbitrary-style graph is fixed at 384 px) and they are what
the engine computes. Two changes make them exportable without changing the
arithmetic: the conditional instance norm becomes ONNX InstanceNormalization
(torch's ``native_group_norm`` has no ONNX form), and the wrappers pad to a
multiple of 4 and crop back inside the graph, so any height and width work.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.arrays import fit_size, resize_array, to_float_rgb
from ..fast.layers import NORM_EPSILON, SIZE_MULTIPLE, NormContext, StyleConv
from ..samples import content_names, load_sample, style_names

MODELS = ("presets", "arbitrary", "subject")
PRESET_COUNT = 26


@dataclass
class Graph:
    """One ONNX graph to write.

    Attributes
    ----------
    name : str
        File stem, e.g. "presets" → presets.onnx.
    module : torch.nn.Module
        What is exported (norms swapped for ONNX's).
    reference : torch.nn.Module
        The engine's own module, for the numerical check.
    inputs, outputs : tuple of str
        Graph input and output names.
    dynamic_axes : dict
        Which axes may change size (height and width of images).
    examples : callable
        ``examples()`` → input tuples (numpy) at several sizes, for the check.
    calibration : callable
        ``calibration()`` → input tuples from the bundled images, for INT8.
    kind : str
        "image" (a picture in [0, 1]), "vector" (a style vector) or "mask"
        (a subject probability): how accuracy is judged.
    """

    name: str
    module: nn.Module
    reference: nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic_axes: dict
    examples: Callable[[], list[tuple[np.ndarray, ...]]]
    calibration: Callable[[], list[tuple[np.ndarray, ...]]]
    kind: str = "image"


class OnnxInstanceNorm(nn.Module):
    """The conditional instance norm as ``F.instance_norm`` (ONNX InstanceNormalization)."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor, context: NormContext) -> torch.Tensor:
        gamma, beta = context.params[self.index]
        return F.instance_norm(x, weight=gamma, bias=beta, eps=NORM_EPSILON)


def with_onnx_norms(network: nn.Module) -> nn.Module:
    """A copy of a style network whose conditional norms export to ONNX."""
    network = copy.deepcopy(network)
    for layer in network.modules():
        if isinstance(layer, StyleConv) and layer.norm is not None:
            layer.norm = OnnxInstanceNorm(layer.norm.index)
    return network


def _padded(image: torch.Tensor) -> torch.Tensor:
    height, width = image.shape[-2:]
    pad_y = (SIZE_MULTIPLE - height % SIZE_MULTIPLE) % SIZE_MULTIPLE
    pad_x = (SIZE_MULTIPLE - width % SIZE_MULTIPLE) % SIZE_MULTIPLE
    return F.pad(image, (0, pad_x, 0, pad_y), mode="reflect")


class PresetGraph(nn.Module):
    """image (1×3×H×W in [0, 1]), weights (1×26, a preset blend) → stylised image."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        return self.network(_padded(image), weights[0])[..., :height, :width]


class ArbitraryGraph(nn.Module):
    """image (1×3×H×W in [0, 1]), style (1×100 style vector) → stylised image."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        return self.network(_padded(image), style)[..., :height, :width]


class SubjectGraph(nn.Module):
    """rgb (1×3×H×W in [0, 1]) → subject probability (1×1×H/2×W/2)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.network(rgb))


def graphs(model: str) -> list[Graph]:
    """The graphs of one model: "presets", "arbitrary" (two graphs) or "subject"."""
    return {"presets": _preset_graphs, "arbitrary": _arbitrary_graphs, "subject": _subject_graphs}[
        model
    ]()


# ------------------------------------------------------------------ inputs from the samples


@cache
def _photo(name: str, size: int) -> np.ndarray:
    rgb = to_float_rgb(load_sample(name))[0]
    return resize_array(rgb, fit_size(*rgb.shape[:2], size))


def image_input(name: str, size: int | tuple[int, int]) -> np.ndarray:
    """A bundled image as 1×3×H×W float32: longer side ``size``, or exactly (H, W)."""
    if isinstance(size, tuple):
        rgb = resize_array(_photo(name, max(size) * 2), size)
    else:
        rgb = _photo(name, size)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)


def one_hot(index: int) -> np.ndarray:
    """Preset weights selecting one preset."""
    weights = np.zeros((1, PRESET_COUNT), np.float32)
    weights[0, index] = 1.0
    return weights


def _preset_blend() -> np.ndarray:
    weights = np.zeros((1, PRESET_COUNT), np.float32)
    weights[0, [3, 12]] = 0.5
    return weights


def _calibration_photos() -> list[np.ndarray]:
    """Bundled photos and paintings at 256 px (and mirrored): the INT8 calibration set."""
    images = [image_input(name, 256) for name in (*content_names(), *style_names())]
    return images + [np.ascontiguousarray(image[..., ::-1]) for image in images]


# ------------------------------------------------------------------ the three models


def _preset_graphs() -> list[Graph]:
    from ..fast.multistyle import load_multistyle

    network = load_multistyle()
    return [
        Graph(
            name="presets",
            module=PresetGraph(with_onnx_norms(network)).eval(),
            reference=PresetGraph(network).eval(),
            inputs=("image", "weights"),
            outputs=("stylized",),
            dynamic_axes={
                "image": {2: "height", 3: "width"},
                "stylized": {2: "height", 3: "width"},
            },
            examples=lambda: [
                (image_input("astronaut", (96, 128)), one_hot(7)),
                (image_input("chelsea", (70, 93)), _preset_blend()),
            ],
            calibration=lambda: [
                (photo, one_hot(i % PRESET_COUNT))
                for i, photo in enumerate(_calibration_photos() * 2, start=3)
            ],
        )
    ]


def style_vectors() -> list[np.ndarray]:
    """The 1×100 style vectors of the bundled paintings (torch predictor)."""
    from ..fast.arbitrary import load_predictor

    predictor = load_predictor()
    with torch.inference_mode():
        return [
            predictor(torch.from_numpy(image_input(name, (256, 256)))).numpy()
            for name in style_names()
        ]


def _arbitrary_graphs() -> list[Graph]:
    from ..fast.arbitrary import STYLE_IMAGE_SIZE, load_arbitrary, load_predictor

    predictor, transformer = load_predictor(), load_arbitrary()
    square = (STYLE_IMAGE_SIZE, STYLE_IMAGE_SIZE)
    vectors = cache(style_vectors)
    return [
        Graph(
            name="arbitrary_predict",
            module=predictor,
            reference=predictor,
            inputs=("style_image",),
            outputs=("style",),
            dynamic_axes={},  # the predictor is defined on 256×256 style images
            examples=lambda: [(image_input(name, square),) for name in style_names()[:2]],
            calibration=lambda: [
                (image_input(name, square),) for name in (*style_names(), *content_names())
            ],
            kind="vector",
        ),
        Graph(
            name="arbitrary_transform",
            module=ArbitraryGraph(with_onnx_norms(transformer)).eval(),
            reference=ArbitraryGraph(transformer).eval(),
            inputs=("image", "style"),
            outputs=("stylized",),
            dynamic_axes={
                "image": {2: "height", 3: "width"},
                "stylized": {2: "height", 3: "width"},
            },
            examples=lambda: [
                (image_input("astronaut", (96, 128)), vectors()[0]),
                (image_input("chelsea", (70, 93)), vectors()[1]),
            ],
            calibration=lambda: [
                (photo, vectors()[i % len(vectors())])
                for i, photo in enumerate(_calibration_photos())
            ],
        ),
    ]


def _subject_graphs() -> list[Graph]:
    from ..segmentation.model import build_model, load_checkpoint

    network = SubjectGraph(build_model(load_checkpoint())).eval()
    return [
        Graph(
            name="subject_unet",
            module=network,
            reference=network,
            inputs=("rgb",),
            outputs=("probability",),
            dynamic_axes={"rgb": {2: "height", 3: "width"}, "probability": {2: "h2", 3: "w2"}},
            examples=lambda: [
                (image_input("astronaut", (256, 256)),),
                (image_input("chelsea", (192, 288)),),
            ],
            calibration=lambda: [(photo,) for photo in _calibration_photos()],
            kind="mask",
        )
    ]

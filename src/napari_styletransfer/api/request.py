"""One request object for every front end: what to do, validated once.

The Python API, the CLI, the napari widgets, and the video, batch and HTTP
front ends all build a :class:`StylizeRequest` and hand it, with the content,
to the facade (:mod:`napari_styletransfer.api.facade`). Nothing else checks
the arguments of a style transfer.

A request holds no content: the same request serves every image of a batch,
every frame of a video. Checks that need the content (the mask's shape, an
init image's shape) and the device's presence happen when the facade prepares
a run, before any heavy work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.blend import blend_weights
from ..core.checks import check_choice, check_flag, check_number
from ..core.color import check_color_method
from ..core.limits import MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE, MIN_TILE, STRENGTH_RANGE
from ..core.masks import REGIONS
from ..devices import check_device_name
from ..errors import StyleTransferError
from ..quality.settings import QualitySettings
from .styles import ResolvedStyle, describe_array, resolve_styles

METHODS = ("quality", "fast")
INITS = ("content", "noise", "fast")
MAX_FEATHER = 512

# the arguments of stylize() besides content and style, in the order of its signature
MAIN_OPTIONS = (
    "mask",
    "region",
    "method",
    "max_size",
    "steps",
    "style_strength",
    "preserve_color",
    "device",
    "seed",
)
# advanced arguments that belong to the facade rather than to one engine
FACADE_OPTIONS = ("style_weights", "init", "feather", "color_method", "tile_size")


@dataclass(frozen=True, eq=False)
class StylizeRequest:
    """Everything a style transfer needs except the content; validated when made.

    Make one with :meth:`create` (which resolves styles and splits the
    advanced settings), or :meth:`from_params`. Every field is checked by the
    constructor, so ``dataclasses.replace(request, seed=3)`` is checked too.

    Attributes
    ----------
    styles : tuple of ResolvedStyle
        The style images or presets, resolved.
    style_weights : tuple of float
        Normalised blend weights, one per style.
    mask : None, "auto" or numpy.ndarray
        H×W (nonzero = mask) or "auto" (the subject found by the bundled UNet).
    region, method, max_size, steps, style_strength, preserve_color, device, seed
        As in :func:`napari_styletransfer.stylize`.
    init : {"content", "noise", "fast"} or numpy.ndarray
        Where quality mode starts; an array is in the content's format.
    feather : int
        Pixels over which a mask's edge is softened, at full resolution.
    color_method : {"luminance", "histogram"}
        How ``preserve_color`` works.
    tile_size : int or None
        Fast mode: tile size for large images (automatic when None).
    quality : QualitySettings
        Quality mode's advanced settings.
    """

    styles: tuple[ResolvedStyle, ...]
    style_weights: tuple[float, ...] | None = None
    mask: Any = None
    region: str = "inside"
    method: str = "quality"
    max_size: int = 512
    steps: int | None = None
    style_strength: float = 1.0
    preserve_color: bool = False
    device: str = "auto"
    seed: int = 0
    init: Any = "content"
    feather: int = 4
    color_method: str = "luminance"
    tile_size: int | None = None
    quality: QualitySettings = field(default_factory=QualitySettings)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if not self.styles or not all(isinstance(s, ResolvedStyle) for s in self.styles):
            raise StyleTransferError("No style was given: pass an image, a bundled name or a file.")
        put("styles", tuple(self.styles))
        put("style_weights", blend_weights(self.style_weights, len(self.styles)))
        check_choice("method", self.method, METHODS)
        _check_styles_for_method(self.styles, self.method)
        put("mask", _check_mask(self.mask))
        check_choice("region", self.region, REGIONS)
        put("max_size", check_number("max_size", self.max_size, MIN_SIDE, MAX_SIDE, integer=True))
        if self.steps is not None:
            put("steps", check_number("steps", self.steps, 1, MAX_STEPS, integer=True))
        low, high = STRENGTH_RANGE[self.method]
        put("style_strength", check_number("style_strength", self.style_strength, low, high))
        put("preserve_color", check_flag("preserve_color", self.preserve_color))
        put("device", check_device_name(self.device))
        put("seed", check_number("seed", self.seed, 0, MAX_SEED, integer=True))
        put("init", _check_init(self.init, self))
        put("feather", check_number("feather", self.feather, 0, MAX_FEATHER, integer=True))
        check_color_method(self.color_method)
        if self.tile_size is not None:
            put(
                "tile_size",
                check_number("tile_size", self.tile_size, MIN_TILE, MAX_SIDE, integer=True),
            )
        if not isinstance(self.quality, QualitySettings):
            raise StyleTransferError("quality must be a QualitySettings.")

    @classmethod
    def create(cls, style: object, **options: object) -> StylizeRequest:
        """Resolve ``style`` and check every option; the arguments of ``stylize`` but content.

        Parameters
        ----------
        style : array, str, path, or a list of those
            See :func:`napari_styletransfer.stylize`.
        **options
            Any argument of ``stylize`` after ``style``, advanced settings included.

        Raises
        ------
        StyleTransferError
            For an unknown option or any invalid value.
        """
        quality_names = QualitySettings.names()
        known = (*MAIN_OPTIONS, *FACADE_OPTIONS, *quality_names)
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise StyleTransferError(
                f"Unknown option(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        quality = {k: v for k, v in options.items() if k in quality_names}
        own = {k: v for k, v in options.items() if k not in quality_names}
        return cls(resolve_styles(style), quality=QualitySettings(**quality), **own)

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> StylizeRequest:
        """The inverse of :meth:`params` (styles by name, file or preset spec).

        Raises
        ------
        StyleTransferError
            For anything :meth:`create` refuses, or params that are not a mapping.
        """
        if not isinstance(params, Mapping):
            raise StyleTransferError(f"Parameters must be a JSON object, not {params!r}.")
        options = dict(params)
        if "style" not in options:
            raise StyleTransferError("The parameters name no style.")
        style = options.pop("style")
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_weights"):
            if isinstance(options.get(name), list):
                options[name] = tuple(options[name])
        return cls.create(style, **options)

    @property
    def style_names(self) -> tuple[str, ...]:
        """How each style is named in records (bundled name, file, preset spec, array checksum)."""
        return tuple(s.name for s in self.styles)

    @property
    def uses_presets(self) -> bool:
        """True when the styles are fast-mode presets rather than images."""
        return self.styles[0].is_preset

    @property
    def uses_learned(self) -> bool:
        """True when the style is a learned style (``learned:NAME``)."""
        return self.styles[0].is_learned

    def params(self) -> dict[str, object]:
        """Every parameter as JSON-able values, e.g. for a manifest or an HTTP job.

        Arrays (style images, masks, init images) appear as descriptions with a
        checksum: equal parameters mean an equal request.
        """
        values: dict[str, object] = {"style": list(self.style_names)}
        if len(self.styles) > 1:
            values["style_weights"] = list(self.style_weights)
        for name in (*MAIN_OPTIONS, *FACADE_OPTIONS):
            if name in values or name == "style_weights":
                continue
            values[name] = _jsonable(getattr(self, name))
        for name, value in dataclasses.asdict(self.quality).items():
            values[name] = _jsonable(value)
        return values


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return describe_array(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _check_styles_for_method(styles: tuple[ResolvedStyle, ...], method: str) -> None:
    presets = [s.is_preset for s in styles]
    if any(s.is_learned for s in styles):
        if method != "fast":
            raise StyleTransferError(
                "Learned styles ('learned:NAME') are fast-mode networks: use method='fast', "
                "or give a painting."
            )
        if len(styles) > 1:
            raise StyleTransferError(
                "A learned style cannot be blended with other styles: give it on its own."
            )
    if any(presets) and method != "fast":
        raise StyleTransferError(
            "Presets ('preset:N') are fast-mode networks: use method='fast', or give a painting."
        )
    if any(presets) and not all(presets):
        raise StyleTransferError(
            "Fast mode takes presets ('preset:7', 'preset:3:0.5,12:0.5') or style images, not both."
        )


def _check_mask(mask: object) -> str | np.ndarray | None:
    if mask is None:
        return None
    if isinstance(mask, str):
        if mask != "auto":
            raise StyleTransferError(f"Unknown mask {mask!r}: pass an array or 'auto'.")
        return mask
    array = np.asarray(mask)
    if array.dtype != bool and array.dtype.kind not in "uif":
        raise StyleTransferError(f"The mask must hold numbers or booleans, not {array.dtype}.")
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., :3].max(axis=2) if array.shape[2] > 1 else array[..., 0]
    if array.ndim != 2:
        raise StyleTransferError(f"The mask must be an H×W array, not shape {array.shape}.")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise StyleTransferError("The mask contains NaN values.")
    return array


def _check_init(init: object, request: StylizeRequest) -> str | np.ndarray:
    if isinstance(init, str):
        check_choice("init", init, INITS)
        if init == "fast" and not request.styles[0].is_image:
            raise StyleTransferError("init='fast' needs style images, not presets.")
        return init
    array = np.asarray(init)
    if array.dtype == bool or array.dtype.kind not in "uif" or array.ndim not in (2, 3):
        raise StyleTransferError(
            "init must be 'content', 'noise', 'fast' or an image array in the content's format."
        )
    return array

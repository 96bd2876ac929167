"""Fast mode: one forward pass of a feed-forward style network, tiled for large images.

Styles are either one of the 26 presets (Dumoulin et al.), a blend of presets,
or style images (Ghiasi et al.'s arbitrary network), several of which are
blended by mixing their style vectors.

``strength`` means:

- with style images, interpolation between the content's own style vector
  (strength 0 gives back roughly the photo, as the network would paint it in
  its own style) and the painting's (1); values above 1 extrapolate. This is
  Ghiasi et al.'s own way to weaken a style and looks better than a fade.
- with presets, a blend of the stylised picture with the content in pixel
  space, ``content + strength × (stylised − content)``, clipped to [0, 1].
  The 26-style network has no "no style" setting to interpolate towards
  (the identity normalisation parameters were never trained and give grey
  mush), so a pixel blend is the honest choice.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import devices
from ..core.blend import blend_weights
from ..core.limits import MIN_SIDE, MIN_TILE, STRENGTH_RANGE
from ..core.progress import Progress
from ..devices import describe_device
from ..errors import StyleTransferError
from . import cache
from .arbitrary import STYLE_IMAGE_SIZE
from .cache import array_key
from .layers import NormContext, StyleTransformerNet
from .learned import LearnedStyle, is_learned, resolve_learned
from .memory import reuse_freed_memory
from .multistyle import PRESET_COUNT
from .networks import get_learned_transformer, get_network
from .presets import describe_preset, is_preset, parse_preset
from .streaming import count_steps, iter_tiled_stylize
from .tiling import round_up

# larger images are tiled (keeps memory bounded: ~0.5 GB of activations per tile)
MAX_UNTILED_PIXELS = 2048 * 2048
DEFAULT_TILE_SIZE = 1024


@dataclass
class _NetworkRun:
    """What to run: the transformer, its style parameters, and how to apply strength."""

    net: StyleTransformerNet
    params: list
    pixel_strength: float
    label: str
    # identifies the network output for presets (strength is applied afterwards); None
    # for style images, whose strength changes the network's input
    output_key: tuple | None = None


def iter_fast_stylize(
    content: np.ndarray,
    style,
    *,
    style_weights: Sequence[float] | None = None,
    strength: float = 1.0,
    device: torch.device,
    tile_size: int | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """Stylise ``content`` with a feed-forward network, reporting progress per tile.

    Parameters
    ----------
    content : numpy.ndarray
        H×W×3 float32 RGB in [0, 1], at the size to stylise.
    style : str, dict, numpy.ndarray, LearnedStyle or list
        A preset spec (``"preset:7"``, ``"preset:3:0.5,12:0.5"``), a learned
        style (``"learned:NAME"``, a path to its file, or the loaded
        :class:`~.learned.LearnedStyle`), a dict of preset weights, an H×W×3 float32 style image in [0, 1], or a list of
        style images or of preset specs (not mixed).
    style_weights : sequence of float, optional
        Weights for a list of styles (equal when omitted).
    strength : float
        0 to 2; see the module docstring for what it means per style kind.
    device : torch.device
        Where the networks run.
    tile_size : int, optional
        Tile core size in pixels. By default images up to 2048×2048 pixels
        run in one piece and larger ones in 1024-pixel tiles.

    Yields
    ------
    Progress
        After the statistics pass (tiled runs only) and after every tile.

    Returns
    -------
    numpy.ndarray
        H×W×3 float32 in [0, 1].
    """
    start = time.perf_counter()
    content = _check_content(content)
    strength = _check_strength(strength)
    with reuse_freed_memory(device):
        result = yield from _stylize(
            content, style, style_weights, strength, device, tile_size, start
        )
    return result


def _stylize(content, style, style_weights, strength, device, tile_size, start):
    device_name = describe_device(device)
    plan = _choose_network(content, style, style_weights, strength, device)
    image = _to_padded_tensor(content, device)
    height, width = image.shape[-2:]
    size = _tile_size(tile_size, height, width)
    whole = size >= max(height, width)
    total = 1 if whole else count_steps(plan.net, height, width, size)

    def report(step: int, stage: str) -> Progress:
        return Progress(
            step=step,
            total=total,
            fraction=step / total,
            elapsed=time.perf_counter() - start,
            device=device_name,
            stage=stage,
        )

    key = None if plan.output_key is None else (*plan.output_key, array_key(content), size)
    output = cache.last_preset_output.get(key)
    if output is not None:  # same picture and preset blend, e.g. only the strength changed
        yield report(total, f"{plan.label} (network output reused)")
    elif whole:
        output = _run(plan, image, device)
        yield report(1, plan.label)
    else:
        steps = iter_tiled_stylize(plan.net, plan.params, image, size, device)
        output = yield from _reported(steps, report, plan.label)
    cache.last_preset_output.put(key, output)
    return _finish(output, image, content.shape[:2], plan.pixel_strength)


def _reported(steps: Generator[str, None, torch.Tensor], report, label: str):
    """Turn the tiled run's stage descriptions into progress reports; return its output."""
    step = 0
    while True:
        try:
            stage = next(steps)
        except StopIteration as stop:
            return stop.value
        step += 1
        yield report(step, f"{label}: {stage}")


def fast_stylize(content: np.ndarray, style, **kwargs) -> np.ndarray:
    """Run :func:`iter_fast_stylize` to the end and return its result."""
    runner = iter_fast_stylize(content, style, **kwargs)
    while True:
        try:
            next(runner)
        except StopIteration as stop:
            return stop.value


def _check_content(content: np.ndarray) -> np.ndarray:
    array = np.asarray(content)
    if array.ndim != 3 or array.shape[2] != 3:
        raise StyleTransferError(f"Fast mode needs an H×W×3 RGB image, got shape {array.shape}.")
    if min(array.shape[:2]) < MIN_SIDE:
        raise StyleTransferError(
            f"The image is too small for fast mode ({array.shape[1]}×{array.shape[0]}): "
            f"both sides need at least {MIN_SIDE} pixels."
        )
    return array.astype(np.float32, copy=False)


def _check_strength(strength: float) -> float:
    low, high = STRENGTH_RANGE["fast"]
    if not (np.isfinite(strength) and low <= strength <= high):
        raise StyleTransferError(
            f"In fast mode the style strength goes from {low:g} to {high:g}, not {strength!r}."
        )
    return float(strength)


def _tile_size(tile_size: int | None, height: int, width: int) -> int:
    if tile_size is None:
        return max(height, width) if height * width <= MAX_UNTILED_PIXELS else DEFAULT_TILE_SIZE
    if tile_size < MIN_TILE:
        raise StyleTransferError(
            f"The tile size must be at least {MIN_TILE} pixels, not {tile_size}."
        )
    return int(tile_size)


def _choose_network(content, style, style_weights, strength, device) -> _NetworkRun:
    single = style[0] if isinstance(style, list | tuple) and len(style) == 1 else style
    if is_learned(single):
        return _learned_plan(resolve_learned(single), strength, device)
    if isinstance(style, list | tuple) and any(is_learned(item) for item in style):
        raise StyleTransferError(
            "A learned style cannot be blended with other styles: give it on its own."
        )
    if is_preset(style) or isinstance(style, Mapping):
        weights = parse_preset(style) if isinstance(style, str) else _preset_mapping(style)
        return _preset_plan(weights, strength, device)
    images = list(style) if isinstance(style, list | tuple) else [style]
    if images and all(is_preset(item) for item in images):
        return _preset_plan(_blend_presets(images, style_weights), strength, device)
    if not images or not all(isinstance(item, np.ndarray) for item in images):
        raise StyleTransferError(
            "Fast mode takes presets ('preset:7', 'preset:3:0.5,12:0.5') or style images, not both."
        )
    return _image_plan(content, images, style_weights, strength, device)


def _blend_presets(specs: list[str], style_weights) -> dict[int, float]:
    """Several preset specs with one weight each, as one normalised blend."""
    blend: dict[int, float] = {}
    for spec, weight in zip(specs, blend_weights(style_weights, len(specs)), strict=True):
        for index, share in parse_preset(spec).items():
            blend[index] = blend.get(index, 0.0) + weight * share
    return _preset_mapping(blend)


def _preset_mapping(weights: Mapping) -> dict[int, float]:
    spec = "preset:" + ",".join(f"{int(i)}:{float(w)!r}" for i, w in weights.items())
    return parse_preset(spec)


@torch.inference_mode()
def _preset_plan(weights: dict[int, float], strength: float, device) -> _NetworkRun:
    network = get_network("multistyle", device)
    vector = torch.zeros(PRESET_COUNT, device=device)
    for index, weight in weights.items():
        vector[index] = weight
    return _NetworkRun(
        net=network.transformer,
        params=network.style_params(vector),
        pixel_strength=strength,
        label=describe_preset(weights),
        output_key=(
            tuple(sorted(weights.items())),
            str(device),
            devices.network_precision(device),
        ),
    )


@torch.inference_mode()
def _learned_plan(style: LearnedStyle, strength: float, device) -> _NetworkRun:
    """A learned style runs like a preset: its network with its stored norm parameters."""
    params = [
        (torch.from_numpy(gamma).to(device), torch.from_numpy(beta).to(device))
        for gamma, beta in style.params
    ]
    return _NetworkRun(
        net=get_learned_transformer(style, device),
        params=params,
        pixel_strength=strength,
        label=f"learned style {style.name}",
        output_key=("learned", style.digest(), str(device), devices.network_precision(device)),
    )


@torch.inference_mode()
def _image_plan(content, images, style_weights, strength, device) -> _NetworkRun:
    weights = blend_weights(style_weights, len(images))
    vectors = [style_vector(image, device) for image in images]
    vector = sum(w * v for w, v in zip(weights, vectors, strict=True))
    if strength != 1.0:
        own = style_vector(content, device)
        vector = own + strength * (vector - own)
    network = get_network("arbitrary", device)
    label = "style image" if len(images) == 1 else f"{len(images)} style images"
    return _NetworkRun(
        net=network.transformer,
        params=network.style_params(vector),
        pixel_strength=1.0,
        label=label,
    )


@torch.inference_mode()
def style_vector(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """The 1×100 Ghiasi style vector of an H×W×3 float image (centre square, 256 px).

    Parameters
    ----------
    image : numpy.ndarray
        H×W×3 float32 RGB in [0, 1].
    device : torch.device

    Returns
    -------
    torch.Tensor
        Remembered for the last few images (the widget re-runs with the same ones).
    """
    key = (array_key(image), str(device))
    vector = cache.style_vectors.get(key)
    if vector is None:
        vector = _predict_style(image, device)
        cache.style_vectors.put(key, vector)
    return vector


def _predict_style(image: np.ndarray, device: torch.device) -> torch.Tensor:
    # a copy: the image may be frozen (read-only), which torch.from_numpy warns about
    tensor = torch.from_numpy(np.array(image, dtype=np.float32)).to(device)
    height, width = tensor.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = tensor[top : top + side, left : left + side].permute(2, 0, 1)[None]
    square = F.interpolate(
        square,
        size=(STYLE_IMAGE_SIZE, STYLE_IMAGE_SIZE),
        mode="bilinear",
        antialias=side > STYLE_IMAGE_SIZE,
        align_corners=False,
    ).clamp(0.0, 1.0)
    return get_network("predictor", device)(square)


def _to_padded_tensor(content: np.ndarray, device: torch.device) -> torch.Tensor:
    """1×3×H'×W' channels-last tensor, reflect-padded to multiples of 4."""
    tensor = torch.from_numpy(np.ascontiguousarray(content)).to(device).permute(2, 0, 1)[None]
    height, width = tensor.shape[-2:]
    pad_y, pad_x = round_up(height) - height, round_up(width) - width
    if pad_y or pad_x:
        tensor = F.pad(tensor, (0, pad_x, 0, pad_y), mode="reflect")
    return tensor.contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def _run(plan: _NetworkRun, image: torch.Tensor, device) -> torch.Tensor:
    with devices.autocast_for(device, devices.network_precision(device)):
        output = plan.net(image, NormContext(plan.params))
    return output.float()


@torch.inference_mode()
def _finish(output: torch.Tensor, image: torch.Tensor, size, strength: float) -> np.ndarray:
    height, width = size
    if strength != 1.0:
        output = image + strength * (output - image)
    output = output[0, :, :height, :width].clamp(0.0, 1.0)
    return output.permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32, copy=False)

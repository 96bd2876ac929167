"""The public API: :func:`stylize` and its generator form :func:`iter_stylize`.

Both take and return numpy arrays. The result always has the content's full
shape, dtype and value range (see :mod:`napari_styletransfer.engine.arrays`).
When ``max_size`` is smaller than the content, the style transfer runs at
``max_size`` (longer side) and the result is upsampled back; with
``preserve_color`` the chroma then comes from the full-resolution content.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import describe_device, out_of_memory_as_error, resolve_device
from ..errors import StyleTransferError
from .arrays import (
    MIN_SIDE,
    ImageFormat,
    cast_to_format,
    fit_size,
    resize_array,
    to_float_rgb,
    to_unit_range,
)
from .color import check_color_method, keep_luminance_of, match_colors
from .inputs import StyleSource, blend_weights, init_image, resolve_styles
from .masks import REGIONS, composite, feather, style_region
from .options import Settings, settings_from
from .progress import Progress
from .pyramid import level_count

METHODS = ("quality", "fast")
FULL_SIZE_STEPS = 20  # default optimisation steps at the working size itself


def default_steps(max_side: int) -> int:
    """Optimisation steps used when ``steps`` is None, by working size.

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


@dataclass
class Job:
    """Everything a run needs, validated and converted before any heavy work."""

    original: np.ndarray
    fmt: ImageFormat
    alpha: np.ndarray | None
    content: np.ndarray  # float RGB, full size
    work: np.ndarray  # float RGB, working size
    styles: list[StyleSource]
    blend: list[float]
    weights: np.ndarray | None  # feathered style weights, full size
    region_work: np.ndarray | None  # style region at the working size
    settings: Settings
    method: str
    steps: int
    strength: float
    preserve_color: bool
    device: torch.device
    seed: int

    def finish(self, rgb: np.ndarray) -> np.ndarray:
        """A working-size float RGB result → the user's format, colours kept, mask applied."""
        full = resize_array(rgb, self.fmt.height_width)
        if self.preserve_color and self.settings.color_method == "luminance":
            full = keep_luminance_of(full, self.content)
        values = to_unit_range(full, self.fmt)
        if self.weights is not None:
            color = self.original if self.fmt.is_gray else self.original[..., :3]
            values = composite(color, values, self.weights)
        return cast_to_format(values, self.fmt, self.alpha)


def prepare(
    content,
    style,
    *,
    mask=None,
    region: str = "inside",
    method: str = "quality",
    max_size: int = 512,
    steps: int | None = None,
    style_strength: float = 1.0,
    preserve_color: bool = False,
    device: str = "auto",
    seed: int = 0,
    **advanced,
) -> Job:
    """Validate and convert every input of :func:`stylize` into a :class:`Job`.

    Raises
    ------
    StyleTransferError
        For any bad input, before any heavy work starts.
    """
    settings = settings_from(advanced)
    check_color_method(settings.color_method)
    if method not in METHODS:
        raise StyleTransferError(f"Unknown method {method!r}: use 'quality' or 'fast'.")
    if region not in REGIONS:
        raise StyleTransferError(f"Unknown region {region!r}: use 'inside' or 'outside'.")
    _check_number("style_strength", style_strength, 0.0, 100.0)
    _check_number("max_size", max_size, MIN_SIDE, 16384, integer=True)
    if steps is not None:
        _check_number("steps", steps, 1, 100000, integer=True)
    rgb, alpha, fmt = to_float_rgb(content, "content")
    original = np.asarray(content)
    if original.ndim == 3 and original.shape[2] == 1:
        original = original[..., 0]
    size = fit_size(*fmt.height_width, int(max_size))
    if min(size) < MIN_SIDE:
        raise StyleTransferError(
            f"At max_size={max_size} the content would be {size[1]}×{size[0]} px; "
            f"raise max_size so the shorter side is at least {MIN_SIDE} px."
        )
    styles = resolve_styles(style)
    blend = blend_weights(settings.style_weights, len(styles))
    if preserve_color and settings.color_method == "histogram":
        styles = [s if isinstance(s, str) else match_colors(s, rgb) for s in styles]
    weights = region_work = None
    if mask is not None:
        selected = style_region(_mask_array(mask, original), fmt.height_width, region)
        weights = feather(selected, settings.feather)
        region_work = resize_array(selected.astype(np.float32)[..., None], size)[..., 0]
    settings.init = init_image(settings.init, fmt, size)
    torch_device = resolve_device(device)
    return Job(
        original=original,
        fmt=fmt,
        alpha=alpha,
        content=rgb,
        work=resize_array(rgb, size),
        styles=styles,
        blend=blend,
        weights=weights,
        region_work=region_work,
        settings=settings,
        method=method,
        steps=int(steps) if steps is not None else default_steps(max(size)),
        strength=float(style_strength),
        preserve_color=bool(preserve_color),
        device=torch_device,
        seed=int(seed),
    )


def _mask_array(mask, content: np.ndarray) -> np.ndarray:
    if isinstance(mask, str):
        if mask != "auto":
            raise StyleTransferError(f"Unknown mask {mask!r}: pass an array or 'auto'.")
        from ..segmentation import segment_subject

        return segment_subject(content)
    return np.asarray(mask)


def _check_number(name, value, low, high, integer=False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "a whole number" if integer else "a number"
        raise StyleTransferError(f"{name} must be {kind}, not {value!r}.")
    if not (np.isfinite(value) and low <= value <= high):
        raise StyleTransferError(f"{name} must be between {low} and {high}, not {value!r}.")


def run_method(job: Job) -> Generator[Progress, None, np.ndarray]:
    """The chosen method's generator on the working-size image (float RGB in, out)."""
    name = describe_device(job.device)
    if job.method == "fast":
        from ..fast.engine import iter_fast_stylize

        # one preset spec as is; several styles (images, or preset specs) as a list
        spec = (
            job.styles[0] if len(job.styles) == 1 and isinstance(job.styles[0], str) else job.styles
        )
        return iter_fast_stylize(
            job.work,
            spec,
            style_weights=job.blend,
            strength=job.strength,
            device=job.device,
            tile_size=job.settings.tile_size,
        )
    if any(isinstance(s, str) for s in job.styles):
        raise StyleTransferError(
            "Presets ('preset:N') are fast-mode networks: use method='fast', or give a painting."
        )
    from .quality import iter_optimise

    return iter_optimise(
        job.work,
        job.styles,
        blend=job.blend,
        region=job.region_work,
        settings=job.settings,
        steps=job.steps,
        strength=job.strength,
        device=job.device,
        seed=job.seed,
        device_name=name,
    )


def fast_init(job: Job) -> Generator[Progress, None, np.ndarray]:
    """Run fast mode with the same style images: the start of "fast then refine"."""
    if any(isinstance(s, str) for s in job.styles):
        raise StyleTransferError("init='fast' needs style images, not presets.")
    from ..fast.engine import iter_fast_stylize

    runner = iter_fast_stylize(
        job.work, job.styles, style_weights=job.blend, strength=1.0, device=job.device
    )
    while True:
        try:
            report = next(runner)
        except StopIteration as stop:
            return stop.value
        report.stage, report.step, report.fraction = "fast start", 0, 0.0
        yield report


def iter_stylize(content, style, **kwargs) -> Generator[Progress, None, np.ndarray]:
    """Style transfer as a generator that reports progress.

    Takes the same arguments as :func:`stylize`. Yields :class:`Progress`
    after every optimisation step; every ``preview_every`` steps its
    ``preview`` holds the current picture in the output's format. The last
    report carries the finished ``result``, which is also the generator's
    return value. Closing the generator (``.close()``) stops the run at the
    next step and frees device memory.

    Yields
    ------
    Progress
    """
    job = prepare(content, style, **kwargs)
    start = time.perf_counter()
    with out_of_memory_as_error(job.device):
        if job.method == "quality" and isinstance(job.settings.init, str):
            if job.settings.init == "fast":
                job.settings.init = yield from fast_init(job)
        runner = run_method(job)
        try:
            while True:
                report = next(runner)
                if report.preview is not None:
                    report.preview = job.finish(report.preview)
                yield report
        except StopIteration as stop:
            working_result = stop.value
        finally:
            runner.close()
        result = job.finish(working_result)
    yield Progress(
        step=job.steps if job.method == "quality" else report.total,
        total=job.steps if job.method == "quality" else report.total,
        fraction=1.0,
        elapsed=time.perf_counter() - start,
        device=report.device,
        stage="done",
        losses=report.losses,
        preview=result,
        result=result,
    )
    return result


def stylize(
    content,
    style,
    *,
    mask=None,
    region: str = "inside",
    method: str = "quality",
    max_size: int = 512,
    steps: int | None = None,
    style_strength: float = 1.0,
    preserve_color: bool = False,
    device: str = "auto",
    seed: int = 0,
    **advanced,
) -> np.ndarray:
    """Transfer the style of a painting onto an image.

    Parameters
    ----------
    content : numpy.ndarray
        H×W (grayscale), H×W×3 (RGB) or H×W×4 (RGBA); uint8, uint16 or float.
    style : array, str, path, or a list of those
        Style image(s): arrays, bundled painting names (see
        :func:`napari_styletransfer.style_names`), image files, or (fast mode)
        presets such as ``"preset:7"``. Several styles are blended with
        ``style_weights=[...]``.
    mask : array_like or "auto", optional
        H×W; nonzero pixels form the mask. "auto" segments the subject.
    region : {"inside", "outside"}
        Stylise inside the mask, or everything outside it (the background).
    method : {"quality", "fast"}
        Optimisation (Gatys et al., best quality) or a feed-forward network.
    max_size : int
        Longer side at which the style transfer runs; larger content is
        processed at this size and the result upsampled to full size.
    steps : int, optional
        Optimisation steps over all pyramid levels (default by size).
    style_strength : float
        1 is the default balance; larger means more style, smaller more content.
    preserve_color : bool
        Keep the content's colours (see ``color_method``).
    device : str
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps".
    seed : int
        Seed for the random parts; the same seed gives the same result on the CPU.
    **advanced
        See :class:`napari_styletransfer.engine.options.Settings`.

    Returns
    -------
    numpy.ndarray
        Same shape, dtype and value range as ``content``; alpha unchanged.
        With a mask, pixels further than ``feather`` pixels from the styled
        region are exactly the content's.

    Raises
    ------
    StyleTransferError
        For bad input or an impossible request (e.g. CUDA not available).
    """
    runner = iter_stylize(
        content,
        style,
        mask=mask,
        region=region,
        method=method,
        max_size=max_size,
        steps=steps,
        style_strength=style_strength,
        preserve_color=preserve_color,
        device=device,
        seed=seed,
        **advanced,
    )
    for report in runner:
        if report.done:
            return report.result
    raise StyleTransferError("The style transfer stopped without a result.")  # pragma: no cover

"""The facade: :func:`stylize`, :func:`iter_stylize`, and :func:`iter_run` for requests.

Every front end ends here. A run has three parts:

1. :func:`prepare` checks the content against the request (shape, mask, init
   image), resolves the device, converts the content to float RGB at the
   working size. Cheap, and done before the caller's first ``next()``.
2. The method's adapter (:data:`~.methods.METHODS`) runs its engine on the
   working-size image, reporting :class:`Progress`.
3. :meth:`PreparedJob.finish` brings the result back to the content's full
   size, format and value range, keeps colours and composites the mask.

When ``max_size`` is smaller than the content, the style transfer runs at
``max_size`` (longer side) and the result is upsampled back; with
``preserve_color`` the chroma then comes from the full-resolution content.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..core.arrays import (
    ImageFormat,
    attach_alpha,
    cast_to_format,
    fit_size,
    resize_array,
    to_float_rgb,
    to_unit_range,
)
from ..core.color import keep_luminance_of, match_colors
from ..core.limits import MIN_SIDE
from ..core.masks import composite, feather, style_region
from ..core.progress import Progress
from ..devices import describe_device, out_of_memory_as_error, resolve_device, resolve_precision
from ..errors import StyleTransferError
from ..quality.optimise import PixelTarget
from ..quality.settings import default_steps
from .methods import METHODS
from .request import StylizeRequest
from .styles import StyleSource


@dataclass
class PreparedJob:
    """A request checked against its content, ready to run on a device.

    Attributes
    ----------
    request : StylizeRequest
    original : numpy.ndarray
        The content as given (H×W×1 as H×W); never written to.
    fmt : ImageFormat
        Shape, dtype and value range of the content.
    alpha : numpy.ndarray or None
        The content's alpha channel, carried over unchanged.
    content, work : numpy.ndarray
        The content as float32 RGB in [0, 1] at full and at working size.
    styles : tuple
        Style images as the engines take them (recoloured for
        ``color_method="histogram"``), or presets.
    init : str or numpy.ndarray
        "content", "noise", "fast", or an image at the working size.
    device : torch.device
    steps : int
        Optimisation steps (quality mode).
    weights : numpy.ndarray or None
        Feathered mask weights at full size: 1 where the style goes.
    region_work : numpy.ndarray or None
        The styled region at the working size (guides the Gram matrices).
    targets : tuple of PixelTarget
        Pixels quality mode holds to target images.
    """

    request: StylizeRequest
    original: np.ndarray
    fmt: ImageFormat
    alpha: np.ndarray | None
    content: np.ndarray
    work: np.ndarray
    styles: tuple[StyleSource, ...]
    init: str | np.ndarray
    device: torch.device
    steps: int
    weights: np.ndarray | None = None
    region_work: np.ndarray | None = None
    targets: tuple[PixelTarget, ...] = ()

    def finish(self, rgb: np.ndarray) -> np.ndarray:
        """A working-size float RGB result → the user's format, colours kept, mask applied."""
        full = resize_array(rgb, self.fmt.height_width)
        request = self.request
        if request.preserve_color and request.color_method == "luminance":
            full = keep_luminance_of(full, self.content)
        values = to_unit_range(full, self.fmt)
        if self.weights is None:
            return cast_to_format(values, self.fmt, self.alpha)
        color = self.original if self.fmt.is_gray else self.original[..., :3]
        return attach_alpha(composite(color, values, self.weights), self.fmt, self.alpha)

    def set_region(self, selected: np.ndarray) -> None:
        """Stylise only the ``selected`` pixels (bool, full size), holding the rest to the content."""
        self.weights = feather(selected, self.request.feather)
        size = self.work.shape[:2]
        self.region_work = resize_array(selected.astype(np.float32)[..., None], size)[..., 0]
        keep = PixelTarget(
            "keep", self.work, 1.0 - self.region_work, self.request.quality.keep_weight
        )
        self.targets = (*self.targets, keep) if keep.strength > 0 else self.targets


def prepare(request: StylizeRequest, content: object) -> PreparedJob:
    """Check ``content`` against ``request`` and convert it; no heavy work.

    Raises
    ------
    StyleTransferError
        For bad content, a mask or init image that does not fit it, the
        content given as its own style, or a device that is not available.
    """
    rgb, alpha, fmt = to_float_rgb(content, "content")
    original = np.asarray(content)
    if fmt.channel_axis:
        original = original[..., 0]
    size = fit_size(*fmt.height_width, request.max_size)
    if min(size) < MIN_SIDE:
        raise StyleTransferError(
            f"At max_size={request.max_size} the content would be {size[1]}×{size[0]} px; "
            f"raise max_size so the shorter side is at least {MIN_SIDE} px."
        )
    _refuse_content_as_style(request, rgb)
    device = resolve_device(request.device)
    if request.method == "quality":
        resolve_precision(device, request.quality.precision)  # e.g. fp16 on a CPU: refused now
    job = PreparedJob(
        request=request,
        original=original,
        fmt=fmt,
        alpha=alpha,
        content=rgb,
        work=resize_array(rgb, size),
        styles=_engine_styles(request, rgb),
        init=_working_init(request.init, fmt, size),
        device=device,
        steps=request.steps if request.steps is not None else default_steps(max(size)),
    )
    if isinstance(request.mask, np.ndarray):
        job.set_region(style_region(request.mask, fmt.height_width, request.region))
    return job


def upsampling_note(request: StylizeRequest, height: int, width: int) -> str | None:
    """What to tell the user when the result will be upsampled more than 2× (else None)."""
    longer = max(height, width)
    if longer <= 2 * request.max_size:
        return None
    return (
        f"The image is {width}×{height} px and the style transfer works at "
        f"{request.max_size} px (max size), so the result is upsampled "
        f"{longer / request.max_size:.1f}×. For full detail raise the max size "
        f"(up to {longer} px); it takes longer."
    )


def _refuse_content_as_style(request: StylizeRequest, content_rgb: np.ndarray) -> None:
    for style in request.styles:
        source = style.source
        if isinstance(source, np.ndarray) and np.array_equal(source, content_rgb):
            raise StyleTransferError(
                "The style image is the content image itself, so nothing would change: "
                "choose a painting (e.g. 'starry-night') or another image as the style."
            )


def _engine_styles(request: StylizeRequest, content_rgb: np.ndarray) -> tuple:
    sources = tuple(style.source for style in request.styles)
    if request.preserve_color and request.color_method == "histogram":
        return tuple(
            match_colors(s, content_rgb) if isinstance(s, np.ndarray) else s for s in sources
        )
    return sources


def _working_init(init: str | np.ndarray, fmt: ImageFormat, size: tuple[int, int]):
    if isinstance(init, str):
        return init
    if init.shape[:2] != fmt.height_width:
        raise StyleTransferError(
            f"The init image's shape {init.shape} does not match the content's {fmt.shape}."
        )
    rgb = to_float_rgb(init, "init", value_range_of=fmt)[0]
    return resize_array(rgb, size)


def iter_run(request: StylizeRequest, content: object) -> Iterator[Progress]:
    """Run ``request`` on ``content``, reporting progress; the front ends' entry point.

    The content is checked at once (this is not a generator function); the
    returned generator yields :class:`Progress` after every engine step, and
    its last report carries the ``result``. Closing it stops the run at the
    next step and frees device memory.

    Raises
    ------
    StyleTransferError
        At once for bad content; while running for an impossible run (e.g. no
        subject found for ``mask="auto"``, the GPU out of memory).
    """
    return _run(prepare(request, content))


def run(request: StylizeRequest, content: object) -> np.ndarray:
    """Run ``request`` on ``content`` to the end and return the result."""
    return result_of(iter_run(request, content))


def result_of(reports: Iterator[Progress]) -> np.ndarray:
    """Drive a run's reports to the end and return the result of the last one."""
    for report in reports:
        if report.done:
            return report.result
    raise StyleTransferError("The style transfer stopped without a result.")  # pragma: no cover


def _run(job: PreparedJob) -> Generator[Progress, None, np.ndarray]:
    start = time.perf_counter()
    device_name = describe_device(job.device)
    with out_of_memory_as_error(job.device):
        if isinstance(job.request.mask, str):  # "auto": segment on the job's own device
            yield Progress(0, job.steps, 0.0, 0.0, device_name, stage="finding the subject")
            job.set_region(_subject_region(job))
        runner = METHODS[job.request.method](job)
        last = None
        try:
            while True:
                last = next(runner)
                if last.preview is not None:
                    last.preview = job.finish(last.preview)
                yield last
        except StopIteration as stop:
            working_result = stop.value
        finally:
            runner.close()
        result = job.finish(working_result)
    yield Progress(
        step=last.total if last else 0,
        total=last.total if last else 0,
        fraction=1.0,
        elapsed=time.perf_counter() - start,
        device=last.device if last else device_name,
        stage="done",
        losses=last.losses if last else {},
        preview=result,
        result=result,
    )
    return result


def _subject_region(job: PreparedJob) -> np.ndarray:
    from ..segmentation import segment_subject

    subject = segment_subject(job.original, device=job.device)
    return style_region(subject, job.fmt.height_width, job.request.region)


def iter_stylize(
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
) -> Iterator[Progress]:
    """Style transfer as a generator that reports progress.

    Takes the same arguments as :func:`stylize`, and checks them all at once,
    before the first ``next()``. Yields :class:`Progress` after every
    optimisation step; every ``preview_every`` steps its ``preview`` holds the
    current picture in the output's format. The last report carries the
    finished ``result``. Closing the generator (``.close()``) stops the run
    at the next step and frees device memory.

    Yields
    ------
    Progress

    Raises
    ------
    StyleTransferError
        For bad input (at once) or an impossible run (while running).
    """
    request = StylizeRequest.create(
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
    return iter_run(request, content)


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
        ``style_weights=[...]``. The content itself is refused as its style.
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
        1 is the default balance; larger means more style, smaller more
        content. Quality mode: 0 to 10; fast mode: 0 to 2.
    preserve_color : bool
        Keep the content's colours (see ``color_method``).
    device : str
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps".
    seed : int
        Seed for the random parts; the same seed gives the same result on the CPU.
    **advanced
        ``style_weights``, ``init``, ``feather``, ``color_method``,
        ``tile_size`` (see :class:`~napari_styletransfer.api.StylizeRequest`)
        and quality mode's settings (see
        :class:`~napari_styletransfer.quality.settings.QualitySettings`).

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
    return result_of(
        iter_stylize(
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
    )

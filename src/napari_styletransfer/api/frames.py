"""Frames through the facade: videos, time-lapses and stacks, with temporal consistency.

One request serves every frame. Each frame is prepared and finished by the
facade like a single image; in between, the tools of
:mod:`napari_styletransfer.video` carry the previous frame over along the
optical flow of the *input* frames (the engines themselves never see more
than one frame):

* fast mode: each frame is shifted so that a panning scene meets the
  network's 4-pixel grid at the same phase (:class:`~..video.temporal.GridAligner`),
  and the flow-warped previous output is blended in where the flow is
  reliable (:class:`~..video.temporal.OutputBlender`);
* quality mode: each frame after the first starts from the flow-warped
  previous result and is held to it on non-occluded pixels (Ruder et al.
  2016's short-term temporal loss, a ``PixelTarget``), in one pyramid level
  and with fewer steps, since it starts stylised (:data:`CHAINED_STEPS`);
* ``mask="auto"``: the subject probability is smoothed along the flow
  (:class:`~..video.temporal.MaskSmoother`) before it becomes a mask.

``request.temporal=False`` stylises every frame on its own (the baseline).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..core.masks import style_region
from ..core.progress import Progress
from ..devices import out_of_memory_as_error
from ..errors import StyleTransferError
from ..quality.optimise import PixelTarget
from ..video.temporal import FlowTracker, GridAligner, MaskSmoother, OutputBlender, temporal_guide
from .facade import PreparedJob, prepare
from .methods import METHODS
from .request import StylizeRequest
from .styles import ResolvedStyle

# Quality mode, frames after the first: the temporal term's weight (0–255 units,
# as the mask's "keep" term; the style and content terms are ~1e6 at the default
# weights, so weaker holds (2 … 2000) let the look drift: red 123 → 121.6 over 3
# frames of a pan) and the share of the first frame's steps they get. Measured on a
# 160 px pan (docs/video.md): 1e5 keeps sharpness, colour and distance to the
# input within 1 level of frame 1's and cuts the temporal error to 0.11x, at the
# same yardstick style distance as frames stylised on their own.
TEMPORAL_STRENGTH = 1e5
CHAINED_STEPS = 0.3


@dataclass
class FrameProgress(Progress):
    """A :class:`Progress` report of one frame of a video run.

    Attributes
    ----------
    frame : int
        The frame being worked on (0-based).
    frame_count : int or None
        Frames in all, when known.
    frame_result : numpy.ndarray or None
        On the report that finishes a frame: that frame's result, in the
        frame's format (like ``result`` for one image).
    """

    frame: int = 0
    frame_count: int | None = None
    frame_result: np.ndarray | None = None


def is_frame_stack(content: object) -> bool:
    """True for T×H×W×C arrays and T×H×W arrays whose last axis is not a colour axis."""
    shape = getattr(content, "shape", None)
    if shape is None:
        return False
    return len(shape) == 4 or (len(shape) == 3 and shape[-1] not in (1, 3, 4))


def iter_run_frames(
    request: StylizeRequest, frames: Iterable[np.ndarray], *, count: int | None = None
) -> Iterator[FrameProgress]:
    """Run ``request`` on a sequence of frames, one at a time, streaming.

    Parameters
    ----------
    request : StylizeRequest
        Its ``mask`` may be H×W (every frame), T×H×W (one per frame) or "auto".
    frames : iterable of numpy.ndarray
        The frames, in order (a list, a generator, a video reader's
        ``iter_frames()``); only the current and previous ones are held.
    count : int, optional
        The number of frames, for progress and for checking a mask stack
        (taken from ``len(frames)`` when it has one).

    Returns
    -------
    iterator of FrameProgress
        A report after every engine step; the report that finishes frame t
        carries ``frame_result``. Closing it stops at the next step.

    Raises
    ------
    StyleTransferError
        At once for a mask stack whose length is not the frame count;
        while running for a bad frame (it names the frame).
    """
    if count is None and hasattr(frames, "__len__"):
        count = len(frames)
    masks = _masks_per_frame(request.mask, count)
    return _run_frames(request, (np.asarray(frame) for frame in frames), masks, count)


def iter_run_stack(request: StylizeRequest, stack) -> Iterator[Progress]:
    """Run ``request`` on a T×H×W(×C) array; the last report's ``result`` is the stack.

    Frames are read from ``stack`` one at a time (a dask array or a lazy
    video stays lazy); the results fill one array of the stack's shape.
    """
    count = int(stack.shape[0])
    if count == 0:
        raise StyleTransferError("The stack has no frames.")
    return _collect(iter_run_frames(request, stack), count)


def iter_frames_separately(
    run_one: Callable[[StylizeRequest, np.ndarray], Iterator[Progress]],
    request: StylizeRequest,
    stack,
) -> Generator[FrameProgress, None, None]:
    """Frames through a stylizer that takes single pictures (a server), without consistency.

    Reports like :func:`iter_run_frames`: ``frame``, ``frame_count`` and, when a
    frame is finished, ``frame_result``.
    """
    count = int(stack.shape[0])
    masks = _masks_per_frame(request.mask, count)
    for t in range(count):
        frame_request = dataclasses.replace(request, mask=masks(t))
        reports = run_one(frame_request, np.asarray(stack[t]))
        try:
            for report in reports:
                yield FrameProgress(
                    step=report.step,
                    total=report.total,
                    fraction=_overall(t, report.fraction, count),
                    elapsed=report.elapsed,
                    device=report.device,
                    stage=f"frame {t + 1}/{count}" + (f" · {report.stage}" if report.stage else ""),
                    losses=report.losses,
                    preview=report.preview,
                    frame=t,
                    frame_count=count,
                    frame_result=report.result,
                )
        finally:
            reports.close()


def _collect(reports: Iterator[FrameProgress], count: int) -> Generator[Progress, None, np.ndarray]:
    out = None
    last = None
    for last in reports:
        if last.frame_result is not None:
            if out is None:
                out = np.empty((count, *last.frame_result.shape), last.frame_result.dtype)
            out[last.frame] = last.frame_result
        yield last
    yield Progress(
        step=last.step,
        total=last.total,
        fraction=1.0,
        elapsed=last.elapsed,
        device=last.device,
        stage="done",
        losses=last.losses,
        preview=out[-1],
        result=out,
    )
    return out


def _masks_per_frame(mask, count: int | None):
    """A function ``t -> the request mask for frame t``."""
    if mask is not None and not isinstance(mask, str) and len(getattr(mask, "shape", ())) == 3:
        if count is not None and mask.shape[0] != count:
            raise StyleTransferError(
                f"The mask stack has {mask.shape[0]} frames but the video has {count}: "
                "give one mask per frame, or one H×W mask for all."
            )
        return lambda t: np.asarray(mask[t])
    if isinstance(mask, str):  # "auto": segmented per frame, smoothed along the flow
        return lambda t: None
    return lambda t: mask


def _run_frames(request, frames, masks, count) -> Generator[FrameProgress, None, None]:
    request = _with_frozen_styles(request)
    sequence = _Sequence(request)
    start = time.perf_counter()
    for t, frame in enumerate(frames):
        if count is not None and t >= count:
            raise StyleTransferError(f"There are more frames than the {count} announced.")
        try:
            frame_request = dataclasses.replace(request, mask=masks(t))
            job = prepare(frame_request, frame)
        except StyleTransferError as error:
            raise StyleTransferError(f"Frame {t}: {error}") from error
        runner = sequence.run(job)
        report = Progress(0, 0, 0.0, 0.0, "")
        try:
            while True:
                report = next(runner)
                yield _frame_report(report, job, t, count, start)
        except StopIteration as stop:
            result = job.finish(stop.value)
        finally:
            runner.close()
        yield FrameProgress(
            step=report.total,
            total=report.total,
            fraction=_overall(t, 1.0, count),
            elapsed=time.perf_counter() - start,
            device=report.device,
            stage=f"frame {t + 1}{_of(count)} done",
            losses=report.losses,
            preview=result,
            frame=t,
            frame_count=count,
            frame_result=result,
        )


def _with_frozen_styles(request: StylizeRequest) -> StylizeRequest:
    """The request with read-only copies of its style pictures (fast mode).

    Every frame hands the same pictures to the fast engine, which looks their
    style vectors up by a content hash; frozen, they are hashed once per run.
    """
    if request.method != "fast" or not any(style.is_image for style in request.styles):
        return request
    from ..fast.cache import freeze

    styles = tuple(
        ResolvedStyle(freeze(style.source), style.name) if style.is_image else style
        for style in request.styles
    )
    return dataclasses.replace(request, styles=styles)


def _of(count: int | None) -> str:
    return "" if count is None else f"/{count}"


def _overall(t: int, fraction: float, count: int | None) -> float:
    if count is None:
        return min(max(fraction, 0.0), 1.0)
    return (t + min(max(fraction, 0.0), 1.0)) / count


def _frame_report(report: Progress, job: PreparedJob, t, count, start) -> FrameProgress:
    preview = None if report.preview is None else job.finish(report.preview)
    stage = f"frame {t + 1}{_of(count)}" + (f" · {report.stage}" if report.stage else "")
    return FrameProgress(
        step=report.step,
        total=report.total,
        fraction=_overall(t, report.fraction, count),
        elapsed=time.perf_counter() - start,
        device=report.device,
        stage=stage,
        losses=report.losses,
        preview=preview,
        frame=t,
        frame_count=count,
    )


class _Sequence:
    """What one video run remembers from frame to frame."""

    def __init__(self, request: StylizeRequest) -> None:
        self.request = request
        self.temporal = request.temporal
        self.tracker = FlowTracker()
        self.aligner = GridAligner()
        self.blender = OutputBlender()
        self.smoother = MaskSmoother()
        self.previous: np.ndarray | None = None  # the last working-size result

    def run(self, job: PreparedJob) -> Generator[Progress, None, np.ndarray]:
        """The engine's generator for this frame, with the temporal parts around it."""
        pair = self.tracker.step(job.work) if self.temporal else None
        if isinstance(self.request.mask, str):
            job.set_region(self._subject_region(job, pair))
        with out_of_memory_as_error(job.device):
            if job.request.method == "fast":
                result = yield from self._fast(job, pair)
            else:
                result = yield from self._quality(job, pair)
        self.previous = result
        return result

    def _subject_region(self, job: PreparedJob, pair) -> np.ndarray:
        from ..segmentation import mask_from_probability, subject_probability

        probability = subject_probability(job.original, device=job.device)
        if self.temporal:
            probability = self.smoother.smooth(pair, probability)
        subject = mask_from_probability(probability)
        return style_region(subject, job.fmt.height_width, self.request.region)

    def _fast(self, job: PreparedJob, pair) -> Generator[Progress, None, np.ndarray]:
        if not self.temporal:
            return (yield from METHODS["fast"](job))
        shift = self.aligner.step(pair)
        job.work = GridAligner.shift(job.work, shift)
        raw = yield from METHODS["fast"](job)
        return self.blender.step(pair, GridAligner.shift(raw, -shift))

    def _quality(self, job: PreparedJob, pair) -> Generator[Progress, None, np.ndarray]:
        if self.temporal and pair is not None and self.previous is not None:
            guide = temporal_guide(pair, self.previous)
            job.init = guide.target
            temporal = PixelTarget("temporal", guide.target, guide.weights, TEMPORAL_STRENGTH)
            job.targets = (*job.targets, temporal)
            # one level: a pyramid would restart from a shrunken, already stylised
            # picture and blur it; fewer steps: it starts stylised (issue #18)
            single_level = dataclasses.replace(job.request.quality, pyramid_levels=1)
            job.request = dataclasses.replace(job.request, quality=single_level)
            job.steps = max(1, round(CHAINED_STEPS * job.steps))
        return (yield from METHODS["quality"](job))

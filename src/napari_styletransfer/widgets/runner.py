"""Run style-transfer jobs in a napari thread worker, off the GUI thread.

A job is a list of frames (one picture, or the slices of a stack) stylised with
one request through the facade. Several frames go as one stack
(:class:`FrameStack`, read a frame at a time), so that the facade makes them
temporally consistent with the same code as for videos
(:mod:`napari_styletransfer.api.frames`). The worker yields an :class:`Update`
for every engine step and returns an :class:`Outcome`.

Errors never escape the worker as exceptions: superqt's generator worker turns a
``RuntimeError`` into a bare warning instead of its ``errored`` signal, so every
failure is caught here and handed back in the outcome, where the widget can show
it as a notification and tidy up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.progress import Progress
from ..errors import StyleTransferError

if TYPE_CHECKING:
    from ..api import StylizeRequest

#: What runs one frame: ``stylizer(request, content) -> iterator of Progress``.
Stylizer = Callable[["StylizeRequest", np.ndarray], Iterator[Progress]]

DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
# OS niceness for the worker thread (Linux). Off: renicing gave the GUI thread
# the CPU back on a loaded machine, but a reniced worker that holds the GIL and
# gets descheduled freezes the GUI instead (once 3.6 s in the benchmark)
BACKGROUND_NICE = 0


@dataclass
class Frame:
    """One picture to stylise: its stack index, pixels and optional mask."""

    index: tuple[int, ...]
    content: np.ndarray
    mask: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The picture's shape."""
        return self.content.shape


class LazyFrame:
    """A frame whose pixels (and mask) are read only when the worker gets to it.

    For lazy (dask or zarr) stacks: one slice is in memory at a time, never the stack.

    Parameters
    ----------
    index : tuple of int
        The stack index.
    read_content : callable
        ``index -> numpy.ndarray``.
    shape : tuple of int
        The picture's shape (known without reading it).
    read_mask : callable, optional
        ``index -> numpy.ndarray or None``.
    """

    def __init__(
        self, index, read_content: Callable, shape: tuple, read_mask: Callable | None = None
    ) -> None:
        self.index = index
        self.shape = tuple(shape)
        self._read_content = read_content
        self._read_mask = read_mask

    @property
    def content(self) -> np.ndarray:
        """The frame's pixels, read now (not kept)."""
        return self._read_content(self.index)

    @property
    def mask(self) -> np.ndarray | None:
        """The frame's mask, made now (not kept)."""
        return None if self._read_mask is None else self._read_mask(self.index)


@dataclass
class FramesJob:
    """Frames to stylise with one request; no reference to Qt or napari objects.

    Attributes
    ----------
    frames : list of Frame
        Pictures to stylise, in order; several go to the stylizer as one
        :class:`FrameStack` (temporal consistency: ``request.temporal``).
    request : StylizeRequest
        What to do with each frame; the frames' own masks replace the request's.
    sink : callable, optional
        ``sink(index, result)``, called in the worker thread with each finished
        frame (a lazy output store); the results are then not kept in memory.
    """

    frames: list[Frame | LazyFrame]
    request: StylizeRequest
    sink: Callable[[tuple[int, ...], np.ndarray], None] | None = None

    def stylizer_input(self) -> tuple[StylizeRequest, object]:
        """The request (with the frames' masks) and the content the stylizer gets."""
        if len(self.frames) == 1:
            frame = self.frames[0]
            return dataclasses.replace(self.request, mask=frame.mask), frame.content
        stack = FrameStack(self.frames)
        masks = MaskStack(self.frames) if self.frames[0].mask is not None else None
        return dataclasses.replace(self.request, mask=masks), stack


class FrameStack:
    """A job's frames as a read-only T×H×W(×C) array: a frame is read when it is indexed.

    What the facade gets for "all slices", so that a lazy stack stays lazy.
    """

    def __init__(self, frames: list[Frame | LazyFrame]) -> None:
        self.frames = frames
        self.shape = (len(frames), *frames[0].shape)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, number: int) -> np.ndarray:
        return np.asarray(self.frames[number].content)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[number] for number in range(len(self)))


class MaskStack(FrameStack):
    """The frames' masks as a read-only T×H×W array, each made when it is indexed."""

    def __init__(self, frames: list[Frame | LazyFrame]) -> None:
        super().__init__(frames)
        self.shape = (len(frames), *frames[0].shape[:2])
        self.ndim = 3

    def __getitem__(self, number: int) -> np.ndarray:
        mask = self.frames[number].mask
        if mask is None:
            raise StyleTransferError(f"Frame {number} of the stack has no mask.")
        return np.asarray(mask)


@dataclass
class Update:
    """A progress report for the whole job, wrapping the engine's report.

    Attributes
    ----------
    frame, n_frames : int
        Which frame is running, of how many.
    index : tuple of int
        The frame's stack index.
    progress : Progress
        The engine's report.
    elapsed : float
        Seconds since the job started.
    since_first : tuple of float or None
        (seconds, job fraction) between the first report and this one: the
        pace the time left is estimated from. Loading models and the first
        step are left out, so the estimate does not start several times too long.
    """

    frame: int
    n_frames: int
    index: tuple[int, ...]
    progress: Progress
    elapsed: float
    since_first: tuple[float, float] | None = None

    @property
    def fraction(self) -> float:
        """Share of the whole job done, 0 to 1."""
        return job_fraction(self.frame, self.n_frames, self.progress)

    @property
    def eta(self) -> float | None:
        """Estimated seconds left for the whole job, or None while it cannot be told yet."""
        if self.since_first is None:
            return None
        seconds, done = self.since_first
        if done <= 0 or seconds <= 0:
            return None
        return seconds / done * (1.0 - self.fraction)


def job_fraction(frame: int, n_frames: int, progress: Progress) -> float:
    """Share of a job of ``n_frames`` done when ``frame`` reports ``progress``."""
    done = min(max(progress.fraction, 0.0), 1.0)
    if getattr(progress, "frame_count", None) is not None:  # a stack's report counts the stack
        return done
    return (frame + done) / n_frames


@dataclass
class Outcome:
    """How a job ended.

    Attributes
    ----------
    status : str
        "done", "cancelled" or "failed".
    results : dict
        Finished frames by stack index (complete frames only).
    seconds : float
        Wall time of the job.
    device : str
        The device that ran it, as the engine reported it.
    error : Exception or None
        The failure, when status is "failed".
    written : int
        Frames handed to the job's sink instead of kept in ``results``.
    """

    status: str
    results: dict[tuple[int, ...], np.ndarray]
    seconds: float
    device: str = ""
    error: Exception | None = None
    written: int = 0

    @property
    def frames_done(self) -> int:
        """Finished frames, kept or written."""
        return len(self.results) + self.written


def preload_triton() -> None:
    """Import triton (if installed) so that it binds to its own copy of LLVM.

    torch imports triton the first time an optimiser is built. Inside napari,
    the OpenGL driver (Mesa) has usually loaded its own LLVM by then, and
    libtriton's LLVM symbols then resolve to Mesa's: the process segfaults
    (seen here with torch 2.15 / triton 3.9 under Xvfb + llvmpipe). Loading
    libtriton with RTLD_DEEPBIND keeps its symbols to itself. Call this on the
    GUI thread before the first job; it costs ~0.2 s once.
    """
    if "triton" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
        return
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        with contextlib.suppress(ImportError):
            import triton  # noqa: F401
    finally:
        sys.setdlopenflags(flags)


#: Name of the warm-up thread (benchmarks wait for it to end).
WARM_UP_THREAD = "styletransfer-warm-up"

_warm_up_lock = threading.Lock()
_warmed_up = False


def warm_up_in_background() -> None:
    """Import torch's compiler stack now, in a background thread, once per process.

    Building the first optimiser imports ``torch._dynamo`` (~2 s); parts of that
    import hold the GIL for ~0.4 s at a time, which would freeze napari in the
    middle of the first job. Doing it when the widget opens moves the hiccup to
    a moment when nothing is animating. Call on the GUI thread.
    """
    global _warmed_up
    with _warm_up_lock:
        if _warmed_up:
            return
        _warmed_up = True
    preload_triton()

    def import_compiler() -> None:
        with contextlib.suppress(Exception):  # only a speed-up; the job imports it anyway
            # read the fast networks' weights; importing it (ml_dtypes) held the GIL
            # for ~1 s in the worker during the first Fast run, freezing the viewer
            import onnx  # noqa: F401
            import torch._dynamo  # noqa: F401

            # the facade and the engines: otherwise imported on the GUI thread at the first Run
            from .. import api  # noqa: F401
            from ..fast import run  # noqa: F401
            from ..quality import optimise  # noqa: F401

    threading.Thread(target=import_compiler, name=WARM_UP_THREAD, daemon=True).start()


def lower_thread_priority(nice: int | None = None) -> None:
    """Give the calling thread (and the torch threads it starts) a lower CPU priority.

    Off by default (:data:`BACKGROUND_NICE` is 0); ``bench_responsiveness.py
    --nice N`` measures the effect. Linux only: there a thread id can be reniced
    on its own, and OpenMP threads created later inherit it.
    """
    nice = BACKGROUND_NICE if nice is None else nice
    if not sys.platform.startswith("linux") or nice <= 0:
        return
    with contextlib.suppress(OSError, AttributeError):
        thread = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread) < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)


def _default_stylizer() -> Stylizer:
    # imported on first use: torch is heavy and napari imports widgets eagerly
    from ..api import iter_run
    from ..api.frames import is_frame_stack, iter_run_frames

    def stylize(request: StylizeRequest, content) -> Iterator[Progress]:
        if is_frame_stack(content):  # streamed: each frame goes to the sink when done
            return iter_run_frames(request, content)
        return iter_run(request, content)

    return stylize


def run_job(
    job: FramesJob, cancel: threading.Event, stylizer: Stylizer | None = None
) -> Iterator[Update]:
    """Stylise the job's frames, yielding an :class:`Update` per engine step.

    Parameters
    ----------
    job : FramesJob
        What to do.
    cancel : threading.Event
        Checked after every engine step; when set, the engine's generator is
        closed (in this thread, so it can release memory) and the job returns.
    stylizer : callable, optional
        ``(request, content) -> iterator of Progress``; the facade's
        :func:`~napari_styletransfer.api.iter_run` by default.

    Returns
    -------
    Outcome
        As the generator's return value (the worker's ``returned`` signal).
    """
    start = time.perf_counter()
    results: dict[tuple[int, ...], np.ndarray] = {}
    written: list[tuple[int, ...]] = []
    device = ""

    def store(index: tuple[int, ...], result: np.ndarray) -> None:
        if job.sink is None:
            results[index] = result
        else:
            job.sink(index, result)
            written.append(index)

    def outcome(status: str, error: Exception | None = None) -> Outcome:
        seconds = time.perf_counter() - start
        return Outcome(status, results, seconds, device, error, written=len(written))

    lower_thread_priority()
    try:
        stylizer = stylizer or _default_stylizer()
        request, content = job.stylizer_input()
        count, first = len(job.frames), None
        steps = stylizer(request, content)
        try:
            for progress in steps:
                device = progress.device or device
                number = getattr(progress, "frame", 0)
                frame = job.frames[number]
                finished = (
                    progress.result if count == 1 else getattr(progress, "frame_result", None)
                )
                if finished is not None:
                    store(frame.index, finished)
                if count > 1 and progress.done:  # the whole stack again: its frames are stored
                    continue
                now = time.perf_counter()
                fraction = job_fraction(number, count, progress)
                first = first or (now, fraction)
                pace = (now - first[0], fraction - first[1])
                yield Update(number, count, frame.index, progress, now - start, pace)
                if cancel.is_set():
                    return outcome(CANCELLED)
        finally:
            steps.close()
    except Exception as error:  # handed to the GUI thread, see the module docstring
        return outcome(FAILED, error)
    return outcome(DONE)


class RunningJob:
    """A started job: its worker, and a way to cancel it.

    Parameters
    ----------
    job : FramesJob
        What to run.
    on_update : callable
        Called on the GUI thread with each :class:`Update`.
    on_finish : callable
        Called on the GUI thread with the :class:`Outcome`, exactly once.
    stylizer : callable, optional
        What runs a frame instead of the facade (see :data:`Stylizer`).
    """

    def __init__(
        self,
        job: FramesJob,
        on_update: Callable[[Update], None],
        on_finish: Callable[[Outcome], None],
        stylizer: Stylizer | None = None,
    ) -> None:
        from napari.qt.threading import create_worker

        preload_triton()
        self._cancel = threading.Event()
        self._started = time.perf_counter()
        self._on_finish = on_finish
        self.finished = False
        self.worker = create_worker(run_job, job, self._cancel, stylizer, _start_thread=False)
        self._on_update = on_update
        self.worker.yielded.connect(self._update)
        self.worker.returned.connect(self._finish)
        # napari quits workers itself, e.g. when the window closes
        self.worker.aborted.connect(self._finish_aborted)
        self.worker.start()

    def cancel(self) -> None:
        """Ask the job to stop after the engine's current step."""
        self._cancel.set()

    def detach(self) -> None:
        """Cancel, and call back nothing any more (the widget that started the job is gone)."""
        self._cancel.set()
        self.finished = True
        self._on_update = self._on_finish = _ignore

    def _update(self, update: Update) -> None:
        self._on_update(update)

    @property
    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def _finish(self, outcome: Outcome) -> None:
        if not self.finished:
            self.finished = True
            self._on_finish(outcome)

    def _finish_aborted(self) -> None:
        self._finish(Outcome(CANCELLED, {}, time.perf_counter() - self._started))


def _ignore(*_) -> None:
    pass


def call_in_thread(func: Callable, on_done: Callable, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` in a worker; ``on_done(value, error)`` on the GUI thread.

    Returns
    -------
    napari.qt.threading.FunctionWorker
        Keep a reference while it runs.
    """
    from napari.qt.threading import create_worker

    def guarded():
        try:
            return func(*args, **kwargs), None
        except Exception as error:  # reported on the GUI thread
            return None, error

    worker = create_worker(guarded, _start_thread=False)
    worker.returned.connect(lambda pair: on_done(*pair))
    worker.start()
    return worker


def iterate_in_thread(func: Callable, on_item: Callable, on_done: Callable, *args, **kwargs):
    """Run the generator ``func(*args, **kwargs)`` in a worker.

    ``on_item(item)`` is called on the GUI thread for every item it yields,
    then ``on_done(error)`` once, with the exception that stopped it or None.
    Exceptions never escape the worker (see the module docstring).

    Returns
    -------
    napari.qt.threading.GeneratorWorker
        Keep a reference while it runs; ``quit()`` stops it at the next item.
    """
    from napari.qt.threading import create_worker

    def guarded():
        try:
            yield from func(*args, **kwargs)
        except Exception as error:  # reported on the GUI thread
            return error
        return None

    worker = create_worker(guarded, _start_thread=False)
    worker.yielded.connect(on_item)
    worker.returned.connect(on_done)
    worker.start()
    return worker

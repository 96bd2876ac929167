"""What one dask task does, on a worker: stylise one picture or one slice of a stack.

Tasks are idempotent, so dask may run one again when its worker dies:

- a picture is written under a fresh temporary name and handed back; the
  client records it in the manifest and renames it into place;
- a slice is written into its own chunks of the stack's partial Zarr store
  (no other task touches them), straight from the worker.

Every failure is caught and returned as a failed result with its message, so a
bad item never stops the batch. Nothing here gathers pixels on the client.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from ..image_io import write_image
from .manifest import FAILED, OK
from .naming import temporary_path
from .sources import Input, open_stack, read_picture
from .style import StyleFeatures, install_style_features


@dataclass(frozen=True)
class PictureTask:
    """Stylise ``input`` (one picture) into ``output``; larger files than ``max_pixels`` fail."""

    input: Input
    output: Path
    max_pixels: int | None = None


@dataclass(frozen=True)
class SliceTask:
    """Stylise slice ``index`` of ``input`` into the array at ``array_path``."""

    input: Input
    array_path: Path
    number: int
    index: tuple[int, ...]


@dataclass
class TaskResult:
    """What a task hands back to the client (never pixels)."""

    status: str
    seconds: float
    worker: str
    device: str = ""
    error: str | None = None
    written: str | None = None  # a picture's temporary file


def run_picture(task: PictureTask, request, features: StyleFeatures) -> TaskResult:
    """Read, stylise and write one picture under a temporary name next to its output."""
    start = time.perf_counter()
    written = None
    try:
        result, device = _stylize(request, features, read_picture(task.input, task.max_pixels))
        written = temporary_path(task.output)
        write_image(written, result)
    except Exception as error:  # recorded as a failed item; the batch goes on
        if written is not None:
            written.unlink(missing_ok=True)
        return _failed(error, start)
    return TaskResult(OK, time.perf_counter() - start, worker_name(), device, written=str(written))


def run_slice(task: SliceTask, request, features: StyleFeatures) -> TaskResult:
    """Read one slice of a lazy stack, stylise it and write it into the output store."""
    start = time.perf_counter()
    try:
        frame = np.asarray(open_stack(task.input)[task.index])
        result, device = _stylize(request, features, frame)
        _open_output(str(task.array_path))[task.index] = result
    except Exception as error:  # recorded; the other slices go on
        return _failed(error, start)
    return TaskResult(OK, time.perf_counter() - start, worker_name(), device)


def _stylize(request, features: StyleFeatures, content: np.ndarray) -> tuple[np.ndarray, str]:
    from ..api import iter_run

    install_style_features(features, request.device)
    final = None
    for final in iter_run(request, content):  # noqa: B007 - the loop drives the run
        pass
    if final is None or final.result is None:
        raise StyleTransferError("The style transfer stopped without a result.")
    return final.result, final.device


def _failed(error: Exception, start: float) -> TaskResult:
    return TaskResult(FAILED, time.perf_counter() - start, worker_name(), error=describe(error))


def describe(error: BaseException) -> str:
    """The message for the manifest: as is for expected errors, with its type otherwise."""
    if isinstance(error, StyleTransferError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def worker_name() -> str:
    """The dask worker's address, or "local" outside a worker."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


@functools.lru_cache(maxsize=8)
def _open_output_cached(path: str, stamp: int):
    import zarr

    return zarr.open_array(path, mode="r+")


def _open_output(path: str):
    # per process, and again when the store was made anew (a rerun with other parameters)
    metadata = Path(path) / "zarr.json"
    if not metadata.exists():
        metadata = Path(path) / ".zarray"
    return _open_output_cached(path, os.stat(metadata).st_mtime_ns)

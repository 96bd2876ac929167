"""napari reader and writer for video files (npe2 ``readers`` / ``writers``).

The reader gives a lazy T-stack: a dask array with one chunk per frame, each
decoded only when napari shows it (a small cache keeps the neighbours). The
writer saves an Image layer's T-stack as a video. Neither imports napari.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from .formats import VIDEO_SUFFIXES
from .reader import DEFAULT_FOLDER_FPS, FrameReader, open_video
from .writer import VideoWriter


class FrameArray:
    """A reader seen as a read-only numpy-like array of shape (T, H, W[, C]).

    ``dask.array.from_array`` slices it one frame at a time; only the frames
    asked for are decoded.
    """

    def __init__(self, reader: FrameReader) -> None:
        self.reader = reader
        self.shape = reader.info.shape
        self.dtype = reader.info.dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, int | np.integer):
            return self.reader[int(first)][rest]
        if isinstance(first, slice):
            indices = range(*first.indices(self.shape[0]))
        else:
            indices = np.arange(self.shape[0])[first]
        frames = [self.reader[int(i)] for i in indices]
        stack = np.stack(frames) if frames else np.empty((0, *self.shape[1:]), self.dtype)
        return stack[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)


def lazy_stack(path: str | Path):
    """A video file as a lazy dask T-stack, and its reader.

    Returns
    -------
    dask.array.Array
        (T, H, W, 3) uint8, one chunk per frame.
    FrameReader
    """
    import dask.array as da

    reader = open_video(path)
    array = FrameArray(reader)
    stat = Path(path).stat()
    stack = da.from_array(
        array,
        chunks=(1, *array.shape[1:]),
        name=f"video-{Path(path).resolve()}-{stat.st_mtime_ns}-{stat.st_size}",
        lock=False,  # the reader locks itself
        asarray=False,
        meta=np.empty((0,) * array.ndim, array.dtype),
    )
    return stack, reader


def get_reader(path: str | list[str]):
    """npe2 reader hook: a reader function for one video file, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES or Path(path).is_dir():
        return None
    return read_video


def read_video(path: str | list[str]) -> list[tuple]:
    """Read a video file as one lazy RGB Image layer (frames decoded on demand)."""
    if isinstance(path, list):
        path = path[0]
    stack, reader = lazy_stack(path)
    info = reader.info
    metadata = {"fps": info.fps, "source": str(Path(path).resolve()), "frames": info.frame_count}
    return [(stack, {"name": Path(path).stem, "rgb": True, "metadata": metadata}, "image")]


def write_video(path: str, data, meta: dict) -> list[str]:
    """npe2 single-layer writer: save an Image layer's T-stack as a video.

    Parameters
    ----------
    path : str
        .mp4, .avi, .gif, .webm, .mov or .mkv (napari has already asked before
        replacing a file; the new one replaces it only once complete).
    data : array_like
        T×H×W (grayscale) or T×H×W×C with ``meta["rgb"]``; numpy or dask.
    meta : dict
        The layer's attributes: ``rgb``, ``contrast_limits`` (value range of
        non-uint8 data) and ``metadata["fps"]`` (default 25).

    Returns
    -------
    list of str
        The file written.
    """
    rgb = bool(meta.get("rgb", False))
    frame_ndim = 3 if rgb else 2
    shape = tuple(np.shape(data))
    if len(shape) != frame_ndim + 1:
        raise StyleTransferError(
            f"Only a T-stack can be saved as a video: this layer is {shape} "
            f"({'RGB' if rgb else 'grayscale'}); expected T×H×W{'×C' if rgb else ''}."
        )
    fps = (meta.get("metadata") or {}).get("fps", DEFAULT_FOLDER_FPS)
    limits = meta.get("contrast_limits")
    value_range = tuple(float(v) for v in limits) if limits is not None and not rgb else None
    writer = VideoWriter(path, fps, overwrite=True, value_range=value_range)
    with writer:
        for index in range(shape[0]):
            writer.write(np.asarray(data[index]))
    return [str(writer.written)]

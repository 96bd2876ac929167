"""Streaming video readers: frames are decoded on demand, never all held in memory.

:func:`open_video` opens a video file (.mp4, .avi, .gif, .webm, .mov, .mkv, via
PyAV) or a folder of numbered image files. Both readers give the frame count,
frame rate and size up front, random access by index (for napari's lazy
T-stack) and a sequential iterator (for stylising a whole video).

Opening a file demuxes it once without decoding (packets are cheap: a few
hundred MB/s) to count its frames exactly, find its keyframes and notice a
truncated file before any work starts.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from .formats import FRAME_SUFFIXES, VIDEO_SUFFIXES

DEFAULT_FOLDER_FPS = 25.0
CACHE_FRAMES = 8


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before its frames are decoded.

    Attributes
    ----------
    frame_count : int
    fps : float
        Frames per second (the container's average rate).
    height, width : int
    channels : int
        3 for video files (RGB); 1 (stored as H×W), 3 or 4 for image folders.
    dtype : numpy.dtype
    """

    frame_count: int
    fps: float
    height: int
    width: int
    channels: int = 3
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.uint8))

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame: (H, W) for grayscale, else (H, W, C)."""
        if self.channels == 1:
            return (self.height, self.width)
        return (self.height, self.width, self.channels)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the whole video as a T-stack."""
        return (self.frame_count, *self.frame_shape)


class FrameReader:
    """What both readers share: info, length, a small cache, thread-safe indexing.

    Subclasses implement ``_decode(index)`` (random access) and
    ``iter_frames(start, stop)`` (streaming). ``decoded`` counts every frame
    decoded, which tests use to check that nothing is read ahead of need.
    """

    info: VideoInfo
    path: Path

    def __init__(self, cache_size: int = CACHE_FRAMES) -> None:
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.decoded = 0

    def __len__(self) -> int:
        return self.info.frame_count

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.info.fps

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end), read-only."""
        count = self.info.frame_count
        index = int(index)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(f"frame {index} of a {count}-frame video")
        with self._lock:
            frame = self._cache.get(index)
            if frame is None:
                frame = self._decode(index)
            self._remember(index, frame)
            return frame

    def _remember(self, index: int, frame: np.ndarray) -> None:
        frame.flags.writeable = False
        self._cache[index] = frame
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _check_frame(self, frame: np.ndarray, index: int) -> np.ndarray:
        if frame.shape != self.info.frame_shape or frame.dtype != self.info.dtype:
            raise StyleTransferError(
                f"{self.path.name}: frame {index} is {_describe(frame)} but frame 0 is "
                f"{_describe_info(self.info)}; every frame must have the same size and type."
            )
        self.decoded += 1
        return frame

    def _decode(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Decode frames ``start`` to ``stop`` in order, one at a time."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.iter_frames()

    def close(self) -> None:
        """Release open files and the cache."""
        self._cache.clear()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}×{frame.shape[0]} {'×'.join(map(str, frame.shape[2:])) or 'gray'} {frame.dtype}"


def _describe_info(info: VideoInfo) -> str:
    return _describe(np.empty(info.frame_shape, info.dtype))


def open_video(path: str | Path, *, fps: float | None = None) -> FrameReader:
    """Open a video file or a folder of frames for streaming.

    Parameters
    ----------
    path : str or Path
        A video file (.mp4, .avi, .gif, .webm, .mov, .mkv) or a folder of
        PNG/TIFF/JPEG frames (sorted naturally: ``f2.png`` before ``f10.png``).
    fps : float, optional
        Frame rate of a folder of frames (default 25); ignored for files.

    Returns
    -------
    FrameReader
        ``len(reader)``, ``reader.info``, ``reader[i]``, ``reader.iter_frames()``.

    Raises
    ------
    StyleTransferError
        For a missing, unreadable or truncated file, no frames, or frames of
        different sizes.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return FrameFolderReader(path, fps=fps)
    if not path.exists():
        raise StyleTransferError(f"No such video file or folder: {path}")
    return VideoFileReader(path)


class VideoFileReader(FrameReader):
    """A video file read through PyAV; see :func:`open_video`."""

    def __init__(self, path: str | Path, cache_size: int = CACHE_FRAMES) -> None:
        super().__init__(cache_size)
        self.path = Path(path)
        self._index = _index_packets(self.path)
        self._decoder = _Decoder(self.path, self._index)
        first = self._decoder.first_frame()
        height, width = first.shape[:2]
        self.info = VideoInfo(len(self._index.pts), self._index.fps, height, width)
        self._remember(0, self._check_frame(first, 0))

    def _decode(self, index: int) -> np.ndarray:
        for position, frame in self._decoder.frames_up_to(index):
            frame = self._check_frame(frame, position)
            if position == index:
                return frame
            self._remember(position, frame)  # napari often asks for the next one
        raise AssertionError("unreachable")  # pragma: no cover

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Decode frames ``start`` to ``stop`` (default: the end) in order, one at a time.

        Uses its own decoder, so random access (``reader[i]``) may go on meanwhile.
        """
        stop = len(self) if stop is None else min(stop, len(self))
        decoder = _Decoder(self.path, self._index)
        try:
            for index in range(start, stop):
                for position, frame in decoder.frames_up_to(index):
                    if position == index:
                        yield self._check_frame(frame, position)
        finally:
            decoder.close()

    def close(self) -> None:
        """Close the decoder and drop cached frames."""
        super().close()
        self._decoder.close()


class _Decoder:
    """One PyAV decoder over a file, positioned by frame index (seeks to keyframes)."""

    def __init__(self, path: Path, index: _PacketIndex) -> None:
        self.path, self.index = path, index
        self._container = self._stream = self._frames = None
        self._next = 0  # the index the open decoder yields next

    def _open(self) -> None:
        import av

        self.close()
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._frames = self._container.decode(self._stream)
        self._next = 0

    def first_frame(self) -> np.ndarray:
        """Frame 0, which also proves that the stream decodes."""
        return next(self.frames_up_to(0))[1]

    def frames_up_to(self, index: int, may_seek: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """(position, RGB frame) pairs, decoding forward until frame ``index``."""
        keyframe = self.index.keyframes[bisect_right(self.index.keyframes, index) - 1]
        if self._container is None or self._next > index:
            self._seek(keyframe if may_seek else 0)
        elif may_seek and keyframe > self._next:
            self._seek(keyframe)
        while True:
            position, frame = self._next_frame(index)
            if position > index:  # a seek landed past the frame: decode from the start
                if not may_seek:
                    raise StyleTransferError(f"{self.path.name}: frame {index} cannot be found.")
                self._open()
                yield from self.frames_up_to(index, may_seek=False)
                return
            yield position, frame
            if position == index:
                return

    def _next_frame(self, wanted: int) -> tuple[int, np.ndarray]:
        name = self.path.name
        try:
            frame = next(self._frames)
        except StopIteration:
            raise StyleTransferError(
                f"{name} ends before frame {wanted} (truncated or damaged)."
            ) from None
        except _av_errors() as error:
            raise StyleTransferError(f"{name} is damaged near frame {wanted}: {error}") from error
        position = self._next
        if frame.pts is not None:
            position = min(bisect_left(self.index.pts, frame.pts), len(self.index.pts) - 1)
        self._next = position + 1
        return position, frame.to_ndarray(format="rgb24")

    def _seek(self, keyframe: int) -> None:
        if self._container is None or keyframe == 0:
            self._open()
            if keyframe == 0:
                return
        try:
            self._container.seek(
                int(self.index.pts[keyframe]), stream=self._stream, backward=True, any_frame=False
            )
        except _av_errors():
            self._open()
            return
        self._frames = self._container.decode(self._stream)
        self._next = keyframe

    def close(self) -> None:
        """Close the file."""
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._frames = None
        self._next = 0


def _av_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, OSError, ValueError)


@dataclass
class _PacketIndex:
    pts: list[int]  # presentation times, sorted: frame i has pts[i]
    keyframes: list[int]  # frame indices where decoding can start
    fps: float


def _index_packets(path: Path) -> _PacketIndex:
    import av

    name = path.name
    try:
        container = av.open(str(path))
    except av.error.EOFError as error:  # a container with a header and nothing after it
        raise StyleTransferError(
            f"{name} ends before its first frame (empty or truncated)."
        ) from error
    except _av_errors() as error:
        raise StyleTransferError(f"Cannot read {name} as a video: {_reason(error)}") from error
    with container:
        if not container.streams.video:
            raise StyleTransferError(f"{name} has no video stream.")
        stream = container.streams.video[0]
        times, keys = [], []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                time = packet.pts if packet.pts is not None else packet.dts
                times.append(len(times) if time is None else int(time))
                keys.append(bool(packet.is_keyframe))
        except _av_errors() as error:
            raise StyleTransferError(f"{name} is damaged: {_reason(error)}") from error
        if not times:
            raise StyleTransferError(f"{name} has no video frames.")
        fps = _frame_rate(stream, times)
        _check_complete(path, container, stream, times, fps)
    order = sorted(range(len(times)), key=times.__getitem__)
    keyframes = [rank for rank, i in enumerate(order) if keys[i]]
    if not keyframes or keyframes[0] != 0:
        keyframes.insert(0, 0)
    return _PacketIndex([times[i] for i in order], keyframes, fps)


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.rstrip(".")


def _frame_rate(stream, times: list[int]) -> float:
    rate = stream.average_rate or stream.guessed_rate
    if rate and float(rate) > 0:
        return float(rate)
    span = (max(times) - min(times)) * float(stream.time_base or 0)
    if len(times) > 1 and span > 0:
        return (len(times) - 1) / span
    return DEFAULT_FOLDER_FPS


def _check_complete(path: Path, container, stream, times: list[int], fps: float) -> None:
    """Refuse a file that holds fewer frames than its own header or length promise."""
    name = path.name
    if stream.frames and len(times) < stream.frames:
        raise StyleTransferError(
            f"{name} is truncated: its header promises {stream.frames} frames, "
            f"only {len(times)} are there."
        )
    # containers without a frame count (WebM, MKV) still record their length
    if not stream.frames and container.duration and len(container.streams) == 1:
        promised = container.duration / 1e6
        if len(times) < promised * fps - 1.5:
            raise StyleTransferError(
                f"{name} is truncated: it should last {promised:.1f} s "
                f"(about {round(promised * fps)} frames), it holds {len(times)}."
            )
    if path.suffix.lower() == ".gif" and not _gif_has_trailer(path):
        raise StyleTransferError(f"{name} is truncated: the GIF has no end marker.")


def _gif_has_trailer(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(-1, 2)
        return file.read(1) == b"\x3b"


def natural_key(name: str) -> list:
    """Sort key that orders ``f2.png`` before ``f10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


class FrameFolderReader(FrameReader):
    """A folder of image files, one per frame; see :func:`open_video`."""

    def __init__(
        self, path: str | Path, fps: float | None = None, cache_size: int = CACHE_FRAMES
    ) -> None:
        super().__init__(cache_size)
        self.path = Path(path)
        self.files = frame_files(self.path)
        _check_same_size(self.files)
        first = self._read(0)
        channels = 1 if first.ndim == 2 else first.shape[2]
        rate = DEFAULT_FOLDER_FPS if fps is None else float(fps)
        if not (np.isfinite(rate) and rate > 0):
            raise StyleTransferError(f"fps must be a number > 0, not {fps!r}.")
        self.info = VideoInfo(len(self.files), rate, *first.shape[:2], channels, first.dtype)
        self._remember(0, self._check_frame(first, 0))

    def _read(self, index: int) -> np.ndarray:
        from ..image_io import read_image

        return read_image(self.files[index])

    def _decode(self, index: int) -> np.ndarray:
        return self._check_frame(self._read(index), index)

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Read frames ``start`` to ``stop`` (default: the end) in order, one at a time."""
        stop = len(self) if stop is None else min(stop, len(self))
        for index in range(start, stop):
            yield self._decode(index)


def frame_files(folder: Path) -> list[Path]:
    """The image files of a folder of frames, sorted naturally.

    Raises
    ------
    StyleTransferError
        When the folder holds no PNG, TIFF or JPEG file.
    """
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
    ]
    if not files:
        kinds = ", ".join(FRAME_SUFFIXES)
        raise StyleTransferError(f"The folder {folder} holds no frames ({kinds} files).")
    return sorted(files, key=lambda p: natural_key(p.name))


def _check_same_size(files: list[Path]) -> None:
    """Compare the frames' sizes from their headers, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    first = None
    for path in files:
        try:
            with Image.open(path) as image:
                size = image.size
        except (UnidentifiedImageError, OSError) as error:
            raise StyleTransferError(f"Cannot read frame {path.name}: {error}") from error
        if first is None:
            first = (path, size)
        elif size != first[1]:
            raise StyleTransferError(
                f"{path.name} is {size[0]}×{size[1]} but {first[0].name} is "
                f"{first[1][0]}×{first[1][1]}: every frame must have the same size."
            )


def read_mask_stack(path: str | Path) -> np.ndarray:
    """One mask per frame from a video or a folder of images, as a bool T×H×W array.

    In a folder (lossless files) every nonzero pixel is mask; in a video file,
    whose codec blurs the values, pixels brighter than half the range are.
    One byte per pixel is held for the whole video.
    """
    with open_video(path) as reader:
        lossy = isinstance(reader, VideoFileReader)
        masks = np.empty((len(reader), reader.info.height, reader.info.width), bool)
        for index, frame in enumerate(reader.iter_frames()):
            values = frame if frame.ndim == 2 else frame[..., :3].max(axis=2)
            masks[index] = values > 127 if lossy else values != 0
    return masks


__all__ = [
    "VIDEO_SUFFIXES",
    "FrameFolderReader",
    "FrameReader",
    "VideoFileReader",
    "VideoInfo",
    "frame_files",
    "natural_key",
    "open_video",
    "read_mask_stack",
]

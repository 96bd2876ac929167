"""Streaming video writers that never leave a half-written file under the final name.

:class:`VideoWriter` encodes frames one at a time into a hidden temporary file
(or folder) next to the target and renames it when :meth:`VideoWriter.close`
succeeds. Interrupted (Ctrl-C, or :meth:`VideoWriter.abort` with
``keep_partial=True``), it finishes what it has into a playable file named
``NAME.partial.EXT``; after an error it removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import files
from ..errors import StyleTransferError
from .formats import Encoding, encoding_for, is_frame_folder_path

INTERRUPTIONS = (KeyboardInterrupt, GeneratorExit)
PALETTE_TOLERANCE = 6.0  # mean |error| in 0-255 levels before a GIF frame gets a new palette


class Cancelled(Exception):
    """Raised inside a ``with VideoWriter(...)`` block to stop and keep a partial file."""


def check_output(
    path: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Encoding | None:
    """Check that a video (or frame folder) can be written at ``path``, before any work.

    Parameters
    ----------
    path : str or Path
        A video file, or a folder (no suffix) for frames.
    overwrite : bool
        Allow replacing an existing output (never an input).
    inputs : iterable of str or Path
        What the job reads; the output may not be one of them.

    Returns
    -------
    Encoding or None
        How the file will be encoded; None for a folder of frames.

    Raises
    ------
    StyleTransferError
        For a suffix no encoder writes, an output that is an input, an
        existing output without ``overwrite``, or a folder that cannot be written.
    """
    path = Path(path)
    if not is_frame_folder_path(path):
        encoding = encoding_for(path)
        files.check_output(path, overwrite=overwrite, inputs=inputs)
        return encoding
    resolved = path.resolve()
    if any(Path(item).resolve() == resolved for item in inputs):
        raise StyleTransferError(f"The output {path} is also an input: choose another folder.")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise StyleTransferError(
            f"The folder {path} already holds files: choose another or pass --overwrite."
        )
    files.check_output(path / "frame.png", overwrite=True)  # the folder can be made and written
    return None


def check_fps(fps: object) -> float:
    """Validate a frame rate and return it as a float."""
    if isinstance(fps, bool) or not isinstance(
        fps, int | float | np.integer | np.floating | Fraction
    ):
        raise StyleTransferError(f"fps must be a number, not {fps!r}.")
    value = float(fps)
    if not (np.isfinite(value) and 0 < value <= 1000):
        raise StyleTransferError(f"fps must be between 0 and 1000, not {fps!r}.")
    return value


class VideoWriter:
    """Write frames one at a time to a video file or a folder of frames.

    Parameters
    ----------
    path : str or Path
        .mp4, .avi, .gif, .webm, .mov, .mkv, or a folder (no suffix): PNG
        frames for uint8 data, TIFF (dtype kept) otherwise.
    fps : float
        Frames per second. GIF stores delays in 1/100 s, so it keeps rates that
        divide 100 (25, 20, 10, …) exactly and rounds others (30 → 33.3).
    overwrite : bool
        Replace an existing output (atomically, when the new one is complete).
    value_range : (low, high), optional
        Values that map to 0 and 255 for non-uint8 frames going into a video.
        Default: 0–1 for floats inside it, else the first frame's min–max
        (fixed for the whole video, so brightness does not flicker).
    inputs : iterable of str or Path
        What the job reads: the output may not be one of them.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=25) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)
    >>> writer.written  # doctest: +SKIP
    PosixPath('out.mp4')
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        *,
        overwrite: bool = False,
        value_range: tuple[float, float] | None = None,
        inputs: Iterable[str | Path] = (),
    ) -> None:
        self.path = Path(path)
        self.fps = check_fps(fps)
        self.overwrite = bool(overwrite)
        self._encoding = check_output(self.path, overwrite=self.overwrite, inputs=inputs)
        self._value_range = value_range
        self._sink: _ContainerSink | _FolderSink | None = None
        self._atomic: contextlib.ExitStack | None = None
        self.frames_written = 0
        self.written: Path | None = None  # the final (or partial) path, once closed

    @property
    def partial_path(self) -> Path:
        """Where an interrupted run's frames go: ``NAME.partial.EXT`` (first free name)."""
        stem, suffix = self.path.stem, self.path.suffix
        for number in range(1, 1000):
            tail = "" if number == 1 else f"-{number}"
            candidate = self.path.with_name(f"{stem}.partial{tail}{suffix}")
            if not candidate.exists():
                return candidate
        raise StyleTransferError(f"Too many partial outputs next to {self.path}.")

    def write(self, frame: np.ndarray) -> None:
        """Append one frame (H×W, H×W×3 or H×W×4; the first frame fixes the size)."""
        frame = np.asarray(frame)
        if self._sink is None:
            self._sink = self._open(frame)
        self._sink.add(frame, self.frames_written)
        self.frames_written += 1

    def _open(self, frame: np.ndarray) -> _ContainerSink | _FolderSink:
        if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
            raise StyleTransferError(
                f"A video frame must be H×W, H×W×3 or H×W×4, not {frame.shape}."
            )
        if self._encoding is None:
            temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.partial")
            return _FolderSink(temp, frame)
        # a temporary file beside the target, renamed when complete (files.atomic_output)
        self._atomic = contextlib.ExitStack()
        temp = self._atomic.enter_context(files.atomic_output(self.path))
        low_high = self._value_range or default_value_range(frame)
        try:
            return _ContainerSink(temp, self._encoding, self.fps, frame, low_high)
        except BaseException:
            self._release_temporary()
            raise

    def _release_temporary(self) -> None:
        """Leave atomic_output as after a failure: its temporary file (if any) is removed."""
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            stop = Cancelled("not completed")
            atomic.__exit__(Cancelled, stop, None)

    def close(self) -> Path:
        """Finish the file and move it to its final name.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        StyleTransferError
            When no frame was written.
        """
        sink, self._sink = self._sink, None
        if sink is None:
            raise StyleTransferError(f"No frames were written to {self.path.name}.")
        temp = sink.finish()
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            atomic.close()  # renames the temporary file to the final name
        else:
            _move_into_place(temp, self.path)
        self.written = self.path
        return self.path

    def abort(self, keep_partial: bool = True) -> Path | None:
        """Stop writing: keep the frames so far as ``NAME.partial.EXT``, or remove them.

        Returns
        -------
        Path or None
            The partial file, or None when nothing was kept.
        """
        sink, self._sink = self._sink, None
        if sink is None:
            return None
        kept = None
        if keep_partial and self.frames_written > 0:
            temp = sink.finish()
            kept = self.written = self.partial_path
            os.replace(temp, kept)
        else:
            sink.discard()
        self._release_temporary()
        return kept

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            self.close()
        elif issubclass(kind, (*INTERRUPTIONS, Cancelled)):
            self.abort(keep_partial=True)
        else:
            self.abort(keep_partial=False)
        return kind is Cancelled  # a cancel is handled; everything else propagates


def default_value_range(frame: np.ndarray) -> tuple[float, float]:
    """The (low, high) that map to 0 and 255 when the caller gives none (see VideoWriter)."""
    if frame.dtype == np.uint8:
        return 0.0, 255.0
    if frame.dtype == bool:
        return 0.0, 1.0
    low, high = float(np.nanmin(frame)), float(np.nanmax(frame))
    if frame.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high if high > low else low + 1.0


def to_rgb8(frame: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """A frame as uint8 RGB: gray repeated, alpha dropped, values mapped from ``value_range``."""
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    frame = frame[..., :3]
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    low, high = value_range
    scaled = (frame.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(np.nan_to_num(scaled) + 0.5, 0, 255).astype(np.uint8)


class _ContainerSink:
    """A PyAV container being written."""

    def __init__(
        self,
        temp: Path,
        encoding: Encoding,
        fps: float,
        first: np.ndarray,
        value_range: tuple[float, float],
    ) -> None:
        import av

        self.temp, self.encoding, self.value_range = temp, encoding, value_range
        self.height, self.width = first.shape[:2]
        even = self.height % 2 == 0 and self.width % 2 == 0
        pix_fmt = encoding.pix_fmt if even else encoding.odd_pix_fmt
        if pix_fmt == "yuv420p" and not even:
            raise StyleTransferError(
                f"{encoding.codec} in {temp.suffix or encoding.container} needs even sides, "
                f"the frames are {self.width}×{self.height}: use .mp4, .webm or .gif."
            )
        try:
            self.container = av.open(str(temp), "w", format=encoding.container)
            stream = self.container.add_stream(
                encoding.codec, rate=Fraction(fps).limit_denominator(1001)
            )
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, pix_fmt
            stream.options = dict(encoding.options)
            # a keyframe every 2 s keeps random access (napari's slider) quick
            stream.codec_context.gop_size = max(1, round(2 * fps))
            if encoding.qscale is not None:
                stream.codec_context.qscale = True
                stream.codec_context.global_quality = encoding.qscale * 118  # FF_QP2LAMBDA
        except (av.error.FFmpegError, OSError, ValueError) as error:
            self.discard()
            raise StyleTransferError(f"Cannot start writing {temp.name}: {error}") from error
        self.stream = stream
        self.palette = None

    def add(self, frame: np.ndarray, number: int) -> None:
        rgb = to_rgb8(frame, self.value_range)
        if rgb.shape[:2] != (self.height, self.width):
            raise StyleTransferError(
                f"Frame {number} is {rgb.shape[1]}×{rgb.shape[0]}, the video is "
                f"{self.width}×{self.height}: every frame must have the same size."
            )
        for packet in self.stream.encode(self._video_frame(rgb)):
            self.container.mux(packet)

    def _video_frame(self, rgb: np.ndarray):
        import av

        if self.stream.pix_fmt != "pal8":
            return av.VideoFrame.from_ndarray(rgb, format="rgb24")
        indices, self.palette = quantize(rgb, self.palette)
        return av.VideoFrame.from_ndarray((indices, self.palette), format="pal8")

    def finish(self) -> Path:
        for packet in self.stream.encode():  # flush delayed frames
            self.container.mux(packet)
        self.container.close()
        return self.temp

    def discard(self) -> None:
        container = getattr(self, "container", None)
        if container is not None:
            try:
                container.close()
            except Exception:  # closing a broken file may fail; it is deleted anyway
                pass
        self.temp.unlink(missing_ok=True)


def quantize(rgb: np.ndarray, palette: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Map an RGB frame to 256 colours for GIF.

    The palette is kept from frame to frame while it still fits (mean error up
    to :data:`PALETTE_TOLERANCE` levels), and no dithering is used: a new
    palette or dither pattern in every frame would make the GIF flicker.

    Returns
    -------
    indices : numpy.ndarray
        uint8 H×W palette indices.
    palette : numpy.ndarray
        uint8 256×4, ARGB as PyAV expects for ``pal8``.
    """
    from PIL import Image

    image = Image.fromarray(rgb)
    if palette is not None:
        indices = _nearest_colors(image, palette)
        if np.abs(palette[indices, 1:].astype(np.int16) - rgb).mean() <= PALETTE_TOLERANCE:
            return indices, palette
    reference = image.quantize(256, method=Image.Quantize.MEDIANCUT)
    colors = np.zeros((256, 3), np.uint8)
    found = np.asarray(reference.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    colors[: len(found)] = found
    palette = np.concatenate([np.full((256, 1), 255, np.uint8), colors], axis=1)
    return _nearest_colors(image, palette), palette


def _nearest_colors(image, palette: np.ndarray) -> np.ndarray:
    from PIL import Image

    holder = Image.new("P", (1, 1))
    holder.putpalette(palette[:, 1:].reshape(-1).tolist())
    return np.asarray(image.quantize(palette=holder, dither=Image.Dither.NONE), dtype=np.uint8)


class _FolderSink:
    """A folder of numbered frames being written: PNG for uint8, TIFF (dtype kept) otherwise."""

    def __init__(self, temp: Path, first: np.ndarray) -> None:
        self.temp = temp
        self.shape, self.dtype = first.shape, first.dtype
        self.suffix = ".png" if first.dtype == np.uint8 else ".tif"
        try:
            temp.mkdir()
        except OSError as error:
            raise StyleTransferError(f"Cannot create {temp.parent}: {error}") from error

    def add(self, frame: np.ndarray, number: int) -> None:
        if frame.shape != self.shape or frame.dtype != self.dtype:
            raise StyleTransferError(
                f"Frame {number} is {frame.shape} {frame.dtype}, the first was "
                f"{self.shape} {self.dtype}: every frame must match."
            )
        target = self.temp / f"frame_{number + 1:06d}{self.suffix}"
        if self.suffix == ".tif":
            import tifffile

            tifffile.imwrite(target, frame)
        else:
            from ..image_io import write_image

            write_image(target, frame)

    def finish(self) -> Path:
        return self.temp

    def discard(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def _move_into_place(temp: Path, final: Path) -> None:
    """Rename a finished file or folder to its final name (replacing an old one)."""
    if not temp.is_dir():
        os.replace(temp, final)
        return
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(temp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

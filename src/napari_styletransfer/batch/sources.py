"""What a batch reads: finding inputs, and opening images and lazy stacks.

An input is a picture file (PNG, JPEG, ...), a TIFF (one picture, or a
multi-page / OME-TIFF stack), or a Zarr / OME-Zarr array. Stacks are never
loaded whole: :func:`open_stack` gives a lazy array (zarr, or tifffile's zarr
view of the TIFF pages) from which one 2-D slice is read at a time.

Videos are recognised (:data:`VIDEO_SUFFIXES`) but not read yet: they come
with the video support, which plugs in by adding a kind to :data:`OPENERS`
and a reader there; until then a video input is a failed item with a clear
message.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr",)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
KNOWN_SUFFIXES = PICTURE_SUFFIXES + TIFF_SUFFIXES + ZARR_SUFFIXES + VIDEO_SUFFIXES
ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")
# a trailing axis this short is colour (RGB / RGBA), as napari guesses it
COLOUR_CHANNELS = (3, 4)
MIN_SIDE = 16


@dataclass(frozen=True)
class Input:
    """One input found on disk.

    Attributes
    ----------
    path : Path
        Absolute path of the file, or of the Zarr store / array folder.
    kind : {"picture", "tiff", "zarr", "video", "other"}
        How it is read.
    """

    path: Path
    kind: str


@dataclass(frozen=True)
class StackInfo:
    """Shape of a lazy stack: leading stack axes, then one 2-D (or RGB) picture.

    Attributes
    ----------
    shape : tuple of int
        The whole array's shape.
    dtype : str
        numpy dtype name.
    rgb : bool
        True when the last axis is colour.
    attributes : dict
        Zarr group attributes to copy to the output (OME-Zarr ``multiscales``
        trimmed to the full-resolution level); empty otherwise.
    zarr_format : int
        2 or 3: the output is written in the input's Zarr format (3 for TIFF).
    """

    shape: tuple[int, ...]
    dtype: str
    rgb: bool
    attributes: dict
    zarr_format: int = 3

    @property
    def picture_ndim(self) -> int:
        """Axes of one picture: 2 (grayscale) or 3 (colour last)."""
        return 3 if self.rgb else 2

    @property
    def stack_shape(self) -> tuple[int, ...]:
        """Sizes of the leading axes (T, Z, C, ...)."""
        return self.shape[: len(self.shape) - self.picture_ndim]

    @property
    def picture_shape(self) -> tuple[int, ...]:
        """Shape of one slice."""
        return self.shape[len(self.shape) - self.picture_ndim :]

    @property
    def n_slices(self) -> int:
        """Number of 2-D slices."""
        return int(np.prod(self.stack_shape, dtype=np.int64))

    def slice_index(self, number: int) -> tuple[int, ...]:
        """The stack index of slice ``number`` (C order)."""
        return tuple(int(i) for i in np.unravel_index(number, self.stack_shape))


def kind_of(path: Path) -> str:
    """How a path is read, from its suffix (and, for folders, its Zarr metadata)."""
    name = path.name.lower()
    if path.is_dir():
        return "zarr" if is_zarr(path) else "folder"
    for kind, suffixes in (
        ("picture", PICTURE_SUFFIXES),
        ("tiff", TIFF_SUFFIXES),
        ("video", VIDEO_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return "other"


def is_zarr(path: Path) -> bool:
    """True for a folder that is a Zarr store, group or array."""
    return path.name.lower().endswith(ZARR_SUFFIXES) or any(
        (path / marker).is_file() for marker in ZARR_MARKERS
    )


def discover(
    specs: Sequence[str],
    *,
    recursive: bool = False,
    exclude: Path | None = None,
    exclude_files: Iterable[Path] = (),
) -> tuple[list[Input], Path]:
    """Expand the command line's INPUT arguments into inputs and their common root.

    Parameters
    ----------
    specs : sequence of str
        Files, folders and glob patterns (``**`` matches across folders).
    recursive : bool
        Look into sub-folders of the folders given.
    exclude : Path, optional
        A folder not to take inputs from when walking folders and patterns (the
        output folder), unless the folder walked is itself inside it.
    exclude_files : iterable of Path
        Paths never to take as inputs (earlier outputs listed in the manifest).

    Returns
    -------
    inputs : list of Input
        Sorted and without duplicates. Folders contribute the files with a
        known suffix and the Zarr stores they hold; hidden files are skipped.
    root : Path
        The deepest folder that holds every input (outputs mirror the paths
        below it).

    Raises
    ------
    StyleTransferError
        When an argument matches nothing, or nothing at all is found.
    """
    found: dict[Path, Input] = {}
    roots: list[Path] = []
    excluded = exclude.resolve() if exclude is not None else None
    skip = {Path(p).resolve() for p in exclude_files}
    for spec in specs:
        paths, root = _expand(spec)
        roots.append(root)
        walk_excludes = excluded is not None and not _is_within(root, excluded)
        for path in paths:
            for item in _inputs_at(path, recursive, explicit=path.is_file()):
                if item.path in skip or (walk_excludes and _is_within(item.path, excluded)):
                    continue
                found.setdefault(item.path, item)
    if not found:
        raise StyleTransferError(
            "No inputs found in " + ", ".join(repr(s) for s in specs) + " (looked for "
            f"{', '.join(PICTURE_SUFFIXES + TIFF_SUFFIXES + ZARR_SUFFIXES)}"
            + ("" if recursive else "; use --recursive for sub-folders")
            + ")."
        )
    return sorted(found.values(), key=lambda item: str(item.path)), Path(os.path.commonpath(roots))


def _expand(spec: str) -> tuple[list[Path], Path]:
    """The paths one argument names, and the folder its outputs are named from."""
    path = Path(spec).expanduser()
    if path.exists():
        path = path.resolve()
        return [path], path if kind_of(path) == "folder" else path.parent
    if glob.has_magic(spec):
        matches = sorted(glob.glob(str(path), recursive=True))
        if matches:
            return [Path(m).resolve() for m in matches], _glob_root(path)
    raise StyleTransferError(f"No such file, folder or matching pattern: {spec!r}.")


def _glob_root(pattern: Path) -> Path:
    parts = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts).resolve() if parts else Path.cwd()


def _inputs_at(path: Path, recursive: bool, explicit: bool) -> Iterable[Input]:
    kind = kind_of(path)
    if kind != "folder":
        # a file named on the command line is an input whatever its suffix (it may fail)
        if explicit or kind != "other":
            yield Input(path, kind)
        return
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        entry_kind = kind_of(entry)
        if entry_kind == "folder":
            if recursive:
                yield from _inputs_at(entry, recursive, explicit=False)
        elif entry_kind != "other":
            yield Input(entry, entry_kind)


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# --- reading --------------------------------------------------------------------------


def read_picture(item: Input, max_pixels: int | None = None) -> np.ndarray:
    """Read a one-picture input (any picture file, or a single-page TIFF).

    Raises
    ------
    StyleTransferError
        When the file cannot be read as a picture, or declares more than
        ``max_pixels`` pixels (default: :data:`~napari_styletransfer.image_io.DEFAULT_MAX_PIXELS`).
    """
    if item.kind == "video":
        raise StyleTransferError(
            f"{item.path.name}: video inputs are not supported yet (they come with the "
            "video support); extract the frames, or pass the video to it once installed."
        )
    from ..image_io import DEFAULT_MAX_PIXELS, read_image

    return read_image(item.path, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)


def stack_info(item: Input) -> StackInfo | None:
    """The stack layout of a TIFF or Zarr input, or None for a single picture.

    Reads only metadata. Raises :class:`StyleTransferError` for unreadable
    files and for arrays that are not pictures (fewer than two axes of at
    least 16 pixels).
    """
    if item.kind not in OPENERS:
        return None
    array, attributes = OPENERS[item.kind](item.path)
    shape = tuple(int(n) for n in array.shape)
    rgb = len(shape) >= 3 and shape[-1] in COLOUR_CHANNELS and shape[-2] >= MIN_SIDE
    picture = shape[-3:-1] if rgb else shape[-2:]
    if len(picture) < 2 or min(picture) < MIN_SIDE:
        raise StyleTransferError(
            f"{item.path.name} has shape {shape}: style transfer needs pictures of at "
            f"least {MIN_SIDE}×{MIN_SIDE} pixels in its last two axes (or three, colour last)."
        )
    zarr_format = int(array.metadata.zarr_format) if item.kind == "zarr" else 3
    info = StackInfo(shape, str(np.dtype(array.dtype)), rgb, attributes, zarr_format)
    if not info.stack_shape and item.kind == "zarr":
        return info  # a one-picture Zarr array still goes to a Zarr output
    return info if info.stack_shape else None


def open_stack(item: Input):
    """A lazy array over a TIFF or Zarr input; index it to read one slice."""
    return _open_cached(item.kind, str(item.path), _stamp(item.path))


@functools.lru_cache(maxsize=8)
def _open_cached(kind: str, path: str, stamp: int):
    # per process: a worker opens each input once, not once per slice (and again if it changed)
    return OPENERS[kind](Path(path))[0]


def _stamp(path: Path) -> int:
    for marker in ZARR_MARKERS:
        if (path / marker).is_file():
            return os.stat(path / marker).st_mtime_ns
    return os.stat(path).st_mtime_ns


def _tiff_array(path: Path):
    import tifffile

    try:
        store = tifffile.imread(path, aszarr=True, level=0)
        return _zarr_open_array(store, path)
    except StyleTransferError:
        raise
    except Exception as error:  # tifffile raises many kinds for broken files
        raise StyleTransferError(f"Cannot read {path.name} as a TIFF: {error}") from error


def _open_tiff(path: Path):
    return _tiff_array(path), {}


def _zarr_open_array(store, path: Path):
    import zarr

    node = zarr.open(store, mode="r")
    if isinstance(node, zarr.Array):
        return node
    raise StyleTransferError(f"{path.name} holds no image array.")


def _open_zarr(path: Path):
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as error:
        raise StyleTransferError(f"Cannot open {path.name} as Zarr: {error}") from error
    if isinstance(node, zarr.Array):
        return node, {}
    level, attributes = _ome_full_resolution(node.attrs.asdict())
    if level is None:
        names = sorted(name for name, _ in node.arrays())
        raise StyleTransferError(
            f"{path.name} is a Zarr group, not an OME-Zarr image: name one of its arrays "
            f"({', '.join(names) or 'none'}), e.g. {path.name}/{names[0] if names else 'data'}."
        )
    return node[level], attributes


def _ome_full_resolution(attributes: dict) -> tuple[str | None, dict]:
    """The path of an OME-Zarr image's full-resolution level, and attributes for the output."""
    ome = attributes.get("ome", attributes)  # OME-Zarr 0.5 nests under "ome"
    multiscales = ome.get("multiscales") if isinstance(ome, dict) else None
    if not multiscales:
        return None, {}
    first = dict(multiscales[0])
    datasets = first.get("datasets") or []
    if not datasets:
        return None, {}
    first["datasets"] = [datasets[0]]  # the output has the full-resolution level only
    trimmed = {**ome, "multiscales": [first]}
    return datasets[0]["path"], ({"ome": trimmed} if "ome" in attributes else trimmed)


OPENERS: dict[str, Callable[[Path], tuple[object, dict]]] = {
    "tiff": _open_tiff,
    "zarr": _open_zarr,
}

"""Learned styles: small files that make a new fast-mode preset (``learned:NAME``).

A learned style is a ``.npz`` archive (numpy's zip of arrays, read with
``allow_pickle=False``, so loading one runs no code) holding:

- ``meta``: UTF-8 JSON, with ``format``, ``format_version``, ``network``
  (``"arbitrary"``, ``"multistyle"`` or ``"johnson"``), the name, date,
  training settings, losses, training time and the painting's provenance;
- ``gamma_NN`` / ``beta_NN``: the scale and shift of every conditional
  instance norm of that network (the whole style for the two pretrained
  networks, whose convolutions are shared by all styles: a few KB);
- for ``johnson`` (trained from scratch) also ``weight:KEY``: the convolutions;
- ``thumbnail``: the painting, ≤ 128 px, uint8 RGB.

Styles live in ``platformdirs.user_data_dir("napari-styletransfer")/styles``;
``learned:NAME`` names one there, and a path to such a file works as a style
too (that is how a shared file is used without importing it). Files are
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from .folders import DATA_DIR_ENV, data_root  # noqa: F401 - DATA_DIR_ENV re-exported

LEARNED_PREFIX = "learned:"
SUFFIX = ".npz"
FORMAT = "napari-styletransfer learned style"
FORMAT_VERSION = 1
NETWORK_KINDS = ("arbitrary", "multistyle", "johnson")
THUMBNAIL_SIZE = 128
MAX_REMEMBERED = 8
# letters, digits, "_", "-" and "." (not first); nothing that reaches another folder
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclass
class LearnedStyle:
    """A learned style in memory.

    Attributes
    ----------
    network : str
        Which network it belongs to, one of :data:`NETWORK_KINDS`.
    params : list of (numpy.ndarray, numpy.ndarray)
        (gamma, beta) per normalised layer, float32.
    meta : dict
        Everything in the file's ``meta`` entry.
    thumbnail : numpy.ndarray or None
        The painting, uint8 RGB, ≤ 128 px.
    weights : dict of str to numpy.ndarray
        Convolution weights (``johnson`` only; empty otherwise).
    source : Path or None
        The file it was read from.
    """

    network: str
    params: list[tuple[np.ndarray, np.ndarray]]
    meta: dict = field(default_factory=dict)
    thumbnail: np.ndarray | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    source: Path | None = None
    _digest: str | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The style's name (from its metadata, else the file's stem)."""
        return str(self.meta.get("name") or (self.source.stem if self.source else "learned"))

    def digest(self) -> str:
        """A short hash of the parameters, naming this exact style in caches."""
        if self._digest is None:
            self._digest = self._hash()
        return self._digest

    def _hash(self) -> str:
        import hashlib

        hasher = hashlib.blake2b(self.network.encode(), digest_size=12)
        for gamma, beta in self.params:
            hasher.update(np.ascontiguousarray(gamma).tobytes())
            hasher.update(np.ascontiguousarray(beta).tobytes())
        for key in sorted(self.weights):
            hasher.update(key.encode())
            hasher.update(np.ascontiguousarray(self.weights[key]).tobytes())
        return hasher.hexdigest()


# ---------------------------------------------------------------- where styles live


def styles_dir() -> Path:
    """The folder of learned styles (created on first use)."""
    folder = data_root() / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_name(name: str) -> str:
    """Validate a style name and return it.

    Raises
    ------
    StyleTransferError
        For empty names, path characters (``/``, ``\\``, ``..``), spaces or
        anything but letters, digits, ``_``, ``-`` and ``.`` (up to 64).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise StyleTransferError(
            f"The style name {name!r} is not allowed: use up to 64 letters, digits, "
            "'_', '-' or '.' (no path characters, no spaces), e.g. 'my-monet'."
        )
    return name


def style_path(name: str) -> Path:
    """Where the learned style ``name`` is (or would be) stored."""
    return styles_dir() / f"{check_name(name)}{SUFFIX}"


def is_learned(spec: object) -> bool:
    """Tell whether ``spec`` names a learned style: ``learned:NAME`` or a path to a ``.npz`` file."""
    if isinstance(spec, LearnedStyle):
        return True
    if isinstance(spec, Path):
        spec = str(spec)
    if not isinstance(spec, str):
        return False
    text = spec.strip()
    if text.lower().startswith(LEARNED_PREFIX):
        return True
    return text.lower().endswith(SUFFIX) and Path(text).expanduser().is_file()


def learned_names() -> list[str]:
    """Names of the learned styles in the styles folder, sorted."""
    return sorted(
        path.stem for path in styles_dir().glob(f"*{SUFFIX}") if _NAME.fullmatch(path.stem)
    )


def list_learned() -> list[LearnedStyle]:
    """Every readable learned style in the styles folder (unreadable files are skipped)."""
    found = []
    for name in learned_names():
        try:
            found.append(load_learned(style_path(name)))
        except StyleTransferError:
            continue
    return found


# ---------------------------------------------------------------- reading


_lock = threading.Lock()
_memo: dict[tuple, LearnedStyle] = {}


def resolve_learned(spec: str | Path | LearnedStyle) -> LearnedStyle:
    """The learned style a spec names (``learned:NAME`` or a file path).

    Raises
    ------
    StyleTransferError
        When no such style exists, or its file is corrupt or for another network.
    """
    if isinstance(spec, LearnedStyle):
        return spec
    text = str(spec).strip()
    if text.lower().startswith(LEARNED_PREFIX):
        name = text[len(LEARNED_PREFIX) :]
        path = style_path(name)
        if not path.is_file():
            known = ", ".join(learned_names()) or "none yet"
            raise StyleTransferError(
                f"There is no learned style {name!r} (learned styles: {known}). "
                f"Learn one with: napari-styletransfer learn-style PAINTING --name {name}"
            )
    else:
        path = Path(text).expanduser()
    return load_learned(path)


def load_learned(path: str | Path) -> LearnedStyle:
    """Read and check a learned-style file (remembered while the file is unchanged).

    Raises
    ------
    StyleTransferError
        For a missing or corrupt file, an unknown format version, or a file
        whose parameters do not fit the network it names.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise StyleTransferError(f"No such learned-style file: {path}") from error
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if key in _memo:
            return _memo[key]
    style = _read(path)
    with _lock:
        while len(_memo) >= MAX_REMEMBERED:
            _memo.pop(next(iter(_memo)))
        _memo[key] = style
    return style


def _read(path: Path) -> LearnedStyle:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise StyleTransferError(
            f"{path} is not a readable learned style (corrupt or not one of ours): {error}"
        ) from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StyleTransferError(f"{path} is not a napari-styletransfer learned style.")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StyleTransferError(
            f"{path} has format version {version!r}; this napari-styletransfer reads up to "
            f"{FORMAT_VERSION}: update it."
        )
    network = meta.get("network")
    if network not in NETWORK_KINDS:
        raise StyleTransferError(
            f"{path} is for a network this version does not have ({network!r}; "
            f"known: {', '.join(NETWORK_KINDS)})."
        )
    count = sum(1 for key in arrays if key.startswith("gamma_"))
    try:
        params = [
            (
                arrays[f"gamma_{i:02d}"].astype(np.float32),
                arrays[f"beta_{i:02d}"].astype(np.float32),
            )
            for i in range(count)
        ]
    except KeyError as error:
        raise StyleTransferError(f"{path} is incomplete: {error} is missing.") from error
    weights = {
        key.removeprefix("weight:"): value.astype(np.float32)
        for key, value in arrays.items()
        if key.startswith("weight:")
    }
    style = LearnedStyle(
        network=network,
        params=params,
        meta=meta,
        thumbnail=arrays.get("thumbnail"),
        weights=weights,
        source=path,
    )
    check_fits(style, str(path))
    return style


def check_fits(style: LearnedStyle, where: str) -> None:
    """Raise :class:`StyleTransferError` unless the style's arrays fit its network."""
    widths, weight_shapes = network_layout(style.network)
    shapes = [(g.shape, b.shape) for g, b in style.params]
    if shapes != [((w,), (w,)) for w in widths]:
        raise StyleTransferError(
            f"{where} does not fit the {style.network!r} network it names "
            f"({len(shapes)} normalised layers, {len(widths)} expected): "
            "it was made for another network or version."
        )
    if style.network == "johnson":
        got = {k: tuple(v.shape) for k, v in style.weights.items()}
        if got != weight_shapes:
            raise StyleTransferError(
                f"{where} does not hold the convolutions of the Johnson network it names."
            )


_layouts: dict[str, tuple[list[int], dict[str, tuple]]] = {}


def network_layout(network: str) -> tuple[list[int], dict[str, tuple]]:
    """Per-layer norm widths and (for ``johnson``) the convolution shapes of a network kind."""
    if network not in _layouts:
        from .layers import StyleTransformerNet

        if network == "johnson":
            from .johnson import JOHNSON_SHAPE as shape
        elif network == "arbitrary":
            from .arbitrary import ARBITRARY_SHAPE as shape
        else:
            from .multistyle import MULTISTYLE_SHAPE as shape
        net = StyleTransformerNet(shape)
        widths = [layer.conv.out_channels for layer in net.normalised_convs()]
        weights = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        _layouts[network] = (widths, weights if network == "johnson" else {})
    return _layouts[network]


# ---------------------------------------------------------------- writing


def save_learned(style: LearnedStyle, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``style`` to ``path`` atomically (temporary name, then rename).

    Raises
    ------
    StyleTransferError
        When ``path`` exists and ``overwrite`` is False, or on a write error.
    """
    path = Path(path)
    check_fits(style, "the style to save")
    if path.exists() and not overwrite:
        raise StyleTransferError(
            f"A learned style already exists at {path}: choose another name or overwrite it "
            "(--overwrite / overwrite=True)."
        )
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **style.meta,
        "network": style.network,
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta, indent=1).encode("utf-8"), dtype=np.uint8)
    }
    for i, (gamma, beta) in enumerate(style.params):
        arrays[f"gamma_{i:02d}"] = np.asarray(gamma, dtype=np.float32)
        arrays[f"beta_{i:02d}"] = np.asarray(beta, dtype=np.float32)
    for key, value in style.weights.items():
        arrays[f"weight:{key}"] = np.asarray(value, dtype=np.float32)
    if style.thumbnail is not None:
        arrays["thumbnail"] = np.asarray(style.thumbnail, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez_compressed(file, **arrays)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise StyleTransferError(f"Cannot write the learned style {path}: {error}") from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def import_learned(path: str | Path, name: str | None = None, *, overwrite: bool = False) -> Path:
    """Copy a shared learned-style file into the styles folder, after checking it.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file someone shared.
    name : str, optional
        The name to use (default: the file's stem).
    overwrite : bool
        Replace a style of the same name.

    Returns
    -------
    Path
        Where it was stored; ``learned:NAME`` now names it.
    """
    style = load_learned(path)
    target = style_path(check_name(name or Path(path).stem))
    if target.exists() and not overwrite:
        raise StyleTransferError(
            f"A learned style named {target.stem!r} already exists: choose another name "
            "or overwrite it."
        )
    if name and name != style.meta.get("name"):
        style = LearnedStyle(
            style.network,
            style.params,
            {**style.meta, "name": name},
            style.thumbnail,
            style.weights,
        )
        return save_learned(style, target, overwrite=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    os.close(handle)
    try:
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def thumbnail_of(painting: np.ndarray) -> np.ndarray:
    """A ≤ 128 px uint8 RGB thumbnail of a float RGB painting in [0, 1]."""
    from PIL import Image

    image = Image.fromarray((np.clip(painting, 0, 1) * 255 + 0.5).astype(np.uint8))
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.LANCZOS)
    return np.asarray(image)

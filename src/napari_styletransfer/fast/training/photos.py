"""Photos to train on: any folder, or a default set built once from Debian packages.

Training sees random square crops of the photos, each photo first resized so
that its longer side is the working size (the size the style will be used at,
512 px by default, like ``stylize``'s ``max_size``): strokes are learned at the
scale they will be seen at.

The default set is built the first time it is needed, into the user's cache
folder (``platformdirs.user_cache_dir``), from the photos in Debian packages
that the segmentation training uses (:mod:`napari_styletransfer.samples.debian`): gcompris' animal and landmark photos, the OpenCV and darknet
sample photos, scikit-image's, and the MATE, UKUI and Plasma wallpapers. The
reserved ``explore_*`` evaluation sets of gcompris are never read. About one
photo in five (by a hash of its name, the same split as the segmentation data)
is held out: the training never sees it, and the benchmark measures on it. A
``manifest.json`` records every photo's package, source path and licence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ...errors import StyleTransferError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_SET_PACKAGES = (
    "gcompris-qt-data",
    "opencv-doc",
    "darknet",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "ukui-wallpapers",
)
# stored photos: longer side at most this (the working size is 512 by default)
STORED_SIDE = 768
# photos whose shorter side is below this are too small to crop from usefully
MIN_PHOTO_SIDE = 200
MANIFEST = "manifest.json"


@dataclass
class PhotoSet:
    """Photos in memory, ready for cropping.

    Attributes
    ----------
    photos : list of numpy.ndarray
        uint8 RGB, resized to the working size (shorter side at least the crop).
    names : list of str
        Where each came from (file name or package source).
    description : str
        What the set is, for logs and the learned style's metadata.
    """

    photos: list[np.ndarray]
    names: list[str]
    description: str


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursively), sorted."""
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


def load_photos(
    folder: str | Path,
    *,
    work_size: int,
    crop: int,
    names: list[str] | None = None,
    description: str | None = None,
) -> PhotoSet:
    """Read the photos of a folder (or the listed files in it) for training.

    Parameters
    ----------
    folder : str or Path
        Any folder of images; unreadable files are skipped.
    work_size : int
        Longer side the photos are resized to.
    crop : int
        Side of the training crops; photos are enlarged if their shorter side is smaller.
    names : list of str, optional
        Only these files (relative to ``folder``).
    description : str, optional
        Defaults to the folder's path.

    Raises
    ------
    StyleTransferError
        When the folder does not exist or holds no readable image.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise StyleTransferError(f"The photo folder {folder} does not exist.")
    files = [folder / n for n in names] if names is not None else image_files(folder)
    photos, kept = [], []
    for path in files:
        rgb = _read_rgb(path)
        if rgb is not None:
            photos.append(fit_for_training(rgb, work_size, crop))
            kept.append(str(path.relative_to(folder)))
    if not photos:
        raise StyleTransferError(
            f"No readable images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)} files): "
            "give a folder of photos with --photos DIR."
        )
    return PhotoSet(photos, kept, description or f"{len(photos)} photos from {folder}")


def _read_rgb(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def fit_for_training(rgb: np.ndarray, work_size: int, crop: int) -> np.ndarray:
    """Resize so the longer side is ``work_size``, and the shorter one at least ``crop``."""
    height, width = rgb.shape[:2]
    scale = work_size / max(height, width)
    scale = max(scale, crop / min(height, width))
    size = (max(crop, round(width * scale)), max(crop, round(height * scale)))
    if size == (width, height):
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


# a crop flatter than this (standard deviation, 0-255) is drawn again: instance norm
# of a constant image divides by ~0 and its gradient overflows (letterbox borders, sky)
MIN_CROP_STD = 4.0
CROP_TRIES = 10


class CropSampler:
    """Random square crops (with random horizontal flips) of a photo set.

    The randomness comes from a :class:`torch.Generator` whose state goes into
    checkpoints, so a resumed run draws the crops it would have drawn.
    Nearly flat crops are drawn again (up to a few times).
    """

    def __init__(self, photos: PhotoSet, crop: int, seed: int = 0):
        self.photos, self.crop = photos.photos, crop
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def batch(self, count: int) -> torch.Tensor:
        """``count`` crops as a count×3×crop×crop float32 tensor in [0, 1]."""
        crops = []
        for _ in range(count):
            for _ in range(CROP_TRIES):
                piece = self._draw()
                if piece.std() >= MIN_CROP_STD:
                    break
            crops.append(torch.from_numpy(np.array(piece)))  # a writable copy
        return torch.stack(crops).permute(0, 3, 1, 2).float().div_(255.0)

    def _draw(self) -> np.ndarray:
        photo = self.photos[self._randint(len(self.photos))]
        top = self._randint(photo.shape[0] - self.crop + 1)
        left = self._randint(photo.shape[1] - self.crop + 1)
        piece = photo[top : top + self.crop, left : left + self.crop]
        return piece[:, ::-1] if self._randint(2) else piece


# ---------------------------------------------------------------- the default set


def default_photos_dir() -> Path:
    """Where the default training set is built (in the user's cache folder)."""
    from ..folders import cache_root

    return cache_root() / "style-photos"


def default_photo_set(*, work_size: int, crop: int, role: str = "train") -> PhotoSet:
    """The default training photos (``role="train"``) or the held-out ones (``"held-out"``).

    Builds the set first when it is missing (:func:`build_default_set`).
    """
    folder = default_photos_dir()
    manifest = folder / MANIFEST
    if not manifest.is_file():
        build_default_set(folder)
    entries = json.loads(manifest.read_text())["photos"]
    names = [e["file"] for e in entries if e["role"] == role]
    description = f"{len(names)} {role} photos of the default set (Debian packages, {folder})"
    return load_photos(folder, work_size=work_size, crop=crop, names=names, description=description)


def apt_instructions(folder: Path) -> str:
    """What a user runs by hand when the set cannot be built here."""
    packages = " ".join(DEFAULT_SET_PACKAGES)
    return (
        f"mkdir -p {folder}/debs && cd {folder}/debs && apt-get download {packages}; "
        "then run learn-style again (or give your own photos with --photos DIR)"
    )


def build_default_set(folder: Path) -> Path:
    """Download the Debian packages, pick the photos, write them and the manifest.

    Raises
    ------
    StyleTransferError
        When the packages cannot be fetched (no ``apt-get``/``dpkg``, offline):
        the message says what to run, or to use ``--photos``.
    """
    from ...samples import debian

    if shutil.which("dpkg") is None or shutil.which("apt-get") is None:
        raise StyleTransferError(
            "The default training photos come from Debian packages, and apt-get/dpkg are "
            "not available here: give your own photos with --photos DIR."
        )
    try:
        unpacked = debian.fetch_packages(folder, DEFAULT_SET_PACKAGES)
    except (subprocess.CalledProcessError, OSError) as error:
        raise StyleTransferError(
            f"Could not fetch the Debian packages with the default training photos ({error}). "
            f"To build the set by hand: {apt_instructions(folder)}"
        ) from error
    entries = []
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    sources = (debian.subject_photos(unpacked), debian.background_photos(unpacked))
    for source_iter in sources:
        for package, source, image in source_iter:
            rgb = debian.to_rgb(image, STORED_SIDE)
            if min(rgb.shape[:2]) < MIN_PHOTO_SIDE:
                continue
            name = f"images/{len(entries):04d}.jpg"
            Image.fromarray(rgb).save(folder / name, quality=92)
            role = "held-out" if debian.is_validation(source) else "train"
            entries.append(
                {
                    "file": name,
                    "package": package,
                    "source": source,
                    "licence": debian.LICENCES.get(package, "see the package's copyright"),
                    "role": role,
                }
            )
    manifest = {
        "what": "photos for learning fast styles (napari-styletransfer learn-style)",
        "packages": list(DEFAULT_SET_PACKAGES),
        "reserved_sets_excluded": list(debian.EVALUATION_RCC),
        "photos": entries,
    }
    temporary = folder / f".{MANIFEST}.part"
    temporary.write_text(json.dumps(manifest, indent=1))
    temporary.replace(folder / MANIFEST)
    # the packages (≈ 300 MB) are not needed any more: only the photos (≈ 15 MB) stay
    shutil.rmtree(unpacked, ignore_errors=True)
    shutil.rmtree(folder / "debs", ignore_errors=True)
    return folder / MANIFEST

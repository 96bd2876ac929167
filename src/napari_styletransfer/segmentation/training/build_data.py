"""Build the subject-segmentation training set from photos in Debian packages.

Training-time only; nothing here runs in the plugin. Steps:

1. ``apt-get download`` the packages listed in :data:`PACKAGES` and unpack them
   with ``dpkg -x`` into ``DATA_DIR/debs`` (outside the repository);
2. collect subject photos (gcompris ``erase`` and ``categorization`` bundles,
   the landmark photos of ``details``, opencv-doc and darknet examples,
   scikit-image) and background photos (mate-backgrounds,
   plasma-workspace-wallpapers, ukui-wallpapers; a wallpaper in which the
   teacher finds a subject becomes a subject photo) and cut-outs (Tux Paint's
   object stamps, whose alpha channel is their mask), resized to ≤ 640 px;
3. label every photo with the teacher (u2netp, :mod:`.teacher`);
4. split the subject photos into train / validation by a hash of their name;
5. label the gcompris ``explore_*`` sets for independent evaluation only.

Run: ``python -m napari_styletransfer.segmentation.training.build_data [--data-dir DIR]``.
The result is ``DATA_DIR/dataset/manifest.json`` plus PNGs.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ...samples.debian import (
    LICENCES,
    background_photos,
    evaluation_photos,
    fetch_packages,
    is_validation,
    subject_photos,
    to_rgb,
)

DEFAULT_DATA_DIR = Path(
    os.environ.get(
        "NAPARI_STYLETRANSFER_SEGDATA",
        Path.home() / ".cache" / "napari-styletransfer" / "segmentation",
    )
)
PACKAGES = (
    "gcompris-qt-data",
    "opencv-doc",
    "darknet",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "ukui-wallpapers",
    "tuxpaint-stamps-default",
)
# Tux Paint stamp folders that are not objects (letters, signs, flags, cartoons)
STAMP_EXCLUDED = ("symbols", "seasonal", "town/roadsigns", "town/flags", "town/cartoon")
STAMP_DIR = "usr/share/tuxpaint/stamps"
MIN_STAMP_SIDE = 64
# a background whose own teacher mask covers more than this is not a clean background
MAX_BACKGROUND_SUBJECT = 0.15
# a training photo this similar to an evaluation photo is dropped (near-duplicate)
DUPLICATE_CORRELATION = 0.95


@dataclass
class Entry:
    """One image of the dataset and where it came from."""

    id: str
    package: str
    source: str
    # "train", "validation", "background", "cutout" or an explore_* evaluation set
    role: str
    subject_fraction: float = 0.0


def stamp_cutouts(unpacked: Path) -> Iterator[tuple[str, str, Image.Image]]:
    """Yield (package, source, RGBA image) for Tux Paint's object stamps (cut-outs with alpha)."""
    stamps = unpacked / "tuxpaint-stamps-default" / STAMP_DIR
    for path in sorted(stamps.rglob("*.png")):
        name = str(path.relative_to(stamps))
        if name.startswith(STAMP_EXCLUDED):
            continue
        image = Image.open(path)
        if min(image.size) >= MIN_STAMP_SIDE and image.mode in ("RGBA", "LA", "P"):
            yield "tuxpaint-stamps-default", f"stamps/{name}", image


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A 16×16 zero-mean unit-norm gray thumbnail, for near-duplicate detection."""
    small = np.asarray(Image.fromarray(rgb).convert("L").resize((16, 16)), dtype=np.float64)
    small = small.ravel() - small.mean()
    return small / max(np.linalg.norm(small), 1e-9)


def build(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """Build (or rebuild) the dataset and return the path of its manifest."""
    from .teacher import teacher_probability

    unpacked = fetch_packages(data_dir, PACKAGES)
    out = data_dir / "dataset"
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []

    def store(package: str, source: str, rgb: np.ndarray, mask: np.ndarray, role: str) -> None:
        entry_id = f"{len(entries):04d}"
        Image.fromarray(rgb).save(out / "images" / f"{entry_id}.png")
        Image.fromarray(mask).save(out / "masks" / f"{entry_id}.png")
        fraction = round(float((mask > 127).mean()), 4)
        entries.append(Entry(entry_id, package, source, role, fraction))

    def add(package: str, source: str, rgb: np.ndarray, role: str) -> None:
        probability = teacher_probability(rgb)
        store(package, source, rgb, (probability * 255 + 0.5).astype(np.uint8), role)

    evaluation_thumbs = []
    for bundle, source, image in evaluation_photos(unpacked):
        rgb = to_rgb(image)
        add("gcompris-qt-data", source, rgb, bundle)
        evaluation_thumbs.append(thumbnail(rgb))
    evaluation_thumbs = np.stack(evaluation_thumbs)
    dropped = []
    for package, source, image in subject_photos(unpacked):
        rgb = to_rgb(image)
        if float((evaluation_thumbs @ thumbnail(rgb)).max()) > DUPLICATE_CORRELATION:
            dropped.append(source)  # too close to an evaluation photo
            continue
        add(package, source, rgb, "validation" if is_validation(source) else "train")
    for package, source, image in stamp_cutouts(unpacked):
        rgba = to_rgb(image, mode="RGBA")
        if (rgba[..., 3] > 127).mean() < 0.05:  # almost empty (thin lines, sparks)
            continue
        # a cut-out's label is its own alpha channel; the teacher labels the composites
        store(package, source, np.ascontiguousarray(rgba[..., :3]), rgba[..., 3], "cutout")
    for package, source, image in background_photos(unpacked):
        add(package, source, to_rgb(image), "background")
        if entries[-1].subject_fraction > MAX_BACKGROUND_SUBJECT:
            # a wallpaper with a subject is no clean background, but a subject photo
            entries[-1].role = "validation" if is_validation(source) else "train"
    manifest = {
        "packages": list(PACKAGES),
        "licences": LICENCES,
        "dropped_near_duplicates_of_evaluation": dropped,
        "entries": [asdict(e) for e in entries],
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path


def load_manifest(data_dir: Path = DEFAULT_DATA_DIR) -> dict:
    """Read the manifest, building the dataset first when it is missing."""
    path = data_dir / "dataset" / "manifest.json"
    if not path.is_file():
        path = build(data_dir)
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    manifest = json.loads(build(args.data_dir).read_text())
    roles: dict[str, int] = {}
    for entry in manifest["entries"]:
        roles[entry["role"]] = roles.get(entry["role"], 0) + 1
    print(json.dumps(roles), "dropped:", manifest["dropped_near_duplicates_of_evaluation"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

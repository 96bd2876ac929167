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
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

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
MAX_SIDE = 640
VALIDATION_EVERY = 5  # about one photo in five is held out for validation
# held out by name, so the test photos are never trained on
ALWAYS_VALIDATION = ("skimage/astronaut", "skimage/chelsea")
RCC_DIR = "usr/share/gcompris-qt/rcc"
TRAIN_RCC = {"erase": ("resource",), "categorization": ("fishes", "others", "renewable", "tools")}
# the landmark photos of the "details" bundle (its other pictures are paintings)
DETAILS_PHOTOS = tuple(
    f"image/{name}_background.webp"
    for name in (
        "Chenonceau EgeskovSlotSpejling EilanDonanCastle FanoeWindmill GizahPyramids "
        "Louvre_2007_02_24_c NDP Nagoya Neuschwanstein OperaSidney TajMahal TourEiffel "
        "TowerBridgeLondon"
    ).split()
)
# reserved for independent evaluation: never used for training
EVALUATION_RCC = ("explore_world_animals", "explore_farm_animals", "explore_monuments")
OPENCV_PHOTOS = (
    "HappyFish.jpg aero1.jpg apple.jpg baboon.jpg basketball1.png board.jpg "
    "butterfly.jpg building.jpg chicky_512.png ela_original.jpg fruits.jpg home.jpg "
    "messi5.jpg orange.jpg smarties.png squirrel_cls.jpg Blender_Suzanne1.jpg "
    "aloeL.jpg rubberwhale1.png box.png"
).split()
DARKNET_PHOTOS = ("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg")
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "camera.png",
)
LICENCES = {
    "gcompris-qt-data": "per-image CC-BY-SA / CC-BY / CC0 / public domain (credits in the bundle)",
    "opencv-doc": "OpenCV sample data as distributed by Debian (see the package's copyright)",
    "darknet": "darknet sample data as distributed by Debian (see the package's copyright)",
    "mate-backgrounds": "GPL-2+ / CC-BY-SA (see the package's copyright)",
    "plasma-workspace-wallpapers": "LGPL-3 / CC-BY-SA (see the package's copyright)",
    "ukui-wallpapers": "CC-BY-SA-3.0 (package copyright)",
    "tuxpaint-stamps-default": "GPL-2+ (package copyright)",
    "scikit-image": "CC0 / public domain (scikit-image data README)",
}
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


def fetch_packages(data_dir: Path) -> Path:
    """Download and unpack the Debian packages (skipped when already unpacked)."""
    debs, unpacked = data_dir / "debs", data_dir / "unpacked"
    debs.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        target = unpacked / name
        if target.is_dir():
            continue
        if not list(debs.glob(f"{name}_*.deb")):
            subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
        deb = sorted(debs.glob(f"{name}_*.deb"))[-1]
        target.mkdir(parents=True)
        subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    return unpacked


def read_rcc_images(path: Path, folders: tuple[str, ...] | None) -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) of the photos inside a Qt resource bundle (.rcc)."""
    # PyQt5 is only needed here, to read gcompris' resource bundles at build time
    from PyQt5.QtCore import QDirIterator, QFile, QIODevice, QResource

    root = f"/gcompris-data-{path.stem}"
    if not QResource.registerResource(str(path), root):
        raise RuntimeError(f"cannot read Qt resource bundle {path}")
    try:
        names = []
        iterator = QDirIterator(f":{root}", QDirIterator.Subdirectories)
        while iterator.hasNext():
            names.append(iterator.next())
        for name in sorted(names):
            parts = name.split("/")
            if not name.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
                continue
            if folders is not None and parts[-2] not in folders:
                continue
            handle = QFile(name)
            handle.open(QIODevice.ReadOnly)
            yield f"{parts[-2]}/{parts[-1]}", bytes(handle.readAll())
            handle.close()
    finally:
        QResource.unregisterResource(str(path), root)


def subject_photos(unpacked: Path) -> Iterator[tuple[str, str, Image.Image]]:
    """Yield (package, source, image) for every photo used as a subject photo."""
    import io

    rcc = unpacked / "gcompris-qt-data" / RCC_DIR
    for bundle, folders in TRAIN_RCC.items():
        for name, data in read_rcc_images(rcc / f"{bundle}.rcc", folders):
            yield "gcompris-qt-data", f"{bundle}.rcc:{name}", Image.open(io.BytesIO(data))
    for name, data in read_rcc_images(rcc / "details.rcc", ("image",)):
        if name in DETAILS_PHOTOS:
            yield "gcompris-qt-data", f"details.rcc:{name}", Image.open(io.BytesIO(data))
    opencv = unpacked / "opencv-doc" / "usr/share/doc/opencv-doc/examples/data"
    for name in OPENCV_PHOTOS:
        yield "opencv-doc", f"examples/data/{name}", Image.open(opencv / name)
    darknet = unpacked / "darknet" / "usr/share/darknet/data"
    for name in DARKNET_PHOTOS:
        yield "darknet", f"data/{name}", Image.open(darknet / name)
    import skimage.data

    skimage_dir = Path(skimage.data.__file__).parent
    for name in SKIMAGE_PHOTOS:
        yield "scikit-image", f"skimage/{Path(name).stem}", Image.open(skimage_dir / name)


def evaluation_photos(unpacked: Path) -> Iterator[tuple[str, str, Image.Image]]:
    """Yield (set name, source, image) for the reserved explore_* sets."""
    import io

    rcc = unpacked / "gcompris-qt-data" / RCC_DIR
    for bundle in EVALUATION_RCC:
        for name, data in read_rcc_images(rcc / f"{bundle}.rcc", None):
            yield bundle, f"{bundle}.rcc:{name}", Image.open(io.BytesIO(data))


def background_photos(unpacked: Path) -> Iterator[tuple[str, str, Image.Image]]:
    """Yield (package, source, image) for wallpapers: one file per wallpaper."""
    mate = unpacked / "mate-backgrounds" / "usr/share/backgrounds/mate"
    for path in sorted(mate.glob("*/*")):
        if path.suffix in (".jpg", ".png") and "_" not in path.stem:  # skip size variants
            yield "mate-backgrounds", str(path.relative_to(mate)), Image.open(path)
    ukui = unpacked / "ukui-wallpapers" / "usr/share/backgrounds"
    for path in sorted(ukui.glob("*.*")):
        yield "ukui-wallpapers", path.name, Image.open(path)
    plasma = unpacked / "plasma-workspace-wallpapers" / "usr/share/wallpapers"
    for folder in sorted(plasma.glob("*/contents/images")):
        files = sorted(folder.glob("*.*"), key=lambda p: abs(_width_in_name(p) - 1920))
        if files:
            yield (
                "plasma-workspace-wallpapers",
                str(files[0].relative_to(plasma)),
                Image.open(files[0]),
            )


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


def _width_in_name(path: Path) -> int:
    width = path.stem.split("x")[0]
    return int(width) if width.isdigit() else 0


def to_rgb(image: Image.Image, max_side: int = MAX_SIDE, mode: str = "RGB") -> np.ndarray:
    """uint8 copy of an image in ``mode`` ("RGB" or "RGBA"), longer side shrunk to ≤ max_side."""
    image = image.convert(mode)
    scale = max_side / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.LANCZOS)
    return np.asarray(image)


def is_validation(source: str) -> bool:
    """Deterministic hold-out: a hash of the source name, plus the test photos."""
    if source in ALWAYS_VALIDATION:
        return True
    digest = hashlib.sha1(source.encode()).digest()
    return digest[0] % VALIDATION_EVERY == 0


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A 16×16 zero-mean unit-norm gray thumbnail, for near-duplicate detection."""
    small = np.asarray(Image.fromarray(rgb).convert("L").resize((16, 16)), dtype=np.float64)
    small = small.ravel() - small.mean()
    return small / max(np.linalg.norm(small), 1e-9)


def build(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """Build (or rebuild) the dataset and return the path of its manifest."""
    from .teacher import teacher_probability

    unpacked = fetch_packages(data_dir)
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

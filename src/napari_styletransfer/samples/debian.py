"""Photos inside Debian packages: where they are and how to read them.

Training data for the segmentation model (:mod:`napari_styletransfer.segmentation.
training.build_data`) and for learned fast styles
(:mod:`napari_styletransfer.fast.training.photos`); nothing here runs unless a
training set is built. Packages are fetched with ``apt-get download`` and
unpacked with ``dpkg -x`` (no root needed, nothing installed). The gcompris
``explore_*`` bundles (:data:`EVALUATION_RCC`) are reserved for independent
evaluation and never used for training.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

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


def fetch_packages(data_dir: Path, packages: tuple[str, ...]) -> Path:
    """Download and unpack the Debian packages (skipped when already unpacked)."""
    debs, unpacked = data_dir / "debs", data_dir / "unpacked"
    debs.mkdir(parents=True, exist_ok=True)
    for name in packages:
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

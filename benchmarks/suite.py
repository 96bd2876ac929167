"""The content suite of the quality benchmark: six photos, one of each kind.

    python benchmarks/suite.py [--cache DIR]      # build the suite, print its provenance

People, animals, landscape, architecture, close-up and microscopy, from
Debian packages (``apt-get download`` + ``dpkg -x``, run ``apt-get update``
once first) and from scikit-image's bundled data (no download). Nothing here
was used to tune the engine before this benchmark (the old single pair was
astronaut × The Starry Night). The photos go into a cache folder, never into
the repository; each is stored as an 8-bit RGB PNG at its original size.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from build_samples import package_version, unpack_debian_package


@dataclass(frozen=True)
class Photo:
    """One suite member and where it comes from."""

    name: str
    kind: str
    package: str  # Debian package, or "scikit-image" (bundled with the wheel)
    path: str  # inside the package
    licence: str
    credit: str


OPENCV = "usr/share/doc/opencv-doc/examples/data/"
SUITE: tuple[Photo, ...] = (
    Photo(
        "messi", "people", "opencv-doc", OPENCV + "messi5.jpg",
        "Apache-2.0 AND BSD-3-Clause (debian/copyright, Files: *)", "OpenCV sample data",
    ),
    Photo(
        "horses", "animals", "darknet", "usr/share/darknet/data/horses.jpg",
        "GPL-3.0+ or MIT or WTFPL (debian/copyright, Files: *)", "darknet sample data (J. Redmon)",
    ),
    Photo(
        "evening-glow", "landscape", "plasma-workspace-wallpapers",
        "usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg",
        "LGPL-3.0 (the wallpaper's metadata.json)", "Ian Hex",
    ),
    Photo(
        "building", "architecture", "opencv-doc", OPENCV + "building.jpg",
        "Apache-2.0 AND BSD-3-Clause (debian/copyright, Files: *)", "OpenCV sample data",
    ),
    Photo(
        "butterfly", "close-up", "opencv-doc", OPENCV + "butterfly.jpg",
        "Apache-2.0 AND BSD-3-Clause (debian/copyright, Files: *)", "OpenCV sample data",
    ),
    Photo(
        "ihc", "microscopy", "scikit-image", "skimage/data/ihc.png",
        "no known copyright restrictions (skimage.data.immunohistochemistry)",
        "Center for Microscopy And Molecular Imaging (CMMI)",
    ),
)  # fmt: skip
NAMES = tuple(p.name for p in SUITE)


def default_cache() -> Path:
    """Where the suite is built unless ``--cache`` says otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or "/tmp"
    return Path(base) / "napari-styletransfer-suite"


def source_file(photo: Photo, cache: Path) -> tuple[Path, str]:
    """The photo's original file and the exact package (version) it came from."""
    if photo.package == "scikit-image":
        import skimage

        return Path(skimage.__file__).parent / photo.path.removeprefix("skimage/"), (
            f"scikit-image {skimage.__version__}"
        )
    root = unpack_debian_package(photo.package, cache / "debs")
    return root / photo.path, package_version(root)


def build(cache: Path | None = None, names=NAMES) -> dict[str, str]:
    """Build the missing suite photos ``names`` into ``cache``; return name → package version."""
    cache = cache or default_cache()
    folder = cache / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    versions = {}
    for photo in (p for p in SUITE if p.name in names):
        target = folder / f"{photo.name}.png"
        stamp = target.with_suffix(".source")
        if target.exists() and stamp.exists():
            versions[photo.name] = stamp.read_text().strip()
            continue
        source, version = source_file(photo, cache)
        partial = target.with_suffix(".partial.png")
        Image.open(source).convert("RGB").save(partial)
        partial.replace(target)
        stamp.write_text(version + "\n")
        versions[photo.name] = version
    return versions


def load(name: str, cache: Path | None = None) -> np.ndarray:
    """A suite photo as uint8 RGB (built first when missing)."""
    if name not in NAMES:
        raise KeyError(f"{name!r} is not in the suite: {', '.join(NAMES)}")
    path = (cache or default_cache()) / "photos" / f"{name}.png"
    if not path.exists():
        build(cache, (name,))
    return np.asarray(Image.open(path).convert("RGB"))


def provenance_rows(cache: Path | None = None, names=NAMES) -> list[list[str]]:
    """One markdown row per photo: name, kind, package (version), path, size, licence, credit."""
    versions = build(cache, names)
    rows = []
    for photo in (p for p in SUITE if p.name in names):
        height, width = load(photo.name, cache).shape[:2]
        rows.append(
            [
                f"`{photo.name}`",
                photo.kind,
                versions[photo.name].replace("%3a", ":"),
                f"`{photo.path}`",
                f"{width}×{height}",
                photo.licence,
                photo.credit,
            ]
        )
    return rows


def main(argv=None) -> int:
    """Build the suite and print its provenance table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args(argv)
    from common import markdown_table

    header = ["photo", "kind", "package", "path in the package", "size", "licence", "credit"]
    print(markdown_table(header, provenance_rows(args.cache)))
    print(f"\nphotos in {args.cache / 'photos'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rebuild the bundled sample images in src/napari_styletransfer/samples/data/.

Every image comes from a Debian package or from scikit-image; nothing is
downloaded from anywhere else. Provenance and licences: docs/samples.md.

Usage::

    python scripts/build_samples.py [--cache DIR] [--out DIR]

Needs ``apt-get`` and ``dpkg`` (Debian/Ubuntu; run ``apt-get update`` once
first), Pillow, numpy, scikit-image and PyQt5 (to read GCompris' Qt resource
bundles). The Debian packages are downloaded and unpacked into the cache
folder (default ``$XDG_CACHE_HOME/napari-styletransfer-samples``, or
``/tmp/napari-styletransfer-samples``), never into the repository.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "napari_styletransfer" / "samples" / "data"
MAX_SIDE = 512
JPEG_QUALITY = 90
MAX_BYTES = 150_000

GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc/paintings.rcc"
PAINTINGS_PREFIX = ":/gcompris/src/activities/paintings/resource/"
# Board files in paintings.rcc, and the painting their pieces make up.
GREAT_WAVE_BOARD = "board/board7_0.qml"  # Hokusai, The Great Wave off Kanagawa
KANDINSKY_BOARD = "board/board19_0.qml"  # Kandinsky, Composition VIII


def default_cache() -> Path:
    """Cache folder for downloaded and unpacked Debian packages."""
    base = os.environ.get("XDG_CACHE_HOME") or "/tmp"
    return Path(base) / "napari-styletransfer-samples"


def unpack_debian_package(name: str, cache: Path) -> Path:
    """Download a Debian package with apt-get and unpack it; return its root folder."""
    root = cache / name
    if (root / ".unpacked").is_file():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{name}_*.deb"):
        old.unlink()
    result = subprocess.run(
        ["apt-get", "download", name], cwd=cache, capture_output=True, text=True
    )
    debs = sorted(cache.glob(f"{name}_*.deb"))
    if result.returncode != 0 or not debs:
        sys.exit(f"apt-get download {name} failed (run `apt-get update` first?):\n{result.stderr}")
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
    (root / ".unpacked").write_text(debs[-1].name + "\n")
    return root


def package_version(root: Path) -> str:
    """The .deb file name a cached package was unpacked from."""
    return (root / ".unpacked").read_text().strip()


def read_qt_resources(rcc_path: Path, prefix: str) -> dict[str, bytes]:
    """Read every file under ``prefix`` from a compiled Qt resource bundle (.rcc)."""
    from PyQt5.QtCore import QCoreApplication, QDirIterator, QFile, QIODevice, QResource

    _app = QCoreApplication.instance() or QCoreApplication([])  # keep Qt alive
    if not QResource.registerResource(str(rcc_path)):
        sys.exit(f"Qt cannot read the resource bundle {rcc_path}")
    files: dict[str, bytes] = {}
    entries = QDirIterator(prefix, QDirIterator.Subdirectories)
    while entries.hasNext():
        path = entries.next()
        if entries.fileInfo().isDir():
            continue
        handle = QFile(path)
        handle.open(QIODevice.ReadOnly)
        files[path[len(prefix) :]] = bytes(handle.readAll())
        handle.close()
    QResource.unregisterResource(str(rcc_path))
    return files


# --- Jigsaw reassembly -------------------------------------------------------------


@dataclass
class Piece:
    """One jigsaw piece: colours, opaque-pixel mask and top-left corner on the board.

    ``depth`` is each opaque pixel's distance (in pixels) from the piece's cut
    edge; the outermost ring of every piece is lightened by the cutting, so
    seams are matched and pasted from deeper pixels.
    """

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    x: int
    y: int
    depth: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        padded = np.pad(self.mask, 1)
        self.depth = ndimage.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1]


def parse_board(qml: str, files: dict[str, bytes]) -> list[Piece]:
    """Pieces of a GCompris 'paintings' board, placed where the game puts them.

    GCompris (babymatch/DropAnswerItem.qml) centres each piece at
    ``(x * width, y * height)`` of the board's background (``width`` × ``height``
    source pixels), with the piece images at that same scale.
    """
    width = int(re.search(r'"width"\s*:\s*(\d+)', qml).group(1))
    height = int(re.search(r'"height"\s*:\s*(\d+)', qml).group(1))
    entries = re.findall(
        r'"pixmapfile"\s*:\s*"([^"]+\.webp)",\s*"x"\s*:\s*"([\d.]+)",\s*"y"\s*:\s*"([\d.]+)"', qml
    )
    pieces = []
    for name, fx, fy in entries:
        rgba = np.asarray(Image.open(io.BytesIO(files[name])).convert("RGBA"))
        h, w = rgba.shape[:2]
        x, y = round(float(fx) * width - w / 2), round(float(fy) * height - h / 2)
        pieces.append(Piece(name, rgba[..., :3].astype(np.int16), rgba[..., 3] > 127, x, y))
    if not pieces:
        sys.exit("No jigsaw pieces found in the board file.")
    return pieces


def overlap_mismatch(a: Piece, b: Piece) -> float | None:
    """Mean colour difference where two pieces' opaque pixels overlap (None if they barely touch)."""
    top, left = max(a.y, b.y), max(a.x, b.x)
    bottom = min(a.y + a.mask.shape[0], b.y + b.mask.shape[0])
    right = min(a.x + a.mask.shape[1], b.x + b.mask.shape[1])
    if bottom <= top or right <= left:
        return None
    sa = np.s_[top - a.y : bottom - a.y, left - a.x : right - a.x]
    sb = np.s_[top - b.y : bottom - b.y, left - b.x : right - b.x]
    both = a.mask[sa] & b.mask[sb]
    if both.sum() < 30:
        return None
    return float(np.abs(a.rgb[sa][both] - b.rgb[sb][both]).mean())


def coverage(pieces: list[Piece], shape: tuple[int, int]) -> np.ndarray:
    """How many pieces cover each board pixel."""
    count = np.zeros(shape, np.int32)
    for p in pieces:
        h, w = p.mask.shape
        count[p.y : p.y + h, p.x : p.x + w] += p.mask
    return count


def relative_shift(a: Piece, b: Piece, search: int) -> tuple[int, int, float] | None:
    """Shift of ``b`` (with ``a`` fixed) that makes their shared border agree best.

    Returns the shift and a confidence (how much worse the runner-up shift is),
    or None when the pieces do not overlap at any shift: they are not neighbours.
    """
    x0, y0 = b.x, b.y
    scores = []
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            b.x, b.y = x0 + dx, y0 + dy
            mismatch = overlap_mismatch(a, b)
            if mismatch is not None:
                scores.append((mismatch, dx, dy))
    b.x, b.y = x0, y0
    if not scores:
        return None
    scores.sort()
    confidence = scores[1][0] - scores[0][0] if len(scores) > 1 else 0.0
    return scores[0][1], scores[0][2], confidence


def refine_positions(pieces: list[Piece], search: int = 2) -> None:
    """Nudge pieces by a pixel or two so that their overlapping borders agree.

    The board stores centres as fractions with three decimals, which puts some
    pieces a pixel off. Neighbouring pieces share a thin overlapping band whose
    colours agree only at the true relative offset. Each neighbour pair votes for
    its best relative shift (weighted by how clear the winner is), and a weighted
    least-squares fit turns the votes into one shift per piece; piece 0 stays put.
    """
    votes = []
    for i, a in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            if (vote := relative_shift(a, pieces[j], search)) is not None:
                dx, dy, confidence = vote
                votes.append((i, j, dx, dy, min(confidence, 10.0) + 0.1))
    rows = np.zeros((len(votes) + 1, len(pieces)))
    targets = np.zeros((len(votes) + 1, 2))
    for k, (i, j, dx, dy, weight) in enumerate(votes):
        rows[k, i], rows[k, j], targets[k] = -weight, weight, (weight * dx, weight * dy)
    rows[-1, 0] = 100.0  # anchor the first piece
    shifts = np.rint(np.linalg.lstsq(rows, targets, rcond=None)[0]).astype(int)
    for piece, (dx, dy) in zip(pieces, shifts, strict=True):
        piece.x += dx
        piece.y += dy


def seam_mismatches(pieces: list[Piece]) -> list[float]:
    """Colour mismatch in every overlap between two pieces (a quality report)."""
    pairs = [(a, b) for i, a in enumerate(pieces) for b in pieces[i + 1 :]]
    return [m for a, b in pairs if (m := overlap_mismatch(a, b)) is not None]


def largest_covered_box(covered: np.ndarray) -> tuple[slice, slice]:
    """Shrink the covered area's bounding box until no pixel inside it is a hole."""
    rows, cols = np.flatnonzero(covered.any(1)), np.flatnonzero(covered.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    while not covered[top:bottom, left:right].all():
        box = covered[top:bottom, left:right]
        edges = {
            "top": (~box[0]).sum(),
            "bottom": (~box[-1]).sum(),
            "left": (~box[:, 0]).sum(),
            "right": (~box[:, -1]).sum(),
        }
        worst = max(edges, key=edges.get)
        top += worst == "top"
        bottom -= worst == "bottom"
        left += worst == "left"
        right -= worst == "right"
    return slice(top, bottom), slice(left, right)


def assemble_jigsaw(pieces: list[Piece]) -> np.ndarray:
    """Paste aligned pieces onto one canvas and crop to the hole-free rectangle."""
    before = seam_mismatches(pieces)
    refine_positions(pieces)
    after = seam_mismatches(pieces)
    left, top = min(p.x for p in pieces), min(p.y for p in pieces)
    for p in pieces:  # a nudge may have pushed a piece off the board's top or left
        p.x, p.y = p.x - left, p.y - top
    if before and after:
        print(
            f"    seam colour mismatch: mean {np.mean(before):.1f} → {np.mean(after):.1f}, "
            f"worst {max(before):.1f} → {max(after):.1f} (0–255 scale)"
        )
    shape = (max(p.y + p.mask.shape[0] for p in pieces), max(p.x + p.mask.shape[1] for p in pieces))
    canvas = np.zeros((*shape, 3), np.uint8)
    canvas_depth = np.zeros(shape, np.int32)
    for p in pieces:
        h, w = p.mask.shape
        window = np.s_[p.y : p.y + h, p.x : p.x + w]
        deeper = p.depth > canvas_depth[window]  # where pieces overlap, the inner pixel wins
        canvas[window][deeper] = p.rgb[deeper]
        canvas_depth[window][deeper] = p.depth[deeper]
    rows, cols = largest_covered_box(coverage(pieces, shape) > 0)
    # The painting's outermost pixels are the lightened cut edge: drop them.
    return canvas[rows, cols][1:-1, 1:-1]


# --- Output ----------------------------------------------------------------------------


def trim(
    image: Image.Image, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0
) -> Image.Image:
    """Cut a scan's frame off: the given number of pixels on each side."""
    return image.crop((left, top, image.width - right, image.height - bottom))


def save_sample(image: np.ndarray | Image.Image, path: Path) -> None:
    """Save as RGB JPEG (quality 90) with the longest side at most 512 px."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    img = img.convert("RGB")
    scale = MAX_SIDE / max(img.size)
    if scale < 1:
        size = (round(img.width * scale), round(img.height * scale))
        img = img.resize(size, Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True)
    size = path.stat().st_size
    print(f"  {path.name}: {img.width}×{img.height}, {size / 1000:.0f} kB")
    if size > MAX_BYTES:
        sys.exit(f"{path} is {size} bytes, over the {MAX_BYTES}-byte budget.")


def build(out: Path, cache: Path) -> None:
    """Write all six sample images into ``out``."""
    import skimage
    import skimage.data

    print(f"scikit-image {skimage.__version__}")
    save_sample(skimage.data.astronaut(), out / "astronaut.jpg")
    save_sample(skimage.data.chelsea(), out / "chelsea.jpg")

    opencv = unpack_debian_package("opencv-doc", cache)
    print(package_version(opencv))
    starry = opencv / "usr/share/doc/opencv-doc/examples/data/starry_night.jpg"
    # The scan has a black frame and a thin light mat line, 16 px on every side.
    save_sample(trim(Image.open(starry), 16, 16, 16, 16), out / "starry-night.jpg")

    darknet = unpack_debian_package("darknet", cache)
    print(package_version(darknet))
    scream = Image.open(darknet / "usr/share/darknet/data/scream.jpg")
    # A 12 px red strip along the right edge is the scan's border, not the painting.
    save_sample(trim(scream, right=12), out / "the-scream.jpg")

    gcompris = unpack_debian_package("gcompris-qt-data", cache)
    print(package_version(gcompris))
    files = read_qt_resources(gcompris / GCOMPRIS_RCC, PAINTINGS_PREFIX)
    for board, filename in (
        (GREAT_WAVE_BOARD, "great-wave.jpg"),
        (KANDINSKY_BOARD, "kandinsky.jpg"),
    ):
        print(f"  reassembling {board}")
        pieces = parse_board(files[board].decode("utf-8"), files)
        save_sample(assemble_jigsaw(pieces), out / filename)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="package cache")
    args = parser.parse_args(argv)
    build(args.out, args.cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Learned fast styles against the arbitrary network's zero-shot result and quality mode.

    python benchmarks/bench_learn_style.py                 # 6 paintings, 8 photos, 512 px
    python benchmarks/bench_learn_style.py --networks arbitrary multistyle
    python benchmarks/bench_learn_style.py --smoke         # tiny sizes: checks the script

For every painting (the 4 bundled ones and 2 from outside the bundle, see
:func:`outside_paintings`) a preset is learned (``learn_style`` with its
defaults, on the default training photos) for each network asked for. Then,
on 8 photos the training never saw (the held-out part of the default set), at
``--size`` px, the neutral yardstick of ``bench_quality.py`` (same VGG19;
style distance: mean relative Gram distance relu1_1…relu5_1; content
distance: relative relu4_2 distance; lower is better) scores:

- the learned preset (``learned:NAME``),
- the arbitrary network's zero-shot result with the painting as style image,
- quality mode (default steps) on the first ``--quality-photos`` photos.

Also timed: training, and inference of the learned preset against a
built-in preset (``preset:7``) on the same photos (median of runs with the
output caches cleared). Results are kept per painting and network in
``--out`` (a run that is interrupted goes on from there). Prints a markdown
table; writes a picture sheet to ``--sheet``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import Yardstick
from common import DOCS, machine_info, markdown_table, resized

BUNDLED = ("starry-night", "great-wave", "the-scream", "kandinsky")
# whole Van Gogh paintings in gcompris' "details" activity (public domain)
OUTSIDE = {
    "night-cafe": (
        "image/Van_Gogh_The_Night_Cafe_background.webp",
        "The Night Café (Van Gogh, 1888)",
    ),
    "pere-tanguy": (
        "image/PortraitOfPereTanguy_background.webp",
        "Portrait of Père Tanguy (Van Gogh, 1887)",
    ),
}
DEFAULT_OUT = Path.home() / ".cache" / "napari-styletransfer" / "bench-learn-style"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- inputs


def outside_paintings(folder: Path) -> dict[str, tuple[np.ndarray, dict]]:
    """The two paintings from outside the bundle, extracted once from Debian's gcompris-qt-data."""
    from napari_styletransfer.samples.debian import read_rcc_images

    folder.mkdir(parents=True, exist_ok=True)
    wanted = {path: name for name, (path, _) in OUTSIDE.items()}
    found = {}
    if not all((folder / f"{name}.png").is_file() for name in OUTSIDE):
        debs = folder / "debs"
        debs.mkdir(exist_ok=True)
        if not list(debs.glob("gcompris-qt-data_*.deb")):
            subprocess.run(["apt-get", "download", "gcompris-qt-data"], cwd=debs, check=True)
        deb = sorted(debs.glob("gcompris-qt-data_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(folder / "unpacked")], check=True)
        rcc = folder / "unpacked/usr/share/gcompris-qt/rcc/details.rcc"
        for name, data in read_rcc_images(rcc, ("image",)):
            if name in wanted:
                Image.open(io.BytesIO(data)).convert("RGB").save(folder / f"{wanted[name]}.png")
    for name, (path, title) in OUTSIDE.items():
        rgb = np.asarray(Image.open(folder / f"{name}.png").convert("RGB"))
        found[name] = (
            rgb,
            {
                "title": title,
                "package": "gcompris-qt-data (Debian 12)",
                "path": f"usr/share/gcompris-qt/rcc/details.rcc:{path}",
                "licence": "public domain (painting); gcompris credits in the bundle",
            },
        )
    return found


def paintings(folder: Path, names: list[str]) -> dict[str, tuple[np.ndarray, dict]]:
    """Every painting asked for, with its provenance."""
    from napari_styletransfer import load_sample

    found = {
        n: (load_sample(n), {"title": n, "package": "bundled", "path": f"samples/{n}.jpg"})
        for n in BUNDLED
        if n in names
    }
    if any(n in OUTSIDE for n in names):
        found |= {k: v for k, v in outside_paintings(folder / "paintings").items() if k in names}
    return {n: found[n] for n in names}


def held_out_photos(count: int, size: int) -> tuple[list[np.ndarray], list[str]]:
    """``count`` photos of the default set's held-out part, spread over it, at ``size`` px."""
    from napari_styletransfer.fast.training.photos import default_photo_set, default_photos_dir

    held = default_photo_set(work_size=size, crop=16, role="held-out")
    step = max(1, len(held.photos) // count)
    picks = list(range(0, len(held.photos), step))[:count]
    manifest = json.loads((default_photos_dir() / "manifest.json").read_text())["photos"]
    sources = {e["file"]: f"{e['package']}: {e['source']}" for e in manifest}
    photos = [resized(held.photos[i], size) for i in picks]
    return photos, [sources.get(held.names[i], held.names[i]) for i in picks]


# ---------------------------------------------------------------- runs


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 pictures as they are; float ones (0–1) scaled."""
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def fast_pictures(photos, style, size) -> tuple[list[np.ndarray], list[float]]:
    """Fast-mode pictures of the photos and the seconds of each call (caches cleared)."""
    from napari_styletransfer import stylize
    from napari_styletransfer.fast import cache

    pictures, seconds = [], []
    for photo in photos:
        cache.last_preset_output.clear()
        start = time.perf_counter()
        pictures.append(stylize(photo, style, method="fast", max_size=size, device="cpu"))
        seconds.append(time.perf_counter() - start)
    return pictures, seconds


def score(pictures, photos, painting, size) -> list[tuple[float, float]]:
    """(style, content) distance of each picture to its photo and the painting."""
    return [
        Yardstick(photo, painting, size)(picture)
        for picture, photo in zip(pictures, photos, strict=True)
    ]


def learn(name: str, painting: np.ndarray, network: str, args) -> tuple[Path, float, dict]:
    from napari_styletransfer.fast.learned import load_learned
    from napari_styletransfer.fast.training import LearnSettings, iter_learn_style

    settings = LearnSettings(network=network, steps=args.steps, size=args.crop)
    if args.smoke:
        settings = LearnSettings(
            network=network, steps=3, size=32, work_size=64, batch_size=1, preview_every=0
        )
    start = time.perf_counter()
    path = None
    runner = iter_learn_style(painting, name, settings=settings, overwrite=True, device="cpu")
    for report in runner:
        if report.step % 50 == 0 or report.done:
            log(
                f"    step {report.step}/{report.total}: loss {report.losses.get('total', 0):.4g}, "
                f"{report.elapsed:.0f} s"
            )
        path = report.saved or path
    seconds = time.perf_counter() - start
    return path, seconds, load_learned(path).meta


def run_painting(key, painting, provenance, photos, args) -> dict:
    """Everything measured for one painting (kept as JSON in ``--out``)."""
    cached = args.out / f"{key}.json"
    result = json.loads(cached.read_text()) if cached.is_file() else {"painting": key}
    result["provenance"] = provenance
    size = args.size
    args.out.mkdir(parents=True, exist_ok=True)

    def keep(label: str, images: list[np.ndarray]) -> None:
        # after every stage, so that an interrupted run goes on from there
        cached.write_text(json.dumps(result, indent=1))
        np.savez_compressed(args.out / f"{key}-{label}.npz", *[to_uint8(i) for i in images])

    if "zero_shot" not in result or args.smoke:
        log(f"{key}: zero-shot (arbitrary network, painting as style image)")
        images, seconds = fast_pictures(photos, painting, size)
        result["zero_shot"] = {
            "distances": score(images, photos, painting, size),
            "seconds": seconds,
        }
        keep("zero_shot", images)
    for network in args.networks:
        label = f"learned-{network}-{args.steps}"
        if label not in result or args.smoke:
            log(f"{key}: learning a {network} preset ({args.steps} steps)")
            path, seconds, meta = learn(f"bench-{key}-{network}", painting, network, args)
            images, times = fast_pictures(photos, str(path), size)
            result[label] = {
                "distances": score(images, photos, painting, size),
                "seconds": times,
                "training_seconds": seconds,
                "start": meta.get("start"),
                "file": str(path),
                "file_kb": round(path.stat().st_size / 1024, 1),
            }
            keep(label, images)
    if "quality" not in result or args.smoke:
        from napari_styletransfer import stylize

        log(f"{key}: quality mode on {args.quality_photos} photo(s)")
        images, seconds = [], []
        for photo in photos[: args.quality_photos]:
            start = time.perf_counter()
            steps = 4 if args.smoke else None
            images.append(stylize(photo, painting, max_size=size, steps=steps, device="cpu"))
            seconds.append(time.perf_counter() - start)
        quality_photos = photos[: args.quality_photos]
        result["quality"] = {
            "distances": score(images, quality_photos, painting, size),
            "seconds": seconds,
        }
        keep("quality", images)
    if "preset_seconds" not in result or args.smoke:
        images, result["preset_seconds"] = fast_pictures(photos, "preset:7", size)
        keep("preset7", images)
    return result


# ---------------------------------------------------------------- report


def mean_distances(entry: dict) -> tuple[float, float]:
    distances = entry["distances"]
    return (
        statistics.fmean(d[0] for d in distances),
        statistics.fmean(d[1] for d in distances),
    )


def table(results: list[dict], args) -> str:
    header = ["painting", "zero-shot style / content"]
    for network in args.networks:
        header += [
            f"learned ({network}) style / content",
            "style ratio",
            "content ratio",
            "training (min)",
            "file (KB)",
        ]
    header += [
        f"quality style / content ({args.quality_photos} photos)",
        "inference learned / preset:7 (s)",
    ]
    rows = []
    for r in results:
        zs, zc = mean_distances(r["zero_shot"])
        row = [r["painting"], f"{zs:.3f} / {zc:.3f}"]
        inference = []
        for network in args.networks:
            entry = r.get(f"learned-{network}-{args.steps}")
            if entry is None:
                row += ["—"] * 5
                continue
            ls, lc = mean_distances(entry)
            met = "**" if ls <= 0.8 * zs and lc <= 1.2 * zc else ""
            row += [
                f"{ls:.3f} / {lc:.3f}",
                f"{met}{ls / zs:.2f}×{met}",
                f"{lc / zc:.2f}×",
                f"{entry['training_seconds'] / 60:.1f}",
                f"{entry['file_kb']:.0f}",
            ]
            inference.append(statistics.median(entry["seconds"]))
        if "quality" in r:
            qs, qc = mean_distances(r["quality"])
            row.append(f"{qs:.3f} / {qc:.3f}")
        else:
            row.append("—")
        preset = statistics.median(r.get("preset_seconds") or [float("nan")])
        row.append(" / ".join(f"{s:.3f}" for s in inference) + f" / {preset:.3f}")
        rows.append(row)
    return markdown_table(header, rows)


def sheet(results: list[dict], paintings_by_key, photos, args, path: Path) -> None:
    """Per painting one row: painting, photo, zero-shot, learned (each network), quality."""
    tile = 192
    rows = []
    for r in results:
        key = r["painting"]
        painting = paintings_by_key[key][0]
        blank = np.full((tile, tile, 3), 255, np.uint8)
        # the fast pictures are remade from the painting and the learned files (cheap)
        cells = [painting, photos[0], fast_pictures(photos[:1], painting, args.size)[0][0]]
        for network in args.networks:
            entry = r.get(f"learned-{network}-{args.steps}")
            found = entry and Path(entry["file"]).is_file()
            cells.append(
                fast_pictures(photos[:1], entry["file"], args.size)[0][0] if found else blank
            )
        file = args.out / f"{key}-quality.npz"
        if file.is_file():
            with np.load(file) as saved:
                cells.append(saved["arr_0"])
        else:
            cells.append(blank)
        fitted = []
        for cell in cells:
            image = Image.fromarray(cell)
            image.thumbnail((tile, tile), Image.LANCZOS)
            canvas = Image.new("RGB", (tile, tile), "white")
            canvas.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
            fitted.append(np.asarray(canvas))
        rows.append(np.concatenate(fitted, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, quality=88)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paintings", nargs="*", default=[*BUNDLED, *OUTSIDE])
    parser.add_argument("--networks", nargs="*", default=["arbitrary"])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--quality-photos", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: learn_style's)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--sheet", type=Path, default=DOCS / "images" / "learn_style_sheet.jpg")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print the table of what --out holds; run nothing",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.paintings, args.photos, args.quality_photos, args.size = ["kandinsky"], 2, 1, 64
        args.steps = 3
        args.sheet = args.out / "sheet-smoke.jpg"
    if args.steps is None:
        from napari_styletransfer.fast.training import LearnSettings

        args.steps = LearnSettings().resolved().steps
    for key, value in machine_info().items():
        log(f"{key}: {value}")
    photos, sources = held_out_photos(args.photos, args.size)
    log("held-out photos: " + "; ".join(sources))
    found = paintings(args.out, args.paintings)
    if args.report_only:
        kept = [args.out / f"{k}.json" for k in found]
        results = [json.loads(p.read_text()) for p in kept if p.is_file()]
    else:
        results = [run_painting(k, rgb, prov, photos, args) for k, (rgb, prov) in found.items()]
    sheet(results, found, photos, args, args.sheet)
    print(table(results, args))
    print()
    print("Photos: " + "; ".join(sources))
    for r in results:
        p = r["provenance"]
        print(f"- {r['painting']}: {p['title']} — {p['package']}, {p['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

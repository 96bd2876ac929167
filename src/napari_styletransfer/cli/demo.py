"""``napari-styletransfer demo -o DIR``: the bundled photo with every bundled painting."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..image_io import write_image
from .progress_bar import last_report, with_progress

DEMO_CONTENT = "astronaut"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="stylise the bundled photo with the bundled paintings",
        description="Stylise the bundled astronaut photo with each bundled painting, plus "
        "one run on the background only (the subject found by the bundled UNet is kept), and "
        "write PNGs and a side-by-side sheet.",
    )
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--max-size", type=int, default=384, help="longer side to compute at")
    p.add_argument("--steps", type=int, default=100, help="optimisation steps per picture")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def side_by_side(images: list[np.ndarray], height: int = 256, gap: int = 8) -> np.ndarray:
    """Scale images to one height and put them in a row on a white background."""
    from ..core.arrays import resize_array

    tiles = []
    for image in images:
        h, w = image.shape[:2]
        width = round(w * height / h)
        tiles.append(
            (resize_array(image.astype(np.float32) / 255.0, (height, width)) * 255).astype(np.uint8)
        )
    total = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    sheet = np.full((height, total, 3), 255, np.uint8)
    x = 0
    for tile in tiles:
        sheet[:, x : x + tile.shape[1]] = tile
        x += tile.shape[1] + gap
    return sheet


def run(args: argparse.Namespace) -> int:
    """Run the ``demo`` subcommand."""
    from ..api import iter_stylize
    from ..samples import load_sample, style_names

    out_dir = Path(args.output)
    content = load_sample(DEMO_CONTENT)
    write_image(out_dir / f"{DEMO_CONTENT}.png", content)
    jobs = [(name, {}) for name in style_names()]
    # the subject found by the bundled UNet stays as it is
    jobs.append((style_names()[0], {"mask": "auto", "region": "outside"}))
    results, written, start = [content], [], time.perf_counter()
    for name, extra in jobs:
        label = f"{name}-background-only" if extra else name
        reports = iter_stylize(
            content, name, max_size=args.max_size, steps=args.steps, device=args.device, **extra
        )
        final = last_report(with_progress(reports, enabled=None if not args.json else False))
        results.append(final.result)
        written.append(str(write_image(out_dir / f"{DEMO_CONTENT}-{label}.png", final.result)))
    sheet = write_image(out_dir / "sheet.png", side_by_side(results))
    if args.json:
        summary = {
            "outputs": written,
            "sheet": str(sheet),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(summary))
    else:
        print(f"wrote {len(written)} pictures and {sheet}")
    return 0

"""``napari-styletransfer demo -o DIR``: the bundled photo with every bundled painting."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..files import check_output
from ..image_io import write_image
from .options import add_overwrite_option
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
    add_overwrite_option(p)
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
    from ..api import StylizeRequest, iter_run
    from ..samples import load_sample, style_names

    out_dir = Path(args.output)
    options = {"max_size": args.max_size, "steps": args.steps, "device": args.device}
    runs = [(name, StylizeRequest.create(name, **options)) for name in style_names()]
    # the subject found by the bundled UNet stays as it is
    background = StylizeRequest.create(style_names()[0], mask="auto", region="outside", **options)
    runs.append((f"{style_names()[0]}-background-only", background))
    photo_path, sheet_path = out_dir / f"{DEMO_CONTENT}.png", out_dir / "sheet.png"
    paths = [out_dir / f"{DEMO_CONTENT}-{label}.png" for label, _ in runs]
    for path in (photo_path, *paths, sheet_path):  # every check before the first picture
        check_output(path, overwrite=args.overwrite)
    content = load_sample(DEMO_CONTENT)
    results, start = [content], time.perf_counter()
    for (_, request), path in zip(runs, paths, strict=True):
        reports = iter_run(request, content)
        final = last_report(with_progress(reports, enabled=None if not args.json else False))
        results.append(final.result)
        write_image(path, final.result)
    write_image(photo_path, content)
    write_image(sheet_path, side_by_side(results))
    if args.json:
        summary = {
            "outputs": [str(path) for path in paths],
            "sheet": str(sheet_path),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(summary))
    else:
        print(f"wrote {len(paths)} pictures and {sheet_path}")
    return 0

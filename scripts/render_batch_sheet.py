"""A picture for docs/scaling.md: some inputs of a finished batch above their outputs.

    python scripts/render_batch_sheet.py OUTDIR docs/images/batch-sheet.jpg [--count 5]

Reads OUTDIR/manifest.jsonl and takes the first finished pictures in it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from napari_styletransfer.cli.demo import side_by_side
from napari_styletransfer.image_io import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("sheet", type=Path)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--height", type=int, default=160)
    args = parser.parse_args()
    lines = [json.loads(line) for line in (args.outdir / "manifest.jsonl").read_text().splitlines()]
    done = sorted(
        (line for line in lines if line["status"] == "ok" and line["kind"] == "picture"),
        key=lambda line: line["input"],
    )
    chosen = done[:: max(1, len(done) // args.count)][: args.count]
    rows = [
        side_by_side([read_image(line[key]) for line in chosen], height=args.height)
        for key in ("input", "output")
    ]
    width = max(row.shape[1] for row in rows)
    gap = np.full((8, width, 3), 255, np.uint8)
    sheet = np.concatenate(
        [
            np.pad(rows[0], ((0, 0), (0, width - rows[0].shape[1]), (0, 0)), constant_values=255),
            gap,
            np.pad(rows[1], ((0, 0), (0, width - rows[1].shape[1]), (0, 0)), constant_values=255),
        ]
    )
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.sheet, quality=88)
    print(f"wrote {args.sheet} from {len(chosen)} pictures")


if __name__ == "__main__":
    main()

"""Render the example pictures shown in README.md and docs/ (docs/images/).

Run: .venv/bin/python scripts/render_examples.py  (several minutes on a 2-core CPU)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_styletransfer import load_sample, stylize
from napari_styletransfer.cli.demo import side_by_side
from napari_styletransfer.image_io import write_image

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def timed(label: str, **kwargs) -> np.ndarray:
    """Run stylize and print how long it took."""
    start = time.perf_counter()
    result = stylize(**kwargs)
    print(f"{label}: {time.perf_counter() - start:.1f} s")
    return result


def main() -> None:
    """Write the example pictures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-size", type=int, default=512)
    args = parser.parse_args()
    photo = load_sample("astronaut")
    main_result = timed("starry-night", content=photo, style="starry-night", max_size=args.max_size)
    write_image(OUT / "astronaut-starry-night.png", main_result)
    from napari_styletransfer import segment_subject

    subject = segment_subject(photo)
    background = timed(
        "background only",
        content=photo,
        style="the-scream",
        mask=subject,
        region="outside",
        max_size=args.max_size,
    )
    colours = timed(
        "preserve colour",
        content=photo,
        style="great-wave",
        preserve_color=True,
        max_size=args.max_size,
    )
    fast = timed("fast preset", content=photo, style="preset:7", method="fast", max_size=1024)
    outline = (subject * 255).astype(np.uint8)
    write_image(
        OUT / "examples.png",
        side_by_side([photo, np.dstack([outline] * 3), background, colours, fast]),
    )


if __name__ == "__main__":
    main()

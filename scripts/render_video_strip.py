"""Render docs/images/video_consistency.jpg: frames of a pan with and without temporal consistency.

    python scripts/render_video_strip.py [--out docs/images/video_consistency.jpg]

Rows: the input frames (a pan over the bundled astronaut photo); fast mode
without consistency and its flicker (|O_t − warp(O_{t−1})|, × 4); fast mode
with consistency and its flicker. The flow for the flicker maps is measured on
the input frames, as in the benchmark.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_video import pan_clip

from napari_styletransfer import stylize
from napari_styletransfer.video.temporal import FlowTracker

REPO = Path(__file__).resolve().parents[1]

SHOWN = (4, 5, 6, 7)  # frames shown; the ones before settle the recursive blend


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
    """Per-frame |O_t − warp(O_{t−1})| on reliable pixels, × 4, as gray RGB (black: unreliable)."""
    tracker, maps, previous = FlowTracker(), [], None
    for frame, output in zip(inputs, outputs, strict=True):
        pair = tracker.step(frame)
        if pair is None:
            maps.append(np.zeros_like(output))
        else:
            difference = np.abs(output.astype(np.float32) - pair.warp(previous).astype(np.float32))
            values = np.clip(4 * difference.mean(axis=2) * pair.weights, 0, 255).astype(np.uint8)
            maps.append(np.repeat(values[..., None], 3, axis=2))
        previous = output
    return maps


def label(image: np.ndarray, text: str) -> np.ndarray:
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, 8 + 7 * len(text), 16), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.asarray(picture)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "video_consistency.jpg"))
    args = parser.parse_args()
    frames = pan_clip(max(SHOWN) + 1, 384, 216)
    options = {"method": "fast", "max_size": 384, "device": "cpu"}
    plain = list(stylize(np.stack(frames), "starry-night", temporal=False, **options))
    consistent = list(stylize(np.stack(frames), "starry-night", **options))
    rows = [
        ("input", frames),
        ("fast, no consistency", plain),
        ("its flicker x4", flicker(frames, plain)),
        ("fast, temporal consistency", consistent),
        ("its flicker x4", flicker(frames, consistent)),
    ]
    gap = 4
    lines = []
    for name, images in rows:
        shown = [label(images[t], f"{name}, frame {t}") for t in SHOWN]
        padded = [
            np.pad(image, ((0, gap), (0, gap), (0, 0)), constant_values=255) for image in shown
        ]
        lines.append(np.concatenate(padded, axis=1))
    sheet = np.concatenate(lines, axis=0)[:-gap, :-gap]
    Image.fromarray(cv2.resize(sheet, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)).save(
        args.out, quality=88
    )
    print(args.out)


if __name__ == "__main__":
    main()

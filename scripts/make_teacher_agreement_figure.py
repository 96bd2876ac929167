"""Draw docs/images/teacher_self_agreement.png: u2netp disagreeing with itself.

For each bundled photo: the photo, the teacher's mask, the teacher's mask of
the photo without a 5 % border and of the mirror image (both mapped back onto
the photo), and the shipped model's mask. Needs the ``train`` extra:

    python scripts/make_teacher_agreement_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from napari_styletransfer import load_sample
from napari_styletransfer.segmentation import predict_subject
from napari_styletransfer.segmentation.training.evaluation import (
    CROP_MARGIN,
    intersection_over_union,
)
from napari_styletransfer.segmentation.training.teacher import teacher_probability

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "teacher_self_agreement.png"
SAMPLES = ("chelsea", "astronaut")
TILE = 240
CAPTION = 34
GREY = 96


def panels(rgb: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(image, caption) for one photo; masks are shown as white on black."""
    height, width = rgb.shape[:2]
    teacher = teacher_probability(rgb) > 0.5
    top, left = int(height * CROP_MARGIN), int(width * CROP_MARGIN)
    cropped = np.full((height, width), np.nan)
    cropped[top : height - top, left : width - left] = teacher_probability(
        np.ascontiguousarray(rgb[top : height - top, left : width - left])
    )
    mirrored = teacher_probability(np.ascontiguousarray(rgb[:, ::-1]))[:, ::-1] > 0.5
    window = (slice(top, height - top), slice(left, width - left))
    crop_iou = intersection_over_union(cropped[window] > 0.5, teacher[window])
    model = predict_subject(rgb, device="cpu")
    return [
        (rgb, "photo"),
        (mask_image(teacher), "teacher (u2netp)"),
        (mask_image(cropped), f"teacher, 5% border cut: IoU {crop_iou:.2f}"),
        (
            mask_image(mirrored),
            f"teacher, mirror image: IoU {intersection_over_union(mirrored, teacher):.2f}",
        ),
        (
            mask_image(model.probability > 0.5),
            f"our model: IoU {intersection_over_union(model.probability > 0.5, teacher):.2f}",
        ),
    ]


def mask_image(mask: np.ndarray) -> np.ndarray:
    """White subject on black; NaN (outside a crop) in grey."""
    values = np.where(np.isnan(mask.astype(float)), GREY, np.where(mask > 0.5, 255, 0))
    return np.repeat(values.astype(np.uint8)[..., None], 3, axis=2)


def tile(image: np.ndarray, caption: str, font) -> Image.Image:
    """The image scaled to TILE px wide with its caption underneath."""
    height = round(TILE * image.shape[0] / image.shape[1])
    picture = Image.fromarray(image).resize((TILE, height), Image.LANCZOS)
    canvas = Image.new("RGB", (TILE, height + CAPTION), "white")
    canvas.paste(picture, (0, 0))
    ImageDraw.Draw(canvas).text((4, height + 8), caption, fill="black", font=font)
    return canvas


def main() -> None:
    """Render the figure for the bundled samples."""
    font = ImageFont.load_default(size=14)
    rows = [
        [tile(image, caption, font) for image, caption in panels(load_sample(name))]
        for name in SAMPLES
    ]
    heights = [row[0].height for row in rows]
    sheet = Image.new("RGB", (TILE * len(rows[0]) + 4 * (len(rows[0]) - 1), sum(heights)), "white")
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            sheet.paste(picture, (c * (TILE + 4), sum(heights[:r])))
    sheet.save(OUT)
    print(OUT)


if __name__ == "__main__":
    main()

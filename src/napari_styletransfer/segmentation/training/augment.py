"""Training samples: augmented photos and copy-paste composites (training-time only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

MIN_SUBJECT, MAX_SUBJECT = 0.02, 0.8  # usable subject area fractions for cut-outs


@dataclass
class LabelledPhoto:
    """An RGB uint8 photo with its soft teacher mask (float32 in [0, 1])."""

    rgb: np.ndarray
    mask: np.ndarray

    @property
    def subject_fraction(self) -> float:
        """Fraction of pixels the teacher counts as subject."""
        return float((self.mask > 0.5).mean())


class SampleMaker:
    """Draws square training samples of a fixed size from photos and backgrounds.

    Half of the samples are random crops of the labelled photos; the other half
    cut a subject out (a photo's subject with its teacher mask, or one of the
    extra cut-outs with its alpha) and paste it, scaled and maybe flipped, on a
    crop of a background photo (the label is the pasted alpha).
    Every sample then gets colour jitter, sometimes greyscale.
    """

    def __init__(
        self,
        photos: list[LabelledPhoto],
        backgrounds: list[np.ndarray],
        size: int,
        composite_fraction: float = 0.5,
        extra_cutouts: list[LabelledPhoto] = (),
    ) -> None:
        self.photos = photos
        self.cutouts = [p for p in photos if MIN_SUBJECT <= p.subject_fraction <= MAX_SUBJECT]
        self.cutouts += list(extra_cutouts)
        self.backgrounds = backgrounds
        self.size = size
        self.composite_fraction = composite_fraction if self.cutouts and backgrounds else 0.0

    def view(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented view: (RGB uint8 size×size×3, mask float32 size×size).

        The mask is the photo's cropped teacher mask or the pasted alpha; the
        training pool replaces it with the teacher's answer on the view itself.
        """
        if rng.random() < self.composite_fraction:
            rgb, mask = self._composite(rng)
        else:
            photo = self.photos[rng.integers(len(self.photos))]
            rgb, mask = random_crop(photo.rgb, photo.mask, rng, self.size)
        if rng.random() < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        return jitter_colours(rgb, rng), np.ascontiguousarray(mask)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One (RGB float32 size×size×3 in [0, 1], mask float32 size×size) pair."""
        rgb, mask = self.view(rng)
        return np.ascontiguousarray(rgb, dtype=np.float32) / 255.0, mask

    def batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch: images (N, 3, S, S) and masks (N, 1, S, S), float32."""
        pairs = [self.sample(rng) for _ in range(count)]
        images = np.stack([p[0].transpose(2, 0, 1) for p in pairs])
        masks = np.stack([p[1][None] for p in pairs])
        return images, masks

    def _composite(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        size = self.size
        background = self.backgrounds[rng.integers(len(self.backgrounds))]
        canvas, _ = random_crop(background, np.zeros(background.shape[:2], np.float32), rng, size)
        photo = self.cutouts[rng.integers(len(self.cutouts))]
        fg, alpha = subject_cutout(photo)
        # the subject's longer side covers 35–95 % of the sample's side
        scale = rng.uniform(0.35, 0.95) * size / max(fg.shape[:2])
        height, width = (max(2, round(s * scale)) for s in fg.shape[:2])
        height, width = min(height, size), min(width, size)
        fg = np.asarray(Image.fromarray(fg).resize((width, height), Image.BILINEAR), np.float32)
        alpha = resize_float(alpha, width, height)
        if rng.random() < 0.5:
            fg, alpha = fg[:, ::-1], alpha[:, ::-1]
        top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
        mask = np.zeros((size, size), np.float32)
        mask[top : top + height, left : left + width] = alpha
        canvas = canvas.astype(np.float32)
        region = canvas[top : top + height, left : left + width]
        region[:] = alpha[..., None] * fg + (1 - alpha[..., None]) * region
        return np.clip(canvas, 0, 255).astype(np.uint8), mask


def subject_cutout(photo: LabelledPhoto, margin: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of the teacher mask: (RGB crop, alpha crop)."""
    rows, cols = np.nonzero(photo.mask > 0.5)
    top, bottom = max(rows.min() - margin, 0), min(rows.max() + margin + 1, photo.mask.shape[0])
    left, right = max(cols.min() - margin, 0), min(cols.max() + margin + 1, photo.mask.shape[1])
    return photo.rgb[top:bottom, left:right], photo.mask[top:bottom, left:right]


def random_crop(
    rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop 60–100 % of each side at a random place, then resize to size×size."""
    height, width = mask.shape
    crop_h = max(2, round(height * rng.uniform(0.6, 1.0)))
    crop_w = max(2, round(width * rng.uniform(0.6, 1.0)))
    top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
    rgb = rgb[top : top + crop_h, left : left + crop_w]
    mask = mask[top : top + crop_h, left : left + crop_w]
    rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))
    return rgb, resize_float(mask, size, size)


def resize_float(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 2-D array."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.float32)


def jitter_colours(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation; one sample in ten becomes grey."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.1:
        image = image.convert("L").convert("RGB")
    return np.asarray(image)

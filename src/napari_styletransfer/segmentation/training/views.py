"""A pool of augmented training views labelled by the teacher itself (training-time only).

What the teacher calls "the subject" depends on the framing: in a crop of a
photo it may pick something else than in the whole photo, so cropping the
photo's teacher mask along with the photo gives targets the teacher would not
give. Instead every augmented view (crop or composite, colours jittered) is
labelled by running the teacher on exactly that view. u2netp takes ≈ 0.15 s per
view on these CPUs, too slow for every training step, so a fixed pool of views
is labelled once, cached next to the data, and training draws from it with
random horizontal flips (the teacher's answer flips along).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .augment import SampleMaker


@dataclass
class ViewPool:
    """Views (N×S×S×3 uint8) and their teacher probabilities (N×S×S uint8, ×255)."""

    images: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Random views, each flipped with probability 1/2.

        Returns
        -------
        images : numpy.ndarray
            (count, 3, S, S) float32 in [0, 1].
        masks : numpy.ndarray
            (count, 1, S, S) float32 in [0, 1].
        """
        picks = rng.integers(len(self), size=count)
        images, masks = self.images[picks], self.masks[picks]
        flip = rng.random(count) < 0.5
        images[flip], masks[flip] = images[flip, :, ::-1], masks[flip, :, ::-1]
        images = images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        return np.ascontiguousarray(images), masks[:, None].astype(np.float32) / 255.0


def label_views(
    maker: SampleMaker,
    count: int,
    rng: np.random.Generator,
    labeller: Callable[[np.ndarray], np.ndarray],
) -> ViewPool:
    """Draw ``count`` views from ``maker`` and label each with ``labeller(rgb) -> probability``."""
    size = maker.size
    images = np.empty((count, size, size, 3), np.uint8)
    masks = np.empty((count, size, size), np.uint8)
    start = time.monotonic()
    for i in range(count):
        rgb, _ = maker.view(rng)
        images[i] = rgb
        masks[i] = np.clip(labeller(np.ascontiguousarray(rgb)) * 255 + 0.5, 0, 255)
        if (i + 1) % 250 == 0:
            print(f"labelled {i + 1}/{count} views, {time.monotonic() - start:.0f} s", flush=True)
    return ViewPool(images, masks)


def pool_path(data_dir: Path, maker: SampleMaker, count: int, seed: int) -> Path:
    """Cache file of a pool: depends on the dataset's manifest, the view size, count and seed."""
    manifest = (data_dir / "dataset" / "manifest.json").read_bytes()
    digest = hashlib.sha1(manifest).hexdigest()[:10]
    return data_dir / "views" / f"views_{digest}_{maker.size}px_{count}_seed{seed}.npz"


def load_or_label_views(data_dir: Path, maker: SampleMaker, count: int, seed: int) -> ViewPool:
    """The cached pool for these settings, labelled with the teacher first if missing."""
    path = pool_path(data_dir, maker, count, seed)
    if path.is_file():
        with np.load(path) as stored:
            return ViewPool(stored["images"], stored["masks"])
    from .teacher import teacher_probability

    pool = label_views(maker, count, np.random.default_rng(seed + 1000), teacher_probability)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=pool.images, masks=pool.masks)
    return pool

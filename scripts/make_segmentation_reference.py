"""Write the teacher's (u2netp) subject masks of the bundled photos for the tests.

Run once after changing the samples (needs the ``train`` extra for the teacher):

    python scripts/make_segmentation_reference.py

Writes tests/data/segmentation/<sample>_subject_u2netp.png (0/255, sample size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_styletransfer import load_sample
from napari_styletransfer.image_io import write_image
from napari_styletransfer.segmentation.training.teacher import teacher_probability

OUT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "segmentation"
SAMPLES = ("chelsea", "astronaut")


def main() -> None:
    """Label each sample with the teacher, threshold at 0.5, save as PNG."""
    for name in SAMPLES:
        mask = teacher_probability(load_sample(name)) > 0.5
        path = write_image(OUT_DIR / f"{name}_subject_u2netp.png", np.where(mask, 255, 0))
        print(f"{path}: {mask.mean():.1%} subject")


if __name__ == "__main__":
    main()

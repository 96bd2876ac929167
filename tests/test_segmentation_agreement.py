"""The model's mirror agreement (ambiguity signal) and the teacher self-agreement metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from napari_styletransfer import load_sample
from napari_styletransfer.segmentation import (
    AMBIGUOUS_BELOW,
    predict_subject,
    subject_probability,
)
from napari_styletransfer.segmentation.training.augment import LabelledPhoto
from napari_styletransfer.segmentation.training.evaluation import (
    STABLE_AGREEMENT,
    crop_agreement,
    mirror_agreement,
    summary,
    teacher_self_agreement,
)


class LeftHalfModel(nn.Module):
    """Calls the left half of any image the subject: maximally unsure under mirroring."""

    input_size = 32
    flip_average = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 1, 16, 16), -10.0)
        logits[..., :8] = 10.0
        return logits


class BrightModel(nn.Module):
    """Calls bright pixels the subject: a per-pixel rule, so mirroring changes nothing."""

    input_size = 32
    flip_average = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(1, keepdim=True) - 0.5) * 40


def disc_image(size: int = 64, centre: tuple[int, int] = (20, 40)) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    disc = np.hypot(yy - centre[0], xx - centre[1]) < 12
    return np.where(disc[..., None], 230, 20).astype(np.uint8).repeat(3, axis=2)


def test_mirror_disagreement_marks_the_subject_ambiguous():
    prediction = predict_subject(disc_image(), device="cpu", model=LeftHalfModel())
    assert prediction.mirror_agreement == 0.0
    assert prediction.ambiguous
    # the probability itself is the model's plain answer: the left half
    assert prediction.probability[:, :24].min() > 0.99
    assert prediction.probability[:, 40:].max() < 0.01


def test_mirror_consistent_model_is_sure():
    image = disc_image()
    prediction = predict_subject(image, device="cpu", model=BrightModel())
    assert prediction.mirror_agreement > 0.95
    assert not prediction.ambiguous
    np.testing.assert_array_equal(
        prediction.probability, subject_probability(image, device="cpu", model=BrightModel())
    )


def test_flip_averaging_still_averages_both_passes():
    model = LeftHalfModel()
    model.flip_average = True
    prediction = predict_subject(disc_image(), device="cpu", model=model)
    np.testing.assert_allclose(prediction.probability, 0.5, atol=1e-4)
    assert prediction.ambiguous


def test_shipped_model_is_sure_about_the_bundled_cat():
    photo = load_sample("chelsea")[::2, ::2]
    prediction = predict_subject(photo, device="cpu")
    assert prediction.mirror_agreement >= AMBIGUOUS_BELOW
    np.testing.assert_array_equal(prediction.probability, subject_probability(photo, device="cpu"))


def left_columns_labeller(rgb: np.ndarray) -> np.ndarray:
    """Marks the first 30 columns, whatever the image shows."""
    probability = np.zeros(rgb.shape[:2], np.float32)
    probability[:, :30] = 1
    return probability


def bright_labeller(rgb: np.ndarray) -> np.ndarray:
    return (rgb.mean(-1) > 127).astype(np.float32)


def test_self_agreement_of_labellers():
    rgb = disc_image(80, centre=(30, 50))
    left = LabelledPhoto(rgb, left_columns_labeller(rgb))
    bright = LabelledPhoto(rgb, bright_labeller(rgb))
    assert mirror_agreement(left_columns_labeller, left.rgb, left.mask) == 0.0
    assert mirror_agreement(bright_labeller, bright.rgb, bright.mask) == 1.0
    assert crop_agreement(bright_labeller, bright.rgb, bright.mask) == 1.0
    # without its border the image's first 30 columns are other columns
    assert crop_agreement(left_columns_labeller, left.rgb, left.mask) < 1.0
    agreement = teacher_self_agreement([bright, left], teacher=bright_labeller)
    assert agreement[0] == (1.0, 1.0)
    assert agreement[1][0] < STABLE_AGREEMENT  # left-columns mask vs the bright disc


def test_summary_splits_by_teacher_stability_and_model_agreement():
    entries = [{"source": f"p{i}", "subject_fraction": f} for i, f in enumerate([0.3, 0.01, 0.2])]
    ious = [0.9, 0.1, 0.8]
    teacher = [(1.0, 1.0), (0.5, 1.0), (0.95, STABLE_AGREEMENT)]
    model = [0.9, 0.2, AMBIGUOUS_BELOW]
    result = summary(entries, ious, teacher, model)
    assert result["mean_iou"] == pytest.approx(0.6)
    assert result["photos_with_subject"] == 2
    assert result["photos_teacher_stable"] == 2
    assert result["mean_iou_teacher_stable"] == pytest.approx(0.85)
    assert result["teacher_mirror_iou"] == pytest.approx((1 + 0.5 + 0.95) / 3, abs=1e-4)
    assert result["photos_model_sure"] == 2
    assert result["mean_iou_model_ambiguous"] == pytest.approx(0.1)
    assert result["teacher_agreement"]["p1"] == [0.5, 1.0]


def test_unseen_photo_benchmark_totals():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_segmentation_unseen.py"
    spec = importlib.util.spec_from_file_location("eval_segmentation_unseen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(set(module.PHOTOS)) == len(module.PHOTOS) == 29
    rows = [
        {"iou": 0.9, "teacher_mirror": 0.95, "teacher_crop": 0.99, "model_mirror": 0.9},
        {"iou": 0.2, "teacher_mirror": 0.30, "teacher_crop": 0.99, "model_mirror": 0.5},
        {"iou": 0.7, "teacher_mirror": 0.92, "teacher_crop": 0.91, "model_mirror": 0.85},
    ]
    totals = module.totals(rows)
    assert totals["mean_iou"] == pytest.approx(0.6)
    assert totals["teacher_stable_photos"] == 2
    assert totals["mean_iou_teacher_stable"] == pytest.approx(0.8)
    assert totals["model_sure_photos"] == 2
    assert totals["mean_iou_model_ambiguous"] == pytest.approx(0.2)

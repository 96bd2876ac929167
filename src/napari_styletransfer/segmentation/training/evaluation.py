"""Measuring masks against the teacher's, and how well-defined the teacher's answer is.

IoU against u2netp is the model's quality metric. But u2netp does not always
agree with itself: shown the mirror image of a scene, or the scene without a
5 % border, it sometimes marks another object. On such photos "the subject"
is ill-defined and no student can be expected to match the teacher, so every
set is also summarised over the photos where the teacher is *stable*: its
masks for the mirror image and for the cropped photo both overlap its own mask
with IoU >= :data:`STABLE_AGREEMENT`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..inference import AMBIGUOUS_BELOW, predict_subject, subject_probability
from ..model import SubjectUNet
from ..postprocess import intersection_over_union
from .augment import LabelledPhoto

#: Teacher self-agreement (mirror and crop) above which a photo's subject counts as well-defined.
STABLE_AGREEMENT = 0.9
#: Border removed on each side for the crop test, as a fraction of the side.
CROP_MARGIN = 0.05

Probability = Callable[[np.ndarray], np.ndarray]


def is_teacher_stable(mirror: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Where both of the teacher's self-agreements reach :data:`STABLE_AGREEMENT`."""
    return np.minimum(mirror, crop) >= STABLE_AGREEMENT


def evaluate(model: SubjectUNet, photos: list[LabelledPhoto]) -> list[float]:
    """Per-photo IoU of the model's mask (threshold 0.5) against the teacher's."""
    model.eval()
    return [
        intersection_over_union(
            subject_probability(p.rgb, device="cpu", model=model) > 0.5, p.mask > 0.5
        )
        for p in photos
    ]


def evaluate_with_agreement(
    model: SubjectUNet, photos: list[LabelledPhoto]
) -> tuple[list[float], list[float]]:
    """Per-photo IoU against the teacher and the model's own mirror agreement."""
    model.eval()
    predictions = [predict_subject(p.rgb, device="cpu", model=model) for p in photos]
    ious = [
        intersection_over_union(q.probability > 0.5, p.mask > 0.5)
        for q, p in zip(predictions, photos, strict=True)
    ]
    return ious, [q.mirror_agreement for q in predictions]


def mirror_agreement(probability: Probability, rgb: np.ndarray, reference: np.ndarray) -> float:
    """IoU between ``reference`` and the mask ``probability`` gives the mirrored image."""
    mirrored = probability(np.ascontiguousarray(rgb[:, ::-1]))[:, ::-1]
    return intersection_over_union(mirrored > 0.5, reference > 0.5)


def crop_agreement(probability: Probability, rgb: np.ndarray, reference: np.ndarray) -> float:
    """IoU between ``reference`` and the mask for the image without a thin border."""
    height, width = reference.shape
    top, left = int(height * CROP_MARGIN), int(width * CROP_MARGIN)
    window = (slice(top, height - top), slice(left, width - left))
    cropped = probability(np.ascontiguousarray(rgb[window]))
    return intersection_over_union(cropped > 0.5, reference[window] > 0.5)


def self_agreement(probability: Probability, photo: LabelledPhoto) -> tuple[float, float]:
    """(mirror, crop) agreement of a labeller with the photo's stored mask."""
    return (
        mirror_agreement(probability, photo.rgb, photo.mask),
        crop_agreement(probability, photo.rgb, photo.mask),
    )


def teacher_self_agreement(
    photos: Sequence[LabelledPhoto], teacher: Probability | None = None
) -> list[tuple[float, float]]:
    """The teacher's (mirror, crop) agreement with its own mask on each photo.

    ``photo.mask`` must be the teacher's mask of ``photo.rgb``; ``teacher``
    defaults to u2netp (needs the training extra).
    """
    if teacher is None:
        from .teacher import teacher_probability as teacher
    return [self_agreement(teacher, photo) for photo in photos]


def summary(
    entries: list[dict],
    ious: list[float],
    teacher_agreement: list[tuple[float, float]] | None = None,
    model_agreement: list[float] | None = None,
) -> dict:
    """Mean IoU over all photos, over those with a subject and over the teacher-stable ones.

    Photos "with a subject" are those where the teacher marks at least 2 %.
    With ``teacher_agreement`` the teacher's own mirror/crop agreement is
    summarised too; with ``model_agreement`` the IoU is split by whether the
    model calls the photo ambiguous.
    """
    with_subject = [
        iou for e, iou in zip(entries, ious, strict=True) if e["subject_fraction"] >= 0.02
    ]
    result = {
        "photos": len(ious),
        "mean_iou": _mean(ious),
        "photos_with_subject": len(with_subject),
        "mean_iou_with_subject": _mean(with_subject),
    }
    if teacher_agreement is not None:
        mirror, crop = (np.array(a) for a in zip(*teacher_agreement, strict=True))
        stable = is_teacher_stable(mirror, crop)
        result |= {
            "teacher_mirror_iou": _mean(mirror),
            "teacher_crop_iou": _mean(crop),
            "photos_teacher_stable": int(stable.sum()),
            "mean_iou_teacher_stable": _mean(np.asarray(ious)[stable]),
        }
    if model_agreement is not None:
        sure = np.asarray(model_agreement) >= AMBIGUOUS_BELOW
        result |= {
            "photos_model_sure": int(sure.sum()),
            "mean_iou_model_sure": _mean(np.asarray(ious)[sure]),
            "mean_iou_model_ambiguous": _mean(np.asarray(ious)[~sure]),
        }
    result["ious"] = {e["source"]: round(v, 4) for e, v in zip(entries, ious, strict=True)}
    if teacher_agreement is not None:
        result["teacher_agreement"] = {
            e["source"]: [round(m, 4), round(c, 4)]
            for e, (m, c) in zip(entries, teacher_agreement, strict=True)
        }
    return result


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return round(float(values.mean()), 4) if values.size else None

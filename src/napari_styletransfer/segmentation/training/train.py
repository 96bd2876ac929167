"""Train the subject UNet's decoder and write the shipped weights (training-time only).

``python -m napari_styletransfer.segmentation.training.train`` builds the dataset when it
is missing (:mod:`.build_data`), labels a pool of augmented views (crops of the
photos and copy-paste composites) with the teacher (:mod:`.views`), trains
with Dice + BCE on them, logs the loss and the validation IoU per epoch to a CSV
file, evaluates on the reserved gcompris ``explore_*`` sets, and writes
``weights/subject_unet.pt`` with the metrics in its metadata.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ...samples.debian import EVALUATION_RCC
from ..model import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_WIDTHS,
    WEIGHTS_PATH,
    SubjectUNet,
    build_model,
    load_checkpoint,
)
from .augment import LabelledPhoto, SampleMaker
from .build_data import DEFAULT_DATA_DIR, load_manifest
from .evaluation import (
    evaluate,
    evaluate_with_agreement,
    summary,
    teacher_self_agreement,
)
from .views import load_or_label_views

INPUT_SIZE_CHOICES = (256, 288, 320)


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice loss (per sample, averaged); soft targets allowed."""
    logits, target = logits.float(), target.float()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    probability = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    overlap = (probability * target).sum(1)
    dice = 1 - (2 * overlap + 1) / (probability.sum(1) + target.sum(1) + 1)
    return bce + dice.mean()


def train_step(
    model: SubjectUNet,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    masks: torch.Tensor,
    bf16: bool = True,
) -> float:
    """One optimisation step of the decoder; returns the loss.

    bf16 autocast uses the CPU's bf16 instructions (AVX512-BF16 on these AMD
    EPYC cores, no AMX), which pay off for the frozen VGG19; inference stays fp32.
    """
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(images.contiguous(memory_format=torch.channels_last))
    # the targets are brought down to the logits' resolution (cheaper than upsampling)
    masks = F.adaptive_avg_pool2d(masks, logits.shape[-2:])
    loss = dice_bce_loss(logits, masks)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def load_photos(data_dir: Path, entries: list[dict]) -> list[LabelledPhoto]:
    """Read the photos and teacher masks of some manifest entries."""
    root = data_dir / "dataset"
    photos = []
    for entry in entries:
        rgb = np.asarray(Image.open(root / "images" / f"{entry['id']}.png").convert("RGB"))
        mask = np.asarray(Image.open(root / "masks" / f"{entry['id']}.png"), np.float32) / 255
        photos.append(LabelledPhoto(rgb, mask))
    return photos


def split_entries(data_dir: Path) -> dict[str, list[dict]]:
    """Manifest entries grouped by role (train, validation, background, explore_*)."""
    by_role: dict[str, list[dict]] = {}
    for entry in load_manifest(data_dir)["entries"]:
        by_role.setdefault(entry["role"], []).append(entry)
    return by_role


def train(args: argparse.Namespace) -> tuple[SubjectUNet, dict]:
    """Train the decoder, log per epoch, save the checkpoint; returns it and its metadata."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    by_role = split_entries(args.data_dir)
    train_photos = load_photos(args.data_dir, by_role["train"])
    validation = load_photos(args.data_dir, by_role["validation"])
    backgrounds = [p.rgb for p in load_photos(args.data_dir, by_role["background"])]
    stamps = load_photos(args.data_dir, by_role.get("cutout", []))
    maker = SampleMaker(train_photos, backgrounds, args.view_size, extra_cutouts=stamps)
    print(
        f"{len(train_photos)} training photos, {len(maker.cutouts)} cut-outs "
        f"({len(stamps)} stamps), "
        f"{len(backgrounds)} backgrounds, {len(validation)} validation photos",
        flush=True,
    )
    start = time.monotonic()
    pool = load_or_label_views(args.data_dir, maker, args.views, args.seed)
    labelling_seconds = round(time.monotonic() - start)
    print(f"{len(pool)} teacher-labelled views ready after {labelling_seconds} s", flush=True)

    # --init continues from an earlier checkpoint (a second, shorter cycle)
    start_from = load_checkpoint(args.init) if args.init else None
    model = build_model(start_from, widths=args.widths).to(memory_format=torch.channels_last)
    model.input_size = args.input_size
    optimizer = torch.optim.AdamW(
        model.decoder.parameters(), lr=args.lr, weight_decay=1e-4, foreach=True
    )
    total_steps = args.epochs * args.steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=total_steps, pct_start=0.05
    )
    args.log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with args.log.open("w", newline="") as log_file:
        log = csv.writer(log_file)
        log.writerow(["epoch", "step", "train_loss", "val_mean_iou", "lr", "elapsed_s"])
        for epoch in range(1, args.epochs + 1):
            losses = []
            for _ in range(args.steps_per_epoch):
                images, masks = pool.batch(rng, args.batch_size)
                losses.append(
                    train_step(model, optimizer, torch.from_numpy(images), torch.from_numpy(masks))
                )
                schedule.step()
            iou = float(np.mean(evaluate(model, validation)))
            elapsed = time.monotonic() - start
            row = [epoch, epoch * args.steps_per_epoch, np.mean(losses), iou]
            log.writerow([*row, schedule.get_last_lr()[0], round(elapsed)])
            log_file.flush()
            print(
                f"epoch {epoch}: loss {row[2]:.4f}, val IoU {iou:.4f}, {elapsed:.0f} s", flush=True
            )
            save(model, args.out, training={"epochs_done": epoch})  # inspectable mid-run
    settings = {k: v for k, v in vars(args).items() if k not in ("data_dir", "log", "out")}
    settings["init"] = str(args.init) if args.init else None
    training = {
        "train_photos": len(train_photos),
        "backgrounds": len(backgrounds),
        "cutouts": len(maker.cutouts),
        "views": len(pool),
        "view_labelling_seconds": labelling_seconds,
        "training_seconds": round(time.monotonic() - start),
    }
    meta = {"training": training, "settings": settings}
    save(model, args.out, **meta)
    return model, meta


def save(model: SubjectUNet, path: Path, **meta) -> None:
    """Write the decoder checkpoint (what ships) with its metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.decoder_checkpoint(**meta), path)


def report(model: SubjectUNet, data_dir: Path) -> dict:
    """Pick the working size and flip averaging on validation, then measure IoU.

    The chosen settings are measured again on validation and on the explore_*
    sets, each also over the photos where the teacher agrees with itself
    (:mod:`.evaluation`) and split by the model's own mirror agreement.
    """
    by_role = split_entries(data_dir)
    validation = load_photos(data_dir, by_role["validation"])
    choices = {}
    for size, flip in itertools.product(INPUT_SIZE_CHOICES, (False, True)):
        model.input_size, model.flip_average = size, flip
        choices[(size, flip)] = round(float(np.mean(evaluate(model, validation))), 4)
    model.input_size, model.flip_average = max(choices, key=choices.get)
    metrics = {
        "input_size": model.input_size,
        "flip_average": model.flip_average,
        "validation_mean_iou_by_choice": {
            f"{size} px{', flip average' if flip else ''}": v for (size, flip), v in choices.items()
        },
    }
    for name in ("validation", *EVALUATION_RCC):
        if by_role.get(name):
            photos = load_photos(data_dir, by_role[name])
            ious, agreement = evaluate_with_agreement(model, photos)
            metrics[name] = summary(by_role[name], ious, teacher_self_agreement(photos), agreement)
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults reproduce the shipped weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--log", type=Path, default=None, help="CSV log (default: in data dir)")
    parser.add_argument("--init", type=Path, help="start from this decoder checkpoint")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--widths",
        type=lambda text: tuple(int(w) for w in text.split(",")),
        default=DEFAULT_WIDTHS,
        help="decoder widths at strides 2,4,8[,16]; a fourth adds the relu5_1 skip",
    )
    parser.add_argument("--views", type=int, default=4000, help="teacher-labelled views")
    parser.add_argument("--view-size", type=int, default=256)
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--evaluate-only", action="store_true", help="only re-measure the weights in --out"
    )
    args = parser.parse_args(argv)
    if args.log is None and not args.evaluate_only:
        args.log = args.data_dir / "train_log.csv"
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the data if needed, train, evaluate and write the weights."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.evaluate_only:
        checkpoint = load_checkpoint(args.out)
        model, meta = build_model(checkpoint), checkpoint["meta"]
    else:
        model, meta = train(args)
    meta["metrics"] = report(model, args.data_dir)
    save(model, args.out, **meta)
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

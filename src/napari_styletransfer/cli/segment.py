"""``napari-styletransfer segment IMAGE -o MASK.png``: the photo's subject as a mask."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..files import check_output
from ..image_io import read_image, write_image
from .options import add_overwrite_option


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``segment`` subcommand."""
    p = subparsers.add_parser(
        "segment",
        help="find the main subject of a photo and write it as a mask",
        description="Segment the main subject of IMAGE with the bundled UNet and write a "
        "mask PNG of the same size (255 = subject, 0 = background).",
    )
    p.add_argument("image", help="input image file (PNG, JPEG, TIFF …)")
    p.add_argument("-o", "--output", required=True, help="output mask file (PNG)")
    add_overwrite_option(p)
    p.add_argument(
        "--threshold", type=float, default=0.5, help="subject probability cut-off (default 0.5)"
    )
    p.add_argument("--fill-holes", action="store_true", help="fill holes inside the subject")
    p.add_argument("--largest", action="store_true", help="keep only the largest object")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``segment`` subcommand."""
    from ..segmentation import check_threshold, mask_from_probability, predict_subject
    from ..segmentation.inference import ambiguity_message

    threshold = check_threshold(args.threshold)
    check_output(args.output, overwrite=args.overwrite, inputs=[args.image])
    image = read_image(args.image)
    start = time.perf_counter()
    prediction = predict_subject(image, device=args.device)
    mask = mask_from_probability(
        prediction.probability, threshold=threshold, holes=args.fill_holes, largest=args.largest
    )
    seconds = time.perf_counter() - start
    path = write_image(args.output, np.where(mask, 255, 0).astype(np.uint8))
    if args.json:
        report = {
            "output": str(path),
            "height": int(mask.shape[0]),
            "width": int(mask.shape[1]),
            "subject_fraction": round(float(mask.mean()), 4),
            "mirror_agreement": round(prediction.mirror_agreement, 4),
            "ambiguous": prediction.ambiguous,
            "seconds": round(seconds, 3),
        }
        print(json.dumps(report))
    else:
        print(f"wrote {path} ({mask.mean():.1%} subject, {seconds:.2f} s)")
    if prediction.ambiguous:
        print(f"warning: {ambiguity_message(prediction)}", file=sys.stderr)
    return 0

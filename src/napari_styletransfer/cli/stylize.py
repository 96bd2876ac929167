"""``napari-styletransfer stylize CONTENT --style STYLE -o OUT``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import StyleTransferError
from ..image_io import read_image, write_image
from .progress_bar import last_report, with_progress


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``stylize`` subcommand."""
    p = subparsers.add_parser(
        "stylize",
        help="stylise an image with one or more paintings",
        description="Stylise CONTENT with the style of one or more paintings.",
    )
    p.add_argument("content", help="content image file (PNG, JPEG, TIFF …)")
    p.add_argument("-o", "--output", required=True, help="output image file")
    add_stylize_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def add_stylize_options(p: argparse.ArgumentParser) -> None:
    """The style transfer's own options, shared by every subcommand that stylises."""
    p.add_argument(
        "--style",
        action="append",
        required=True,
        help="painting: an image file, a bundled name (starry-night, great-wave, the-scream, "
        "kandinsky) or, with --method fast, a preset (preset:7, preset:3:0.5,12:0.5); repeat to blend",
    )
    p.add_argument("--style-weights", help="blend weights, e.g. 0.7,0.3 (one per --style)")
    p.add_argument("--mask", help="mask PNG (nonzero = mask), or 'auto' to segment the subject")
    p.add_argument("--region", choices=("inside", "outside"), default="inside")
    p.add_argument("--method", choices=("quality", "fast"), default="quality")
    p.add_argument("--max-size", type=int, default=512, help="longer side to compute at")
    p.add_argument("--steps", type=int, help="optimisation steps (default by size)")
    p.add_argument("--style-strength", type=float, default=1.0)
    p.add_argument("--style-scale", type=float, default=1.0, help="brush-stroke size")
    p.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, default=0)


def stylize_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``iter_stylize`` (all but content, style and mask) from ``args``."""
    advanced = {"style_scale": args.style_scale}
    weights = parse_weights(args.style_weights)
    if weights is not None:
        advanced["style_weights"] = weights
    return {
        "region": args.region,
        "method": args.method,
        "max_size": args.max_size,
        "steps": args.steps,
        "style_strength": args.style_strength,
        "preserve_color": args.preserve_color,
        "device": args.device,
        "seed": args.seed,
        **advanced,
    }


def parse_weights(text: str | None) -> list[float] | None:
    """Parse "0.7,0.3" into floats."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as error:
        raise StyleTransferError(
            f"--style-weights must be numbers like 0.7,0.3, not {text!r}"
        ) from error


def load_mask(spec: str | None):
    """A mask argument: None, "auto", or a PNG read as an array."""
    if spec is None or spec == "auto":
        return spec
    return read_image(spec)


def run(args: argparse.Namespace) -> int:
    """Run the ``stylize`` subcommand."""
    from ..engine.api import iter_stylize

    content = read_image(args.content)
    style = args.style if len(args.style) > 1 else args.style[0]
    start = time.perf_counter()
    reports = iter_stylize(content, style, mask=load_mask(args.mask), **stylize_options(args))
    final = last_report(with_progress(reports, enabled=None if not args.json else False))
    out = write_image(args.output, final.result)
    summary = {
        "output": str(Path(out).resolve()),
        "width": int(final.result.shape[1]),
        "height": int(final.result.shape[0]),
        "device": final.device,
        "method": args.method,
        "seconds": round(time.perf_counter() - start, 3),
        "losses": {k: round(v, 6) for k, v in final.losses.items()},
    }
    if args.json:
        print(json.dumps(summary))
    return 0

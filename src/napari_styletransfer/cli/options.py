"""The style-transfer options shared by every subcommand that stylises (stylize, batch, …).

Arguments are only parsed here; :class:`~napari_styletransfer.api.StylizeRequest`
checks them, like it checks the Python API's.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import StyleTransferError
from ..image_io import DEFAULT_MAX_PIXELS, read_image

if TYPE_CHECKING:
    from ..api import StylizeRequest


def add_stylize_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--style``, ``--mask``, ``--method`` … to a subcommand's parser."""
    parser.add_argument(
        "--style",
        action="append",
        required=True,
        help="painting: an image file, a bundled name (starry-night, great-wave, the-scream, "
        "kandinsky) or, with --method fast, a preset (preset:7, preset:3:0.5,12:0.5) or a learned "
        "style (learned:NAME, or its .npz file); repeat to blend",
    )
    parser.add_argument("--style-weights", help="blend weights, e.g. 0.7,0.3 (one per --style)")
    parser.add_argument(
        "--mask", help="mask PNG (nonzero = mask), or 'auto' to segment the subject"
    )
    parser.add_argument("--region", choices=("inside", "outside"), default="inside")
    parser.add_argument("--method", choices=("quality", "fast"), default="quality")
    parser.add_argument("--max-size", type=int, default=512, help="longer side to compute at")
    parser.add_argument("--steps", type=int, help="optimisation steps (default by size)")
    parser.add_argument("--style-strength", type=float, default=1.0)
    parser.add_argument("--style-scale", type=float, default=1.0, help="brush-stroke size")
    parser.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--seed", type=int, default=0)
    add_max_pixels_option(parser)


def add_max_pixels_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-pixels``: larger input images are refused before they are decoded."""
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse input images that declare more pixels (default {DEFAULT_MAX_PIXELS:,})",
    )


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--overwrite``: without it an existing output file is never replaced."""
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output file if it exists"
    )


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


def load_mask(spec: str | None, max_pixels: int = DEFAULT_MAX_PIXELS):
    """A mask argument: None, "auto", or an image file read as an array."""
    if spec is None or spec == "auto":
        return spec
    return read_image(spec, max_pixels=max_pixels)


def request_from_args(args: argparse.Namespace) -> StylizeRequest:
    """The request the parsed options describe.

    Raises
    ------
    StyleTransferError
        For any invalid option (checked by :class:`StylizeRequest`).
    """
    from ..api import StylizeRequest  # torch: imported when a run starts, not for --help

    options: dict = {"style_scale": args.style_scale}
    weights = parse_weights(args.style_weights)
    if weights is not None:
        options["style_weights"] = weights
    style = args.style if len(args.style) > 1 else args.style[0]
    return StylizeRequest.create(
        style,
        mask=load_mask(args.mask, args.max_pixels),
        region=args.region,
        method=args.method,
        max_size=args.max_size,
        steps=args.steps,
        style_strength=args.style_strength,
        preserve_color=args.preserve_color,
        device=args.device,
        seed=args.seed,
        **options,
    )

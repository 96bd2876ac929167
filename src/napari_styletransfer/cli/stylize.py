"""``napari-styletransfer stylize CONTENT --style STYLE -o OUT``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..files import check_output
from ..image_io import read_image, write_image
from .options import add_overwrite_option, add_stylize_options, request_from_args
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
    add_overwrite_option(p)
    add_stylize_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``stylize`` subcommand."""
    from ..api import iter_run, upsampling_note

    check_output(args.output, overwrite=args.overwrite, inputs=[args.content])
    request = request_from_args(args)
    content = read_image(args.content, max_pixels=args.max_pixels)
    note = upsampling_note(request, *content.shape[:2])
    if note:
        print(f"note: {note}", file=sys.stderr)
    start = time.perf_counter()
    reports = iter_run(request, content)
    final = last_report(with_progress(reports, enabled=None if not args.json else False))
    out = write_image(args.output, final.result)
    summary = {
        "output": str(Path(out).resolve()),
        "width": int(final.result.shape[1]),
        "height": int(final.result.shape[0]),
        "device": final.device,
        "method": request.method,
        "seconds": round(time.perf_counter() - start, 3),
        "losses": {k: round(v, 6) for k, v in final.losses.items()},
    }
    if args.json:
        print(json.dumps(summary))
    return 0

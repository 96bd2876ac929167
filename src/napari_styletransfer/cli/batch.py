"""``napari-styletransfer batch INPUT... -o OUTDIR --style ...``: many pictures and stacks on dask.

Exit codes: 0 every input done (or already done), 1 some failed (listed), 2
bad arguments (nothing was written), 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import sys

from .options import add_stylize_options, request_from_args

FAILED_SHOWN = 10


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand."""
    from ..batch.naming import FORMATS

    p = subparsers.add_parser(
        "batch",
        help="stylise folders of pictures and big stacks on a dask cluster",
        description="Stylise every INPUT (files, folders, glob patterns, multi-page TIFF / "
        "OME-TIFF, Zarr / OME-Zarr) into OUTDIR, mirroring the inputs' names. Rerunning the "
        "same command skips what is done (see OUTDIR/manifest.jsonl). Runs on a local dask "
        "cluster sized to this machine, or on an existing one (--scheduler).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or glob pattern")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--recursive", action="store_true", help="look into sub-folders")
    p.add_argument(
        "--overwrite", action="store_true", help="redo every input, replacing existing outputs"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="same",
        help="file format of picture outputs (default: the input's); stacks are written as Zarr",
    )
    where = p.add_argument_group("where it runs (default: a local cluster sized to this machine)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing scheduler")
    where.add_argument("--scheduler-file", metavar="FILE", help="an existing scheduler's file")
    where.add_argument(
        "--workers",
        type=int,
        help="worker processes of the local cluster (default: one per GPU, else one)",
    )
    where.add_argument(
        "--torch-threads", type=int, help="torch threads per worker (default: cores / workers)"
    )
    add_stylize_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``batch`` subcommand."""
    from ..batch import run_batch
    from ..errors import StyleTransferError

    if args.torch_threads is not None and args.torch_threads < 1:
        raise StyleTransferError(f"--torch-threads must be at least 1, not {args.torch_threads}.")
    request = request_from_args(args)
    summary = run_batch(
        args.inputs,
        args.output,
        request,
        recursive=args.recursive,
        overwrite=args.overwrite,
        fmt=args.format,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        workers=args.workers,
        torch_threads=args.torch_threads,
        max_pixels=args.max_pixels,
        progress=False if args.json else None,
    )
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(describe(summary), file=sys.stderr if summary.interrupted else sys.stdout)
    return summary.exit_code


def describe(summary) -> str:
    """The batch's outcome in a few lines."""
    minutes = summary.seconds / 60
    rate = (
        f", {summary.units_done / minutes:.1f} img/min"
        if minutes > 0 and summary.units_done
        else ""
    )
    lines = [
        f"{len(summary.done)} done, {len(summary.failed)} failed, {summary.skipped} skipped "
        f"(already done) in {summary.seconds:.1f} s{rate}."
    ]
    for path, error in summary.failed[:FAILED_SHOWN]:
        lines.append(f"  failed: {path}: {error}")
    if len(summary.failed) > FAILED_SHOWN:
        lines.append(f"  … and {len(summary.failed) - FAILED_SHOWN} more (see manifest.jsonl)")
    if summary.interrupted:
        lines.append("Interrupted: run the same command again to resume.")
    return "\n".join(lines)

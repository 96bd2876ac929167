"""``napari-styletransfer export --model presets|arbitrary|subject --format onnx -o DIR``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..errors import StyleTransferError


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser(
        "export",
        help="export a network to ONNX (optionally INT8), checked against torch",
        description="Write ONNX graphs of our torch networks (any height and width), check "
        "them against torch with onnxruntime and report the largest difference. See "
        "docs/server.md for running them with onnxruntime-gpu or TensorRT.",
    )
    p.add_argument("--model", required=True, choices=("presets", "arbitrary", "subject"))
    p.add_argument("--format", default="onnx", choices=("onnx",), help="only onnx for now")
    p.add_argument("--int8", action="store_true", help="also write an INT8 graph (onnxruntime)")
    p.add_argument(
        "--int8-method",
        default="static",
        choices=("static", "dynamic"),
        help="static: activations calibrated on the bundled images (default); dynamic",
    )
    p.add_argument("-o", "--output", required=True, help="folder for the graphs and the report")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``export`` subcommand."""
    from ..export import export_model

    if args.format != "onnx":  # pragma: no cover - argparse allows only onnx
        raise StyleTransferError("Only --format onnx is supported.")
    reports = export_model(
        args.model,
        args.output,
        int8=args.int8,
        int8_method=args.int8_method,
        overwrite=args.overwrite,
    )
    if args.json:
        print(json.dumps([asdict(report) for report in reports]))
        return 0
    for report in reports:
        print(
            f"wrote {report.file} ({report.megabytes:.2f} MB): max difference to torch "
            f"{report.fp32.max_difference:.2e}"
        )
        if report.int8:
            accuracy = report.int8["accuracy"]
            extra = ""
            if accuracy["iou"] is not None:
                extra = f", mask IoU with torch {accuracy['iou']:.3f}"
            if accuracy["relative"] is not None:
                extra = f", relative difference {accuracy['relative']:.3f}"
            print(
                f"wrote {report.int8['file']} ({report.int8['megabytes']:.2f} MB, "
                f"{report.int8['method']}): max difference {accuracy['max_difference']:.3f}, "
                f"mean {accuracy['mean_difference']:.4f}{extra}"
            )
    return 0

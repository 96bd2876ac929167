"""``napari-styletransfer presets IMAGE -o SHEET.png``: all 26 fast-mode presets on one photo."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import StyleTransferError
from ..files import check_output
from ..image_io import read_image, write_image
from .options import add_overwrite_option


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``presets`` subcommand."""
    p = subparsers.add_parser(
        "presets",
        help="list the fast-mode presets and learned styles, or render them on a photo",
        description="Without IMAGE: list the 26 fast-mode presets and the learned styles. "
        "With IMAGE: stylise it with each of them and save them side by side, labelled "
        "with the spec to use (e.g. --style preset:7 or --style learned:NAME).",
    )
    p.add_argument("image", nargs="?", help="photo file (PNG, JPEG, TIFF …)")
    p.add_argument("-o", "--output", help="where to write the sheet (PNG); needed with IMAGE")
    add_overwrite_option(p)
    p.add_argument(
        "--max-size", type=int, default=256, help="longer side of each tile in pixels (256)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``presets`` subcommand."""
    from ..core.arrays import fit_size, resize_array, to_float_rgb
    from ..devices import describe_device, resolve_device
    from ..fast.contact_sheet import render_contact_sheet
    from ..fast.learned import list_learned

    learned = list_learned()
    if args.image is None:
        return _list(learned, args.json)
    if not args.output:
        raise StyleTransferError("Give -o SHEET.png to render the presets on IMAGE.")
    if not 32 <= args.max_size <= 2048:
        raise StyleTransferError(f"--max-size must be between 32 and 2048, not {args.max_size}.")
    check_output(args.output, overwrite=args.overwrite, inputs=[args.image])
    device = resolve_device(args.device)
    photo = to_float_rgb(read_image(args.image), "image")[0]
    photo = resize_array(photo, fit_size(*photo.shape[:2], args.max_size))
    start = time.perf_counter()

    def show(done: int, total: int) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\rpreset {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    extra = [f"learned:{style.name}" for style in learned]
    sheet = render_contact_sheet(photo, device, on_tile=show, extra=extra)
    out = write_image(args.output, sheet)
    summary = {
        "output": str(Path(out).resolve()),
        "width": int(sheet.shape[1]),
        "height": int(sheet.shape[0]),
        "device": describe_device(device),
        "seconds": round(time.perf_counter() - start, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {summary['output']} ({summary['width']}×{summary['height']})")
    return 0


def _list(learned, as_json: bool) -> int:
    """Print the presets and the learned styles (one JSON object with ``--json``)."""
    from ..fast.presets import PRESET_NAMES

    rows = [
        {
            "style": f"learned:{style.name}",
            "network": style.network,
            "steps": style.meta.get("steps"),
            "created": style.meta.get("created"),
            "painting": (style.meta.get("painting") or {}).get("source"),
            "file": str(style.source),
        }
        for style in learned
    ]
    if as_json:
        print(json.dumps({"presets": PRESET_NAMES, "learned": rows}))
        return 0
    print(f"{len(PRESET_NAMES)} presets: preset:0 … preset:{len(PRESET_NAMES) - 1}")
    if not rows:
        print("no learned styles yet (napari-styletransfer learn-style PAINTING --name NAME)")
    for row in rows:
        print(
            f"{row['style']}  ({row['network']} network, {row['steps']} steps, "
            f"painting {row['painting']}, {row['created']})"
        )
    return 0

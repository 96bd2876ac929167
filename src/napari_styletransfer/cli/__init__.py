"""Command line: ``napari-styletransfer SUBCOMMAND ...``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and a
``run(args) -> int`` function. Expected errors (:class:`StyleTransferError`)
print one line on stderr and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# OpenMP threads that spin while waiting cost a 3-13x slowdown when other
# processes share the cores; set before torch (and its OpenMP) is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ..errors import StyleTransferError

SUBCOMMANDS = ("stylize", "demo", "segment", "presets", "learn-style", "batch", "serve", "export")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="napari-styletransfer",
        description="Neural style transfer for images and stacks (the napari plugin's CLI).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = _subcommand(name)
        if module is not None:
            sub = module.add_parser(subparsers)
            sub.set_defaults(_run=module.run)
    return parser


def _subcommand(name: str):
    try:
        return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    except ModuleNotFoundError as error:
        # a subcommand whose module is not written yet is simply not offered
        if error.name == f"{__name__}.{name.replace('-', '_')}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 2 bad input, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args) or 0)
    except StyleTransferError as error:
        print(f"napari-styletransfer: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-styletransfer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``napari-styletransfer learn-style PAINTING --name NAME``: a new fast style from a painting.

By default this learns a new preset (the norm parameters of a pretrained fast
network, minutes on a CPU); ``--from-scratch`` trains a whole Johnson et al.
network (for GPUs). Ctrl-C stops after the current step and keeps a
checkpoint; ``--resume`` goes on from it. ``--import FILE`` adds a learned
style someone shared.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from ..errors import StyleTransferError


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``learn-style`` subcommand."""
    p = subparsers.add_parser(
        "learn-style",
        help="learn a new fast-mode style (a preset) from a painting",
        description="Learn a new fast-mode style from PAINTING and store it as learned:NAME "
        "(use it with: stylize PHOTO --method fast --style learned:NAME).",
    )
    p.add_argument("painting", nargs="?", help="painting: an image file or a bundled name")
    p.add_argument("--name", help="name of the new style (letters, digits, '_', '-', '.')")
    p.add_argument(
        "--steps", type=int, help="training steps in all (default 300; 40000 from scratch)"
    )
    p.add_argument("--size", type=int, default=256, help="training crop size in pixels (256)")
    p.add_argument(
        "--work-size",
        type=int,
        default=512,
        help="size the style is meant for: photos are resized to this before cropping (512)",
    )
    p.add_argument("--batch-size", type=int, default=4, help="crops per step (4)")
    p.add_argument("--learning-rate", type=float, help="Adam step size")
    p.add_argument("--photos", help="folder of photos to train on (default: a set built once)")
    p.add_argument(
        "--network",
        choices=("arbitrary", "multistyle"),
        help="which pretrained network the preset is for (default arbitrary)",
    )
    p.add_argument("--from-scratch", action="store_true", help="train a whole Johnson network")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--logdir", help="folder for TensorBoard event files and losses.csv")
    p.add_argument("--overwrite", action="store_true", help="replace a style of the same name")
    p.add_argument("--resume", action="store_true", help="go on from the last checkpoint of NAME")
    p.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="import a shared learned-style file instead of training (NAME defaults to its name)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``learn-style`` subcommand."""
    if args.import_file:
        return _import(args)
    if not args.painting or not args.name:
        raise StyleTransferError("learn-style needs a PAINTING and --name NAME.")
    from ..fast.training import LearnSettings, iter_learn_style

    settings = LearnSettings(
        steps=args.steps,
        size=args.size,
        work_size=args.work_size,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        from_scratch=args.from_scratch,
        network=args.network,
    )
    if args.steps is not None and args.steps < 1:
        raise StyleTransferError(f"--steps must be at least 1, not {args.steps}.")
    stop = _StopOnCtrlC()
    runner = iter_learn_style(
        args.painting,
        args.name,
        settings=settings,
        photos=args.photos,
        device=args.device,
        logdir=args.logdir,
        overwrite=args.overwrite,
        resume=args.resume,
        should_stop=stop,
    )
    start = time.perf_counter()
    with stop:
        final = _drive(runner, quiet=args.json)
    if final is None:
        raise StyleTransferError("The training ended without a report.")
    if final.stopped:
        print(
            f"napari-styletransfer: interrupted at step {final.step}/{final.total}; "
            f"checkpoint saved: {final.checkpoint}. Resume with: napari-styletransfer "
            f"learn-style {args.painting} --name {args.name} --resume",
            file=sys.stderr,
        )
        return 130
    summary = {
        "name": args.name,
        "style": f"learned:{args.name}",
        "file": str(final.saved),
        "steps": final.step,
        "seconds": round(time.perf_counter() - start, 1),
        "losses": {k: round(v, 4) for k, v in final.losses.items()},
        "device": final.device,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"learned style {args.name!r} saved to {final.saved}\n"
            f"use it: napari-styletransfer stylize PHOTO --method fast --style learned:{args.name}"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from ..fast.learned import import_learned

    path = import_learned(args.import_file, args.name, overwrite=args.overwrite)
    if args.json:
        print(json.dumps({"style": f"learned:{path.stem}", "file": str(path)}))
    else:
        print(f"imported as learned:{path.stem} ({path})")
    return 0


def _drive(runner, quiet: bool):
    """Run the training, with a tqdm bar on a terminal and a few lines otherwise."""
    final = None
    bar = None
    try:
        for report in runner:
            if bar is None and not quiet:
                bar = _Bar(report)
            if bar is not None:
                bar.update(report)
            final = report
    finally:
        if bar is not None:
            bar.close()
    return final


class _Bar:
    """tqdm on a TTY (loss and time left); on a pipe, a line every tenth of the run."""

    def __init__(self, first):
        self.total = first.total
        self.every = max(1, first.total // 10)
        self.tty = sys.stderr.isatty()
        self.bar = None
        print(f"learning on {first.device}", file=sys.stderr)
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                total=first.total,
                initial=max(0, first.step - 1),
                unit="step",
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
            )

    def update(self, report) -> None:
        loss = report.losses.get("total")
        if self.bar is not None:
            self.bar.update(report.step - self.bar.n)
            if loss is not None:
                self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        elif report.step % self.every == 0 or report.done or report.stopped:
            left = report.eta
            left_text = "" if left is None else f", {left / 60:.1f} min left"
            loss_text = "" if loss is None else f", loss {loss:.4g}"
            print(f"step {report.step}/{report.total}{loss_text}{left_text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _StopOnCtrlC:
    """The first Ctrl-C asks the run to stop after its step (and keep a checkpoint).

    A second Ctrl-C interrupts at once, as usual.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nstopping after this step (a checkpoint is kept); Ctrl-C again to quit at once",
            file=sys.stderr,
        )

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no signal handling
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

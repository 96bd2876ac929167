"""Planning a batch: what to do for each input, before anything runs.

:func:`plan_batch` reads only stack metadata, refuses plans that would write
onto an input or over outputs it did not make, skips what the manifest says is
done, and opens the partial stores of stacks (resuming their finished slices).
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StyleTransferError
from .manifest import Manifest
from .naming import PARTIAL, check_outputs, output_path
from .sources import Input, StackInfo, stack_info
from .stacks import PartialStack
from .tasks import PictureTask


@dataclass
class StackJob:
    """A stack input, its partial output and the slices still to do."""

    input: Input
    output: Path
    info: StackInfo
    partial: PartialStack
    todo: list[int]
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)

    @property
    def settled(self) -> bool:
        """Every slice is written or failed."""
        return len(self.partial.done) + len(self.failed) >= self.info.n_slices


@dataclass
class Plan:
    """What a batch will do."""

    pictures: list[PictureTask]
    stacks: list[StackJob]
    skipped: list[Input]
    unreadable: list[tuple[Input, Path, str]]

    @property
    def units(self) -> int:
        """Pictures and slices to stylise."""
        return len(self.pictures) + sum(len(job.todo) for job in self.stacks)


def plan_batch(
    inputs: Sequence[Input],
    root: Path,
    out_dir: Path,
    params: dict,
    manifest: Manifest,
    *,
    fmt: str = "same",
    overwrite: bool = False,
    max_pixels: int | None = None,
) -> Plan:
    """Decide what to do for each input, then open the manifest and the partial stacks.

    Only stack metadata is read. Nothing is created in ``out_dir`` before
    every check has passed.

    Raises
    ------
    StyleTransferError
        When an output would land on an input, two inputs share an output, or
        outputs exist that this manifest did not make with these parameters
        (unless ``overwrite``).
    """
    out_dir = out_dir.resolve()
    layouts: dict[Path, StackInfo | None] = {}
    errors: dict[Path, str] = {}
    for item in inputs:
        try:
            layouts[item.path] = stack_info(item)
        except StyleTransferError as error:  # a broken file is a failed item, not a stop
            layouts[item.path], errors[item.path] = None, str(error)
    outputs = [
        output_path(item, root, out_dir, layouts[item.path] is not None, fmt) for item in inputs
    ]
    check_outputs(inputs, outputs, out_dir)
    plan = Plan([], [], [], [])
    to_stack, in_the_way = [], []
    for item, out in zip(inputs, outputs, strict=True):
        if item.path in errors:
            plan.unreadable.append((item, out, errors[item.path]))
        elif not overwrite and manifest.is_done(item.path, out, params):
            plan.skipped.append(item)
        elif out.exists() and not overwrite:
            in_the_way.append(out)
        elif layouts[item.path] is None:
            plan.pictures.append(PictureTask(item, out, max_pixels))
        else:
            to_stack.append((item, out, layouts[item.path]))
    if in_the_way:
        raise StyleTransferError(
            f"{len(in_the_way)} output(s) exist that this folder's manifest does not list as "
            f"made with these parameters, e.g. {in_the_way[0]}: pass --overwrite to replace "
            "them, or choose another output folder."
        )
    manifest.open()  # from here on this batch owns the folder
    for item, out, info in to_stack:
        partial = PartialStack(out, info, params)
        todo = [n for n in range(info.n_slices) if n not in partial.done]
        plan.stacks.append(StackJob(item, out, info, partial, todo))
    remove_temporaries([task.output for task in plan.pictures])
    return plan


def remove_temporaries(outputs: Sequence[Path]) -> None:
    """Delete temporary files that stopped runs left for these outputs (one listing per folder)."""
    by_folder: dict[Path, set[str]] = defaultdict(set)
    for path in outputs:
        by_folder[path.parent].add(path.name)
    for folder, names in by_folder.items():
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            name = entry.name
            if not (name.startswith(".") and PARTIAL in name and entry.is_file()):
                continue
            if any(fnmatch.fnmatchcase(name, f".{n}.*{PARTIAL}*") for n in names):
                os.unlink(entry.path)

"""Where a batch writes: outputs mirror the inputs' paths under the output folder.

Every output is first written under a hidden temporary name next to its final
place and renamed when complete, so a file at an output's name is always a
finished result. Unlike :func:`napari_styletransfer.files.atomic_output`, the
writer (a worker) and the renamer (the client, right after the manifest line
is on disk) are different processes, so the temporary name is made here. Stacks are written into a hidden partial Zarr store whose
name carries a digest of the parameters; a rerun with the same parameters
continues it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..errors import StyleTransferError
from .sources import Input

FORMATS = ("same", "png", "jpg", "tif")
PARTIAL = ".partial"


def output_path(item: Input, root: Path, out_dir: Path, stacked: bool, fmt: str = "same") -> Path:
    """The output of ``item``: its path below ``root``, placed under ``out_dir``.

    Stacks (and Zarr inputs) become Zarr stores (``movie.ome.tif`` →
    ``movie.ome.zarr``); pictures keep their suffix, or take ``fmt``'s.
    """
    relative = item.path.relative_to(root) if item.path != root else Path(item.path.name)
    target = out_dir / relative
    if stacked or item.kind == "zarr":
        return target if item.kind == "zarr" else target.with_suffix(".zarr")
    if fmt == "same":
        return target
    return target.with_suffix("." + fmt)


def check_outputs(inputs: Sequence[Input], outputs: Sequence[Path], out_dir: Path) -> None:
    """Refuse a plan that would write onto an input, or two outputs onto one path.

    Raises
    ------
    StyleTransferError
        Naming the first few clashes.
    """
    input_paths = {item.path for item in inputs}
    holding_inputs = {parent for path in input_paths for parent in path.parents}
    stores = {item.path for item in inputs if item.kind == "zarr"}
    for folder in (out_dir, *out_dir.parents):
        if folder in stores:
            raise StyleTransferError(
                f"The output folder {out_dir} is inside the input {folder}: choose another -o."
            )
    onto = [
        str(p)
        for p in outputs
        if p in input_paths or p in holding_inputs or any(s in stores for s in p.parents)
    ]
    if onto:
        raise StyleTransferError(
            f"The outputs would overwrite {len(onto)} input(s), e.g. {onto[0]}: inputs are "
            "never overwritten; choose another output folder with -o."
        )
    seen: dict[Path, int] = {}
    for path in outputs:
        seen[path] = seen.get(path, 0) + 1
    twice = [str(p) for p, n in seen.items() if n > 1]
    if twice:
        raise StyleTransferError(
            f"{len(twice)} output name(s) would be used by two inputs, e.g. {twice[0]} "
            "(same name with different suffixes?): rename the inputs or use --format same."
        )


def temporary_path(final: Path) -> Path:
    """A fresh hidden name next to ``final`` with the same suffix (image writers need it)."""
    token = uuid.uuid4().hex[:12]
    return final.with_name(f".{final.name}.{token}{PARTIAL}{final.suffix}")


def stale_temporaries(final: Path) -> list[Path]:
    """Temporary files a stopped run left for ``final`` (our own naming pattern only)."""
    pattern = f".{final.name}.*{PARTIAL}{final.suffix}"
    return sorted(p for p in final.parent.glob(pattern) if p.is_file())


def partial_store(final: Path, params: dict) -> Path:
    """The hidden Zarr store a stack is written into before it is complete."""
    return final.with_name(f".{final.name}{PARTIAL}-{params_digest(params)}")


def stale_partial_stores(final: Path, keep: Path) -> list[Path]:
    """Partial stores of ``final`` written with other parameters."""
    pattern = f".{final.name}{PARTIAL}-*"
    return sorted(p for p in final.parent.glob(pattern) if p.is_dir() and p != keep)


def params_digest(params: dict) -> str:
    """A short digest of a JSON-able parameter dict (order of keys does not matter)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (style files: a changed painting means new outputs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

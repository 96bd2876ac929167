"""Batch style transfer on a dask cluster: folders of photos, big stacks, many files.

>>> from napari_styletransfer.api import StylizeRequest
>>> from napari_styletransfer.batch import run_batch
>>> request = StylizeRequest.create("preset:7", method="fast", max_size=512)  # doctest: +SKIP
>>> summary = run_batch(["photos/"], "styled/", request, recursive=True)    # doctest: +SKIP

- :mod:`.sources`: finding inputs; pictures, TIFF and Zarr stacks read lazily;
- :mod:`.naming`: outputs mirror inputs under the output folder, temporary names;
- :mod:`.manifest`: ``manifest.jsonl``, what resuming relies on;
- :mod:`.style`: the style's features, computed once per batch;
- :mod:`.tasks`: what a worker does for one picture or one slice;
- :mod:`.stacks`: output Zarr stores written slice by slice;
- :mod:`.cluster`: the local cluster, an existing one, the worker plugin;
- :mod:`.plan`: what to do for each input; :mod:`.runner`: submitting and
  recording; :mod:`.progress`: the bar.

Nothing here imports Qt or napari. docs/scaling.md shows it on a laptop and
on clusters.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .manifest import MANIFEST_NAME, Manifest, record_params
from .plan import plan_batch
from .progress import BatchProgress
from .runner import Summary, run_plan
from .sources import discover

__all__ = ["MANIFEST_NAME", "Summary", "run_batch"]


def run_batch(
    inputs: Sequence[str],
    out_dir: str | Path,
    request,
    *,
    recursive: bool = False,
    overwrite: bool = False,
    fmt: str = "same",
    client=None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    workers: int | None = None,
    torch_threads: int | None = None,
    max_pixels: int | None = None,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> Summary:
    """Stylise every input into ``out_dir``, resuming what an earlier run finished.

    Parameters
    ----------
    inputs : sequence of str
        Files, folders, glob patterns; TIFF and Zarr stacks.
    out_dir : str or Path
        Where outputs go (mirroring the inputs' paths) with ``manifest.jsonl``.
    request : StylizeRequest
        The stylize parameters (the same request for every input; it goes to
        the workers as it is).
    recursive : bool
        Look into sub-folders.
    overwrite : bool
        Redo every input and replace existing outputs.
    fmt : {"same", "png", "jpg", "tif"}
        File format of picture outputs (stacks are always Zarr).
    client : distributed.Client, optional
        Run on this client; otherwise on ``scheduler`` / ``scheduler_file``,
        or on a local cluster of ``workers`` processes started for the batch.
    torch_threads : int, optional
        torch threads per worker (default: the cores shared out fairly).
    max_pixels : int, optional
        Picture files declaring more pixels are failed items (default: image_io's limit).
    progress : bool or None
        Draw the progress bar (None: when stderr is a terminal).
    say : callable, optional
        Where one-line messages (the dashboard link) go; stderr by default.

    Returns
    -------
    Summary

    Raises
    ------
    StyleTransferError
        For bad arguments, before anything is written.
    """
    from .cluster import check_where

    say = say or (lambda text: print(text, file=sys.stderr))
    if client is None:
        check_where(scheduler, scheduler_file, workers)
    out_dir = Path(out_dir).expanduser().resolve()
    manifest = Manifest(out_dir)
    items, root = discover(
        inputs, recursive=recursive, exclude=out_dir, exclude_files=manifest.outputs()
    )
    params = record_params(request)
    with manifest:
        plan = plan_batch(
            items,
            root,
            out_dir,
            params,
            manifest,
            fmt=fmt,
            overwrite=overwrite,
            max_pixels=max_pixels,
        )
        if plan.skipped:
            say(f"{len(plan.skipped)} input(s) already done with these parameters: skipped.")
        cluster = contextlib.nullcontext(client)
        if client is None and plan.units:
            from .cluster import connect

            cluster = connect(scheduler, scheduler_file, workers, torch_threads)
        with cluster as active:
            if active is not None:
                _announce(active, say)
            bar = BatchProgress(plan.units, enabled=progress)
            return run_plan(active, plan, request, manifest, progress=bar)


def _announce(client, say: Callable[[str], None]) -> None:
    from .cluster import dashboard_link, has_dashboard

    workers = client.scheduler_info().get("workers", {})
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
    say(f"dask: {len(workers)} worker(s), {threads} thread(s) at {client.scheduler.address}")
    link = dashboard_link(client)
    if link:
        say(f"dashboard: {link}")
    else:
        reason = "" if has_dashboard() else " (install bokeh for one)"
        say(f"dashboard: none{reason}")

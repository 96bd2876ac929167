"""The output of "all slices" on a lazy (dask- or zarr-backed) layer: a Zarr store on disk.

Nothing holds the whole stack: the worker reads one slice of the content at a
time (:class:`~.runner.LazyFrame`), writes each finished slice into the store
(:class:`StackStore`, the job's sink), and the output layer is a lazy view of
that store (:class:`StoreOutputLayer`) that re-reads the shown slice as slices
arrive. The store is written under a hidden partial name and renamed when the
run is done (``… -cancelled.zarr`` when it was cancelled; removed when it
failed). Chunks hold one slice each and zarr writes every chunk file
atomically, so the view never reads half a slice.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from pathlib import Path

from ..batch.naming import PARTIAL
from ..batch.sources import StackInfo
from ..batch.stacks import create_slice_store
from ..errors import StyleTransferError
from .output import METADATA_KEY, OutputLayer
from .runner import CANCELLED, DONE, Outcome, Update

APP_NAME = "napari-styletransfer"
STACKS_FOLDER = "stacks"


def stacks_folder() -> Path:
    """Where stack outputs go: the user data folder (e.g. ~/.local/share/napari-styletransfer/stacks)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / STACKS_FOLDER


def store_name(base_name: str, when: datetime.datetime | None = None) -> str:
    """A file name for a run's store: the output layer's name and the time, e.g.
    ``movie-starry-night-20260101-120000.zarr``."""
    when = when or datetime.datetime.now()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", base_name).strip("-.") or "stack"
    return f"{stem}-{when:%Y%m%d-%H%M%S}.zarr"


class StackStore:
    """A Zarr store shaped like the content, filled slice by slice.

    Parameters
    ----------
    final : Path
        Where the store goes when the run is done (must not exist).
    shape : tuple of int
        The content's shape (stack axes, then the picture).
    dtype : numpy dtype
        The content's dtype (the engine gives it back).
    rgb : bool
        True when the last axis is colour.
    attributes : dict
        Written into the store's attributes (the run's parameters).
    """

    def __init__(self, final: Path, shape, dtype, rgb: bool, attributes: dict) -> None:
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise StyleTransferError(
                "Stylising all slices of a lazy stack writes a Zarr store: install zarr "
                "(pip install 'napari-styletransfer[batch]')."
            ) from None
        if final.exists():
            raise StyleTransferError(f"{final} exists already: nothing was written.")
        self.final = final
        self.partial = final.with_name(f".{final.name}{PARTIAL}")
        final.parent.mkdir(parents=True, exist_ok=True)
        info = StackInfo(tuple(int(n) for n in shape), str(dtype), rgb, {})
        self._array = create_slice_store(self.partial, info, {METADATA_KEY: attributes})
        self.path = self.partial

    def write(self, index: tuple[int, ...], picture) -> None:
        """Write one finished slice (called in the worker thread)."""
        self._array[index] = picture

    def view(self):
        """A read-only lazy array over the store, for the output layer."""
        import zarr

        return zarr.open_array(str(self.path), mode="r")

    def finish(self, status: str) -> Path | None:
        """Give the store its final name (done / cancelled) or remove it (failed)."""
        if status == DONE:
            target = self.final
        elif status == CANCELLED:
            target = self.final.with_name(self.final.stem + "-cancelled.zarr")
        else:
            shutil.rmtree(self.partial, ignore_errors=True)
            return None
        os.replace(self.partial, target)
        self.path = target
        return target


class StoreOutputLayer(OutputLayer):
    """An output layer that shows a :class:`StackStore` lazily, as its slices arrive."""

    def __init__(self, viewer, layer, store: StackStore, record: dict) -> None:
        super().__init__(viewer, layer, stacked=True, created=True, record=record)
        self.store = store

    @classmethod
    def create_for(
        cls, viewer, base_name: str, store: StackStore, metadata: dict, layer_kwargs: dict
    ) -> StoreOutputLayer:
        """Add the layer over the store's lazy view."""
        plain = OutputLayer.create(viewer, base_name, store.view(), True, metadata, layer_kwargs)
        return cls(viewer, plain.layer, store, plain.record)

    def show(self, update: Update) -> None:
        """Redraw when a slice was written (previews are not written into the store)."""
        if update.progress.result is not None and self.alive:
            self.layer.refresh()

    def settle(self, outcome: Outcome, record: dict) -> None:
        """Rename (or remove) the store, point the layer at its final place, record it."""
        path = self.store.finish(outcome.status)
        if path is not None and self.alive:
            self.layer.data = self.store.view()
        super().settle(outcome, record | {"store": None if path is None else str(path)})

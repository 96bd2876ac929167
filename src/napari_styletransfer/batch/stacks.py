"""The output Zarr store of a stack: made by the client, filled slice by slice by the workers.

The store is created under a hidden partial name (see
:func:`~.naming.partial_store`) with one chunk per 2-D slice (tiles for very
large slices), so every slice task writes only its own chunks. The client
keeps a journal of finished slices inside the partial store; a rerun with
the same parameters skips them. When every slice is done, the journal is
removed and the store renamed to its final name in one step.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .naming import partial_store, stale_partial_stores
from .sources import StackInfo

JOURNAL = "styletransfer-journal.jsonl"
MAX_CHUNK_SIDE = 4096
# OME-Zarr images keep their array at the full-resolution level's path
OME_ARRAY = "0"
# the parameters that made a store, in its attributes
PROVENANCE_KEY = "napari-styletransfer"


class PartialStack:
    """An output stack being written.

    Parameters
    ----------
    final : Path
        Where the finished store goes.
    info : StackInfo
        The input's layout (the output has the same shape and dtype).
    params : dict
        The batch's parameters; a partial store made with other ones is discarded.
    """

    def __init__(self, final: Path, info: StackInfo, params: dict) -> None:
        self.final = final
        self.info = info
        self.store = partial_store(final, params)
        for stale in stale_partial_stores(final, keep=self.store):
            shutil.rmtree(stale, ignore_errors=True)
        self.done: set[int] = self._resume(params)
        self._journal = open(self.store / JOURNAL, "a", encoding="utf-8")

    @property
    def array_path(self) -> Path:
        """The Zarr array that slices are written into."""
        return self.store / OME_ARRAY if self.info.attributes else self.store

    def _resume(self, params: dict) -> set[int]:
        journal = self.store / JOURNAL
        if journal.is_file():
            lines = journal.read_text(encoding="utf-8").splitlines()
            if lines and _json(lines[0]).get("params") == params:
                return {int(n) for line in lines[1:] if (n := _json(line).get("slice")) is not None}
        if self.store.exists():
            shutil.rmtree(self.store)
        self._create(params)
        journal.write_text(json.dumps({"params": params}) + "\n", encoding="utf-8")
        return set()

    def _create(self, params: dict) -> None:
        create_slice_store(self.store, self.info, {PROVENANCE_KEY: params})

    def record(self, number: int) -> None:
        """Remember that slice ``number`` is written."""
        self.done.add(number)
        self._journal.write(json.dumps({"slice": number}) + "\n")
        self._journal.flush()

    @property
    def complete(self) -> bool:
        """True when every slice is written."""
        return len(self.done) >= self.info.n_slices

    def close(self) -> None:
        """Stop journaling (the partial store stays for a rerun)."""
        if not self._journal.closed:
            self._journal.close()

    def finish(self) -> None:
        """Drop the journal and move the store to its final name (replacing an old one)."""
        self.close()
        (self.store / JOURNAL).unlink(missing_ok=True)
        old = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(self.final, old)
        os.replace(self.store, self.final)
        if old is not None:
            remove(old)


def remove(path: Path) -> None:
    """Delete a file or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def create_slice_store(path: Path, info: StackInfo, attributes: dict | None = None):
    """Create an empty Zarr array shaped like ``info`` with one chunk per 2-D slice.

    Every slice owns its chunks (tiles of at most :data:`MAX_CHUNK_SIDE` for
    very large slices), so slices can be written at the same time from
    different threads or processes. With OME attributes in ``info``, the store
    is a group holding the array at :data:`OME_ARRAY`.

    Returns
    -------
    zarr.Array
        The array to write slices into.
    """
    import zarr

    picture = list(info.picture_shape)
    for axis in (0, 1):
        picture[axis] = min(picture[axis], MAX_CHUNK_SIDE)
    chunks = (1,) * len(info.stack_shape) + tuple(picture)
    extra = {}
    if info.zarr_format == 2:
        extra["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
    layout = {"shape": info.shape, "chunks": chunks, "dtype": info.dtype, "fill_value": 0}
    if info.attributes:
        group = zarr.open_group(str(path), mode="w", zarr_format=info.zarr_format)
        group.attrs.update(info.attributes | (attributes or {}))
        return group.create_array(OME_ARRAY, **layout, **extra)
    array = zarr.create_array(str(path), zarr_format=info.zarr_format, **layout, **extra)
    array.attrs.update(attributes or {})
    return array


def _json(line: str) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}

"""Job records and results on disk, so that neither a dropped client nor a restart loses them.

One folder per server: ``<id>.json`` (the job's public status) and
``<id>.tiff`` (the result, lossless, any dtype). Every file is written under a
temporary name and renamed when complete. A lock file keeps a second server
from sharing the folder (it would take the first one's jobs for lost ones).
"""

from __future__ import annotations

import fcntl
import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from ..files import atomic_output
from ..image_io import read_tiff_bytes

log = logging.getLogger("napari_styletransfer.server")

JOB_ID = re.compile(r"[0-9a-f]{32}")


def new_job_id() -> str:
    """A random, unguessable job id (32 hex digits)."""
    return uuid.uuid4().hex


class ResultStore:
    """The results folder of one server.

    Parameters
    ----------
    folder : pathlib.Path
        Created if missing.

    Raises
    ------
    StyleTransferError
        When the folder cannot be created or another server uses it.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.folder / "server.lock", "w")  # held while the server runs
        except OSError as error:
            raise StyleTransferError(f"Cannot use {self.folder} for results: {error}") from error
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise StyleTransferError(
                f"Another server already keeps its results in {self.folder}; give this one "
                "its own --results-dir."
            ) from None
        for leftover in self.folder.glob(".*.partial.*"):  # writes a crash cut short
            leftover.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the folder."""
        self._lock.close()

    def _path(self, job_id: str, suffix: str) -> Path:
        if not JOB_ID.fullmatch(job_id):  # only our own ids ever name a file
            raise ValueError(f"not a job id: {job_id!r}")
        return self.folder / f"{job_id}{suffix}"

    def save_record(self, record: dict) -> None:
        """Write a job's status (atomically)."""
        _write_atomic(self._path(record["id"], ".json"), json.dumps(record).encode("utf-8"))

    def save_result(self, job_id: str, data: bytes) -> None:
        """Write a job's result, encoded by :func:`~..image_io.tiff_bytes` (atomically)."""
        _write_atomic(self._path(job_id, ".tiff"), data)

    def result_bytes(self, job_id: str) -> bytes | None:
        """The stored result as TIFF bytes, or None when there is none."""
        try:
            return self._path(job_id, ".tiff").read_bytes()
        except FileNotFoundError:
            return None

    def result(self, job_id: str) -> np.ndarray | None:
        """The stored result as an array, or None."""
        data = self.result_bytes(job_id)
        return None if data is None else read_tiff_bytes(data)

    def delete(self, job_id: str) -> None:
        """Remove a job's record and result."""
        for suffix in (".tiff", ".json"):
            self._path(job_id, suffix).unlink(missing_ok=True)

    def records(self) -> Iterator[dict]:
        """Every readable job record in the folder (unreadable ones are logged and removed)."""
        for path in sorted(self.folder.glob("*.json")):
            if not JOB_ID.fullmatch(path.stem):
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if record.get("id") != path.stem:
                    raise ValueError("id does not match the file name")
            except (OSError, ValueError) as error:
                log.warning("dropping unreadable job record %s: %s", path.name, error)
                path.unlink(missing_ok=True)
                continue
            yield record


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)

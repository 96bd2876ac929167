"""``manifest.jsonl``: one JSON line per finished input, the batch's memory for resuming.

Only the client process writes it (workers return records to it), under an
exclusive lock, so two batches cannot write into one output folder at once.
A line is appended and flushed to disk *before* its output is renamed into
place: a stop between the two leaves a line whose output is missing, and the
rerun simply redoes that input.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StyleTransferError
from .naming import file_digest

MANIFEST_NAME = "manifest.jsonl"
OK, FAILED = "ok", "failed"


@dataclass
class Record:
    """What the manifest says about one input.

    Attributes
    ----------
    input, output : str
        Absolute paths.
    kind : {"picture", "stack"}
    status : {"ok", "failed"}
    params : dict
        Every stylize parameter (see :func:`record_params`).
    device, worker : str
        Where it ran (a stack lists every worker that wrote a slice).
    seconds : float
        Work time on the workers (all slices for a stack).
    error : str or None
        Why it failed.
    slices : int or None
        Slices written, for stacks.
    """

    input: str
    output: str
    kind: str
    status: str
    params: dict
    device: str = ""
    worker: str = ""
    seconds: float = 0.0
    error: str | None = None
    slices: int | None = None
    finished: str = field(default_factory=lambda: _now())

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.__dict__, sort_keys=False, ensure_ascii=False)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """The manifest of one output folder: read at once, written after :meth:`open`.

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.path = out_dir / MANIFEST_NAME
        self.latest: dict[str, dict] = read_latest(self.path)
        self._handle = None

    def open(self) -> Manifest:
        """Create the folder, take the lock and get ready to append.

        Raises
        ------
        StyleTransferError
            When another batch holds this folder's manifest.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StyleTransferError(
                f"Another batch is writing into {self.out_dir} (its manifest is locked): wait "
                "for it to finish or choose another output folder."
            ) from None
        if not _ends_with_newline(self.path):
            handle.write("\n")  # a line cut short by a crash stays on its own
        self._handle = handle
        return self

    def is_done(self, input_path: Path, output_path: Path, params: dict) -> bool:
        """True when ``input_path`` finished with these parameters and its output is there."""
        line = self.latest.get(str(input_path))
        return bool(
            line
            and line.get("status") == OK
            and line.get("output") == str(output_path)
            and line.get("params") == params
            and output_path.exists()
        )

    def outputs(self) -> list[Path]:
        """Every output path the manifest names (so they are not taken as inputs)."""
        return [Path(line["output"]) for line in self.latest.values() if line.get("output")]

    def append(self, record: Record) -> None:
        """Add one line and make sure it is on disk before returning."""
        self._handle.write(record.to_json() + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.latest[record.input] = json.loads(record.to_json())

    def close(self) -> None:
        """Release the lock."""
        if self._handle is not None and not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def record_params(request) -> dict:
    """What the manifest records of a request: every parameter, style and mask files by content.

    :meth:`StylizeRequest.params` names a style file by its path; the digest of
    its bytes is added so that a changed painting means new outputs.
    """
    params = request.params()
    names = [*params.get("style", []), params.get("mask")]
    params["files"] = {
        name: file_digest(Path(name))
        for name in names
        if isinstance(name, str) and not name.lower().startswith("preset:") and Path(name).is_file()
    }
    return params


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_latest(path: Path) -> dict[str, dict]:
    """The last line for each input of a manifest file (none when it does not exist).

    A line cut short by a crash (the last one) is ignored.
    """
    latest: dict[str, dict] = {}
    if not path.is_file():
        return latest
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "input" in entry:
                latest[entry["input"]] = entry
    return latest

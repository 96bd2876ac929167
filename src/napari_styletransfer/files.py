"""Writing output files safely: never over an input, never half-written under the final name.

Every front end that writes (CLI, video, batch, server, style training) goes
through :func:`check_output` before any work and :func:`atomic_output` to write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import StyleTransferError


def check_output(
    path: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Path:
    """Check, before any work, that ``path`` may be written.

    Parameters
    ----------
    path : str or Path
        The output file.
    overwrite : bool
        Allow replacing an existing file (never an input).
    inputs : iterable of str or Path
        Files the job reads; the output may never be one of them.

    Returns
    -------
    Path
        The output path.

    Raises
    ------
    StyleTransferError
        When the output is a folder, is one of the inputs, exists and
        ``overwrite`` is False, or its folder cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise StyleTransferError(f"The output {path} is a folder: give a file name.")
    resolved = path.resolve()
    for item in inputs:
        if Path(item).resolve() == resolved:
            raise StyleTransferError(
                f"The output {path} is also an input: choose another output file."
            )
    if path.exists() and not overwrite:
        raise StyleTransferError(f"{path} exists: choose another name or pass --overwrite.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StyleTransferError(f"Cannot create the folder of {path}: {error}") from error
    if not os.access(path.parent, os.W_OK):
        raise StyleTransferError(f"Cannot write into {path.parent}: no permission.")
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Give a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary file keeps the final suffix (encoders choose the format by
    it) and is removed when the block fails or is interrupted, so a failed
    write never truncates or replaces an existing file.

    Yields
    ------
    Path
        Where to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()

"""The stylize parameters of a batch: checked once on the client, shipped to every task.

The check is the engine's own (:func:`napari_styletransfer.engine.api.prepare`
on a small probe picture), so a bad argument fails before any worker starts
and the batch never has rules of its own. Styles (bundled names, files) are
read once here; tasks get the pictures, not the names.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .naming import file_digest

# the probe only has to be large enough for every max_size the engine accepts
PROBE = np.full((256, 256, 3), 128, np.uint8)


@dataclass(frozen=True)
class BatchRequest:
    """One validated set of stylize arguments.

    Attributes
    ----------
    style : tuple of str
        What the user named: bundled paintings, files (absolute) or presets.
    options : dict
        The other keyword arguments of :func:`napari_styletransfer.iter_stylize`.
    mask : str or None
        "auto", a mask file (absolute), or None.
    """

    style: tuple[str, ...]
    options: Mapping
    mask: str | None = None
    _styles: tuple = field(default=(), repr=False, compare=False)
    _mask_array: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def create(
        cls, style: str | Sequence[str], *, mask: str | None = None, **options
    ) -> BatchRequest:
        """Check the arguments with the engine and read the styles once.

        Raises
        ------
        StyleTransferError
            For any argument ``stylize`` would refuse.
        """
        from ..engine.api import prepare
        from ..engine.inputs import resolve_styles

        specs = (style,) if isinstance(style, str | Path) else tuple(style)
        specs = tuple(_absolute_if_file(str(s)) for s in specs)
        mask_array = None
        if mask is not None and mask != "auto":
            from ..image_io import read_image

            mask = str(Path(mask).expanduser().resolve())
            mask_array = read_image(mask)
        engine_style = list(specs) if len(specs) > 1 else specs[0]
        prepare(PROBE, engine_style, **options)  # raises StyleTransferError
        return cls(specs, dict(options), mask, tuple(resolve_styles(engine_style)), mask_array)

    @property
    def method(self) -> str:
        """ "quality" or "fast"."""
        return self.options.get("method", "quality")

    @property
    def styles(self) -> tuple:
        """The styles as the engine takes them: float RGB pictures or preset specs."""
        return self._styles

    def params(self) -> dict:
        """Every parameter as JSON-able values (files also by content digest)."""
        files = {s: file_digest(Path(s)) for s in (*self.style, self.mask or "") if _is_file(s)}
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        return {"style": list(self.style), "mask": self.mask, **options, "files": files}

    def iter_run(self, content: np.ndarray) -> Generator:
        """:func:`~napari_styletransfer.iter_stylize` on ``content`` with these parameters."""
        from ..engine.api import iter_stylize

        mask = self._mask_array if self._mask_array is not None else self.mask
        styles = list(self._styles)
        return iter_stylize(
            content, styles if len(styles) > 1 else styles[0], mask=mask, **self.options
        )


def _is_file(spec: str) -> bool:
    # the engine's order: bundled names and presets first, then files
    from ..samples import SAMPLES

    key = spec.strip().lower()
    return (
        bool(spec) and key not in SAMPLES and not key.startswith("preset:") and Path(spec).is_file()
    )


def _absolute_if_file(spec: str) -> str:
    path = Path(spec).expanduser()
    return str(path.resolve()) if _is_file(str(path)) else spec

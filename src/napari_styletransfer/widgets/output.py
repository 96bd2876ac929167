"""The output layer of a run: created at once, refreshed with previews, settled at the end.

What happens to the output when a run does not finish (documented in docs/napari.md):

- cancelled: the layer stays with what was computed so far, its name gets a
  " (cancelled)" suffix and ``metadata["styletransfer"]["status"]`` is "cancelled";
- failed: a layer that the run created is removed again; a layer that a fast-mode
  live update was rewriting keeps its previous picture.

The user's own layers are never written to.
"""

from __future__ import annotations

import re

import numpy as np

from .layers import unique_layer_name
from .runner import CANCELLED, DONE, Outcome, Update

METADATA_KEY = "styletransfer"


class OutputLayer:
    """Owns the Image layer a run writes into.

    Parameters
    ----------
    viewer : napari.Viewer
        Where the layer lives.
    layer : napari.layers.Image
        The output layer.
    stacked : bool
        True when the layer has the content's stack axes and frames are written
        at their stack index; False when it holds a single frame.
    created : bool
        True when this run added the layer (and may remove it on failure).
    """

    def __init__(self, viewer, layer, stacked: bool, created: bool, record: dict) -> None:
        self.viewer = viewer
        self.layer = layer
        self.stacked = stacked
        self.created = created
        self.record = dict(record)
        # what a rewritten (not created) layer goes back to if the run fails
        self._previous = (layer.name, layer.data, dict(layer.metadata))

    @classmethod
    def create(
        cls,
        viewer,
        base_name: str,
        data: np.ndarray,
        stacked: bool,
        metadata: dict,
        layer_kwargs: dict,
    ) -> OutputLayer:
        """Add a new Image layer named ``base_name`` (made unique) and wrap it."""
        name = unique_layer_name((layer.name for layer in viewer.layers), base_name)
        layer = viewer.add_image(
            data, name=name, metadata={METADATA_KEY: dict(metadata)}, **layer_kwargs
        )
        return cls(viewer, layer, stacked, created=True, record=metadata)

    @classmethod
    def reuse(cls, viewer, layer, base_name: str, metadata: dict) -> OutputLayer:
        """Wrap an existing output layer that a new run rewrites (fast-mode live updates)."""
        output = cls(viewer, layer, stacked=False, created=False, record=metadata)
        if not re.fullmatch(re.escape(base_name) + r"( \[\d+\])?", layer.name):
            others = (other.name for other in viewer.layers if other is not layer)
            layer.name = unique_layer_name(others, base_name)
        return output

    @property
    def alive(self) -> bool:
        """False once the user removed the layer from the viewer."""
        return self.layer in self.viewer.layers

    def show(self, update: Update) -> None:
        """Put an engine preview or finished frame on screen."""
        picture = update.progress.result
        if picture is None:
            picture = update.progress.preview
        if picture is not None and self.alive:
            self._write(update.index, picture)

    def _write(self, index: tuple[int, ...], picture: np.ndarray) -> None:
        if self.stacked:
            data = self.layer.data
            data[index] = picture
            self.layer.data = data  # setting data makes napari re-slice and redraw
        else:
            self.layer.data = picture

    def settle(self, outcome: Outcome, record: dict) -> None:
        """Write the run's record and mark a cancelled layer, or tidy up a failure.

        Parameters
        ----------
        outcome : Outcome
            How the run ended.
        record : dict
            Extra metadata (seconds, device, status …) merged into the record.
        """
        if not self.alive:
            return
        # finished frames are already on screen: show() drew each final report
        if outcome.status in (DONE, CANCELLED):
            self.record |= record
            self.layer.metadata = {**self.layer.metadata, METADATA_KEY: dict(self.record)}
        if outcome.status == CANCELLED:
            others = (layer.name for layer in self.viewer.layers if layer is not self.layer)
            self.layer.name = unique_layer_name(others, f"{self.layer.name} (cancelled)")
        elif outcome.status not in (DONE, CANCELLED):
            self._undo()

    def _undo(self) -> None:
        if self.created:
            self.viewer.layers.remove(self.layer)
        else:
            self.layer.name, self.layer.data, self.layer.metadata = self._previous

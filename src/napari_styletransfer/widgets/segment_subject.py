"""The "Segment subject" dock widget: the photo's subject as an editable Labels layer.

Inference runs in a napari thread worker; the image layer is only read. The
result is a Labels layer "<image> subject" (1 = subject) that the user can
correct with the brush and use as a mask in the "Style transfer" widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..errors import StyleTransferError
from .layers import (
    ALL_SLICES,
    CURRENT_SLICE,
    content_layout,
    frame_indices,
    full_resolution,
    read_frame,
)
from .runner import iterate_in_thread

SUBJECT_LABEL = 1

if TYPE_CHECKING:
    from ..segmentation import SubjectPrediction


@dataclass
class SegmentationResult:
    """Probabilities computed for one image layer, kept to re-threshold without rerunning."""

    layer_name: str
    stack_shape: tuple[int, ...]
    frame_shape: tuple[int, int]
    probabilities: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    ambiguous: dict[tuple[int, ...], SubjectPrediction] = field(default_factory=dict)


def segment_frames(frames: list[tuple[tuple[int, ...], np.ndarray]], device: str):
    """Worker body: yield (index, SubjectPrediction) per frame."""
    from ..segmentation import predict_subject

    for index, frame in frames:
        yield index, predict_subject(frame, device=device)


class SegmentSubjectWidget(QWidget):
    """Dock widget: pick an Image layer, segment its subject, get an editable Labels layer."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.result: SegmentationResult | None = None
        self.worker = None
        self._build_controls()
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._refresh_layers()

    # --- controls -------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.layer_combo = QComboBox()
        self.layer_combo.currentTextChanged.connect(self._update_stack_controls)
        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(1, 99)
        self.threshold_slider.setValue(50)
        self.threshold_label = QLabel("0.50")
        self.threshold_slider.valueChanged.connect(self._threshold_changed)
        self.fill_holes_box = QCheckBox("fill holes")
        self.largest_box = QCheckBox("keep largest object")
        for box in (self.fill_holes_box, self.largest_box):
            box.toggled.connect(self._apply_result)
        self.slices_combo = QComboBox()
        self.slices_combo.addItems([CURRENT_SLICE, ALL_SLICES])
        self.device_combo = QComboBox()
        from ..devices import available_devices

        self.device_combo.addItems(available_devices())
        self.run_button = QPushButton("Segment subject")
        self.run_button.clicked.connect(self.run)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("image", self.layer_combo)
        form.addRow("threshold", self.threshold_slider)
        form.addRow("", self.threshold_label)
        form.addRow("clean-up", self.fill_holes_box)
        form.addRow("", self.largest_box)
        form.addRow("stack", self.slices_combo)
        form.addRow("device", self.device_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

    @property
    def threshold(self) -> float:
        """The threshold the slider shows, 0.01 to 0.99."""
        return self.threshold_slider.value() / 100.0

    def image_layer(self):
        """The chosen Image layer, or None."""
        name = self.layer_combo.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _refresh_layers(self, event=None) -> None:
        from napari.layers import Image

        chosen = self.layer_combo.currentText()
        names = [layer.name for layer in self.viewer.layers if isinstance(layer, Image)]
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        if chosen in names:
            self.layer_combo.setCurrentText(chosen)
        self.layer_combo.blockSignals(False)
        self._update_stack_controls()

    def _update_stack_controls(self, *args) -> None:
        layer = self.image_layer()
        self.slices_combo.setEnabled(layer is not None and bool(_stack_shape(layer)))
        self.run_button.setEnabled(layer is not None and self.worker is None)

    def _threshold_changed(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        self._apply_result()

    # --- running --------------------------------------------------------------------
    def run(self) -> None:
        """Segment the chosen layer (current slice or all slices) in a thread worker."""
        from napari.utils.notifications import show_error

        layer = self.image_layer()
        if layer is None or self.worker is not None:
            return
        try:
            layout = content_layout(layer)
        except StyleTransferError as error:
            show_error(str(error))
            return
        position = layer.world_to_data(self.viewer.dims.point)
        indices = frame_indices(layout, self.slices_combo.currentText(), position)
        frames = [(index, read_frame(full_resolution(layer), index)) for index in indices]
        key = (layer.name, layout.stack_shape)
        if self.result is None or (self.result.layer_name, self.result.stack_shape) != key:
            self.result = SegmentationResult(layer.name, layout.stack_shape, layout.spatial_shape)
        self.progress.setRange(0, len(frames))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText(f"segmenting {len(frames)} frame(s)…")
        self.run_button.setEnabled(False)
        self.worker = iterate_in_thread(
            segment_frames,
            self._on_frame,
            self._on_finished,
            frames,
            self.device_combo.currentText(),
        )

    def _on_frame(self, item) -> None:
        index, prediction = item
        self.result.probabilities[index] = prediction.probability
        if prediction.ambiguous:
            self.result.ambiguous[index] = prediction
        else:
            self.result.ambiguous.pop(index, None)
        self.progress.setValue(self.progress.value() + 1)
        self._apply_result(only=[index])

    def _on_finished(self, error: Exception | None) -> None:
        self.worker = None
        self.progress.setVisible(False)
        if error is not None:
            from napari.utils.notifications import show_error

            self.status.setText(f"failed: {error}")
            show_error(f"Segmentation failed: {error}")
        else:
            self.status.setText(self._done_message())
        self._update_stack_controls()

    def _done_message(self) -> str:
        """Status after a run; warns (also as a notification) about ambiguous subjects."""
        ambiguous = self.result.ambiguous if self.result is not None else {}
        if not ambiguous:
            return "done: correct the mask with the brush if needed"
        from napari.utils.notifications import show_warning

        from ..segmentation.inference import ambiguity_message

        if len(ambiguous) == 1 and not self.result.stack_shape:
            message = ambiguity_message(next(iter(ambiguous.values())))
        else:
            slices = ", ".join(str(list(i)) for i in sorted(ambiguous))
            message = f"the subject is ambiguous in slice(s) {slices}: check those masks."
        show_warning(f"{self.result.layer_name!r}: {message}")
        return f"done, but {message}"

    # --- output ---------------------------------------------------------------------
    def _apply_result(self, *args, only: list[tuple[int, ...]] | None = None) -> None:
        """Threshold and clean the stored probabilities into the Labels layer."""
        from ..segmentation import mask_from_probability

        result = self.result
        if result is None or not result.probabilities:
            return
        labels = self._labels_layer(result)
        if labels is None:
            return
        indices = only if only is not None else list(result.probabilities)
        for index in indices:
            mask = mask_from_probability(
                result.probabilities[index],
                threshold=self.threshold,
                holes=self.fill_holes_box.isChecked(),
                largest=self.largest_box.isChecked(),
            )
            labels.data[index] = np.where(mask, SUBJECT_LABEL, 0).astype(labels.data.dtype)
        labels.refresh()

    def _labels_layer(self, result: SegmentationResult):
        """The "<image> subject" Labels layer, created (or re-created) to fit the image."""
        from napari.layers import Labels

        name = f"{result.layer_name} subject"
        shape = result.stack_shape + tuple(result.frame_shape)
        existing = self.viewer.layers[name] if name in self.viewer.layers else None
        if isinstance(existing, Labels) and existing.data.shape == shape:
            return existing
        if existing is not None:
            self.viewer.layers.remove(existing)
        if result.layer_name not in self.viewer.layers:
            return None
        image = self.viewer.layers[result.layer_name]
        labels = self.viewer.add_labels(
            np.zeros(shape, dtype=np.uint8),
            name=name,
            scale=image.scale,
            translate=image.translate,
            opacity=0.5,
        )
        self.viewer.layers.selection.active = labels
        return labels


def _stack_shape(layer) -> tuple[int, ...]:
    try:
        return content_layout(layer).stack_shape
    except StyleTransferError:
        return ()

""" "Learn this style…": learn a new fast-mode style from the chosen painting, in napari.

The dialog runs :func:`napari_styletransfer.fast.training.iter_learn_style` in a
thread worker (:func:`.runner.iterate_in_thread`), shows its progress, puts the
stylised validation photo in a viewer layer every few steps, and can be
cancelled (the run stops after its step and keeps a checkpoint). When it
completes, :attr:`LearnStyleDialog.learned` carries ``"learned:NAME"`` and the
Style list offers it at once.
"""

from __future__ import annotations

import re
import threading

import numpy as np
from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from ..errors import StyleTransferError
from .runner import iterate_in_thread, preload_triton

PROGRESS_STEPS = 1000
DEFAULT_STEPS = 300
PREVIEWS_PER_RUN = 10
PREVIEW_SUFFIX = " (learning preview)"


def suggested_name(label: str, taken: list[str]) -> str:
    """A valid, unused style name made from a painting's name, e.g. "starry-night-2"."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "style"
    base = base[:56]
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


class LearnStyleDialog(QDialog):
    """Settings, progress and cancel of one learn-style run (non-modal).

    Parameters
    ----------
    viewer : napari.Viewer
        Where the preview layer goes.
    painting : array or str
        The painting (a bundled name or the pixels of an image layer).
    label : str
        How the painting is called (suggests the style's name).
    work_size : int
        The size the style is meant for (the form's max size).
    device : str
    parent : QWidget, optional
    """

    #: emitted with "learned:NAME" when a style was learned and saved
    learned = Signal(str)

    def __init__(self, viewer, painting, label: str, *, work_size: int, device: str, parent=None):
        super().__init__(parent)
        from ..fast.learned import learned_names

        self.setWindowTitle(f"Learn the style of {label}")
        self.viewer, self.painting, self.device = viewer, painting, device
        self.work_size = max(64, int(work_size))
        self._worker = None
        self._stop = threading.Event()
        self._final = None
        self.name = QLineEdit(suggested_name(label, learned_names()))
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(DEFAULT_STEPS)
        self.size = QSpinBox()
        self.size.setRange(32, 1024)
        self.size.setSingleStep(32)
        self.size.setValue(min(256, self.work_size))
        self.photos = QLineEdit()
        self.photos.setPlaceholderText("default: photos from Debian packages (built once)")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        self.start_button = QPushButton("Learn")
        self.cancel_button = QPushButton("Cancel")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.status_label = QLabel(f"Learns a new preset for {self.work_size} px pictures.")
        self.status_label.setWordWrap(True)

        fields = QFormLayout()
        fields.addRow("Name", self.name)
        fields.addRow("Steps", self.steps)
        fields.addRow("Crop size (px)", self.size)
        photos_row = QHBoxLayout()
        photos_row.addWidget(self.photos)
        photos_row.addWidget(browse)
        fields.addRow("Photos", photos_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(fields)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        self._set_busy(False)

    @property
    def busy(self) -> bool:
        """True while training runs."""
        return self._worker is not None

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.start_button, self.name, self.steps, self.size, self.photos):
            widget.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos to train on")
        if folder:
            self.photos.setText(folder)

    def settings(self):
        """The :class:`~napari_styletransfer.fast.training.LearnSettings` the fields ask for."""
        from ..fast.training import LearnSettings

        steps = int(self.steps.value())
        size = min(int(self.size.value()) // 4 * 4, self.work_size)
        return LearnSettings(
            steps=steps,
            size=size,
            work_size=self.work_size,
            batch_size=4 if size >= 128 else 1,
            preview_every=max(1, steps // PREVIEWS_PER_RUN),
        )

    def start(self) -> bool:
        """Start learning; False (with a notification) when the fields are unusable."""
        if self.busy:
            return False
        from ..fast.training import iter_learn_style

        name = self.name.text().strip()
        try:
            from ..fast.learned import check_name, style_path

            check_name(name)
            if style_path(name).exists():
                raise StyleTransferError(
                    f"A learned style named {name!r} already exists: choose another name."
                )
            settings = self.settings().resolved()
        except StyleTransferError as error:
            show_error(str(error))
            return False
        self._stop.clear()
        self._final = None
        self.progress_bar.setValue(0)
        photos = self.photos.text().strip() or None
        self.status_label.setText(
            "Preparing (the first run builds the training photos; this takes a minute)…"
            if photos is None
            else "Preparing…"
        )
        preload_triton()
        self._worker = iterate_in_thread(
            iter_learn_style,
            self._on_report,
            self._on_done,
            self.painting,
            name,
            settings=settings,
            photos=photos,
            device=self.device,
            should_stop=self._stop.is_set,
        )
        self._set_busy(True)
        return True

    def cancel(self) -> None:
        """Stop after the current step; the run keeps a checkpoint (resumable from the CLI)."""
        if self.busy:
            self._stop.set()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Stopping after this step…")

    def _on_report(self, report) -> None:
        self._final = report
        self.progress_bar.setValue(round(report.fraction * PROGRESS_STEPS))
        loss = report.losses.get("total")
        text = f"step {report.step}/{report.total}"
        if loss is not None:
            text += f", loss {loss:.4g}"
        if report.eta is not None:
            text += f", about {max(1, round(report.eta / 60))} min left"
        self.status_label.setText(text)
        if report.preview is not None:
            self._show_preview(report.preview)

    def _show_preview(self, image: np.ndarray) -> None:
        name = f"{self.name.text().strip()}{PREVIEW_SUFFIX}"
        pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
        if name in self.viewer.layers:
            self.viewer.layers[name].data = pixels
        else:
            self.viewer.add_image(pixels, name=name, rgb=True)

    def _on_done(self, error) -> None:
        self._worker = None
        self._set_busy(False)
        final = self._final
        if error is not None:
            self.progress_bar.setValue(0)
            self.status_label.setText("Failed.")
            show_error(str(error) if isinstance(error, StyleTransferError) else repr(error))
        elif final is not None and final.stopped:
            self.status_label.setText(
                f"Stopped at step {final.step}; a checkpoint is kept (resume: "
                f"napari-styletransfer learn-style PAINTING --name {self.name.text()} --resume)."
            )
        elif final is not None and final.saved is not None:
            self.progress_bar.setValue(PROGRESS_STEPS)
            self.status_label.setText(f"Learned in {final.elapsed / 60:.1f} min: {final.saved}")
            self.learned.emit(f"learned:{final.saved.stem}")

    def closeEvent(self, event) -> None:
        """Closing the dialog stops the run (after its step)."""
        self.cancel()
        super().closeEvent(event)

"""The "Style transfer" dock widget: choose inputs, run in a worker, watch the result appear.

The widget wires the form (:mod:`.form`), the job builder (:mod:`.jobs`), the
thread worker (:mod:`.runner`), the output layer (:mod:`.output`) and fast
mode's live updates (:mod:`.live`) together; the engines know nothing about napari.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QTimer
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from ..errors import StyleTransferError
from .form import FAST, StyleChoice, StyleTransferForm
from .jobs import build_plan, engine_style, with_mask
from .layers import content_layout, current_stack_index, output_geometry, read_frame
from .live import START, SUPERSEDE, LiveUpdates
from .output import OutputLayer
from .remote import (
    REMOTE_DEVICE,
    RemoteDialog,
    RemoteSettings,
    RemoteStylizer,
    load_settings,
    save_settings,
)
from .runner import (
    CANCELLED,
    DONE,
    FAILED,
    Outcome,
    RunningJob,
    Stylizer,
    Update,
    call_in_thread,
    warm_up_in_background,
)
from .stack_output import StoreOutputLayer

logger = logging.getLogger(__name__)

PROGRESS_STEPS = 1000
# fast mode re-runs this long after the last change of strength, style or preset
LIVE_DEBOUNCE_MS = 200
SUBJECT_SUFFIX = " subject"


def format_seconds(seconds: float) -> str:
    """Say a duration the way people do: "8 s", "2 min 05 s"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def describe_error(error: BaseException) -> str:
    """The notification text for a failed run: the plain message for expected errors."""
    if isinstance(error, StyleTransferError):
        return str(error)
    return f"Style transfer failed unexpectedly ({type(error).__name__}: {error})."


def _segment(image: np.ndarray):
    # looked up at call time so the segmentation model loads only when asked for
    from .. import segmentation

    return segmentation.predict_subject(image)


class StyleTransferWidget(QWidget):
    """Dock widget that stylises an image layer with a painting or another layer.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer to read layers from and add results to.
    parent : QWidget, optional
    stylizer : callable, optional
        ``(request, content) -> iterator of Progress`` that runs each frame;
        the facade (:func:`napari_styletransfer.api.iter_run`) by default.
    """

    def __init__(
        self, napari_viewer, parent: QWidget | None = None, *, stylizer: Stylizer | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self._stylizer = stylizer
        self._remote: RemoteStylizer | None = None
        self.form = StyleTransferForm(napari_viewer)
        self._device_before = self.form.device.value
        self._running: RunningJob | None = None
        self._output: OutputLayer | None = None
        self._segmenting = None
        self._job_content = None
        self._live = LiveUpdates(lambda layer: layer in self.viewer.layers)
        self._closed = False  # set once the widget is gone (see _tear_down)
        self._docked = False
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DEBOUNCE_MS)
        self._live_timer.timeout.connect(self._run_live)
        self.learn_dialog = None
        self._build_layout()
        self._connect_viewer()
        self._connect_live_updates()
        self._set_busy(False)
        warm_up_in_background()

    # --- layout ---

    def _build_layout(self) -> None:
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.background_button = QPushButton("Stylise background")
        self.subject_button = QPushButton("Stylise subject")
        self.background_button.setToolTip("Find the subject, then stylise everything else")
        self.subject_button.setToolTip("Find the subject, then stylise only the subject")
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.background_button.clicked.connect(self.stylise_background)
        self.subject_button.clicked.connect(self.stylise_subject)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.device_label = QLabel(f"Device: {self.form.device.value}")

        self.advanced = QCollapsible("Advanced")
        self.advanced.addWidget(self.form.advanced.native)

        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addWidget(self.advanced)
        layout.addLayout(_row(self.run_button, self.cancel_button))
        layout.addLayout(_row(self.background_button, self.subject_button))
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.device_label)
        layout.addStretch(1)

    def _connect_viewer(self) -> None:
        events = self.viewer.layers.events
        events.inserted.connect(self._on_layer_inserted)
        events.removed.connect(self.reset_choices)
        events.moved.connect(self.reset_choices)
        for layer in self.viewer.layers:
            layer.events.name.connect(self.reset_choices)
        # the viewer may outlive the dock, and a running job the widget: when the
        # widget goes (viewer closed, dock closed with ×) the job is cancelled and
        # nothing calls into deleted Qt widgets any more. A lambda, not a bound
        # method: PyQt drops an object's own slots before it emits ``destroyed``.
        self.destroyed.connect(lambda *_: self._tear_down())
        self.form.device.changed.connect(self._on_device_changed)
        self.form.learn.changed.connect(self.open_learn_dialog)

    def event(self, event) -> bool:
        """Tear down when napari takes the widget out of its dock (the dock's × button)."""
        if event.type() == QEvent.ParentChange and self.parent() is None and self._docked:
            self._live_timer.stop()
            output = self._output
            self._tear_down()
            if output is not None:  # the viewer lives on: say what happened to the layer
                output.settle(Outcome(CANCELLED, {}, 0.0), {"status": CANCELLED})
        elif event.type() == QEvent.ParentChange and self.parent() is not None:
            self._docked = True
        return super().event(event)

    def _tear_down(self) -> None:
        """Cancel the job, stop listening to the viewer; touch no Qt object (it may be gone)."""
        if self._closed:
            return
        self._closed = True
        if self._running is not None:
            self._running.detach()
        self._running = self._output = self._segmenting = None
        if self._remote is not None:
            self._remote.close()
        self._disconnect_viewer()

    def _disconnect_viewer(self) -> None:
        events = self.viewer.layers.events
        events.inserted.disconnect(self._on_layer_inserted)
        events.removed.disconnect(self.reset_choices)
        events.moved.disconnect(self.reset_choices)
        for layer in self.viewer.layers:
            layer.events.name.disconnect(self.reset_choices)

    def _on_layer_inserted(self, event) -> None:
        event.value.events.name.connect(self.reset_choices)
        self.reset_choices()

    def reset_choices(self, *_) -> None:
        """Refill the layer dropdowns (layers added, removed or renamed)."""
        self.form.reset_choices()

    # --- state ---

    @property
    def busy(self) -> bool:
        """True while a style transfer or a segmentation runs."""
        return self._running is not None or self._segmenting is not None

    def _set_busy(self, busy: bool) -> None:
        for button in (self.run_button, self.background_button, self.subject_button):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    # --- device: local, or a server ---

    def _on_device_changed(self, value) -> None:
        if value != REMOTE_DEVICE:
            self._device_before = value
            self.device_label.setText(f"Device: {value}")
            return
        current = self._remote.settings if self._remote is not None else load_settings()
        try:
            settings = RemoteDialog.ask(self, current)
            connected = settings is not None and self.connect_remote(settings)
        except StyleTransferError as error:
            show_error(str(error))
            connected = False
        if not connected:  # back to the device chosen before
            with self.form.device.changed.blocked():
                self.form.device.value = self._device_before

    def connect_remote(self, settings: RemoteSettings) -> bool:
        """Run the next jobs on the server in ``settings`` (checked first, then saved).

        Returns
        -------
        bool
            False when the server cannot be reached or refuses the key (said
            in a notification); the device choice is then left as it was.
        """
        remote = RemoteStylizer(settings)
        try:
            remote.check()
        except StyleTransferError as error:
            remote.close()
            show_error(f"Cannot use the server at {settings.url}: {error}")
            return False
        save_settings(settings)
        if self._remote is not None:
            self._remote.close()
        self._remote = remote
        with self.form.device.changed.blocked():
            self.form.device.value = REMOTE_DEVICE
        self.device_label.setText(f"Device: {remote.label}")
        self.status_label.setText(f"Jobs run on {remote.label}.")
        return True

    # --- running ---

    def run(self) -> bool:
        """Start a style transfer with the current settings.

        Returns
        -------
        bool
            True when a job started; False when one is already running or the
            settings are unusable (the reason is shown as a notification).
        """
        return self._run_with(self.form.values())

    def _run_with(self, values) -> bool:
        if self.busy:
            return False
        self._live_timer.stop()  # Run makes a new layer; pending live changes are moot
        plan = self._plan(values)
        if plan is None:
            return False
        if plan.store is not None:  # all slices of a lazy stack: a view of the store on disk
            output = StoreOutputLayer.create_for(
                self.viewer, plan.base_name, plan.store, plan.record, plan.layer_kwargs
            )
        else:
            output = OutputLayer.create(
                self.viewer,
                plan.base_name,
                plan.initial,
                plan.stacked,
                plan.record,
                plan.layer_kwargs,
            )
        self._start(plan, output, values.content)
        return True

    def _plan(self, values):
        """The run's plan, or None (the reason shown as a notification)."""
        try:
            plan = build_plan(values, self._data_position)
        except StyleTransferError as error:
            show_error(str(error))
            return None
        if self._remote_stylizer() is not None:
            plan.record["server"] = self._remote.settings.url
        return plan

    def _remote_stylizer(self) -> RemoteStylizer | None:
        return self._remote if self.form.device.value == REMOTE_DEVICE else None

    def _start(self, plan, output: OutputLayer, content) -> None:
        self._output = output
        self._job_content = content
        self._live.run_started()
        self.progress_bar.setValue(0)
        n_frames = len(plan.job.frames)
        self.status_label.setText(f"Starting ({n_frames} frame{'s' * (n_frames > 1)})…")
        note = plan.upsampling_note
        if note and output.created:  # said once per Run, not at every live re-render
            show_info(note)
        stylizer = self._remote_stylizer() or self._stylizer
        self._running = RunningJob(plan.job, self._on_update, self._on_finish, stylizer)
        self._set_busy(True)

    def _data_position(self, layer) -> np.ndarray:
        return layer.world_to_data(self.viewer.dims.point)

    def cancel(self) -> None:
        """Stop the running job after the engine's current step."""
        self._live.user_cancelled()
        if self._running is not None:
            self._running.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling…")

    def _on_update(self, update: Update) -> None:
        if self._closed:
            return
        if self._output is not None:
            self._output.show(update)
        self.progress_bar.setValue(round(update.fraction * PROGRESS_STEPS))
        self.status_label.setText(_progress_text(update))
        if update.progress.device:
            self.device_label.setText(f"Device: {update.progress.device}")

    def _on_finish(self, outcome: Outcome) -> None:
        if self._closed:
            return
        output, self._output, self._running = self._output, None, None
        self._set_busy(False)
        follows = output is not None and _keeps_live_updates(output, outcome)
        superseded, rerun = self._live.run_finished(
            outcome.status == CANCELLED, follows, output and output.layer, self._job_content
        )
        if output is not None and not superseded:
            output.settle(outcome, _final_record(outcome))
        self._report(outcome)
        if isinstance(output, StoreOutputLayer) and outcome.status != FAILED:
            self.status_label.setText(f"{self.status_label.text()} Saved in {output.store.path}.")
        if rerun:
            self._run_live()

    def _report(self, outcome: Outcome) -> None:
        took = format_seconds(outcome.seconds)
        if outcome.status == DONE:
            self.progress_bar.setValue(PROGRESS_STEPS)
            self.status_label.setText(f"Done in {took} on {outcome.device or 'the device'}.")
        elif outcome.status == CANCELLED:
            self.progress_bar.setValue(0)
            self.status_label.setText(f"Cancelled after {took}.")
        elif outcome.status == FAILED:
            self.progress_bar.setValue(0)
            self.status_label.setText("Failed.")
            if not isinstance(outcome.error, StyleTransferError):
                logger.error("style transfer failed", exc_info=outcome.error)
            show_error(describe_error(outcome.error))

    # --- fast mode: live updates ---

    def _connect_live_updates(self) -> None:
        form = self.form
        live = (form.style_strength, form.style, form.quality, form.max_size, form.preserve_color)
        for widget in live:
            widget.changed.connect(self._on_live_setting_changed)

    def _on_live_setting_changed(self, *_) -> None:
        if self._live.wants_rerun(self.form.method.value == FAST, self.form.content.value):
            self._live_timer.start()  # restarting the timer is the debounce

    def _run_live(self) -> None:
        """Re-run fast mode into the last fast output layer (after a settings change)."""
        running_is_live = None
        if self._running is not None:
            running_is_live = self._output is not None and not self._output.created
        action = self._live.when_due(running_is_live)
        if action == SUPERSEDE:
            self._running.cancel()  # a live render of older settings; a fresh one follows
        if action != START or self.busy or self.form.method.value != FAST:
            return
        layer = self._live.target(self.form.content.value)
        if layer is None:
            return
        values = self.form.values()
        plan = self._plan(values)
        if plan is None:
            return
        if plan.stacked:
            return  # live updates cover single pictures; stacks need Run
        output = OutputLayer.reuse(self.viewer, layer, plan.base_name, plan.record)
        self._start(plan, output, values.content)

    # --- fast mode: learning a new style ---

    def open_learn_dialog(self, *_):
        """Open "Learn this style…" for the chosen painting or image layer.

        Returns
        -------
        LearnStyleDialog or None
            None (with a notification) when the style is not a picture.
        """
        from .learn_style import LearnStyleDialog

        choice = self.form.style.value
        if choice is None or choice.kind not in ("painting", "layer"):
            show_error("Choose a painting or an image layer as the style to learn it.")
            return None
        if self.learn_dialog is not None and self.learn_dialog.busy:
            self.learn_dialog.raise_()
            return self.learn_dialog
        try:
            painting = engine_style(choice, self._data_position)
        except StyleTransferError as error:
            show_error(str(error))
            return None
        values = self.form.values()
        dialog = LearnStyleDialog(
            self.viewer,
            painting,
            choice.label,
            work_size=values.max_size,
            device=values.device,
            parent=self,
        )
        dialog.learned.connect(self._on_style_learned)
        dialog.show()
        self.learn_dialog = dialog
        return dialog

    def _on_style_learned(self, spec: str) -> None:
        """Offer the new style in the Style list at once, and choose it."""
        self.form.method.value = FAST
        self.form.style.reset_choices()
        self.form.style.value = StyleChoice("learned", spec)

    # --- subject / background (segmentation) ---

    def stylise_background(self) -> bool:
        """Find the subject of the content, then stylise everything but the subject."""
        return self._stylise_around_subject("outside")

    def stylise_subject(self) -> bool:
        """Find the subject of the content, then stylise only the subject."""
        return self._stylise_around_subject("inside")

    def _stylise_around_subject(self, region: str) -> bool:
        content = self.form.content.value
        if self.busy:
            return False
        if content is None:
            show_error("Choose a content image layer first.")
            return False
        existing = self._subject_layer(content)
        if existing is not None:
            # the user may have corrected this mask by painting: use it as it is
            return self._run_with_subject(existing, region)
        try:
            layout = content_layout(content)
            index = current_stack_index(layout, self._data_position(content))
            image = read_frame(content.data, index)
        except StyleTransferError as error:
            show_error(str(error))
            return False
        self.status_label.setText("Finding the subject…")
        done = partial(self._on_segmented, content, region)
        self._segmenting = call_in_thread(_segment, done, image)
        self._set_busy(True)
        return True

    def _subject_layer(self, content):
        name = f"{content.name}{SUBJECT_SUFFIX}"
        for layer in self.viewer.layers:
            if layer.name == name and type(layer).__name__ == "Labels":
                return layer
        return None

    def _on_segmented(self, content, region: str, prediction, error) -> None:
        if self._closed:
            return
        self._segmenting = None
        self._set_busy(False)
        if error is not None:
            self.status_label.setText("Failed.")
            show_error(describe_error(error))
            return
        from ..segmentation import mask_from_probability

        mask = mask_from_probability(prediction.probability)
        if not mask.any():
            self.status_label.setText("No subject found.")
            show_error(f"No subject was found in {content.name!r}; paint a mask instead.")
            return
        labels = self.viewer.add_labels(
            mask.astype(np.uint8),
            name=f"{content.name}{SUBJECT_SUFFIX}",
            **output_geometry(content, keep_stack=False),
        )
        if prediction.ambiguous:
            from ..segmentation.inference import ambiguity_message

            show_warning(f"{content.name!r}: {ambiguity_message(prediction)}")
        self._run_with_subject(labels, region)

    def _run_with_subject(self, labels, region: str) -> bool:
        # the subject goes straight into this run; the form keeps the user's own choices
        started = self._run_with(with_mask(self.form.values(), labels, region))
        if started and labels in self.viewer.layers:  # above the output, where it shows
            layers = self.viewer.layers
            layers.move(layers.index(labels), len(layers))
        return started

    def closeEvent(self, event) -> None:
        """Stop a running job when the widget closes."""
        self.cancel()
        super().closeEvent(event)


def _keeps_live_updates(output: OutputLayer, outcome: Outcome) -> bool:
    """Whether later fast-mode changes should re-render into this output layer."""
    if not output.alive or output.record.get("method") != "fast":
        return False
    # a finished fast run; or a live re-render that failed or was replaced
    return outcome.status == DONE or not output.created


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row


def _progress_text(update: Update) -> str:
    progress = update.progress
    parts = []
    if update.n_frames > 1:
        parts.append(f"frame {update.frame + 1}/{update.n_frames}")
    parts.append(f"step {progress.step}/{progress.total}")
    if progress.stage:
        parts.append(progress.stage)
    if not progress.done:
        eta = update.eta
        parts.append(
            "estimating the time left" if eta is None else f"about {format_seconds(eta)} left"
        )
    text = " · ".join(parts)
    return text[0].upper() + text[1:]


def _final_record(outcome: Outcome) -> dict:
    return {
        "status": outcome.status,
        "seconds": round(outcome.seconds, 3),
        "device": outcome.device,
        "frames_done": outcome.frames_done,
    }

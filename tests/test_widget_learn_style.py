""" "Learn this style…" in the Style transfer dock: a tiny real training run in a worker."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer.fast import folders, learned
from napari_styletransfer.fast.training import checkpoint_path
from napari_styletransfer.widgets.form import FAST, StyleChoice
from napari_styletransfer.widgets.learn_style import PREVIEW_SUFFIX, suggested_name

TIMEOUT_MS = 90_000


@pytest.fixture(autouse=True)
def user_folders(tmp_path, monkeypatch):
    monkeypatch.setenv(folders.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(folders.CACHE_DIR_ENV, str(tmp_path / "cache"))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[:64, :64]
    Image.fromarray(np.dstack([xx * 4, yy * 4, (xx ^ yy) * 4]).astype(np.uint8)).save(
        folder / "p.png"
    )
    return folder


def open_dialog(widget, photos, name, steps):
    form = widget.form
    form.method.value = FAST
    form.style.value = StyleChoice("painting", "kandinsky")
    form.max_size.value = 64
    form.device.value = "cpu"
    dialog = widget.open_learn_dialog()
    dialog.name.setText(name)
    dialog.steps.setValue(steps)
    dialog.size.setValue(32)
    dialog.photos.setText(str(photos))
    return dialog


def test_learn_this_style_adds_it_to_the_style_list(qtbot, style_widget, gradient_rgb, photos):
    viewer, widget = style_widget
    form = widget.form
    assert form.learn.native.isHidden()  # quality mode has no learned styles
    form.method.value = FAST
    assert not form.learn.native.isHidden()
    dialog = open_dialog(widget, photos, "kandinsky-test", steps=4)
    assert dialog.start()
    assert dialog.busy and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    preview = viewer.layers[f"kandinsky-test{PREVIEW_SUFFIX}"]
    assert preview.data.shape == (64, 64, 3)  # the validation photo at the working size
    chosen = StyleChoice("learned", "learned:kandinsky-test")
    assert chosen in form.style.choices and form.style.value == chosen
    assert not form.learn.enabled  # a learned style is no painting to learn from

    photo = viewer.add_image(gradient_rgb, name="photo")
    form.content.value = photo
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    result = viewer.layers["photo · learned:kandinsky-test"].data
    assert result.shape == gradient_rgb.shape and not np.array_equal(result, gradient_rgb)


def test_cancel_keeps_a_checkpoint_and_adds_nothing(qtbot, style_widget, photos):
    _, widget = style_widget
    dialog = open_dialog(widget, photos, "stopped", steps=100_000)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog._final is not None, timeout=TIMEOUT_MS)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert "Stopped at step" in dialog.status_label.text()
    assert checkpoint_path("stopped").is_file()
    assert not learned.style_path("stopped").exists()
    assert StyleChoice("learned", "learned:stopped") not in widget.form.style.choices


def test_names_are_checked_before_training(style_widget, photos, monkeypatch):
    from napari_styletransfer.widgets import learn_style

    shown = []
    monkeypatch.setattr(learn_style, "show_error", shown.append)
    _, widget = style_widget
    dialog = open_dialog(widget, photos, "../escape", steps=2)
    assert not dialog.start() and "not allowed" in shown[-1]
    assert suggested_name("The Starry Night", ["The-Starry-Night"]) == "The-Starry-Night-2"
    widget.form.style.value = StyleChoice("preset", "preset:3")
    assert widget.open_learn_dialog() is None

"""The "Style transfer" dock widget, driven like a user would, against the real engine.

Images are tiny (≤ 48 px) and runs take 2–3 steps so the file stays fast on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_styletransfer import __version__
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.widgets import style_transfer as style_transfer_module
from napari_styletransfer.widgets.form import FAST, QUALITY, StyleChoice
from napari_styletransfer.widgets.layers import ALL_SLICES
from napari_styletransfer.widgets.output import METADATA_KEY
from napari_styletransfer.widgets.style_transfer import StyleTransferWidget

RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def errors(monkeypatch):
    """Messages the widget shows as error notifications."""
    shown: list[str] = []
    monkeypatch.setattr(style_transfer_module, "show_error", shown.append)
    return shown


def setup_run(widget, content, style_layer, steps=2, **fields):
    """Choose content and style layers and make the run tiny."""
    form = widget.form
    form.content.value = content
    form.style.value = StyleChoice("layer", style_layer.name, style_layer)
    form.max_size.value = 64
    form.steps.value = steps
    form.device.value = "cpu"
    for name, value in fields.items():
        getattr(form, name).value = value


def wait_idle(qtbot, widget, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


def snapshot(viewer):
    return [(layer.name, type(layer).__name__, np.array(layer.data)) for layer in viewer.layers]


def assert_same_layers(before, after):
    assert [(n, t) for n, t, _ in before] == [(n, t) for n, t, _ in after]
    for (_, _, old), (_, _, new) in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_widget_opens_through_manifest(style_widget):
    _, widget = style_widget
    assert isinstance(widget, StyleTransferWidget)
    assert widget.run_button.isEnabled()
    assert not widget.cancel_button.isEnabled()


def test_layer_dropdowns_follow_add_remove_rename(style_widget, gradient_rgb):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    viewer.add_labels(np.zeros((48, 48), np.uint8), name="cells")
    assert widget.form.content.choices == (photo,)
    assert [c and c.name for c in widget.form.mask.choices] == [None, "cells"]

    photo.name = "renamed photo"
    assert "renamed photo" in [
        label for label, _ in widget.form.content._widget._mgui_get_choices()
    ]
    assert StyleChoice("layer", "renamed photo", photo) in widget.form.style.choices

    viewer.layers.remove(photo)
    assert widget.form.content.choices == ()
    assert all(choice.kind != "layer" for choice in widget.form.style.choices)


def test_run_adds_output_layer_with_metadata(qtbot, style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo", scale=(2, 3), translate=(5, -7))
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style, steps=3)

    assert widget.run()
    # the output layer appears at once, and a second run cannot start meanwhile
    assert viewer.layers[-1].name == "photo · stripes"
    assert not widget.run_button.isEnabled()
    assert not widget.run()
    wait_idle(qtbot, widget)

    output = viewer.layers["photo · stripes"]
    assert output.data.shape == gradient_rgb.shape
    assert output.data.dtype == np.uint8
    assert not np.array_equal(output.data, gradient_rgb)
    np.testing.assert_allclose(output.scale, photo.scale)
    np.testing.assert_allclose(output.translate, photo.translate)
    record = output.metadata[METADATA_KEY]
    assert record["status"] == "done"
    assert record["steps"] == 3 and record["max_size"] == 64 and record["method"] == "quality"
    assert record["content"] == "photo" and record["style"] == "stripes"
    assert record["device"] == "cpu"
    assert record["package_version"] == __version__
    assert record["seconds"] > 0
    assert widget.run_button.isEnabled() and widget.progress_bar.value() == 1000
    assert "cpu" in widget.device_label.text()

    # a second run never overwrites the first
    assert widget.run()
    wait_idle(qtbot, widget)
    assert "photo · stripes [2]" in viewer.layers

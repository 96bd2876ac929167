"""The "Style transfer" dock widget, driven like a user would, against the real engine.

Images are tiny (≤ 48 px) and runs take 2–3 steps so the file stays fast on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_styletransfer import __version__
from napari_styletransfer.widgets import style_transfer as style_transfer_module
from napari_styletransfer.widgets.form import FAST, StyleChoice
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


def widget_with(viewer, stylizer):
    """A "Style transfer" dock whose frames run through ``stylizer(request, content)``."""
    widget = StyleTransferWidget(viewer, stylizer=stylizer)
    viewer.window.add_dock_widget(widget, name="Style transfer (test)")
    return widget


def wait_idle(qtbot, widget, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


def start_long_run(qtbot, viewer, widget, photo_data, style_data):
    """Start a 500-step run of "photo · stripes"; return the layers as they were before."""
    photo = viewer.add_image(photo_data, name="photo")
    style = viewer.add_image(style_data, name="stripes")
    before = snapshot(viewer)
    setup_run(widget, photo, style, steps=500)
    assert widget.run()
    qtbot.waitUntil(lambda: widget.progress_bar.value() > 0, timeout=RUN_TIMEOUT_MS)
    return before


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
    assert widget.form.content.choices == (None, photo)
    assert [c and c.name for c in widget.form.mask.choices] == [None, "cells"]

    photo.name = "renamed photo"
    assert "renamed photo" in [
        label for label, _ in widget.form.content._widget._mgui_get_choices()
    ]
    assert StyleChoice("layer", "renamed photo", photo) in widget.form.style.choices

    viewer.layers.remove(photo)
    assert widget.form.content.choices == (None,)
    assert all(choice.kind != "layer" for choice in widget.form.style.choices)


def test_run_adds_output_layer_with_metadata(qtbot, style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo", scale=(2, 3), translate=(5, -7))
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style, steps=3)

    assert widget.run()
    texts = []
    widget._running.worker.yielded.connect(lambda _: texts.append(widget.status_label.text()))
    # the output layer appears at once, and a second run cannot start meanwhile
    assert viewer.layers[-1].name == "photo · stripes"
    assert not widget.run_button.isEnabled()
    assert not widget.run()
    wait_idle(qtbot, widget)

    assert texts[0].startswith("Step 1/3") and "left" in texts[1]
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


def _far_from_edge(mask, margin=6):
    """Pixels of ``mask`` at least ``margin`` pixels away from its edge."""
    from scipy.ndimage import binary_erosion

    return binary_erosion(mask, iterations=margin)


@pytest.mark.parametrize("region", ["inside mask", "outside mask (background)"])
def test_labels_mask_protects_the_other_region(
    qtbot, style_widget, gradient_rgb, stripes_rgb, region
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    labels = np.zeros((48, 48), np.uint8)
    labels[8:40, 4:28] = 2
    labels[30:46, 30:46] = 5  # not chosen below: counts as unmasked
    mask_layer = viewer.add_labels(labels, name="cells")
    setup_run(widget, photo, style, steps=4, mask=mask_layer, label_values="2", region=region)
    assert widget.run()
    wait_idle(qtbot, widget)

    result = viewer.layers["photo · stripes"].data
    chosen = labels == 2
    protected = ~chosen if region == "inside mask" else chosen
    styled = chosen if region == "inside mask" else ~chosen
    keep = _far_from_edge(protected)
    np.testing.assert_array_equal(result[keep], gradient_rgb[keep])
    change = np.abs(result.astype(int) - gradient_rgb.astype(int)).sum(-1)
    assert change[_far_from_edge(styled)].mean() > 1
    assert viewer.layers["photo · stripes"].metadata[METADATA_KEY]["mask"] == "cells"


def test_shapes_mask_is_rasterised_in_world_coordinates(
    qtbot, style_widget, gradient_rgb, stripes_rgb
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo", scale=(2, 2))
    style = viewer.add_image(stripes_rgb, name="stripes")
    # a rectangle over data rows/cols 10..38 of the photo, drawn in world units
    shapes = viewer.add_shapes(
        [np.array([[20, 20], [20, 76], [76, 76], [76, 20]])], shape_type="rectangle"
    )
    setup_run(widget, photo, style, mask=shapes, region="inside mask")
    assert widget.run()
    wait_idle(qtbot, widget)

    result = viewer.layers["photo · stripes"].data
    inside = np.zeros((48, 48), bool)
    inside[10:39, 10:39] = True
    keep = _far_from_edge(~inside, margin=5)
    np.testing.assert_array_equal(result[keep], gradient_rgb[keep])
    assert not np.array_equal(result[_far_from_edge(inside)], gradient_rgb[_far_from_edge(inside)])


def test_cancel_stops_soon_and_keeps_marked_partial_result(
    qtbot, style_widget, gradient_rgb, stripes_rgb
):
    viewer, widget = style_widget
    before = start_long_run(qtbot, viewer, widget, gradient_rgb, stripes_rgb)

    widget.cancel_button.click()
    # one engine step at 48 px is well under a second even on a busy machine
    wait_idle(qtbot, widget, timeout=10_000)

    assert_same_layers(before, snapshot(viewer)[:2])
    output = viewer.layers[-1]
    assert output.name == "photo · stripes (cancelled)"
    assert output.metadata[METADATA_KEY]["status"] == "cancelled"
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()
    assert widget.progress_bar.value() == 0


def test_refused_input_leaves_layers_untouched(style_widget, stripes_rgb, errors):
    viewer, widget = style_widget
    two_channels = viewer.add_image(np.zeros((48, 48, 2), np.uint16), name="two channels")
    style = viewer.add_image(stripes_rgb, name="stripes")
    before = snapshot(viewer)
    setup_run(widget, two_channels, style)

    assert not widget.run()
    assert_same_layers(before, snapshot(viewer))
    assert len(errors) == 1 and "channels" in errors[0]
    assert widget.run_button.isEnabled()


def test_engine_error_removes_output_and_notifies(
    qtbot, style_widget, gradient_rgb, stripes_rgb, errors
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    before = snapshot(viewer)
    setup_run(widget, photo, style)
    # a device this machine does not have: the engine refuses inside the worker
    widget.form.device.choices = ["cpu", "cuda:7"]
    widget.form.device.value = "cuda:7"

    assert widget.run()
    wait_idle(qtbot, widget)
    assert_same_layers(before, snapshot(viewer))
    assert len(errors) == 1 and "CUDA" in errors[0] and "Traceback" not in errors[0]
    assert widget.run_button.isEnabled() and widget.progress_bar.value() == 0


def test_unexpected_error_mid_run_is_reported(
    qtbot, style_widget, gradient_rgb, stripes_rgb, errors
):
    from napari_styletransfer.api import iter_run

    def failing_engine(request, content):
        steps = iter_run(request, content)
        yield next(steps)
        raise RuntimeError("simulated driver crash")

    viewer, _ = style_widget
    widget = widget_with(viewer, failing_engine)
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    before = snapshot(viewer)
    setup_run(widget, photo, style)
    assert widget.run()
    wait_idle(qtbot, widget)
    assert_same_layers(before, snapshot(viewer))
    assert errors == ["Style transfer failed unexpectedly (RuntimeError: simulated driver crash)."]


def test_all_slices_of_a_stack_chain_frames(qtbot, style_widget, gradient_rgb, stripes_rgb):
    from napari_styletransfer.api import iter_run

    inits = []

    def recording_engine(request, content):
        inits.append(request.init)
        return iter_run(request, content)

    viewer, _ = style_widget
    widget = widget_with(viewer, recording_engine)
    stack = np.stack([np.roll(gradient_rgb, shift, axis=1) for shift in (0, 3, 6)])
    movie = viewer.add_image(stack, name="movie", rgb=True, scale=(1, 0.5, 0.5))
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, movie, style, slices=ALL_SLICES)
    assert widget.form.slices.enabled
    assert widget.run()
    wait_idle(qtbot, widget)

    output = viewer.layers["movie · stripes"]
    assert output.data.shape == stack.shape and output.data.dtype == np.uint8
    np.testing.assert_allclose(output.scale, movie.scale)
    for frame in range(3):
        assert not np.array_equal(output.data[frame], stack[frame])
    # frame 1 starts from frame 0's result, frame 2 from frame 1's
    assert isinstance(inits[0], str) and inits[0] == "content"
    np.testing.assert_array_equal(inits[1], output.data[0])
    np.testing.assert_array_equal(inits[2], output.data[1])
    assert output.metadata[METADATA_KEY]["frames_done"] == 3


def test_current_slice_of_grayscale_uint16_stack(qtbot, style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    gray = (gradient_rgb.mean(-1) * 200).astype(np.uint16)
    stack = np.stack([gray, gray[::-1], gray[:, ::-1]])
    volume = viewer.add_image(stack, name="volume")
    style = viewer.add_image(stripes_rgb, name="stripes")
    viewer.dims.set_current_step(0, 2)
    setup_run(widget, volume, style)
    assert widget.run()
    wait_idle(qtbot, widget)

    output = viewer.layers["volume · stripes"]
    assert output.data.shape == gray.shape and output.data.dtype == np.uint16
    assert output.metadata[METADATA_KEY]["slices"] == [[2]]
    # stylised from slice 2 (mirrored left-right): its darkest column stays on the right
    assert output.data[:, -8:].mean() < output.data[:, :8].mean()
    assert output.data.max() > 255  # the uint16 range is kept, not squeezed to 8 bits


def test_stylise_background_segments_then_protects_the_subject(
    qtbot, monkeypatch, style_widget, gradient_rgb, stripes_rgb
):
    import napari_styletransfer.widgets.style_transfer as style_transfer_module
    from napari_styletransfer import segmentation

    disc = np.hypot(*np.mgrid[-24:24, -24:24]) < 14
    calls, warnings = [], []

    def fake_predict(image):
        calls.append(image.shape)
        return segmentation.SubjectPrediction(disc.astype(np.float32), 0.95)

    monkeypatch.setattr(segmentation, "predict_subject", fake_predict)
    monkeypatch.setattr(style_transfer_module, "show_warning", warnings.append)
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style)

    assert widget.stylise_background()
    qtbot.waitUntil(lambda: "photo · stripes" in viewer.layers, timeout=RUN_TIMEOUT_MS)
    wait_idle(qtbot, widget)
    subject = viewer.layers["photo subject"]
    np.testing.assert_array_equal(subject.data > 0, disc)
    assert viewer.layers[-1] is subject  # above the output, so the mask shows
    result = viewer.layers["photo · stripes"].data
    keep = _far_from_edge(disc)
    np.testing.assert_array_equal(result[keep], gradient_rgb[keep])
    record = viewer.layers["photo · stripes"].metadata[METADATA_KEY]
    assert record["region"] == "outside" and record["mask"] == "photo subject"
    # the subject went straight into the run: the form keeps the user's choices
    assert widget.form.mask.value is None
    assert warnings == []  # the model was sure of the subject

    # the second time the (possibly hand-corrected) subject layer is reused
    assert widget.stylise_subject()
    wait_idle(qtbot, widget)
    assert calls == [(48, 48, 3)]
    assert [layer.name for layer in viewer.layers].count("photo subject") == 1
    result = viewer.layers["photo · stripes [2]"].data
    keep = _far_from_edge(~disc)
    np.testing.assert_array_equal(result[keep], gradient_rgb[keep])


def test_stylise_background_warns_when_the_subject_is_ambiguous(
    qtbot, monkeypatch, style_widget, gradient_rgb, stripes_rgb
):
    import napari_styletransfer.widgets.style_transfer as style_transfer_module
    from napari_styletransfer import segmentation

    disc = np.hypot(*np.mgrid[-24:24, -24:24]) < 14
    warnings = []
    monkeypatch.setattr(
        segmentation,
        "predict_subject",
        lambda image: segmentation.SubjectPrediction(disc.astype(np.float32), 0.35),
    )
    monkeypatch.setattr(style_transfer_module, "show_warning", warnings.append)
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    setup_run(widget, photo, viewer.add_image(stripes_rgb, name="stripes"))

    assert widget.stylise_background()
    qtbot.waitUntil(lambda: "photo · stripes" in viewer.layers, timeout=RUN_TIMEOUT_MS)
    wait_idle(qtbot, widget)
    # the user is told to check the mask, and the run still happens with it
    assert len(warnings) == 1 and "ambiguous" in warnings[0] and "35%" in warnings[0]
    np.testing.assert_array_equal(viewer.layers["photo subject"].data > 0, disc)


def test_fast_mode_reruns_live_into_the_same_layer(qtbot, style_widget, gradient_rgb):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    form = widget.form
    form.method.value = FAST
    presets = [c for c in form.style.choices if c.kind == "preset"]
    assert [c.name for c in presets] == [f"preset:{i}" for i in range(26)]
    form.content.value = photo
    form.style.value = presets[3]
    form.device.value = "cpu"
    assert not form.steps.enabled and form.style_strength.max == 2.0

    assert widget.run()
    wait_idle(qtbot, widget)
    output = viewer.layers["photo · preset:3"]
    first = np.array(output.data)
    assert first.shape == gradient_rgb.shape and first.dtype == np.uint8
    assert output.metadata[METADATA_KEY]["method"] == "fast"
    n_layers = len(viewer.layers)

    # a new strength re-renders the same layer after the debounce, without Run
    form.style_strength.value = 0.2
    record = lambda: output.metadata[METADATA_KEY]  # noqa: E731
    qtbot.waitUntil(lambda: record()["style_strength"] == 0.2, timeout=RUN_TIMEOUT_MS)
    wait_idle(qtbot, widget)
    assert len(viewer.layers) == n_layers
    weaker = np.array(output.data)
    # strength 0.2 stays closer to the photo than strength 1
    distance = [np.abs(x.astype(int) - gradient_rgb).mean() for x in (first, weaker)]
    assert distance[1] < distance[0]
    assert record()["status"] == "done"

    # another preset renames the layer after it
    form.style.value = presets[7]
    qtbot.waitUntil(lambda: "photo · preset:7" in viewer.layers, timeout=5_000)
    wait_idle(qtbot, widget)
    assert len(viewer.layers) == n_layers
    assert viewer.layers["photo · preset:7"] is output


def test_gpu_out_of_memory_suggests_a_smaller_size(
    qtbot, style_widget, gradient_rgb, stripes_rgb, errors
):
    import torch

    from napari_styletransfer.devices import out_of_memory_as_error

    def exhausted_gpu(request, content):
        # what the engine does around its work on a GPU
        with out_of_memory_as_error(torch.device("cuda")):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield

    viewer, _ = style_widget
    widget = widget_with(viewer, exhausted_gpu)
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style)
    assert widget.run()
    wait_idle(qtbot, widget)
    assert len(errors) == 1 and "smaller max size" in errors[0]
    assert [layer.name for layer in viewer.layers] == ["photo", "stripes"]


def test_removing_the_output_mid_run_is_harmless(qtbot, style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    before = start_long_run(qtbot, viewer, widget, gradient_rgb, stripes_rgb)
    viewer.layers.remove("photo · stripes")
    widget.cancel()
    wait_idle(qtbot, widget, timeout=10_000)
    assert_same_layers(before, snapshot(viewer))
    assert widget.status_label.text().startswith("Cancelled")


def test_chosen_layers_stay_chosen_when_renamed(style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    viewer.add_image(gradient_rgb, name="another")  # first in every list
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style)
    style.name = "zigzag"
    photo.name = "portrait"
    assert widget.form.content.value is photo
    assert widget.form.style.value.layer is style
    assert widget.form.style.value.label == "zigzag"


CLOSE_VIEWER_MID_RUN = """
import time
import numpy as np
import napari
from qtpy.QtWidgets import QApplication
from napari_styletransfer.widgets.runner import preload_triton

preload_triton()
viewer = napari.Viewer(show=False)
_, widget = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Style transfer")
y, x = np.mgrid[0:48, 0:48]
photo = viewer.add_image(np.dstack([x * 5, y * 5, x + y]).astype(np.uint8), name="photo")
widget.form.content.value = photo
widget.form.max_size.value, widget.form.steps.value, widget.form.device.value = 64, 500, "cpu"
assert widget.run()
app, start = QApplication.instance(), time.time()
while widget.progress_bar.value() == 0 and time.time() - start < 60:
    app.processEvents()
    time.sleep(0.02)
viewer.close()
for _ in range(100):
    app.processEvents()
    time.sleep(0.02)
print("alive")
"""


def test_closing_the_viewer_mid_run_is_clean():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CLOSE_VIEWER_MID_RUN],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "alive" in done.stdout and "Traceback" not in done.stderr


def test_closing_the_dock_cancels_the_job(qtbot, style_widget, gradient_rgb, stripes_rgb):
    from qtpy.QtCore import QThreadPool

    viewer, widget = style_widget
    start_long_run(qtbot, viewer, widget, gradient_rgb, stripes_rgb)
    viewer.window.remove_dock_widget(widget)  # what the dock's × does
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=10_000)
    output = viewer.layers[-1]
    assert output.name == "photo · stripes (cancelled)"
    assert output.metadata[METADATA_KEY]["status"] == "cancelled"


def test_removing_the_content_layer_mid_run(qtbot, style_widget, gradient_rgb, stripes_rgb):
    viewer, widget = style_widget
    # not the bottom layer: napari 0.9 with software OpenGL crashes on any redraw after the
    # bottom layer is removed, with or without this plugin (docs/napari.md, known problems)
    viewer.add_image(np.zeros((48, 48), np.uint8), name="under")
    photo = viewer.add_image(gradient_rgb, name="photo")
    style = viewer.add_image(stripes_rgb, name="stripes")
    setup_run(widget, photo, style, steps=6)
    assert widget.run()
    qtbot.waitUntil(lambda: widget.progress_bar.value() > 0, timeout=RUN_TIMEOUT_MS)
    viewer.layers.remove(photo)
    assert widget.form.content.value is None  # not silently another layer (the output)
    wait_idle(qtbot, widget)
    output = viewer.layers["photo · stripes"]
    assert output.metadata[METADATA_KEY]["status"] == "done"
    assert output.data.shape == gradient_rgb.shape
    assert not np.array_equal(output.data, gradient_rgb)
    assert widget.form.content.value is None  # still empty after the output was settled


def test_first_run_defaults_to_a_painting_and_refuses_the_content_as_its_style(
    style_widget, gradient_rgb, errors
):
    viewer, widget = style_widget
    photo = viewer.add_image(gradient_rgb, name="photo")
    assert widget.form.content.value is photo
    assert widget.form.style.value == StyleChoice("painting", "starry-night")
    widget.form.style.value = StyleChoice("layer", "photo", photo)
    before = snapshot(viewer)
    assert not widget.run()
    assert len(errors) == 1 and "content layer 'photo' itself" in errors[0]
    assert_same_layers(before, snapshot(viewer))


def test_a_large_photo_worked_small_is_announced(qtbot, monkeypatch, style_widget):
    infos = []
    monkeypatch.setattr(style_transfer_module, "show_info", infos.append)
    viewer, widget = style_widget
    y, x = np.mgrid[0:450, 0:600]
    photo = viewer.add_image(np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8))
    widget.form.method.value = FAST
    widget.form.content.value = photo
    widget.form.device.value = "cpu"
    assert widget.run()
    wait_idle(qtbot, widget)
    assert len(infos) == 1 and "600×450" in infos[0] and "2.3×" in infos[0]

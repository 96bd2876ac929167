"""The "Segment subject" dock widget in a real (Xvfb) napari viewer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_styletransfer import load_sample
from napari_styletransfer.widgets.segment_subject import ALL_SLICES, SegmentSubjectWidget


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Segment subject")
    assert isinstance(widget, SegmentSubjectWidget)
    return viewer, widget


def run_and_wait(qtbot, widget) -> None:
    widget.run()
    assert widget.worker is not None
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)


def test_widget_adds_subject_labels_and_leaves_image_untouched(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    photo = load_sample("chelsea")[::2, ::2].copy()
    layer = viewer.add_image(photo, name="cat")
    before = layer.data.copy()
    widget.layer_combo.setCurrentText("cat")
    run_and_wait(qtbot, widget)
    labels = viewer.layers["cat subject"]
    assert labels.data.shape == photo.shape[:2]
    fraction = (labels.data == 1).mean()
    assert 0.2 < fraction < 0.95
    np.testing.assert_array_equal(layer.data, before)

    # a stricter threshold re-thresholds the stored probabilities: a smaller mask
    widget.threshold_slider.setValue(95)
    assert (labels.data == 1).mean() < fraction
    # painting stays possible: the layer is an ordinary editable Labels layer
    assert labels.editable

    # clean-ups apply to the stored probabilities: one object, no holes
    widget.threshold_slider.setValue(50)
    widget.largest_box.setChecked(True)
    widget.fill_holes_box.setChecked(True)
    subject = labels.data == 1
    assert ndimage.label(subject)[1] == 1
    np.testing.assert_array_equal(ndimage.binary_fill_holes(subject), subject)


def test_widget_segments_all_slices_of_a_stack(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    photo = load_sample("chelsea")[::4, ::4]
    stack = np.stack([photo, photo[:, ::-1], photo // 2])
    layer = viewer.add_image(stack, rgb=True, name="stack")
    widget.layer_combo.setCurrentText("stack")
    assert widget.slices_combo.isEnabled()
    widget.slices_combo.setCurrentText(ALL_SLICES)
    run_and_wait(qtbot, widget)
    labels = viewer.layers["stack subject"]
    assert labels.data.shape == stack.shape[:3]
    assert all((labels.data[i] == 1).any() for i in range(3))
    # the flipped slice gets (roughly) the flipped mask
    flipped = labels.data[1][:, ::-1] == 1
    overlap = (flipped & (labels.data[0] == 1)).sum() / max((labels.data[0] == 1).sum(), 1)
    assert overlap > 0.8
    np.testing.assert_array_equal(layer.data, stack)


def test_widget_current_slice_only(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    photo = load_sample("chelsea")[::4, ::4]
    stack = np.stack([photo, photo, photo])
    viewer.add_image(stack, rgb=True, name="stack")
    viewer.dims.set_current_step(0, 2)
    widget.layer_combo.setCurrentText("stack")
    run_and_wait(qtbot, widget)
    labels = viewer.layers["stack subject"]
    assert (labels.data[2] == 1).any()
    assert not (labels.data[:2] == 1).any()


def test_widget_warns_about_ambiguous_slices(viewer_and_widget, qtbot, monkeypatch):
    import napari.utils.notifications as notifications

    from napari_styletransfer import segmentation

    def fake_predict(image, *, device):
        # slice 1 is the dark one: call the model unsure there
        agreement = 0.4 if image.mean() < 30 else 0.95
        return segmentation.SubjectPrediction(np.ones(image.shape[:2], np.float32), agreement)

    warnings = []
    monkeypatch.setattr(segmentation, "predict_subject", fake_predict)
    monkeypatch.setattr(notifications, "show_warning", warnings.append)
    viewer, widget = viewer_and_widget
    stack = np.full((3, 32, 32), 200, np.uint8)
    stack[1] = 10
    viewer.add_image(stack, name="stack")
    widget.layer_combo.setCurrentText("stack")
    widget.slices_combo.setCurrentText(ALL_SLICES)
    run_and_wait(qtbot, widget)
    assert "ambiguous in slice(s) [1]" in widget.status.text()
    assert len(warnings) == 1 and "'stack'" in warnings[0]

    # a sure answer for every slice clears the warning
    monkeypatch.setattr(
        segmentation,
        "predict_subject",
        lambda image, *, device: segmentation.SubjectPrediction(
            np.ones(image.shape[:2], np.float32), 1.0
        ),
    )
    run_and_wait(qtbot, widget)
    assert "ambiguous" not in widget.status.text()
    assert len(warnings) == 1

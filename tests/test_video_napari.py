"""napari's reader and writer contributions for video, through a real (headless) viewer."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_styletransfer import StyleTransferError
from napari_styletransfer.video import open_video
from napari_styletransfer.video.napari_io import get_reader, lazy_stack, write_video
from test_video_io import moving_frames, write


def test_reader_gives_a_lazy_stack_that_decodes_on_demand(tmp_path):
    path = write(tmp_path / "clip.mp4", count=60, fps=10)
    stack, reader = lazy_stack(path)
    assert isinstance(stack, da.Array) and stack.shape == (60, 48, 64, 3)
    assert stack.dtype == np.uint8 and reader.decoded == 1
    frame = stack[45].compute()
    assert reader.decoded <= 1 + 20  # from the keyframe before frame 45, not the whole video
    np.testing.assert_array_equal(frame, list(open_video(path).iter_frames())[45])
    assert get_reader(str(path)) is not None
    assert get_reader(str(tmp_path / "photo.png")) is None


def test_drag_and_drop_opens_a_lazy_t_stack(make_napari_viewer, tmp_path):
    path = write(tmp_path / "clip.webm", count=20, fps=20)
    viewer = make_napari_viewer()
    layer = viewer.open(path, plugin="napari-styletransfer")[0]
    assert isinstance(layer.data, da.Array) and layer.rgb
    assert layer.data.shape == (20, 48, 64, 3)
    assert layer.metadata["fps"] == pytest.approx(20)
    viewer.dims.set_current_step(0, 13)
    expected = list(open_video(path).iter_frames())[13]
    np.testing.assert_array_equal(np.asarray(layer.data[13]), expected)


def test_writer_saves_a_layer_as_a_video(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    frames = np.stack(list(moving_frames(9)))
    viewer.add_image(frames, rgb=True, name="stylised", metadata={"fps": 12})
    out = tmp_path / "saved.mp4"
    viewer.layers.save(str(out))  # napari picks our writer by the suffix
    with open_video(out) as reader:
        assert reader.info.shape == frames.shape and reader.fps == pytest.approx(12)
        assert np.abs(reader[4].astype(int) - frames[4]).mean() < 8
    assert [p.name for p in tmp_path.iterdir()] == ["saved.mp4"]


def test_writer_scales_gray_stacks_by_their_contrast_limits(tmp_path):
    stack = np.zeros((4, 32, 48), np.uint16)
    stack[:, :, 24:] = 3000
    out = write_video(
        str(tmp_path / "gray.avi"), stack, {"rgb": False, "contrast_limits": [0, 3000]}
    )
    with open_video(out[0]) as reader:
        assert len(reader) == 4 and reader.fps == 25
        assert reader[0][:, 30:].mean() > 240 and reader[0][:, :20].mean() < 15
    with pytest.raises(StyleTransferError, match="T-stack"):
        write_video(str(tmp_path / "one.mp4"), stack[0], {"rgb": False})


def test_a_dropped_video_is_stylised_slice_by_slice_and_saved_as_a_video(
    qtbot, style_widget, tmp_path, monkeypatch
):
    from napari_styletransfer.widgets import stack_output
    from napari_styletransfer.widgets.form import FAST, StyleChoice
    from napari_styletransfer.widgets.layers import ALL_SLICES

    monkeypatch.setattr(stack_output, "stacks_folder", lambda: tmp_path / "stacks")
    viewer, widget = style_widget
    path = write(tmp_path / "clip.mp4", count=5, fps=10)
    layer = viewer.open(path, plugin="napari-styletransfer")[0]
    form = widget.form
    form.content.value = layer
    form.method.value = FAST
    form.style.value = StyleChoice("preset", "preset:7")
    form.max_size.value = 64
    form.device.value = "cpu"
    form.slices.value = ALL_SLICES
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=90_000)
    output = viewer.layers["clip · preset:7"]
    assert isinstance(output.data, zarr.Array)  # lazy in, slice by slice, a store on disk out
    assert output.data.shape == (5, 48, 64, 3)
    assert not np.array_equal(np.asarray(output.data[3]), np.asarray(layer.data[3]))
    out = tmp_path / "styled.mp4"
    write_video(str(out), output.data, {"rgb": True, "metadata": {"fps": layer.metadata["fps"]}})
    with open_video(out) as saved:
        assert saved.info.shape == (5, 48, 64, 3) and saved.fps == pytest.approx(10)

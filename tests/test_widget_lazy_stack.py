""" "All slices" on zarr- and dask-backed layers: slice by slice, the output a lazy view of a store."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_styletransfer.widgets import stack_output
from napari_styletransfer.widgets.form import FAST, StyleChoice
from napari_styletransfer.widgets.layers import ALL_SLICES
from napari_styletransfer.widgets.output import METADATA_KEY

RUN_TIMEOUT_MS = 90_000
SHAPE = (4, 40, 48, 3)


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    folder = tmp_path / "stacks"
    monkeypatch.setattr(stack_output, "stacks_folder", lambda: folder)
    return folder


@pytest.fixture
def reads(monkeypatch):
    """Every selection read from a zarr array; reading one whole is an error."""
    selections = []
    getitem = zarr.Array.__getitem__

    def counted(array, selection):
        selections.append((array.shape, selection))
        return getitem(array, selection)

    def refused(array, *args, **kwargs):
        raise AssertionError(f"a whole zarr array {array.shape} was loaded")

    monkeypatch.setattr(zarr.Array, "__getitem__", counted)
    monkeypatch.setattr(zarr.Array, "__array__", refused)
    return selections


def leading_slices(selection) -> int:
    """How many slices along the stack axis a zarr selection reads."""
    first = selection[0] if isinstance(selection, tuple) else selection
    if isinstance(first, int | np.integer):
        return 1
    if isinstance(first, slice):
        return len(range(*first.indices(SHAPE[0])))
    return SHAPE[0]  # anything else counts as everything


def movie(path):
    yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]]
    frames = [np.dstack([(xx * 5 + 40 * t) % 256, yy * 6, (xx + yy) * 2]) for t in range(SHAPE[0])]
    array = zarr.create_array(str(path), shape=SHAPE, chunks=(1, *SHAPE[1:]), dtype="uint8")
    array[...] = np.stack(frames).astype(np.uint8)
    return array


def run_all_slices(qtbot, viewer, widget, layer):
    form = widget.form
    form.content.value = layer
    form.method.value = FAST  # presets are offered in fast mode
    form.style.value = StyleChoice("preset", "preset:7")
    form.max_size.value = 64
    form.device.value = "cpu"
    form.slices.value = ALL_SLICES
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.busy, timeout=RUN_TIMEOUT_MS)
    return viewer.layers[f"{layer.name} · preset:7"]


def test_a_zarr_stack_is_never_loaded_whole_and_the_output_is_a_store_on_disk(
    qtbot, style_widget, tmp_path, stacks, reads
):
    viewer, widget = style_widget
    source = movie(tmp_path / "movie.zarr")
    expected = np.stack([np.asarray(source[t]) for t in range(SHAPE[0])])
    layer = viewer.add_image(source, name="movie", rgb=True)
    reads.clear()

    output = run_all_slices(qtbot, viewer, widget, layer)

    record = output.metadata[METADATA_KEY]
    assert record["status"] == "done" and record["frames_done"] == SHAPE[0], (
        widget.status_label.text()
    )
    store = stacks / record["store"].split("/")[-1]
    assert record["store"] == str(store) and store.is_dir() and store.name.endswith(".zarr")
    assert not [p for p in stacks.iterdir() if p.name.startswith(".")]  # no partial store left
    assert isinstance(output.data, zarr.Array) and output.data.shape == SHAPE
    content_reads = [selection for shape, selection in reads if shape == SHAPE]
    # napari read the slice it showed, the worker each slice once, nobody more than one slice
    assert content_reads and all(leading_slices(s) == 1 for s in content_reads)
    assert sorted(s for s in content_reads if isinstance(s[0], int)) == [(t,) for t in range(4)]
    on_disk = zarr.open_array(str(store), mode="r")
    for t in range(SHAPE[0]):
        frame = np.asarray(on_disk[t])
        assert frame.dtype == np.uint8 and frame.any()
        assert np.abs(frame.astype(int) - expected[t]).mean() > 5  # stylised
    assert np.asarray(source[0]).tolist() == expected[0].tolist()  # the input is untouched
    assert str(stacks) in widget.status_label.text()


def test_a_dask_stack_goes_the_same_way(qtbot, style_widget, tmp_path, stacks):
    viewer, widget = style_widget
    source = movie(tmp_path / "movie.zarr")
    computed = []
    lazy = da.from_zarr(str(tmp_path / "movie.zarr")).map_blocks(
        lambda block: computed.append(block.shape) or block, dtype=np.uint8
    )
    layer = viewer.add_image(lazy, name="dask movie", rgb=True)

    output = run_all_slices(qtbot, viewer, widget, layer)

    assert output.metadata[METADATA_KEY]["frames_done"] == SHAPE[0]
    blocks = [shape for shape in computed if shape[0]]  # dask first calls it on an empty "meta"
    assert blocks and all(shape == (1, *SHAPE[1:]) for shape in blocks)  # one slice at a time
    assert isinstance(output.data, zarr.Array)
    assert not np.array_equal(np.asarray(output.data[2]), np.asarray(source[2]))

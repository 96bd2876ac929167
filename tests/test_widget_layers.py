"""Layer helpers of the widget: layouts, frames, label values, names (no engine runs)."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels, Shapes

from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.widgets.layers import (
    ALL_SLICES,
    CURRENT_SLICE,
    content_layout,
    frame_indices,
    mask_from_labels,
    mask_from_shapes,
    output_geometry,
    parse_label_values,
    unique_layer_name,
)


@pytest.mark.parametrize(
    ("data", "rgb", "stack", "size"),
    [
        (np.zeros((30, 40, 3), np.uint8), True, (), (30, 40)),
        (np.zeros((30, 40), np.uint16), False, (), (30, 40)),
        (np.zeros((5, 30, 40, 3), np.uint8), True, (5,), (30, 40)),
        (np.zeros((2, 5, 30, 40), np.float32), False, (2, 5), (30, 40)),
    ],
)
def test_content_layout_splits_stack_and_picture(data, rgb, stack, size):
    layout = content_layout(Image(data, rgb=rgb))
    assert layout.stack_shape == stack and layout.spatial_shape == size and layout.rgb == rgb


def test_channel_last_images_are_refused_with_advice():
    with pytest.raises(StyleTransferError, match=r"2 colour channels.*split"):
        content_layout(Image(np.zeros((64, 64, 2)), rgb=False, name="two"))
    with pytest.raises(StyleTransferError, match="at least 16 pixels"):
        content_layout(Image(np.zeros((8, 64))))


def test_frame_indices_current_and_all():
    layout = content_layout(Image(np.zeros((3, 2, 20, 20))))
    assert frame_indices(layout, ALL_SLICES, (0, 0, 0, 0)) == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)
    ]  # fmt: skip
    assert frame_indices(layout, CURRENT_SLICE, (2.2, 0.9, 5, 5)) == [(2, 1)]
    assert frame_indices(layout, CURRENT_SLICE, (9, -3, 5, 5)) == [(2, 0)]  # clipped
    assert frame_indices(content_layout(Image(np.zeros((20, 20)))), ALL_SLICES, ()) == [()]


@pytest.mark.parametrize(
    ("text", "values"),
    [("", None), (" 2 ", {2}), ("1, 3-5", {1, 3, 4, 5}), ("7,7", {7})],
)
def test_parse_label_values(text, values):
    assert parse_label_values(text) == values


def test_parse_label_values_rejects_words():
    with pytest.raises(StyleTransferError, match="not understood"):
        parse_label_values("cells")


def test_labels_mask_per_frame_and_size_check():
    layout = content_layout(Image(np.zeros((2, 20, 30))))
    labels = np.zeros((2, 20, 30), np.uint8)
    labels[0, :5] = 1
    labels[1, -5:] = 2
    masks = [mask_from_labels(Labels(labels), layout, (i,)) for i in range(2)]
    assert masks[0][:5].all() and not masks[0][5:].any()
    assert masks[1][-5:].all() and not masks[1][:-5].any()
    assert not mask_from_labels(Labels(labels), layout, (1,), {1}).any()
    with pytest.raises(StyleTransferError, match="20×31"):
        mask_from_labels(Labels(np.zeros((20, 31), np.uint8)), layout, (0,))


def test_shapes_mask_follows_both_transforms():
    content = Image(np.zeros((40, 40)), translate=(10, 10))
    layout = content_layout(content)
    # a square from world (20, 20) to (30, 30): the content's pixels 10..20
    shapes = Shapes([np.array([[10, 10], [10, 15], [15, 15], [15, 10]])], scale=(2, 2))
    mask = mask_from_shapes(shapes, content, layout)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 20, 10, 20)


def test_unique_layer_name():
    assert unique_layer_name(["a"], "b") == "b"
    assert unique_layer_name(["a · b", "a · b [2]"], "a · b") == "a · b [3]"


def test_output_geometry_of_a_single_slice_keeps_the_last_two_axes():
    content = Image(np.zeros((3, 20, 30)), scale=(5, 2, 3), translate=(1, 4, 6))
    geometry = output_geometry(content, keep_stack=False)
    np.testing.assert_allclose(geometry["scale"], (2, 3))
    np.testing.assert_allclose(geometry["translate"], (4, 6))
    assert geometry["rotate"].shape == (2, 2)
    assert output_geometry(content, keep_stack=True)["scale"].shape == (3,)

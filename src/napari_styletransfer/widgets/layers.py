"""From napari layers to engine inputs and back: frames, masks, names, geometry.

Nothing here starts work or touches Qt widgets; the functions take layers and
plain values so they can be tested without a viewer window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.limits import MIN_SIDE
from ..errors import StyleTransferError

# napari's Image layer: RGB(A) images carry the colour axis last; everything
# before the last two spatial axes is a stack axis (Z, T, ...).
# A trailing axis this short on a non-RGB layer is almost always channels
# (e.g. 2-colour fluorescence) that napari would show as a stack of thin images.
MAX_CHANNEL_AXIS = 4

CURRENT_SLICE = "current slice"
ALL_SLICES = "all slices"


@dataclass(frozen=True)
class ContentLayout:
    """How a content layer's array splits into stack axes and a 2-D picture.

    Attributes
    ----------
    stack_shape : tuple of int
        Sizes of the leading (Z, T, ...) axes; empty for a single picture.
    height, width : int
        The picture's spatial size.
    rgb : bool
        True when the last axis holds RGB(A) colour.
    """

    stack_shape: tuple[int, ...]
    height: int
    width: int
    rgb: bool

    @property
    def is_stack(self) -> bool:
        """True when there is at least one leading axis with more than one frame."""
        return int(np.prod(self.stack_shape, dtype=int)) > 1

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """(height, width) of one frame."""
        return (self.height, self.width)


def content_layout(layer) -> ContentLayout:
    """Describe an Image layer's axes, refusing shapes the engine cannot treat.

    Parameters
    ----------
    layer : napari.layers.Image
        The content layer.

    Returns
    -------
    ContentLayout

    Raises
    ------
    StyleTransferError
        For a non-RGB image whose last axis looks like channels, or a picture
        smaller than 16 pixels a side.
    """
    shape = tuple(int(n) for n in full_resolution(layer).shape)
    rgb = bool(layer.rgb)
    spatial = shape[-3:-1] if rgb else shape[-2:]
    if len(spatial) < 2:
        raise StyleTransferError(f"Layer {layer.name!r} is not an image (shape {shape}).")
    if not rgb and shape[-1] <= MAX_CHANNEL_AXIS and shape[-2] > MAX_CHANNEL_AXIS:
        raise StyleTransferError(
            f"Layer {layer.name!r} has shape {shape}: its last axis looks like "
            f"{shape[-1]} colour channels, not an image width. Style transfer needs "
            "grayscale or RGB pictures: split the channels into separate layers "
            "(napari: right-click the layer > Split Stack, or add_image(..., "
            "channel_axis=-1)) and stylise each one, or make an RGB layer."
        )
    height, width = spatial
    if min(height, width) < MIN_SIDE:
        raise StyleTransferError(
            f"Layer {layer.name!r} is {height}×{width} pixels: style transfer needs "
            f"at least {MIN_SIDE} pixels a side."
        )
    stack_shape = shape[:-3] if rgb else shape[:-2]
    return ContentLayout(stack_shape, height, width, rgb)


def frame_indices(
    layout: ContentLayout, mode: str, data_position: Sequence[float]
) -> list[tuple[int, ...]]:
    """List the stack positions to stylise.

    Parameters
    ----------
    layout : ContentLayout
        The content's axes.
    mode : str
        :data:`CURRENT_SLICE` or :data:`ALL_SLICES`.
    data_position : sequence of float
        The viewer's current point in the layer's data coordinates,
        ``layer.world_to_data(viewer.dims.point)``.

    Returns
    -------
    list of tuple of int
        One index tuple per frame (a single empty tuple for a plain picture).
    """
    if not layout.stack_shape:
        return [()]
    if mode == ALL_SLICES:
        return [tuple(int(i) for i in ix) for ix in np.ndindex(*layout.stack_shape)]
    return [current_stack_index(layout, data_position)]


def current_stack_index(layout: ContentLayout, data_position: Sequence[float]) -> tuple[int, ...]:
    """The stack position the viewer shows, rounded and clipped to the layer's range."""
    leading = list(data_position)[: len(layout.stack_shape)]
    leading += [0] * (len(layout.stack_shape) - len(leading))
    return tuple(
        int(min(max(round(float(p)), 0), n - 1))
        for p, n in zip(leading, layout.stack_shape, strict=True)
    )


def full_resolution(layer):
    """The layer's array at full resolution (the first level of a multiscale layer)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def is_lazy(data) -> bool:
    """True for layer data that is not in memory (dask, zarr and other array-likes)."""
    return not isinstance(data, np.ndarray)


def read_frame(data, index: tuple[int, ...]) -> np.ndarray:
    """Read one frame of a (possibly lazy, e.g. dask or zarr) layer array into memory."""
    return np.array(data[index] if index else data)


def parse_label_values(text: str) -> set[int] | None:
    """Read a label selection such as ``"1, 3-5"``.

    Parameters
    ----------
    text : str
        Comma-separated label values and ranges; empty for "any nonzero label".

    Returns
    -------
    set of int or None
        The chosen values, or None for any nonzero label.

    Raises
    ------
    StyleTransferError
        For text that is not a list of whole numbers and ranges.
    """
    values: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            if sep:
                values.update(range(int(low), int(high) + 1))
            else:
                values.add(int(part))
        except ValueError:
            raise StyleTransferError(
                f"Label values {text!r} are not understood: use numbers and ranges "
                "such as '1, 3-5', or leave the field empty for any nonzero label."
            ) from None
    return values or None


def mask_from_labels(
    layer,
    layout: ContentLayout,
    index: tuple[int, ...],
    label_values: Iterable[int] | None = None,
) -> np.ndarray:
    """Boolean mask of one frame from a Labels layer on the content's pixel grid.

    A 2-D Labels layer masks every frame of a stack; a Labels layer with the
    stack's own shape gives each frame its own mask.

    Raises
    ------
    StyleTransferError
        When the labels' size does not match the content, or no pixel is selected.
    """
    shape = tuple(layer.data.shape)
    if shape[-2:] != layout.spatial_shape:
        raise StyleTransferError(
            f"The mask layer {layer.name!r} is {shape[-2]}×{shape[-1]} pixels but the "
            f"content is {layout.height}×{layout.width}: draw the mask on the content's grid."
        )
    if len(shape) == 2:
        labels = np.asarray(layer.data)
    elif shape[:-2] == layout.stack_shape:
        labels = np.asarray(layer.data[index])
    else:
        raise StyleTransferError(
            f"The mask layer {layer.name!r} has shape {shape}: use a 2-D mask or one with "
            f"the content's stack shape {(*layout.stack_shape, *layout.spatial_shape)}."
        )
    if label_values is None:
        return labels != 0
    return np.isin(labels, sorted(label_values))


def mask_from_shapes(shapes_layer, content_layer, layout: ContentLayout) -> np.ndarray:
    """Rasterise a Shapes layer onto the content's pixel grid.

    Vertices go through both layers' transforms (world coordinates), so a Shapes
    layer with another scale or offset still lands where it is drawn. Only the
    last two coordinates count: on a stack, the same mask applies to every frame.
    """
    from napari.layers import Shapes

    polygons = [
        np.array(
            [content_layer.world_to_data(shapes_layer.data_to_world(v))[-2:] for v in vertices]
        )
        for vertices in shapes_layer.data
    ]
    if not polygons:
        raise StyleTransferError(f"The mask layer {shapes_layer.name!r} has no shapes.")
    flat = Shapes(polygons, shape_type=list(shapes_layer.shape_type))
    return flat.to_labels(labels_shape=layout.spatial_shape) > 0


def unique_layer_name(existing: Iterable[str], base: str) -> str:
    """Return ``base``, or ``base [2]``, ``base [3]``… whichever is not taken yet."""
    taken = set(existing)
    if base not in taken:
        return base
    number = 2
    while f"{base} [{number}]" in taken:
        number += 1
    return f"{base} [{number}]"


def output_geometry(content_layer, keep_stack: bool) -> dict:
    """Scale, translate and rotate for an output layer placed over the content.

    Parameters
    ----------
    content_layer : napari.layers.Image
        The content layer.
    keep_stack : bool
        True when the output has the content's stack axes; otherwise it is a
        single frame and only the last two axes' geometry is kept.

    Returns
    -------
    dict
        Keyword arguments for ``viewer.add_image``.
    """
    scale = np.asarray(content_layer.scale, dtype=float)
    translate = np.asarray(content_layer.translate, dtype=float)
    rotate = np.asarray(content_layer.rotate, dtype=float)
    if not keep_stack:
        scale, translate, rotate = scale[-2:], translate[-2:], rotate[-2:, -2:]
    return {"scale": scale, "translate": translate, "rotate": rotate}


def display_kwargs(content_layer) -> dict:
    """Contrast and colour map of a grayscale content, so the output looks comparable."""
    if content_layer.rgb:
        return {"rgb": True}
    return {
        "rgb": False,
        "colormap": content_layer.colormap.name,
        "contrast_limits": list(content_layer.contrast_limits),
    }

"""Turn the form's values and the viewer's position into a request, frames and an output plan.

The request is built here, once, through :class:`~napari_styletransfer.api.StylizeRequest`:
the widget checks nothing of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from .. import __version__
from ..errors import StyleTransferError
from . import stack_output
from .form import FormValues, StyleChoice
from .layers import (
    ALL_SLICES,
    ContentLayout,
    content_layout,
    display_kwargs,
    frame_indices,
    full_resolution,
    is_lazy,
    mask_from_labels,
    mask_from_shapes,
    output_geometry,
    parse_label_values,
    read_frame,
)
from .runner import Frame, FramesJob, LazyFrame
from .stack_output import StackStore, store_name

NAME_SEPARATOR = " · "


@dataclass
class RunPlan:
    """A job plus how its output layer should look.

    Attributes
    ----------
    job : FramesJob
        The frames and the request.
    base_name : str
        "<content> · <style>" (made unique when the layer is added).
    initial : numpy.ndarray or None
        What the output layer shows before the first preview: the content
        (None for a lazy stack, whose output is ``store``).
    stacked : bool
        True when the output keeps the content's stack axes.
    layer_kwargs : dict
        Geometry and display arguments for ``viewer.add_image``.
    record : dict
        The run's parameters for the output's metadata.
    store : StackStore or None
        For all slices of a lazy (dask / zarr) stack: the Zarr store on disk that
        the frames are written into and the output layer shows.
    """

    job: FramesJob
    base_name: str
    initial: np.ndarray | None
    stacked: bool
    layer_kwargs: dict
    record: dict
    store: StackStore | None = None

    @property
    def upsampling_note(self) -> str | None:
        """What to tell the user when the result is upsampled more than 2× (else None)."""
        from ..api import upsampling_note

        return upsampling_note(self.job.request, *self.job.frames[0].shape[:2])


def engine_style(choice: StyleChoice, data_position_of) -> object:
    """The engine's ``style`` argument for a dropdown choice.

    Parameters
    ----------
    choice : StyleChoice
        The Style dropdown's value.
    data_position_of : callable
        ``layer -> data position`` of the viewer's current point, used to pick the
        shown slice when the style layer is a stack.
    """
    if choice.kind in ("painting", "preset", "learned"):
        return choice.name  # "starry-night", "preset:7", "learned:monet"
    layer = choice.layer
    layout = content_layout(layer)
    (index,) = frame_indices(layout, "current slice", data_position_of(layer))
    return read_frame(full_resolution(layer), index)


def _frame_mask(values: FormValues, layout: ContentLayout, index, shapes_mask) -> np.ndarray | None:
    if values.mask is None:
        return None
    if shapes_mask is not None:
        if not shapes_mask.any():
            raise StyleTransferError(
                f"The shapes in {values.mask.name!r} do not cover any pixel of the content."
            )
        return shapes_mask
    labels = parse_label_values(values.label_values)
    mask = mask_from_labels(values.mask, layout, index, labels)
    if not mask.any():
        raise StyleTransferError(
            f"The mask layer {values.mask.name!r} selects no pixel"
            + (f" with label values {values.label_values!r}." if labels else ".")
        )
    return mask


def build_plan(values: FormValues, data_position_of) -> RunPlan:
    """Check the form's values and build the job.

    Parameters
    ----------
    values : FormValues
        The form's values (``dataclasses.replace`` them to run with another
        mask or region, e.g. the subject found by the segmentation model).
    data_position_of : callable
        ``layer -> layer.world_to_data(viewer.dims.point)``.

    Returns
    -------
    RunPlan

    Raises
    ------
    StyleTransferError
        For missing or unusable inputs, with a message for the user.
    """
    from ..api import StylizeRequest

    content = values.content
    if content is None:
        raise StyleTransferError("Choose a content image layer first.")
    if values.style is None:
        raise StyleTransferError("Choose a style: a bundled painting or an image layer.")
    if values.style.kind == "layer" and values.style.layer is content:
        raise StyleTransferError(
            f"The style is the content layer {content.name!r} itself, so nothing would change: "
            "choose a painting or another image layer as the style."
        )
    layout = content_layout(content)
    indices = frame_indices(layout, values.slices, data_position_of(content))
    stacked = values.slices == ALL_SLICES and bool(layout.stack_shape)
    shapes_mask = None
    if values.mask is not None and type(values.mask).__name__ == "Shapes":
        shapes_mask = mask_from_shapes(values.mask, content, layout)
    data = full_resolution(content)
    mask_of = partial(_frame_mask, values, layout, shapes_mask=shapes_mask)
    lazy = stacked and is_lazy(data)
    if lazy:  # read in the worker, one slice at a time
        picture = data.shape[len(layout.stack_shape) :]
        frames = [
            LazyFrame(index, partial(read_frame, data), picture, mask_of) for index in indices
        ]
    else:
        frames = [Frame(index, read_frame(data, index), mask_of(index)) for index in indices]
    request = StylizeRequest.create(
        engine_style(values.style, data_position_of), **values.request_options()
    )
    base_name = f"{content.name}{NAME_SEPARATOR}{values.style.label}"
    record = _record(values, indices, stacked)
    plan = RunPlan(
        job=FramesJob(frames, request),
        base_name=base_name,
        initial=None if lazy else np.array(data) if stacked else frames[0].content.copy(),
        stacked=stacked,
        layer_kwargs=output_geometry(content, keep_stack=stacked) | display_kwargs(content),
        record=record,
    )
    if lazy:  # made last: nothing is written when a check above fails
        plan.store = StackStore(
            stack_output.stacks_folder() / store_name(base_name),
            data.shape,
            data.dtype,
            layout.rgb,
            record,
        )
        plan.job.sink = plan.store.write
    return plan


def with_mask(values: FormValues, mask_layer, region: str) -> FormValues:
    """The same choices with another mask layer (any nonzero label) and region."""
    return replace(values, mask=mask_layer, label_values="", region=region)


def _record(values: FormValues, indices, stacked: bool) -> dict:
    """Every parameter of the run, so that the result can be reproduced."""
    return {
        "status": "running",
        "package_version": __version__,
        "content": values.content.name,
        "style": values.style.label,
        "style_kind": values.style.kind,
        "mask": None if values.mask is None else values.mask.name,
        "label_values": values.label_values if values.mask is not None else "",
        "region": values.region if values.mask is not None else None,
        "slices": [list(index) for index in indices] if not stacked else "all",
        **values.request_options(),
        "requested_device": values.device,
    }

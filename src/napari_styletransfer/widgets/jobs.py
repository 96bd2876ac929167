"""Turn the form's settings and the viewer's position into a job and an output plan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..errors import StyleTransferError
from .form import Settings, StyleChoice
from .layers import (
    ALL_SLICES,
    ContentLayout,
    content_layout,
    display_kwargs,
    frame_indices,
    mask_from_labels,
    mask_from_shapes,
    output_geometry,
    parse_label_values,
    read_frame,
)
from .runner import Frame, Job

NAME_SEPARATOR = " · "


@dataclass
class Plan:
    """A job plus how its output layer should look.

    Attributes
    ----------
    job : Job
        The frames and engine options.
    base_name : str
        "<content> · <style>" (made unique when the layer is added).
    initial : numpy.ndarray
        What the output layer shows before the first preview: the content.
    stacked : bool
        True when the output keeps the content's stack axes.
    layer_kwargs : dict
        Geometry and display arguments for ``viewer.add_image``.
    record : dict
        The run's parameters for the output's metadata.
    """

    job: Job
    base_name: str
    initial: np.ndarray
    stacked: bool
    layer_kwargs: dict
    record: dict


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
    if choice.kind in ("painting", "preset"):
        return choice.name  # "starry-night", "preset:7"
    layer = choice.layer
    layout = content_layout(layer)
    (index,) = frame_indices(layout, "current slice", data_position_of(layer))
    return read_frame(layer.data, index)


def _frame_mask(settings: Settings, layout: ContentLayout, index, shapes_mask) -> np.ndarray | None:
    if settings.mask is None:
        return None
    if shapes_mask is not None:
        if not shapes_mask.any():
            raise StyleTransferError(
                f"The shapes in {settings.mask.name!r} do not cover any pixel of the content."
            )
        return shapes_mask
    values = parse_label_values(settings.label_values)
    mask = mask_from_labels(settings.mask, layout, index, values)
    if not mask.any():
        raise StyleTransferError(
            f"The mask layer {settings.mask.name!r} selects no pixel"
            + (f" with label values {settings.label_values!r}." if values else ".")
        )
    return mask


def build_plan(settings: Settings, data_position_of) -> Plan:
    """Check the settings and build the job.

    Parameters
    ----------
    settings : Settings
        The form's values.
    data_position_of : callable
        ``layer -> layer.world_to_data(viewer.dims.point)``.

    Returns
    -------
    Plan

    Raises
    ------
    StyleTransferError
        For missing or unusable inputs, with a message for the user.
    """
    content = settings.content
    if content is None:
        raise StyleTransferError("Choose a content image layer first.")
    if settings.style is None:
        raise StyleTransferError("Choose a style: an image layer or a bundled painting.")
    layout = content_layout(content)
    indices = frame_indices(layout, settings.slices, data_position_of(content))
    stacked = settings.slices == ALL_SLICES and bool(layout.stack_shape)
    shapes_mask = None
    if settings.mask is not None and type(settings.mask).__name__ == "Shapes":
        shapes_mask = mask_from_shapes(settings.mask, content, layout)
    frames = [
        Frame(
            index,
            read_frame(content.data, index),
            _frame_mask(settings, layout, index, shapes_mask),
        )
        for index in indices
    ]
    style = engine_style(settings.style, data_position_of)
    initial = np.array(content.data) if stacked else frames[0].content.copy()
    record = _record(settings, indices, stacked)
    return Plan(
        job=Job(frames, style, settings.engine_options()),
        base_name=f"{content.name}{NAME_SEPARATOR}{settings.style.label}",
        initial=initial,
        stacked=stacked,
        layer_kwargs=output_geometry(content, keep_stack=stacked) | display_kwargs(content),
        record=record,
    )


def _record(settings: Settings, indices, stacked: bool) -> dict:
    """Every parameter of the run, so that the result can be reproduced."""
    return {
        "status": "running",
        "package_version": __version__,
        "content": settings.content.name,
        "style": settings.style.label,
        "style_kind": settings.style.kind,
        "mask": None if settings.mask is None else settings.mask.name,
        "label_values": settings.label_values if settings.mask is not None else "",
        "region": settings.region if settings.mask is not None else None,
        "slices": [list(index) for index in indices] if not stacked else "all",
        **settings.engine_options(),
        "method": settings.method.lower(),
        "requested_device": settings.device,
    }

"""Turning a ``POST /v1/jobs`` form into engine inputs, checked as ``stylize`` checks them.

The options are not validated here: a :class:`~napari_styletransfer.api.StylizeRequest`
is built from them and checked against the content, so the service accepts
exactly what ``stylize`` accepts and says what it says. What this module decides is only what may come
over the network: styles by name (a bundled painting, a preset, a learned
style), never a path; arrays only as uploaded files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile

from ..errors import StyleTransferError
from .errors import ApiError
from .jobs import Inputs
from .uploads import decode_image

MAX_STYLES = 8
LEARNED_PREFIX = "learned:"
PRESET_PREFIX = "preset:"
LEARNED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# the arguments that come as form fields, not inside params
FORM_FIELDS = ("content", "style")

FORM_SCHEMA = {
    "type": "object",
    "required": ["content", "style"],
    "properties": {
        "content": {"type": "string", "format": "binary", "description": "the image to stylise"},
        "style": {
            "type": "array",
            "items": {"type": "string"},
            "description": "one or more (repeat the field): an uploaded painting, or text: a "
            "bundled painting (starry-night, great-wave, the-scream, kandinsky), "
            "'preset:N' / 'preset:3:0.5,12:0.5' (method fast) or 'learned:NAME'",
        },
        "mask": {
            "type": "string",
            "format": "binary",
            "description": "optional mask image, same size as content (nonzero = mask)",
        },
        "init": {
            "type": "string",
            "format": "binary",
            "description": "optional init image in the content's format (quality mode)",
        },
        "params": {
            "type": "string",
            "description": 'a JSON object of stylize keyword arguments, e.g. {"method": '
            '"fast", "max_size": 512, "region": "outside"} (mask: "auto" segments the subject)',
        },
    },
}


@dataclass
class RawForm:
    """The parts of a job form as they came: file bytes and text."""

    params: str | None
    content: bytes | None
    styles: list  # bytes (an upload) or str (a name)
    mask: bytes | None
    init: bytes | None


async def read_form(form: FormData) -> RawForm:
    """Collect a job form's parts (no decoding yet: that happens off the event loop)."""
    return RawForm(
        params=_text(form, "params"),
        content=await _file(form, "content"),
        styles=[
            await part.read() if isinstance(part, UploadFile) else part
            for part in form.getlist("style")
        ],
        mask=await _file(form, "mask"),
        init=await _file(form, "init"),
    )


def build_inputs(raw: RawForm, max_pixels: int, devices: list[str]) -> tuple[Inputs, dict]:
    """The job of a form: a :class:`StylizeRequest` checked against its content.

    The request is built with :meth:`StylizeRequest.from_params` and run with
    :func:`~napari_styletransfer.api.iter_run`, which checks the content at
    once: every argument is checked by the same code as ``stylize``'s, and the
    prepared run is what the worker starts (on the first device). Also returns
    a JSON summary for the job's status (method, every parameter, style names).

    Raises
    ------
    ApiError
        For a missing or undecodable image, a style that is no known name,
        malformed params, or anything ``stylize`` would refuse (422, its message).
    """
    from ..api import StylizeRequest, iter_run

    params = parse_params(raw.params)
    if raw.content is None:
        raise ApiError(422, "invalid_request", "'content' is missing: upload an image file.")
    content = decode_image(raw.content, "content", max_pixels)
    if not raw.styles:
        raise ApiError(422, "invalid_request", "'style' is missing: upload a painting or name one.")
    if len(raw.styles) > MAX_STYLES:
        raise ApiError(422, "invalid_request", f"At most {MAX_STYLES} styles per job.")
    styles = [_style(part, max_pixels) for part in raw.styles]
    options = _options(params, raw.mask is not None, raw.init is not None, devices)
    for name in ("mask", "init"):
        data = getattr(raw, name)
        if data is not None:
            options[name] = decode_image(data, name, max_pixels)
    options["style"] = styles[0] if len(styles) == 1 else styles
    try:
        request = StylizeRequest.from_params({**options, "device": devices[0]})
        runner = iter_run(request, content)
    except StyleTransferError as error:
        raise _invalid(str(error)) from None
    except (TypeError, ValueError) as error:  # a value of a JSON type nothing expects
        raise _invalid(f"Invalid parameters: {error}") from None
    summary = {
        "method": request.method,
        "params": request.params(),
        "styles": list(request.style_names),
    }
    return Inputs(request, content, runner), summary


def parse_params(text: str | None) -> dict:
    """The ``params`` field: a JSON object (empty when absent)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"'params' is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ApiError(
            400,
            "invalid_json",
            'params must be a JSON object of stylize keyword arguments, e.g. {"method": "fast"}.',
        )
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number in JSON")


def _options(params: dict, has_mask: bool, has_init: bool, devices: list[str]) -> dict:
    """The request's options: params without what the form or the server decides.

    Only transport rules live here; every value is checked by the request.
    """
    options = dict(params)
    for name in FORM_FIELDS:
        if name in options:
            raise _invalid(f"Give '{name}' as a form field, not inside params.")
    for name, uploaded in (("mask", has_mask), ("init", has_init)):
        if uploaded and options.get(name) not in (None, "content"):
            raise _invalid(f"Give either a '{name}' file or {name} in params, not both.")
    device = options.pop("device", "auto")
    if device not in ("auto", None, *devices):
        raise _invalid(
            f"This server runs jobs on {', '.join(devices)}; device {device!r} is not one of them "
            "(leave device out, or 'auto')."
        )
    return options


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_parameters", message)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise ApiError(422, "invalid_request", f"'{name}' must be a text field, not a file.")
    return value


async def _file(form: FormData, name: str) -> bytes | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, UploadFile):
        if name == "mask" and value == "auto":
            raise _invalid('For the subject mask, send params {"mask": "auto"}.')
        raise ApiError(422, "invalid_request", f"'{name}' must be an uploaded image file.")
    return await value.read()


def _style(part, max_pixels: int):
    """One style part as the request takes it: an array (upload) or a checked name."""
    if isinstance(part, bytes):
        return decode_image(part, "style", max_pixels)
    return style_by_name(part)


def style_by_name(text: str) -> str:
    """Check a style given by name and return what the engine gets.

    Only names: a bundled image, a preset spec (parsed by the engine), or a
    learned style. Anything else is refused here, so that no text from a
    request is ever looked up as a file.
    """
    from ..samples import SAMPLES, style_names

    name = text.strip()
    key = name.lower()
    if key in SAMPLES:
        return key
    if key.startswith(PRESET_PREFIX):
        return name
    if key.startswith(LEARNED_PREFIX):
        return _learned(name[len(LEARNED_PREFIX) :])
    raise ApiError(
        422,
        "unknown_style",
        f"Unknown style {name!r}: name a bundled painting ({', '.join(style_names())}), "
        "a preset ('preset:N', N from 0 to 25, with method 'fast') or a learned style "
        "('learned:NAME'), or upload a painting.",
    )


def _learned(name: str) -> str:
    from ..fast.learned import check_name, learned_names

    try:
        check_name(name)  # no path characters: the name can only mean a file in the styles folder
    except StyleTransferError as error:
        raise ApiError(422, "unknown_style", str(error)) from None
    if name not in learned_names():
        raise ApiError(
            422, "unknown_style", f"This server has no learned style {name!r} (see /v1/styles)."
        )
    return f"{LEARNED_PREFIX}{name}"

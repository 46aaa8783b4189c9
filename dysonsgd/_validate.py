"""Validation of scalar arguments of the public API: one message style everywhere."""

from __future__ import annotations

import math

import numpy as np


def positive_float(name: str, value) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a positive finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def integer(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int, or ``ValueError`` unless it is an integer ``>= minimum``.

    Booleans and floats (even 2.0) are refused: a count is given as an integer.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


#: Largest count (epochs, seeds, save points) the engines take: counts reach the numba
#: kernels as int64 and are multiplied there (steps = epochs x n_batches), and numpy turns
#: a larger Python int into an object array. The command line uses the same bound.
MAX_COUNT = 2**31 - 1


def positive_int(name: str, value, maximum: int | None = None) -> int:
    """``value`` as an int, or ``ValueError`` unless it is a positive integer.

    With ``maximum``, also unless ``value <= maximum``; the message then names the range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return int(value)

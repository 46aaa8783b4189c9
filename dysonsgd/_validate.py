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


def positive_int(name: str, value) -> int:
    """``value`` as an int, or ``ValueError`` unless it is a positive integer."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)

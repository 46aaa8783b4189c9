"""Input validation shared by the modules of :mod:`dysonsgd.spectra` (private)."""

from __future__ import annotations

import math

import numpy as np


def _as_float_array(x, name: str) -> np.ndarray:
    if np.iscomplexobj(x):
        raise ValueError(f"{name} must be real; got complex values (take .real or abs first)")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be an array of real numbers, got {type(x).__name__}"
        ) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf); "
            "remove diverged runs or failed diagonalisations first"
        )
    return arr


def _as_levels(levels, *, min_levels: int, what: str, name: str = "levels") -> np.ndarray:
    arr = _as_float_array(levels, name)
    if arr.ndim < 1:
        raise ValueError(
            f"{name} must have at least one axis (levels along the last axis), got a scalar"
        )
    n = arr.shape[-1]
    if n < min_levels:
        raise ValueError(
            f"{what} needs at least {min_levels} levels along the last axis of {name}, "
            f"got {n} (shape {arr.shape})"
        )
    return np.ascontiguousarray(arr)


def _as_sample(x, name: str, min_size: int = 1) -> np.ndarray:
    arr = _as_float_array(x, name).ravel()
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} value(s), got {arr.size}")
    return arr


def _as_matrix(W) -> np.ndarray:
    arr = _as_float_array(W, "W")
    if arr.ndim < 2:
        raise ValueError(
            f"W must have shape (..., K, L) with at least two axes, got shape {arr.shape}"
        )
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(f"W must have non-empty matrix axes, got shape {arr.shape}")
    return arr


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)

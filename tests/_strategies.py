"""Hypothesis settings and strategies shared by the property tests (test_properties*.py)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fixed_settings(n: int, slow: bool = False):
    """A fixed example budget (4x for the slow variant), deterministic examples, no
    per-example deadline (numba compiles on the first example)."""
    return settings(
        max_examples=4 * n if slow else n,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def log_uniform(lo: float, hi: float):
    """Floats whose log10 is uniform on [log10 lo, log10 hi]."""
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)

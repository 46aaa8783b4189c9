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


def draw_network_config(draw, max_K: int, max_L: int, max_batches: int, max_batch_size: int,
                        n_test=8):  # fmt: skip
    """A small random NetworkConfig (K <= L, any activation), drawn in a fixed order.

    ``n_test``: a fixed test-set size, or a strategy to draw it from (drawn last).
    """
    from dysonsgd.model import ACTIVATIONS, NetworkConfig

    K = draw(st.integers(2, max_K))
    L = draw(st.integers(K, max_L))
    return NetworkConfig(
        d_in=draw(st.integers(1, 3)),
        K=K,
        L=L,
        d_out=draw(st.integers(1, 2)),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        n_batches=draw(st.integers(2, max_batches)),
        batch_size=draw(st.integers(1, max_batch_size)),
        n_test=n_test if isinstance(n_test, int) else draw(n_test),
    )

"""Numba kernels of the level statistics (private).

Inputs are C-contiguous float64 arrays; results are written into preallocated outputs.
The numpy reference each kernel must agree with lives beside its public wrapper in
:mod:`dysonsgd.spectra`.
"""

from __future__ import annotations

import math

from dysonsgd._jit import njit

#: Beyond this many kernel widths the Gaussian cdf is 0 or 1 to double precision
#: (0.5 erfc(8.5 / sqrt 2) ~ 1e-17), so levels further away count exactly 0 or 1.
KERNEL_CUTOFF = 8.5


@njit(cache=True)
def kernel_staircase(x_sorted, h, out):  # pragma: no cover - compiled
    """Gaussian-smoothed staircase at its own levels, one row per sample.

    ``out[b, j] = sum_i Phi((x[b, j] - x[b, i]) / h[b])`` for ascending rows of ``x_sorted``
    (shape (B, N)); ``h`` shape (B,). Levels further than ``KERNEL_CUTOFF * h`` contribute
    exactly 0 (above) or 1 (below), so only a window of neighbours is summed, and each pair
    i < j inside it is evaluated once: ``Phi(d)`` goes to j and ``Phi(-d) = 1 - Phi(d)`` to i.
    Cost O(N * window / 2) cdf evaluations per row instead of O(N^2).
    """
    n_rows, n = x_sorted.shape
    inv = 1.0 / math.sqrt(2.0)
    for b in range(n_rows):
        hb = h[b]
        cut = KERNEL_CUTOFF * hb
        for j in range(n):
            out[b, j] = 0.5  # the level itself, Phi(0)
        left = 0  # first index with x_i >= x_j - cut
        for j in range(n):
            xj = x_sorted[b, j]
            while x_sorted[b, left] < xj - cut:
                left += 1
            acc = float(left)  # levels far below count 1 each
            for i in range(left, j):
                upper = 0.5 * math.erfc((xj - x_sorted[b, i]) / hb * inv)  # Phi(-d)
                acc += 1.0 - upper
                out[b, i] += upper
            out[b, j] += acc

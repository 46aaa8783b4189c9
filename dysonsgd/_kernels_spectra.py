"""Numba kernels of the level statistics (private).

Inputs are C-contiguous float64 arrays; results are written into preallocated outputs.
The numpy reference each kernel must agree with lives beside its public wrapper in
:mod:`dysonsgd.spectra`.
"""

from __future__ import annotations

import math

from numba import njit

#: Beyond this many kernel widths the Gaussian cdf is 0 or 1 to double precision
#: (0.5 erfc(8.5 / sqrt 2) ~ 1e-17), so levels further away count exactly 0 or 1.
KERNEL_CUTOFF = 8.5


@njit(cache=True)
def kernel_staircase(x_sorted, h, out):  # pragma: no cover - compiled
    """Gaussian-smoothed staircase at its own levels, one row per sample.

    ``out[b, j] = sum_i Phi((x[b, j] - x[b, i]) / h[b])`` for ascending rows of ``x_sorted``
    (shape (B, N)); ``h`` shape (B,). Levels further than ``KERNEL_CUTOFF * h`` contribute
    exactly 0 (above) or 1 (below); two pointers track that window, so the cost is
    O(N * window) per row instead of O(N^2).
    """
    n_rows, n = x_sorted.shape
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for b in range(n_rows):
        hb = h[b]
        cut = KERNEL_CUTOFF * hb
        left = 0  # first index with x_i >= x_j - cut
        right = 0  # first index with x_i > x_j + cut
        for j in range(n):
            xj = x_sorted[b, j]
            while left < n and x_sorted[b, left] < xj - cut:
                left += 1
            while right < n and x_sorted[b, right] <= xj + cut:
                right += 1
            acc = float(left)
            for i in range(left, right):
                acc += 0.5 * math.erfc(-(xj - x_sorted[b, i]) / hb * inv_sqrt2)
            out[b, j] = acc

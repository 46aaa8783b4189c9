"""From a weight matrix to its levels: spectra, spacings, spacing ratios (docs/statistics.md).

* spectra: :func:`singular_values`, :func:`eigenvalues_X` (of ``X = W W^T``), :func:`bulk`;
* local statistics: :func:`spacings`, :func:`spacing_ratios`, :func:`mean_spacing_ratio`.

Every function that takes ``levels`` works along the last axis and broadcasts over any leading
(batch) axes, so a whole ensemble of spectra, shape ``(..., N)``, is processed in one call.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025).
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
V. Oganesyan, D. A. Huse, Phys. Rev. B 75, 155111 (2007).
"""

from __future__ import annotations

import numpy as np

from dysonsgd.observables import eigenvalues_of_X
from dysonsgd.spectra._checks import _as_levels, _as_matrix

__all__ = [
    "bulk",
    "eigenvalues_X",
    "mean_spacing_ratio",
    "singular_values",
    "spacing_ratios",
    "spacings",
]


def singular_values(W: np.ndarray) -> np.ndarray:
    """Singular values of a (batch of) weight matrices, in descending order.

    Parameters
    ----------
    W : array_like of float, shape (..., K, L)
        Matrices; leading axes are batch axes (e.g. seeds, save points).

    Returns
    -------
    s : ndarray of float64, shape (..., min(K, L))
        ``s[..., 0] >= s[..., 1] >= ... >= 0``.
    """
    return np.linalg.svd(_as_matrix(W), compute_uv=False)


def eigenvalues_X(W: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``X = W W^T`` in descending order, ``x_i = s_i^2``.

    Computed as squared singular values, which keeps the small eigenvalues accurate (forming
    ``W W^T`` first would square the condition number). The arithmetic is
    :func:`dysonsgd.observables.eigenvalues_of_X` (its one owner); this function adds the
    validation of ``W`` (finite, real, non-empty) and the exact zeros of ``K > L``.

    Parameters
    ----------
    W : array_like of float, shape (..., K, L)

    Returns
    -------
    x : ndarray of float64, shape (..., K)
        ``x[..., 0] >= ... >= x[..., K-1] >= 0``. When K > L the last ``K - L`` eigenvalues of
        X are exactly zero and are included.

    References
    ----------
    arXiv:2509.01349, section 2 (the eigenvalues x_i of X = W W^T).
    """
    W = _as_matrix(W)
    K, L = W.shape[-2], W.shape[-1]
    x = eigenvalues_of_X(W)
    if K > L:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (K - L,))], axis=-1)
    return x


def bulk(levels: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """The central ``fraction`` of each sorted spectrum (drops the edges symmetrically).

    Local statistics of large matrices are compared with bulk laws (Wigner, <r> = 0.5307);
    the edge levels have different (Tracy-Widom) statistics.

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
    fraction : float in (0, 1]
        Fraction of the levels kept; ``round(fraction * N)`` levels around the middle.

    Returns
    -------
    ndarray of float64, shape (..., M)
        Ascending, ``M = max(1, round(fraction * N))``.
    """
    x = np.sort(_as_levels(levels, min_levels=1, what="bulk"), axis=-1)
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction <= 1.0):
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    n = x.shape[-1]
    m = max(1, int(round(fraction * n)))
    start = (n - m) // 2
    return x[..., start : start + m]


# --------------------------------------------------------------------------------------------
# spacings and ratios
# --------------------------------------------------------------------------------------------
def spacings(levels: np.ndarray) -> np.ndarray:
    """Nearest-neighbour spacings of the sorted levels.

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
        Levels in any order along the last axis (N >= 2).

    Returns
    -------
    s : ndarray of float64, shape (..., N - 1)
        ``s_i = e_(i+1) - e_(i)`` of the ascending levels; all ``>= 0``. Compare with
        :data:`wigner_surmise` only after unfolding (:func:`unfold`), which sets the mean
        spacing to 1.
    """
    x = _as_levels(levels, min_levels=2, what="spacings")
    return np.diff(np.sort(x, axis=-1), axis=-1)


def _ratios_from_spacings(s: np.ndarray) -> np.ndarray:
    a, b = s[..., :-1], s[..., 1:]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return lo / hi  # 0/0 (a triply degenerate level) gives NaN on purpose


def spacing_ratios(levels: np.ndarray) -> np.ndarray:
    """Ratios of consecutive spacings, ``r_i = min(s_i, s_(i+1)) / max(s_i, s_(i+1))``.

    The ratio is independent of the local density of states, so it needs no unfolding.

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
        Levels in any order along the last axis; N >= 3 (a ratio needs two spacings).

    Returns
    -------
    r : ndarray of float64, shape (..., N - 2)
        Values in [0, 1]; NaN where both spacings vanish (three equal levels).

    References
    ----------
    Atas, Bogomolny, Giraud, Roux, PRL 110, 084101 (2013); docs/statistics.md, section 3.
    """
    x = _as_levels(levels, min_levels=3, what="spacing ratios")
    return _ratios_from_spacings(np.diff(np.sort(x, axis=-1), axis=-1))


def mean_spacing_ratio(levels: np.ndarray) -> np.ndarray:
    """Mean spacing ratio <r> of each spectrum.

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
        N >= 3 levels along the last axis, in any order.

    Returns
    -------
    ndarray of float64, shape (...)
        Mean over the N - 2 ratios of each spectrum, ignoring undefined (NaN) ratios; NaN if
        all are undefined. References: 0.5359 (surmise, exact for N = 3 GOE), 0.5307 (large GOE,
        bulk), 0.3863 (Poisson).  Average the result over spectra for an ensemble value; its
        error is the spread of the per-spectrum values over sqrt(number of spectra), since ratios
        within one spectrum are correlated.
    """
    r = spacing_ratios(levels)
    ok = np.isfinite(r)
    n = ok.sum(axis=-1)
    total = np.where(ok, r, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / n

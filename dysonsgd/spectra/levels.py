"""Level statistics of weight-matrix spectra (docs/statistics.md).

Everything a spectrum needs on its way from a weight matrix to a comparison with random-matrix
theory:

* spectra: :func:`singular_values`, :func:`eigenvalues_X` (of ``X = W W^T``), :func:`bulk`;
* unfolding to unit mean spacing: :func:`unfold` (per sample), :func:`unfold_ensemble`;
* local statistics: :func:`spacings`, :func:`spacing_ratios`, :func:`mean_spacing_ratio`;
* laws, as :class:`scipy.stats.rv_continuous` objects (pdf, cdf, ppf, rvs):
  :data:`wigner_surmise`, :data:`poisson_spacing`, :data:`goe_ratio`, :data:`poisson_ratio`,
  :func:`marchenko_pastur`, :func:`semicircle`, :func:`goe_pair_density`, :func:`brody`;
* fits: :func:`fit_brody`, :func:`fit_marchenko_pastur`;
* distances: :func:`ks_one_sample`, :func:`ks_two_sample`, :func:`wasserstein`.

Every function that takes ``levels`` works along the last axis and broadcasts over any leading
(batch) axes, so a whole ensemble of spectra, shape ``(..., N)``, is processed in one call.
The formulas, their references and the pitfalls (too few levels, unfolding artefacts) are
collected in ``docs/statistics.md``.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025).
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, "Distribution of the ratio of consecutive level
spacings in random matrix ensembles", Phys. Rev. Lett. 110, 084101 (2013).
T. Guhr, A. Mueller-Groeling, H. A. Weidenmueller, "Random-matrix theories in quantum physics:
common concepts", Phys. Rep. 299, 189 (1998).
V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967).
T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
I. M. Johnstone, "On the distribution of the largest eigenvalue in principal components
analysis", Ann. Statist. 29, 295 (2001).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from dysonsgd import _kernels_spectra

__all__ = [
    "GOE_RATIO_MEAN_LARGE_N",
    "GOE_RATIO_MEAN_SURMISE",
    "POISSON_RATIO_MEAN",
    "BrodyFit",
    "KSResult",
    "MarchenkoPasturFit",
    "WassersteinResult",
    "brody",
    "bulk",
    "eigenvalues_X",
    "fit_brody",
    "fit_marchenko_pastur",
    "goe_pair_density",
    "goe_ratio",
    "ks_one_sample",
    "ks_two_sample",
    "marchenko_pastur",
    "mean_spacing_ratio",
    "poisson_ratio",
    "poisson_spacing",
    "semicircle",
    "singular_values",
    "spacing_ratios",
    "spacings",
    "unfold",
    "unfold_ensemble",
    "wasserstein",
    "wigner_surmise",
]

#: Mean spacing ratio <r> of the Atas et al. surmise (exact for 3 x 3 GOE matrices).
GOE_RATIO_MEAN_SURMISE: float = 4.0 - 2.0 * math.sqrt(3.0)
#: Mean spacing ratio <r> of large GOE matrices, 0.5307(1) (Atas et al. 2013, table I).
GOE_RATIO_MEAN_LARGE_N: float = 0.5307
#: Mean spacing ratio <r> of uncorrelated (Poisson) levels, 2 ln 2 - 1.
POISSON_RATIO_MEAN: float = 2.0 * math.log(2.0) - 1.0

_UNFOLD_METHODS = ("polynomial", "kernel")
# Gram matrices of the Legendre basis with a smaller eigenvalue ratio are solved by QR.
_GRAM_RCOND = 1e-8
_KERNEL_GRID = 4096


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# spectra
# --------------------------------------------------------------------------------------------
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
    ``W W^T`` first would square the condition number).

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
    x = singular_values(W) ** 2
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


# --------------------------------------------------------------------------------------------
# unfolding
# --------------------------------------------------------------------------------------------
def _check_method(method: str) -> None:
    if method not in _UNFOLD_METHODS:
        raise ValueError(f"method must be one of {', '.join(_UNFOLD_METHODS)}, got {method!r}")


def _check_degree(degree, n_levels: int) -> int:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    if n_levels < degree + 2:
        raise ValueError(
            f"a degree-{degree} polynomial unfolding needs at least {degree + 2} levels per "
            f"spectrum, got {n_levels}; lower degree or use spacing ratios (no unfolding)"
        )
    return int(degree)


def _check_bandwidth(bandwidth) -> float | None:
    if bandwidth is None:
        return None
    if not (
        isinstance(bandwidth, (int, float, np.floating))
        and not isinstance(bandwidth, bool)
        and math.isfinite(bandwidth)
        and bandwidth > 0
    ):
        raise ValueError(
            f"bandwidth must be a positive number (in units of the mean level spacing) or None "
            f"(Silverman's rule), got {bandwidth!r}"
        )
    return float(bandwidth)


def _scale_to_unit(x: np.ndarray, lo, hi) -> np.ndarray:
    return (2.0 * x - (lo + hi)) / (hi - lo)


def _silverman(x_sorted: np.ndarray) -> np.ndarray:
    """Silverman's rule of thumb h = 0.9 min(sd, IQR/1.349) n^(-1/5) along the last axis."""
    n = x_sorted.shape[-1]
    sd = x_sorted.std(axis=-1)
    q75, q25 = np.percentile(x_sorted, [75.0, 25.0], axis=-1)
    spread = np.minimum(sd, (q75 - q25) / 1.349)
    spread = np.where(spread > 0, spread, sd)
    return 0.9 * spread * n ** (-0.2)


def _warn_nonmonotone(n_bad: int, n_total: int) -> None:
    if n_bad:
        warnings.warn(
            f"the fitted cumulative spectral function decreases in {n_bad} of {n_total} "
            "spectra, so their unfolded levels change order (negative unfolded spacings); "
            "lower the polynomial degree or use method='kernel'",
            RuntimeWarning,
            stacklevel=3,
        )


def _poly_unfold_sorted(x: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares Legendre fit of the staircase i - 1/2 for each row of sorted x (B, N)."""
    _, n = x.shape
    lo, hi = x[:, :1], x[:, -1:]
    t = _scale_to_unit(x, lo, hi)
    V = np.polynomial.legendre.legvander(t, degree)  # (B, N, degree + 1)
    y = np.arange(1, n + 1, dtype=np.float64) - 0.5
    # Normal equations: the Legendre basis on [-1, 1] keeps the Gram matrix well conditioned
    # (condition ~ 30 for a semicircle at degree 5), so this is as accurate as QR and 5x
    # faster. Rows whose Gram matrix is ill conditioned (clustered or heavy-tailed levels)
    # are redone with QR, which does not square the condition number.
    G = np.matmul(np.swapaxes(V, 1, 2), V)
    rhs = y @ V
    ev = np.linalg.eigvalsh(G)
    bad = ev[:, 0] <= _GRAM_RCOND * ev[:, -1]
    coef = np.empty_like(rhs)
    ok = ~bad
    if ok.any():
        coef[ok] = np.linalg.solve(G[ok], rhs[ok][..., None])[..., 0]
    if bad.any():
        Q, R = np.linalg.qr(V[bad])
        coef[bad] = np.linalg.solve(R, np.einsum("bnk,n->bk", Q, y)[..., None])[..., 0]
    return np.matmul(V, coef[..., None])[..., 0]


def _kernel_unfold_sorted(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """N(x_j) = sum_i Phi((x_j - x_i) / h) for each row of sorted x (B, N); h shape (B,)."""
    out = np.empty_like(x)
    _kernels_spectra.kernel_staircase(
        np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(h, dtype=np.float64), out
    )
    return out


def _kernel_unfold_sorted_numpy(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Numpy reference of :func:`_kernel_unfold_sorted` (full O(N^2) sum, no window)."""
    B, n = x.shape
    out = np.empty_like(x)
    chunk = max(1, int(2**22 // (n * n)))  # bound the (chunk, n, n) temporary to ~32 MB
    for start in range(0, B, chunk):
        sl = slice(start, start + chunk)
        xs = x[sl]
        z = (xs[:, :, None] - xs[:, None, :]) / h[sl, None, None]
        out[sl] = special.ndtr(z).sum(axis=-1)
    return out


def unfold(
    levels: np.ndarray,
    method: str = "polynomial",
    *,
    degree: int = 5,
    bandwidth: float | None = 6.0,
) -> np.ndarray:
    """Unfold each spectrum separately through a smooth fit of its cumulative spectral function.

    The staircase ``N(e) = #{levels <= e}`` of each sample is replaced by a smooth function
    ``Nbar``, and each level is mapped to ``xi = Nbar(e)``; the unfolded levels have unit mean
    spacing in every part of the spectrum (up to the fit's accuracy).

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
        Levels in any order along the last axis; each sample along the leading axes is
        unfolded with its own fit.
    method : {"polynomial", "kernel"}
        ``"polynomial"``: least-squares fit of a degree-``degree`` polynomial (Legendre basis on
        the sample's range) to the staircase values ``i - 1/2`` at the ascending levels.
        ``"kernel"``: Gaussian-kernel smoothed staircase,
        ``Nbar(e) = sum_i Phi((e - e_i) / h)``, which passes through ``i - 1/2`` in the bulk.
    degree : int
        Polynomial degree; needs N >= degree + 2. Too high a degree follows the fluctuations of
        the staircase and makes the spectrum look more rigid than it is.
    bandwidth : float or None
        Kernel width h in units of the sample's mean level spacing
        ``(e_max - e_min) / (N - 1)``; None uses Silverman's rule of thumb
        ``h = 0.9 min(sd, IQR/1.349) N^(-1/5)``. The smoothed density is biased by
        ``h^2 rho'' / 2`` (curvature) while a narrow kernel follows the staircase's own
        fluctuations; the default of 6 spacings keeps the bias below 0.5 % in the bulk of a
        200-level semicircle (Silverman's rule: 1.5 %).

    Returns
    -------
    xi : ndarray of float64, shape (..., N)
        Unfolded levels, in the same positions as the input (the map is increasing, so order
        is kept). Use :func:`spacings` on the result.

    Warns
    -----
    RuntimeWarning
        If a polynomial fit is not increasing over a sample's levels (order changes).

    Notes
    -----
    Near the edges of a spectrum whose density vanishes like a square root (semicircle,
    Marchenko-Pastur) a low-degree polynomial cannot follow the staircase and the kernel leaks
    half its weight outside: restrict comparisons to the bulk (:func:`bulk`), or use
    :func:`spacing_ratios`, which need no unfolding.

    References
    ----------
    Guhr, Mueller-Groeling, Weidenmueller, Phys. Rep. 299, 189 (1998), section 2.2.
    """
    _check_method(method)
    x = _as_levels(levels, min_levels=2, what="unfolding")
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    order = np.argsort(flat, axis=-1, kind="stable")
    xs = np.take_along_axis(flat, order, axis=-1)
    width = xs[:, -1] - xs[:, 0]
    if np.any(width <= 0):
        raise ValueError(
            f"{int(np.sum(width <= 0))} spectrum/spectra have all levels equal; "
            "they cannot be unfolded"
        )
    if method == "polynomial":
        degree = _check_degree(degree, n)
        fitted = _poly_unfold_sorted(xs, degree)
        _warn_nonmonotone(int(np.any(np.diff(fitted, axis=-1) < 0, axis=-1).sum()), len(xs))
    else:
        bw = _check_bandwidth(bandwidth)
        h = _silverman(xs) if bw is None else bw * width / (n - 1)
        if np.any(h <= 0):
            h = np.where(h > 0, h, width / (n - 1))
        fitted = _kernel_unfold_sorted(xs, h)
    out = np.empty_like(flat)
    np.put_along_axis(out, order, fitted, axis=-1)
    return out.reshape(x.shape)


def unfold_ensemble(
    levels: np.ndarray,
    method: str = "polynomial",
    *,
    degree: int = 5,
    bandwidth: float | None = 2.0,
) -> np.ndarray:
    """Unfold an ensemble of spectra with one smooth fit of the ensemble-averaged staircase.

    ``Nbar(e) = (1/M) sum_m #{levels of sample m <= e}`` is fitted once over all M samples
    and every level is mapped to ``xi = Nbar(e)``. This keeps the sample-to-sample
    fluctuations of the spectra (which per-sample unfolding would absorb) and is the standard
    unfolding for ensembles of equivalent matrices (e.g. seeds).

    Parameters
    ----------
    levels : array_like of float, shape (..., N)
        All leading axes together index the M samples of the ensemble; N levels each.
    method : {"polynomial", "kernel"}
        ``"polynomial"``: Legendre least-squares fit of degree ``degree`` to the pooled
        staircase ``(k - 1/2) / M`` at the ascending pooled levels.
        ``"kernel"``: ``Nbar(e) = (1/M) sum_k Phi((e - e_k) / h)`` over all pooled levels,
        evaluated on a grid of 4096 points with linear binning and interpolated.
    degree : int
        Polynomial degree. The pooled staircase is smooth for large M, but near a square-root
        edge (semicircle, Marchenko-Pastur) degrees above about 5 already overshoot and make
        the fit decrease there (a warning says so); the kernel method is increasing by
        construction.
    bandwidth : float or None
        Kernel width in units of the ensemble's mean level spacing
        ``(e_max - e_min) / (N - 1)`` (pooled range, N levels per sample); None uses Silverman's
        rule on the pooled levels. The pooled staircase is already averaged over M samples, so
        a narrower kernel (default 2 spacings) than for single spectra is safe.

    Returns
    -------
    xi : ndarray of float64, shape (..., N)
        Unfolded levels in the input positions. Averaged over the ensemble, the unfolded
        spacing is 1.

    References
    ----------
    Guhr, Mueller-Groeling, Weidenmueller, Phys. Rep. 299, 189 (1998), section 2.2.
    """
    _check_method(method)
    x = _as_levels(levels, min_levels=2, what="ensemble unfolding")
    n = x.shape[-1]
    m = x.size // n
    pooled = np.sort(x, axis=None)
    lo, hi = pooled[0], pooled[-1]
    if hi <= lo:
        raise ValueError("all levels of the ensemble are equal; they cannot be unfolded")
    if method == "polynomial":
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
            raise ValueError(f"degree must be a positive integer, got {degree!r}")
        if pooled.size < degree + 2:
            raise ValueError(
                f"a degree-{degree} fit needs at least {degree + 2} pooled levels, "
                f"got {pooled.size}"
            )
        y = (np.arange(1, pooled.size + 1, dtype=np.float64) - 0.5) / m
        V = np.polynomial.legendre.legvander(_scale_to_unit(pooled, lo, hi), int(degree))
        coef, *_ = np.linalg.lstsq(V, y, rcond=None)
        fitted = np.polynomial.legendre.legval(_scale_to_unit(pooled, lo, hi), coef)
        if np.any(np.diff(fitted) < 0):
            warnings.warn(
                "the fitted ensemble cumulative spectral function is not increasing; unfolded "
                "levels change order. Lower the degree or use method='kernel'",
                RuntimeWarning,
                stacklevel=2,
            )
        return np.polynomial.legendre.legval(_scale_to_unit(x, lo, hi), coef)
    bw = _check_bandwidth(bandwidth)
    h = float(_silverman(pooled)) if bw is None else bw * (hi - lo) / (n - 1)
    if h <= 0:
        h = (hi - lo) / (n - 1)
    # Linear binning onto a fine grid, then the exact Gaussian-cdf sum over the bins.
    grid = np.linspace(lo - 8.5 * h, hi + 8.5 * h, _KERNEL_GRID)
    step = grid[1] - grid[0]
    pos = (pooled - grid[0]) / step
    left = np.minimum(np.floor(pos).astype(np.int64), _KERNEL_GRID - 2)
    frac = pos - left
    weights = np.bincount(left, 1.0 - frac, minlength=_KERNEL_GRID)
    weights += np.bincount(left + 1, frac, minlength=_KERNEL_GRID)
    nbar = np.empty(_KERNEL_GRID)
    for i0 in range(0, _KERNEL_GRID, 512):
        z = (grid[i0 : i0 + 512, None] - grid[None, :]) / h
        nbar[i0 : i0 + 512] = special.ndtr(z) @ weights
    return np.interp(x, grid, nbar / m)


# --------------------------------------------------------------------------------------------
# laws
# --------------------------------------------------------------------------------------------
def _bisect_ppf(cdf, p, lo, hi, *args):
    """Vectorised inverse of an increasing cdf by bisection on [lo, hi] (broadcast arrays).

    scipy's generic ppf runs one scalar root search per value (about 1 ms each), which makes
    ``rvs`` of the laws without an explicit inverse unusably slow. 100 halvings shrink a bracket
    of width 80 to 1e-28, below double precision except in the extreme tail at a divergent
    edge (Marchenko-Pastur with ratio 1 at x = 0, p < 1e-14).
    """
    p = np.asarray(p, dtype=np.float64)
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=np.float64) + 0 * p, hi)
    lo, hi = lo.copy(), np.array(hi, dtype=np.float64, copy=True)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        below = cdf(mid, *args) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


class _WignerSurmise(stats.rv_continuous):
    """Wigner surmise, beta = 1: P(s) = (pi s / 2) exp(-pi s^2 / 4), s >= 0, mean 1."""

    def _pdf(self, s):
        return 0.5 * np.pi * s * np.exp(-0.25 * np.pi * s * s)

    def _logpdf(self, s):
        return np.log(0.5 * np.pi * s) - 0.25 * np.pi * s * s

    def _cdf(self, s):
        return -np.expm1(-0.25 * np.pi * s * s)

    def _sf(self, s):
        return np.exp(-0.25 * np.pi * s * s)

    def _ppf(self, p):
        return np.sqrt(-4.0 / np.pi * np.log1p(-p))

    def _stats(self):
        return 1.0, 4.0 / np.pi - 1.0, None, None


class _PoissonSpacing(stats.rv_continuous):
    """Spacings of uncorrelated levels: P(s) = exp(-s), s >= 0, mean 1."""

    def _pdf(self, s):
        return np.exp(-s)

    def _logpdf(self, s):
        return -s

    def _cdf(self, s):
        return -np.expm1(-s)

    def _sf(self, s):
        return np.exp(-s)

    def _ppf(self, p):
        return -np.log1p(-p)

    def _stats(self):
        return 1.0, 1.0, 2.0, 6.0


class _GOERatio(stats.rv_continuous):
    """Atas et al. surmise for r in [0, 1]: P(r) = (27/4) (r + r^2) / (1 + r + r^2)^(5/2).

    This is the density (27/8)(r + r^2)/(1 + r + r^2)^(5/2) of the unrestricted ratio on
    [0, inf) folded onto [0, 1] by r -> min(r, 1/r) (the density is invariant under
    r -> 1/r with Jacobian 1/r^2, so folding doubles it). Its cdf is
    F(r) = 1 + (r - 1)(r + 2)(2 r + 1) / (2 (1 + r + r^2)^(3/2)); mean 4 - 2 sqrt(3).
    """

    def _pdf(self, r):
        return 6.75 * (r + r * r) / (1.0 + r + r * r) ** 2.5

    def _cdf(self, r):
        # 1 + (-1) cancels at r -> 0 (F ~ 27 r^2 / 8): clip the rounding, which came out
        # -1.1e-16 at r = 1e-14 and gave a KS statistic of 1 + 2e-16
        f = 1.0 + (r - 1.0) * (r + 2.0) * (2.0 * r + 1.0) / (2.0 * (1.0 + r + r * r) ** 1.5)
        return np.clip(f, 0.0, 1.0)

    def _ppf(self, p):
        return _bisect_ppf(self._cdf, p, 0.0, 1.0)

    def _stats(self):
        return GOE_RATIO_MEAN_SURMISE, None, None, None


class _PoissonRatio(stats.rv_continuous):
    """Spacing ratio of uncorrelated levels on [0, 1]: P(r) = 2 / (1 + r)^2, mean 2 ln 2 - 1."""

    def _pdf(self, r):
        return 2.0 / (1.0 + r) ** 2

    def _cdf(self, r):
        return 2.0 * r / (1.0 + r)

    def _ppf(self, p):
        return p / (2.0 - p)

    def _stats(self):
        return POISSON_RATIO_MEAN, None, None, None


class _MarchenkoPastur(stats.rv_continuous):
    """Marchenko-Pastur law with unit mean and shape ``ratio`` q in (0, 1].

    P(x) = sqrt((x+ - x)(x - x-)) / (2 pi q x) on [x-, x+], x+- = (1 +- sqrt q)^2.
    """

    def _argcheck(self, ratio):
        return (ratio > 0) & (ratio <= 1)

    def _get_support(self, ratio):
        rq = np.sqrt(ratio)
        return (1.0 - rq) ** 2, (1.0 + rq) ** 2

    def _pdf(self, x, ratio):
        rq = np.sqrt(ratio)
        lo, hi = (1.0 - rq) ** 2, (1.0 + rq) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.sqrt(np.clip((hi - x) * (x - lo), 0.0, None)) / (2.0 * np.pi * ratio * x)
        return np.where((x > lo) & (x < hi), p, 0.0)

    def _cdf(self, x, ratio):
        # Substitute x = 1 + q - 2 sqrt(q) cos(theta), theta in [0, pi]; the integral of
        # (2/pi) sin^2 / (1 + q - 2 sqrt q cos) is elementary (see docs/statistics.md):
        #   I = sin(theta) / (2 sqrt q) + (1 + q) theta / (4 q) - (1 - q) at / (2 q),
        # at = atan(k tan(theta/2)), k = (1 + sqrt q)/(1 - sqrt q), F = 2 I / pi.
        # sin^2(theta/2) = (x - x-)/(4 sqrt q) and cos^2(theta/2) = (x+ - x)/(4 sqrt q), so the
        # half-angle comes from atan2, accurate at both edges (arccos is not).
        rq = np.sqrt(ratio)
        lo, hi = (1.0 - rq) ** 2, (1.0 + rq) ** 2
        a = np.sqrt(np.clip(x - lo, 0.0, hi - lo))
        b = np.sqrt(np.clip(hi - x, 0.0, hi - lo))
        half = np.arctan2(a, b)
        # For small q the three terms of I are O(1/q) and cancel to O(1): an absolute error of
        # eps/q (2e-10 at q = 1e-6, a non-monotone cdf at q = 1e-12). With at = theta/2 + d,
        # tan d = z = 2 a b / (4 + a^2 - b^2) = O(sqrt q), the same I reads
        #   I = theta/2 + [ (ab/2)(q + (a^2 - b^2)/4) / (1 + (a^2 - b^2)/4)
        #                   + (1 - q)(z - atan z) ] / (2 q),
        # whose bracket is O(q) term by term: error ~eps/sqrt(q), the conditioning of x itself.
        d = a * a - b * b  # = 2 x - 2 (1 + q) = -4 sqrt(q) cos(theta)
        # the small-q form for q < 1/4 (z <= 1/2 there); the closed form for q >= 1/4, where
        # its terms are O(1) (and z -> inf as q -> 1: the unused branch may divide by 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = 2.0 * a * b / (4.0 + d)
            small = (
                0.5 * a * b * (ratio + 0.25 * d) / (1.0 + 0.25 * d)
                + (1.0 - ratio) * (z - np.arctan(z))
            ) / (2.0 * ratio)
        sin_th = 2.0 * a * b / (4.0 * rq)
        at = np.arctan2((1.0 + rq) * a, (1.0 - rq) * b)
        large = (
            sin_th / (2.0 * rq)
            + (1.0 + ratio) * (2.0 * half) / (4.0 * ratio)
            - (1.0 - ratio) / (2.0 * ratio) * at
        )
        val = np.where(ratio < 0.25, half + small, large)
        return np.clip(2.0 / np.pi * val, 0.0, 1.0)

    def _ppf(self, p, ratio):
        rq = np.sqrt(ratio)
        return _bisect_ppf(self._cdf, p, (1.0 - rq) ** 2, (1.0 + rq) ** 2, ratio)

    def _stats(self, ratio):
        return np.ones_like(ratio), ratio, None, None


class _GOEPair(stats.rv_continuous):
    """One-point density of a 2 x 2 GOE pair (diagonal variance 1, off-diagonal 1/2), centre 0.

    f(y) = e^{-y^2/2} [2 e^{-y^2/2} + sqrt(2 pi) y erf(y / sqrt 2)] / (4 sqrt pi);
    F(y) = (1 + erf y) / 2 - (sqrt 2 / 4) e^{-y^2/2} erf(y / sqrt 2).
    """

    def _pdf(self, y):
        g = np.exp(-0.5 * y * y)
        return (
            g
            * (2.0 * g + math.sqrt(2.0 * math.pi) * y * special.erf(y / math.sqrt(2.0)))
            / (4.0 * math.sqrt(math.pi))
        )

    def _cdf(self, y):
        # (1 + erf y)/2 as erfc(-y)/2: the sum cancelled in the lower tail (relative error
        # 9e-12 at y = -5)
        pair = 0.25 * math.sqrt(2.0) * np.exp(-0.5 * y * y) * special.erf(y / math.sqrt(2.0))
        return 0.5 * special.erfc(-y) - pair

    def _sf(self, y):
        # the density is even: sf(y) = cdf(-y), accurate in the upper tail (1 - cdf lost
        # everything there: relative error 3e-6 at y = 7)
        return self._cdf(-y)

    def _ppf(self, p):
        # the tails fall like exp(-y^2 / 2): +-40 brackets every double-precision p
        return _bisect_ppf(self._cdf, p, -40.0, 40.0)

    def _stats(self):
        # <y^2> = (<lambda_1^2> + <lambda_2^2>)/2 = E[tr H^2]/2 = (1 + 1 + 2 * 1/2)/2 = 3/2.
        return 0.0, 1.5, 0.0, None


# Above this Brody shape k = q + 1, the variance comes from the log-gamma series (terms
# (2/k)^n: 38 terms reach 1e-26 relative at k = 10).
_BRODY_SERIES_K = 10.0


class _Brody(stats.rv_continuous):
    """Brody law with unit mean: P(s) = (q + 1) b s^q exp(-b s^(q+1)).

    b = Gamma((q + 2)/(q + 1))^(q + 1) sets the mean to 1.
    """

    def _argcheck(self, q):
        return q > -1

    @staticmethod
    def _b(q):
        return np.exp((q + 1.0) * special.gammaln((q + 2.0) / (q + 1.0)))

    def _logpdf(self, s, q):
        b = self._b(q)
        with np.errstate(divide="ignore"):
            return np.log((q + 1.0) * b) + special.xlogy(q, s) - b * s ** (q + 1.0)

    def _pdf(self, s, q):
        return np.exp(self._logpdf(s, q))

    def _cdf(self, s, q):
        return -np.expm1(-self._b(q) * s ** (q + 1.0))

    def _sf(self, s, q):
        return np.exp(-self._b(q) * s ** (q + 1.0))

    def _ppf(self, p, q):
        return (-np.log1p(-p) / self._b(q)) ** (1.0 / (q + 1.0))

    def _stats(self, q):
        # A Weibull law with shape k = q + 1 rescaled to unit mean: mean 1 exactly,
        # Var = Gamma(1 + 2/k) / Gamma(1 + 1/k)^2 - 1 (inf once it overflows, k < ~0.0016).
        # scipy's generic quadrature got the mean wrong by 1e-11 at q = 0.5 and by 78 orders
        # of magnitude at q = -0.99 (8e-78), where the law's tail is extremely heavy.
        k = np.asarray(q + 1.0, dtype=np.float64)
        with np.errstate(over="ignore"):
            d = special.gammaln(1.0 + 2.0 / k) - 2.0 * special.gammaln(1.0 + 1.0 / k)
        # For large k the two log-gammas cancel to O(1/k^2) and 1 + 1/k is rounded: the
        # variance lost all accuracy by q ~ 1e6. Their series, ln Gamma(1 + e) = -gamma e +
        # sum_{n >= 2} (-1)^n zeta(n) e^n / n, gives d free of the cancelling linear term.
        e = 1.0 / np.maximum(k, _BRODY_SERIES_K)[..., None]
        n = np.arange(2, 40, dtype=np.float64)
        series = np.sum((-1.0) ** n * special.zeta(n) * (2.0**n - 2.0) / n * e**n, axis=-1)
        d = np.where(k >= _BRODY_SERIES_K, series, d)
        with np.errstate(over="ignore"):
            var = np.expm1(d)
        return np.ones_like(q), var, None, None


#: Wigner surmise for beta = 1 spacings (mean 1), an ``rv_continuous`` instance.
wigner_surmise = _WignerSurmise(a=0.0, name="wigner_surmise")
#: Exponential spacing law of uncorrelated (Poisson) levels (mean 1).
poisson_spacing = _PoissonSpacing(a=0.0, name="poisson_spacing")
#: Atas et al. GOE surmise for the spacing ratio on [0, 1] (mean 4 - 2 sqrt 3 = 0.5359).
goe_ratio = _GOERatio(a=0.0, b=1.0, name="goe_ratio")
#: Spacing-ratio law of Poisson levels on [0, 1] (mean 2 ln 2 - 1 = 0.3863).
poisson_ratio = _PoissonRatio(a=0.0, b=1.0, name="poisson_ratio")

_marchenko_pastur = _MarchenkoPastur(a=0.0, name="marchenko_pastur", shapes="ratio")
_goe_pair = _GOEPair(name="goe_pair_density")
_brody = _Brody(a=0.0, name="brody", shapes="q")


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


def marchenko_pastur(ratio: float, scale: float = 1.0):
    """Marchenko-Pastur law of the eigenvalues of ``X = W W^T``.

    Parametrisation: W is K x L with independent entries of mean 0 and variance
    ``scale / L``, ``ratio = q = K / L <= 1``. Then the eigenvalue density of X tends to

        P(x) = sqrt((x+ - x)(x - x-)) / (2 pi q scale x),   x+- = scale (1 +- sqrt q)^2,

    with mean ``scale`` (the mean eigenvalue, i.e. ``L`` times the entry variance) and variance
    ``q scale^2``. (For the paper's student, entries of variance sigma_W^2 / L:
    ``scale = sigma_W^2``.) For K > L, the L nonzero eigenvalues follow
    ``marchenko_pastur(L / K, scale * K / L)``; see :func:`fit_marchenko_pastur`.

    Parameters
    ----------
    ratio : float in (0, 1]
        q = K / L.
    scale : float > 0
        Mean eigenvalue; the scipy ``scale`` of the unit-mean law.

    Returns
    -------
    scipy.stats frozen distribution
        With ``pdf``, ``cdf`` (closed form), ``ppf``, ``rvs``, ``support()``, ``mean()``.

    References
    ----------
    Marchenko and Pastur (1967); arXiv:2509.01349, section 5 (the initial spectrum).
    """
    q = _positive(ratio, "ratio")
    if q > 1:
        raise ValueError(
            f"ratio must be K/L <= 1, got {ratio!r}; for K > L use the nonzero eigenvalues "
            "with ratio L/K and scale * K/L"
        )
    return _marchenko_pastur(q, scale=_positive(scale, "scale"))


class _Semicircle(type(stats.semicircular)):
    """scipy's semicircular law with its cdf kept in [0, 1].

    ``1/2 + (y sqrt(1 - y^2) + arcsin y) / pi`` cancels near y = -1 and came out -1.1e-16
    (found by tests/test_properties_api.py); the value is exact to ~60 eps either way, so
    clipping only restores the range of a probability.
    """

    def _cdf(self, x):
        return np.clip(super()._cdf(x), 0.0, 1.0)

    def _sf(self, x):
        return np.clip(super()._cdf(-x), 0.0, 1.0)


_semicircle = _Semicircle(a=-1.0, b=1.0, name="semicircle")


def semicircle(center: float = 0.0, radius: float = 1.0):
    """Wigner semicircle ``P(x) = 2 sqrt(R^2 - (x - c)^2) / (pi R^2)`` on [c - R, c + R].

    An N x N GOE matrix with off-diagonal variance v (diagonal 2 v) has, for large N, a
    semicircle of radius ``R = 2 sqrt(N v)``; the harmonic Coulomb gas (docs/theory.md, section 2,
    case 2) has ``R = sqrt(2 K T A / kappa)``.

    Parameters
    ----------
    center : float
    radius : float > 0

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.semicircular(loc=center, scale=radius)``, with its cdf clipped to [0, 1].
    """
    return _semicircle(loc=_finite(center, "center"), scale=_positive(radius, "radius"))


def goe_pair_density(x0: float = 0.0, sig: float = 1.0):
    """One-point density of the two eigenvalues of a 2 x 2 GOE pair centred at ``x0``.

    The matrix ``x0 I + H`` with diagonal variance ``sig^2`` and off-diagonal ``sig^2 / 2``:

        rho(x) = e^{-u^2} [2 e^{-u^2} + sqrt(2 pi) ((x - x0)/sig) erf(u)] / (4 sqrt(pi) sig),

    ``u = (x - x0) / (sqrt 2 sig)``; the spacing is Wigner-distributed with mean
    ``sqrt(pi) sig``.

    Parameters
    ----------
    x0 : float
        Centre (the common target eigenvalue x*).
    sig : float > 0
        ``sig^2 = T A / kappa`` for the harmonic model of docs/theory.md (section 2, case 2).

    Returns
    -------
    scipy.stats frozen distribution
        Location-scale family (loc = x0, scale = sig) with closed-form pdf and cdf.

    References
    ----------
    Aarts, Lucini, Park, arXiv:2407.16427 (2024); docs/statistics.md, section 4.
    """
    return _goe_pair(loc=_finite(x0, "x0"), scale=_positive(sig, "sig"))


def brody(q: float):
    """Brody spacing law with unit mean, interpolating Poisson (q = 0) and Wigner (q = 1).

    ``P(s) = (q + 1) b s^q exp(-b s^(q+1))``, ``b = Gamma((q + 2)/(q + 1))^(q + 1)``.

    Parameters
    ----------
    q : float > -1

    Returns
    -------
    scipy.stats frozen distribution

    References
    ----------
    T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
    """
    qq = _finite(q, "q")
    if qq <= -1:
        raise ValueError(f"q must be > -1 (q = 0 Poisson, q = 1 Wigner), got {q!r}")
    return _brody(qq)


# --------------------------------------------------------------------------------------------
# fits
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BrodyFit:
    """Maximum-likelihood Brody parameter.

    Attributes
    ----------
    q : float
        Estimate (0 Poisson, 1 Wigner).
    stderr : float
        1 / sqrt(observed Fisher information), assuming independent spacings; NaN at a bound.
    n : int
        Number of spacings used.
    log_likelihood : float
        At the estimate, of the (normalised) spacings.
    """

    q: float
    stderr: float
    n: int
    log_likelihood: float


_BRODY_BOUNDS = (-0.9, 5.0)


def fit_brody(spacings: np.ndarray, *, normalize: bool = True) -> BrodyFit:
    """Fit the Brody parameter q by maximum likelihood.

    Parameters
    ----------
    spacings : array_like of float, any shape (flattened)
        Positive spacings, ideally unfolded (:func:`unfold` then :func:`spacings`). At least 2.
    normalize : bool
        Divide by the sample mean first (the Brody law has unit mean), so that only the shape
        is fitted; the result is then invariant under rescaling the spacings. Set False for
        spacings already unfolded whose mean should count.

    Returns
    -------
    BrodyFit
        ``q`` searched in [-0.9, 5]; ``stderr`` from the curvature of the log-likelihood.
        Spacings of one spectrum are correlated, so pool several spectra and treat the error
        as indicative (or bootstrap over spectra). Finite for any finite sample of at least
        2 positive spacings with ``normalize=True``.

    Raises
    ------
    ValueError
        Fewer than 2 spacings, a zero, negative or non-finite spacing, or (``normalize=False``
        only) spacings so large that ``b sum s^(q+1)`` overflows in the search (they are not
        unfolded: spacings above ~1e50 with unit-mean normalisation switched off).

    References
    ----------
    T. A. Brody (1973); docs/statistics.md, section 5.
    """
    s = _as_sample(spacings, "spacings", min_size=2)
    if np.any(s <= 0):
        raise ValueError(
            f"spacings must be positive; got {int(np.sum(s <= 0))} zero or negative value(s) "
            "(exact degeneracies make the Brody likelihood undefined: drop them)"
        )
    # Work with log s: dividing by the mean directly overflowed (mean of [1e308, 1e308]) or
    # underflowed to 0 (1e-300 / mean(1e-300, 1e300)), giving log 0 and a -inf likelihood.
    logs = np.log(s)
    if normalize:
        top = float(logs.max())
        logs = logs - (top + math.log(np.mean(np.exp(logs - top))))
    sum_logs = float(logs.sum())

    def loglike(q: float) -> float:
        log_b = (q + 1.0) * special.gammaln((q + 2.0) / (q + 1.0))
        # b sum s^(q+1) = exp(log b + logsumexp((q + 1) log s)), inf only when it overflows
        with np.errstate(over="ignore"):
            tail = np.exp(log_b + special.logsumexp((q + 1.0) * logs))
        return float(s.size * (math.log(q + 1.0) + log_b) + q * sum_logs - tail)

    with np.errstate(invalid="ignore"):  # inf - inf in Brent's step where the tail overflows
        res = optimize.minimize_scalar(
            lambda q: -loglike(q), bounds=_BRODY_BOUNDS, method="bounded", options={"xatol": 1e-10}
        )
    q = float(res.x)
    if not math.isfinite(loglike(q)):
        raise ValueError(
            f"the Brody likelihood overflows for these spacings (largest {float(s.max()):.3g}): "
            "with normalize=False they must be unfolded to unit mean spacing; use "
            "normalize=True"
        )
    d = 1e-4
    lo, hi = _BRODY_BOUNDS
    if q - d <= lo or q + d >= hi:
        stderr = math.nan
    else:
        curv = -(loglike(q + d) - 2.0 * loglike(q) + loglike(q - d)) / d**2
        stderr = 1.0 / math.sqrt(curv) if curv > 0 else math.nan
    return BrodyFit(q=q, stderr=stderr, n=int(s.size), log_likelihood=loglike(q))


@dataclass(frozen=True)
class KSResult:
    """A Kolmogorov-Smirnov test.

    Attributes
    ----------
    statistic : float
        sup |F_1 - F_2|.
    pvalue : float
        Valid for independent samples and a law not fitted to the data.
    n : int
        Size of the (first) sample.
    m : int or None
        Size of the second sample (two-sample test) or None.
    """

    statistic: float
    pvalue: float
    n: int
    m: int | None = None


@dataclass(frozen=True, eq=False)
class MarchenkoPasturFit:
    """Marchenko-Pastur fit of one spectrum of ``X = W W^T`` (see :func:`fit_marchenko_pastur`).

    Attributes
    ----------
    ratio : float
        min(K, L) / max(K, L), from the matrix shape.
    scale : float
        Fitted mean eigenvalue of the noise bulk.
    lower_edge, upper_edge : float
        ``scale (1 -+ sqrt(ratio))^2``.
    tw_scale : float
        Tracy-Widom fluctuation scale of the largest noise eigenvalue (Johnstone 2001), in the
        units of the eigenvalues: how far above ``upper_edge`` pure noise typically reaches.
    threshold : float
        ``upper_edge + margin * tw_scale``; eigenvalues above it are outliers.
    n_outliers : int
    outlier_indices : ndarray of int64, shape (n_outliers,)
        Positions in the input array, largest eigenvalue first (read-only).
    ks : KSResult
        KS test of the non-outlier eigenvalues against the fitted law (p-value optimistic: the
        scale was fitted to the same data).
    method : str
        How ``scale`` was fitted.
    """

    ratio: float
    scale: float
    lower_edge: float
    upper_edge: float
    tw_scale: float
    threshold: float
    n_outliers: int
    outlier_indices: np.ndarray = field(repr=False)
    ks: KSResult
    method: str

    @property
    def law(self):
        """The fitted law, :func:`marchenko_pastur` ``(ratio, scale)``."""
        return marchenko_pastur(self.ratio, self.scale)


def fit_marchenko_pastur(
    eigenvalues: np.ndarray,
    shape: tuple[int, int],
    *,
    method: str = "median",
    margin: float = 0.0,
) -> MarchenkoPasturFit:
    """Fit a Marchenko-Pastur bulk to the eigenvalues of ``X = W W^T`` and flag outliers.

    The ratio is fixed by the shape, ``q = min(K, L) / max(K, L)``; the scale (the mean
    noise eigenvalue) is fitted to the ``min(K, L)`` largest eigenvalues (the others are zero
    when K > L):

    * ``method="median"`` (default): the sample median matched to the law's median,
      ``scale = median(x) / median(MP(q, 1))``; a few large outliers (learned structure) barely
      move it.
    * ``method="mean"``: ``scale = mean(x)`` (the law's mean is ``scale``); exact first
      moment, but every outlier inflates it.

    Parameters
    ----------
    eigenvalues : array_like of float, shape (n,)
        One spectrum, any order, ``min(K, L) <= n <= max(K, L)``; non-negative.
    shape : (int, int)
        ``(K, L)`` of the weight matrix W.
    method : {"median", "mean"}
    margin : float >= 0
        Outlier threshold above the upper edge in Tracy-Widom units; 0 flags everything above
        the edge. For K = 16, L = 32 Gaussian noise (scale known) the largest eigenvalue
        exceeds the edge in 11 % of matrices, the edge + 1, 2, 3 ``tw_scale`` in 3 %, 0.6 %,
        0.1 % (20000 samples); a margin of 2-3 avoids such false outliers.

    Returns
    -------
    MarchenkoPasturFit

    References
    ----------
    Marchenko and Pastur (1967); Johnstone, Ann. Statist. 29, 295 (2001), for the
    Tracy-Widom centring and scale (real case).
    """
    try:
        K, L = (int(v) for v in shape)
        bad_shape = len(shape) != 2 or K < 1 or L < 1 or any(isinstance(v, bool) for v in shape)
    except (TypeError, ValueError):
        bad_shape = True
    if bad_shape:
        raise ValueError(f"shape must be (K, L), two positive integers, got {shape!r}")
    x = _as_float_array(eigenvalues, "eigenvalues")
    if x.ndim != 1:
        raise ValueError(
            f"eigenvalues must be one spectrum, shape (n,), got shape {x.shape}; loop over batches"
        )
    p, nn = min(K, L), max(K, L)
    if not (p <= x.size <= nn):
        raise ValueError(
            f"a {K} x {L} matrix gives {p} nonzero eigenvalues; pass between {p} and {nn} "
            f"eigenvalues, got {x.size}"
        )
    if p < 2:
        raise ValueError(f"a Marchenko-Pastur fit needs min(K, L) >= 2, got shape {shape!r}")
    if np.any(x < -1e-12 * max(1.0, float(np.abs(x).max()))):
        raise ValueError("eigenvalues of X = W W^T must be non-negative; got negative values")
    if method not in ("median", "mean"):
        raise ValueError(f"method must be 'median' or 'mean', got {method!r}")
    margin = float(margin)
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")

    order = np.argsort(x)[::-1][:p]  # the p largest, largest first
    top = x[order]
    q = p / nn
    if method == "mean":
        scale = float(top.mean())
    else:
        scale = float(np.median(top) / _marchenko_pastur.median(q))
    if not scale > 0:
        raise ValueError("the fitted scale is zero: the eigenvalues are (mostly) zero")
    lo, hi = scale * (1.0 - math.sqrt(q)) ** 2, scale * (1.0 + math.sqrt(q)) ** 2
    # Johnstone (2001): largest eigenvalue of Y Y^T (Y p x n, unit entries) ~ mu + sigma TW1,
    # sigma = (sqrt(n-1) + sqrt p)(1/sqrt(n-1) + 1/sqrt p)^(1/3); our x = scale/n * eig(Y Y^T).
    a, c = math.sqrt(max(nn - 1, 1)), math.sqrt(p)
    tw = scale / nn * (a + c) * (1.0 / a + 1.0 / c) ** (1.0 / 3.0)
    threshold = hi + margin * tw
    is_out = top > threshold
    inside = top[~is_out]
    law = _marchenko_pastur(q, scale=scale)
    if inside.size:
        k = stats.kstest(inside, law.cdf)
        ks = KSResult(float(k.statistic), float(k.pvalue), int(inside.size))
    else:
        ks = KSResult(math.nan, math.nan, 0)
    outliers = order[is_out].astype(np.int64)
    outliers.setflags(write=False)
    return MarchenkoPasturFit(
        ratio=q,
        scale=scale,
        lower_edge=lo,
        upper_edge=hi,
        tw_scale=tw,
        threshold=threshold,
        n_outliers=int(is_out.sum()),
        outlier_indices=outliers,
        ks=ks,
        method=method,
    )


# --------------------------------------------------------------------------------------------
# distances
# --------------------------------------------------------------------------------------------
def _cdf_of(law) -> Callable:
    if hasattr(law, "cdf"):
        return law.cdf
    if callable(law):
        return law
    raise ValueError(
        f"law must be a scipy.stats distribution (with .cdf) or a cdf callable, got "
        f"{type(law).__name__}"
    )


def ks_one_sample(sample: np.ndarray, law) -> KSResult:
    """One-sample Kolmogorov-Smirnov test of ``sample`` against ``law``.

    Parameters
    ----------
    sample : array_like of float, any shape (flattened)
    law : scipy.stats distribution (frozen or without shape parameters) or callable cdf

    Returns
    -------
    KSResult
        ``m`` is None. The p-value assumes independent draws: levels of one spectrum are
        correlated (and more regular than independent draws for GOE-like spectra).
    """
    x = _as_sample(sample, "sample")
    res = stats.kstest(x, _cdf_of(law))
    return KSResult(float(res.statistic), float(res.pvalue), int(x.size))


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> KSResult:
    """Two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).

    Parameters
    ----------
    a, b : array_like of float, any shape (flattened)

    Returns
    -------
    KSResult
        ``n = a.size``, ``m = b.size``.
    """
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    res = stats.ks_2samp(x, y)
    return KSResult(float(res.statistic), float(res.pvalue), int(x.size), int(y.size))


@dataclass(frozen=True)
class WassersteinResult:
    """1-Wasserstein distance with a bootstrap standard error.

    Attributes
    ----------
    statistic : float
        W_1 between the two empirical distributions (same units as the data).
    stderr : float
        Standard deviation of W_1 over bootstrap resamples of both samples.
    n, m : int
        Sample sizes.
    n_bootstrap : int
    """

    statistic: float
    stderr: float
    n: int
    m: int
    n_bootstrap: int


def wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator = 0,
) -> WassersteinResult:
    """1-Wasserstein distance between two samples, with a bootstrap standard error.

    Parameters
    ----------
    a, b : array_like of float, any shape (flattened)
    n_bootstrap : int >= 2
        Resamples (with replacement, of both samples independently).
    seed : int or numpy.random.Generator
        Seed of the bootstrap; fixed by default so results are reproducible.

    Returns
    -------
    WassersteinResult
        The stderr measures sampling spread; W_1 >= 0 is biased upward for small samples, so
        it is not a test of equal distributions (use :func:`ks_two_sample` for that).
    """
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise ValueError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}")
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer, np.random.Generator)):
        raise ValueError(f"seed must be an integer or a numpy Generator, got {seed!r}")
    rng = np.random.default_rng(seed)
    w = stats.wasserstein_distance(x, y)
    reps = np.empty(int(n_bootstrap))
    for i in range(int(n_bootstrap)):
        reps[i] = stats.wasserstein_distance(
            x[rng.integers(0, x.size, x.size)], y[rng.integers(0, y.size, y.size)]
        )
    # the spread of values up to ~1e308: reps.std() squared them and overflowed to inf
    # (values of 1e154 gave stderr = inf); scale by the largest first
    top = float(np.max(reps))
    stderr = top * float((reps / top).std(ddof=1)) if top > 0 else 0.0
    return WassersteinResult(float(w), stderr, int(x.size), int(y.size), int(n_bootstrap))

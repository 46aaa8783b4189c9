"""Level statistics of one weight matrix against random-matrix theory (``dysonsgd spectrum``).

:func:`analyse_matrix` takes any real K x L matrix (a layer of the user's own network, the
student or teacher of a ``dysonsgd train`` run, pure noise) and returns a
:class:`MatrixReport`:

* the singular values ``s_i`` and the eigenvalues ``x_i = s_i^2`` of ``X = W W^T``
  (the ``n_levels = min(K, L)`` nonzero ones);
* a Marchenko-Pastur fit of the noise bulk (ratio from the shape, scale from the median,
  :func:`dysonsgd.spectra.fit_marchenko_pastur`), the candidates above the upper edge plus
  ``margin`` Tracy-Widom units, and a goodness-of-fit test of the rest against the
  Marchenko-Pastur law (:func:`marchenko_pastur_gof`); only if the bulk passes are the
  candidates named outliers: the learned structure;
* level statistics of the bulk (the non-outlier eigenvalues) against GOE and Poisson: the mean
  spacing ratio with its standard error, KS tests of the unfolded spacings against the Wigner
  surmise and the Poisson law, the Brody parameter;
* a ``reliable`` flag and plain-language ``warnings`` that say when a statistic cannot
  separate the two hypotheses (too few levels, bulk not Marchenko-Pastur, ...).

:func:`pool_spacing_ratios` averages <r> over independent matrices of one ensemble (the seeds
of a run), which a single small spectrum needs. :func:`load_matrices` reads the matrices from a
``.npy``/``.npz`` file without ever unpickling, and knows the layout of ``dysonsgd train
--out`` files; :func:`analyse_file` does all three for one file and returns a
:class:`FileReport` (``dysonsgd spectrum --json`` is its ``to_dict``). The thresholds below are
derived in their comments and in ``docs/spectrum.md``.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025) (level statistics of X = W W^T).
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024).
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967).
I. M. Johnstone, Ann. Statist. 29, 295 (2001).
T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002) (bidiagonal Laguerre model).
A. C. A. Hope, J. R. Stat. Soc. B 30, 582 (1968) (Monte Carlo tests).
"""

from __future__ import annotations

import functools
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.linalg import lapack

from dysonsgd import _seeding, spectra

__all__ = [
    "KS_MIN_SPACINGS",
    "MIN_LEVELS",
    "MP_PVALUE_MIN",
    "MP_TEST_SAMPLES",
    "RATIO_MIN_LEVELS",
    "RATIO_SD_COEFF",
    "MatrixFile",
    "MarchenkoPasturGOF",
    "MatrixReport",
    "PooledRatio",
    "analyse_matrix",
    "load_matrices",
    "marchenko_pastur_gof",
    "pool_spacing_ratios",
]

#: Fewest nonzero singular values a matrix must have: a spacing ratio needs 3 levels, and
#: with 4 there are 2 ratios and 3 spacings, the least for which a mean and a KS test exist.
MIN_LEVELS: int = 4

#: sd of <r> of one spectrum of N levels is RATIO_SD_COEFF / sqrt(N) (0.34, measured for GOE-
#: and Poisson-class spectra, N >= 16): :data:`dysonsgd.spectra.RATIO_SD_COEFF`, its one owner,
#: where the measurement is described (tests/cli/test_spectrum_cli.py re-measures it).
RATIO_SD_COEFF: float = spectra.RATIO_SD_COEFF

_GOE_POISSON_GAP = spectra.GOE_RATIO_MEAN_LARGE_N - spectra.POISSON_RATIO_MEAN  # 0.1444

#: Levels needed for <r> of one spectrum to tell GOE from Poisson: the gap 0.1444 between
#: their means must be at least 2 sd, i.e. N >= (2 x 0.34 / 0.1444)^2 = 22.2 -> 23. Below it,
#: a value halfway between is less than 1 sd from either. (A 2.3 % error rate each way, gap
#: = 4 sd, needs N >= 89.)
RATIO_MIN_LEVELS: int = math.ceil((2.0 * RATIO_SD_COEFF / _GOE_POISSON_GAP) ** 2)

#: The Wigner and Poisson spacing cdfs differ by at most D = 0.216 (at s = 0.473). A 5 % KS
#: test rejects the wrong law reliably only if its critical distance 1.36 / sqrt(n) is at most
#: D / 2: n >= (2 x 1.36 / 0.216)^2 = 159 -> 160 spacings.
KS_MIN_SPACINGS: int = 160

#: Level of the test of the bulk against the Marchenko-Pastur law (:func:`marchenko_pastur_gof`):
#: at p <= 0.01 the bulk is "not Marchenko-Pastur" and no outliers are named. Pure Gaussian
#: noise is then refused in 1 % of matrices (it would have had a false outlier in ~2 % anyway,
#: see ``margin``); a product of two Gaussian matrices of 64 or more levels gives p at the
#: floor 1 / (MP_TEST_SAMPLES + 1) (docs/spectrum.md).
MP_PVALUE_MIN: float = 0.01

#: Monte Carlo replicates of the null of :func:`marchenko_pastur_gof`. With B = 199,
#: MP_PVALUE_MIN (B + 1) = 2 is an integer, so the test "p <= 0.01" has level exactly 1 %
#: for Gaussian noise (Hope 1968); the smallest p-value is 1 / 200.
MP_TEST_SAMPLES: int = 199

#: Excess kurtosis of the entries above which a non-Marchenko-Pastur bulk is called
#: heavy-tailed. For K L i.i.d. Gaussian entries it is 0 with sd sqrt(24 / (K L)) (0.22 for the
#: smallest matrix worth a test, 16 x 32), so 1 is 4.6 sd out; bounded entries (uniform,
#: +-1) have negative excess kurtosis; Student t with 5 degrees of freedom has 6.
_HEAVY_TAIL_KURTOSIS = 1.0

#: A non-Marchenko-Pastur bulk is called broader (narrower) than MP when the relative variance
#: var(x) / mean(x)^2 of its p eigenvalues, divided by its MP value q, lies more than 3 sd
#: above (below) its Gaussian mean. Over 2000 Gaussian spectra each (p x n = 16 x 32, 64 x 128,
#: 200 x 400, 300 x 300) that ratio had mean 1 + 1/p and sd 2.0/p (a linear statistic of rigid
#: levels: O(1/p) fluctuations; Bai & Silverstein, Ann. Probab. 32, 553 (2004)).
_SPREAD_SD_COEFF = 2.0
_SPREAD_BIAS_COEFF = 1.0

_UNFOLDINGS = ("marchenko-pastur", "polynomial")
_POLY_DEGREE = 5


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MatrixReport:
    """What :func:`analyse_matrix` measured on one weight matrix.

    Eigenvalue-valued fields (edges, scale, threshold) are in units of the eigenvalues
    ``x = s^2`` of ``X = W W^T``. ``None`` marks a statistic that could not be computed
    (the reason is in ``warnings``).

    Attributes
    ----------
    name : str
    shape : (int, int)
        (K, L) as given.
    n_levels : int
        ``min(K, L)``: the nonzero eigenvalues of X (= number of singular values).
    singular_values : ndarray of float64, shape (n_levels,)
        Descending (read-only).
    margin : float
        Outlier threshold above the MP edge, in Tracy-Widom units.
    mp_ratio : float
        ``min(K, L) / max(K, L)``.
    mp_scale, mp_lower_edge, mp_upper_edge, mp_tw_scale, mp_threshold : float or None
        Fitted mean eigenvalue of the noise bulk (``max(K, L)`` x the entry variance), the
        bulk edges, the Tracy-Widom scale of the largest noise eigenvalue, and the outlier
        threshold ``mp_upper_edge + margin * mp_tw_scale``.
    mp_ks_statistic, mp_ks_pvalue : float or None
        :func:`marchenko_pastur_gof` of the eigenvalues at or below the threshold: KS distance
        to the Marchenko-Pastur law fitted to them and its Monte Carlo p-value (calibrated for
        the rigidity of eigenvalues and the fitted scale). None without an MP fit.
    mp_bulk : bool or None
        ``mp_ks_pvalue > MP_PVALUE_MIN``: the bulk is Marchenko-Pastur, so the candidates above
        the threshold are named outliers. None without an MP fit.
    mp_alternative : str or None
        When ``mp_bulk`` is False: what the bulk likely is instead (heavy-tailed,
        product-like / correlated, more regular than noise).
    n_above_threshold : int or None
        Eigenvalues above ``mp_threshold`` (candidates), whether or not the bulk is MP.
    n_outliers : int or None
        ``n_above_threshold`` if ``mp_bulk``, else None: outliers are named only above a
        Marchenko-Pastur bulk.
    outlier_singular_values : ndarray of float64, shape (n_outliers,)
        Largest first (read-only); empty unless ``mp_bulk``.
    n_bulk : int
        Levels used for the level statistics: the nonzero eigenvalues of X at or below the
        threshold if ``mp_bulk``, else all nonzero eigenvalues.
    unfolding : str
        How the bulk was unfolded for the spacing statistics: "marchenko-pastur" (through the
        fitted law's cdf; only for a Marchenko-Pastur bulk) or "polynomial" (degree 5 fit of
        the staircase).
    mean_spacing_ratio, mean_spacing_ratio_stderr : float or None
        <r> of the bulk and ``RATIO_SD_COEFF / sqrt(n_bulk)``.
    ratio_z_goe, ratio_z_poisson : float or None
        ``(<r> - goe) / stderr`` and ``(<r> - 0.3863) / stderr``, ``goe`` =
        :func:`dysonsgd.spectra.goe_ratio_mean` ``(n_bulk)`` (0.5307 from 4 levels on).
    ks_wigner_statistic, ks_wigner_pvalue, ks_poisson_statistic, ks_poisson_pvalue
        : float or None
        KS tests of the unfolded bulk spacings (scaled to unit mean) against the Wigner
        surmise and against exp(-s).
    brody_q, brody_q_stderr : float or None
        Maximum-likelihood Brody parameter (0 Poisson, 1 Wigner) of the unfolded spacings.
    reliable : bool
        A Marchenko-Pastur bulk was fitted and passed :func:`marchenko_pastur_gof`
        (``mp_bulk``), it has at least ``RATIO_MIN_LEVELS`` levels (so <r> separates GOE from
        Poisson by at least 2 standard deviations) and no degenerate levels. It vouches for
        the outliers and <r>; the spacing statistics have their own warnings.
    warnings : tuple of str
    ratios : ndarray of float64, shape (n_bulk - 2,)
        The bulk spacing ratios (read-only; for figures, not in :meth:`to_dict`).
    unfolded_spacings : ndarray of float64, shape (n_bulk - 1,)
        Unit-mean unfolded bulk spacings (read-only; for figures, not in :meth:`to_dict`).
    """

    name: str
    shape: tuple[int, int]
    n_levels: int
    singular_values: np.ndarray = field(repr=False)
    margin: float
    mp_ratio: float
    mp_scale: float | None
    mp_lower_edge: float | None
    mp_upper_edge: float | None
    mp_tw_scale: float | None
    mp_threshold: float | None
    mp_ks_statistic: float | None
    mp_ks_pvalue: float | None
    mp_bulk: bool | None
    mp_alternative: str | None
    n_above_threshold: int | None
    n_outliers: int | None
    outlier_singular_values: np.ndarray = field(repr=False)
    n_bulk: int
    unfolding: str
    mean_spacing_ratio: float | None
    mean_spacing_ratio_stderr: float | None
    ratio_z_goe: float | None
    ratio_z_poisson: float | None
    ks_wigner_statistic: float | None
    ks_wigner_pvalue: float | None
    ks_poisson_statistic: float | None
    ks_poisson_pvalue: float | None
    brody_q: float | None
    brody_q_stderr: float | None
    reliable: bool
    warnings: tuple[str, ...]
    ratios: np.ndarray = field(repr=False)
    unfolded_spacings: np.ndarray = field(repr=False)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues ``x_i = s_i^2`` of ``X = W W^T``, descending, shape (n_levels,)."""
        return self.singular_values**2

    @property
    def mp_law(self):
        """The fitted :func:`dysonsgd.spectra.marchenko_pastur` law, or None."""
        if self.mp_scale is None:
            return None
        return spectra.marchenko_pastur(self.mp_ratio, self.mp_scale)

    def to_dict(self) -> dict:
        """JSON-ready dict (lists, floats, None for undefined values; no NaN)."""

        def num(v):
            if v is None:
                return None
            v = float(v)
            return v if math.isfinite(v) else None

        return {
            "name": self.name,
            "shape": [int(self.shape[0]), int(self.shape[1])],
            "n_levels": int(self.n_levels),
            "singular_values": [float(v) for v in self.singular_values],
            "margin": float(self.margin),
            "mp_ratio": float(self.mp_ratio),
            "mp_scale": num(self.mp_scale),
            "mp_lower_edge": num(self.mp_lower_edge),
            "mp_upper_edge": num(self.mp_upper_edge),
            "mp_tw_scale": num(self.mp_tw_scale),
            "mp_threshold": num(self.mp_threshold),
            "mp_ks_statistic": num(self.mp_ks_statistic),
            "mp_ks_pvalue": num(self.mp_ks_pvalue),
            "mp_bulk": None if self.mp_bulk is None else bool(self.mp_bulk),
            "mp_alternative": self.mp_alternative,
            "n_above_threshold": None
            if self.n_above_threshold is None
            else int(self.n_above_threshold),
            "n_outliers": None if self.n_outliers is None else int(self.n_outliers),
            "outlier_singular_values": [float(v) for v in self.outlier_singular_values],
            "n_bulk": int(self.n_bulk),
            "unfolding": self.unfolding,
            "mean_spacing_ratio": num(self.mean_spacing_ratio),
            "mean_spacing_ratio_stderr": num(self.mean_spacing_ratio_stderr),
            "ratio_z_goe": num(self.ratio_z_goe),
            "ratio_z_poisson": num(self.ratio_z_poisson),
            "ks_wigner_statistic": num(self.ks_wigner_statistic),
            "ks_wigner_pvalue": num(self.ks_wigner_pvalue),
            "ks_poisson_statistic": num(self.ks_poisson_statistic),
            "ks_poisson_pvalue": num(self.ks_poisson_pvalue),
            "brody_q": num(self.brody_q),
            "brody_q_stderr": num(self.brody_q_stderr),
            "reliable": bool(self.reliable),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _check_matrix(W, name: str) -> np.ndarray:
    arr = np.asarray(W)
    if arr.dtype.kind == "O":
        raise ValueError(f"{name}: an object array is not a matrix of numbers")
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: complex entries; pass a real matrix (take .real or abs)")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: entries of dtype {arr.dtype} are not numbers")
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: shape {arr.shape} is not a matrix; need a 2-D array (K, L) "
            "(export each layer's weight matrix separately)"
        )
    K, L = arr.shape
    if min(K, L) < MIN_LEVELS:
        raise ValueError(
            f"{name}: shape {arr.shape} has {min(K, L)} singular value(s); need "
            f"min(K, L) >= {MIN_LEVELS} (a spacing ratio needs 3 levels, a mean of ratios and "
            "a KS test of spacings need more)"
        )
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} non-finite entries (NaN or inf); "
            "a diverged run has no spectrum"
        )
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------------------------
# is the bulk Marchenko-Pastur?
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarchenkoPasturGOF:
    """Goodness of fit of one bulk of eigenvalues to the Marchenko-Pastur law.

    Returned by :func:`marchenko_pastur_gof`.

    Attributes
    ----------
    statistic : float
        Kolmogorov-Smirnov distance ``sup |F_n - F|`` between the empirical cdf of the
        eigenvalues and the Marchenko-Pastur law fitted to them (scale from the median).
    pvalue : float
        Monte Carlo p-value ``(1 + #{null >= statistic}) / (n_samples + 1)``, in
        ``[1 / (n_samples + 1), 1]``.
    shape : (int, int)
        ``(m, n)``, ``m <= n``: the Gaussian matrix whose spectrum is the null (m = number of
        eigenvalues tested).
    n_samples : int
        Null spectra drawn.
    null_median, null_q99 : float
        Median and 99 % quantile of the statistic over the null spectra: how far a true
        Marchenko-Pastur spectrum of this size typically lies from its fitted law.
    """

    statistic: float
    pvalue: float
    shape: tuple[int, int]
    n_samples: int
    null_median: float
    null_q99: float


def _laguerre_eigenvalues(m: int, n: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Eigenvalues of ``G G^T``, G m x n standard Gaussian (m <= n), shape (n_samples, m).

    Dumitriu & Edelman (2002), beta = 1: they are those of ``B B^T`` with B lower bidiagonal,
    diagonal ``chi_n, chi_(n-1), ..., chi_(n-m+1)`` and subdiagonal ``chi_(m-1), ..., chi_1``:
    2m - 1 random numbers and an O(m^2) tridiagonal solve per spectrum instead of m n normals
    and an O(m^2 n) SVD (1.5 ms instead of 0.17 s at m = 300, n = 600).
    """
    a2 = rng.chisquare(n - np.arange(m), size=(n_samples, m))
    b2 = rng.chisquare(np.arange(m - 1, 0, -1), size=(n_samples, m - 1))
    diag = a2.copy()
    diag[:, 1:] += b2  # (B B^T)_ii = a_i^2 + b_(i-1)^2
    off = np.sqrt(a2[:, :-1] * b2)  # (B B^T)_(i,i+1) = a_i b_i
    out = np.empty((n_samples, m))
    for k in range(n_samples):
        # LAPACK dsterf (eigenvalues only, ascending) without scipy's wrapper: its checks cost
        # ten times the solve at m = 16
        out[k], info = lapack.dsterf(diag[k], off[k])
        if info != 0:  # pragma: no cover - dsterf fails only on NaN input
            raise RuntimeError(f"LAPACK dsterf failed (info = {info}) on a null spectrum")
    return out


@functools.lru_cache(maxsize=64)
def _unit_median(ratio: float) -> float:
    # a bisection of the MP cdf (~100 evaluations): once per ratio, not per matrix
    return float(spectra.marchenko_pastur(ratio, 1.0).median())


def _ks_to_median_fit(x_sorted: np.ndarray, ratio: float) -> np.ndarray:
    """KS distance of each row (ascending eigenvalues) to the MP law fitted by its median.

    The batched twin of ``spectra.fit_marchenko_pastur(x, shape, method="median")`` followed by
    ``spectra.ks_one_sample(x, fit.law).statistic`` (tests/test_spectrum_report.py ties them
    to 1e-12); one code path for the observed and the null statistics.
    """
    law = spectra.marchenko_pastur(ratio, 1.0)
    m = x_sorted.shape[-1]
    scale = np.median(x_sorted, axis=-1) / _unit_median(ratio)
    u = law.cdf(x_sorted / scale[:, None])
    i = np.arange(1, m + 1)
    return np.maximum((i / m - u).max(axis=-1), (u - (i - 1) / m).max(axis=-1))


def marchenko_pastur_gof(
    eigenvalues: np.ndarray,
    shape: tuple[int, int],
    *,
    n_samples: int = MP_TEST_SAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> MarchenkoPasturGOF:
    """Test whether eigenvalues of ``X = W W^T`` follow the Marchenko-Pastur law.

    The statistic is the Kolmogorov-Smirnov distance between the eigenvalues and the
    Marchenko-Pastur law of ratio ``m / n`` whose scale is fitted to them by the median
    (:func:`dysonsgd.spectra.fit_marchenko_pastur`, ``method="median"``). Its null
    distribution is not Kolmogorov's: the levels of one spectrum are not independent draws but
    rigid (each sits within ~log(N)/N of its quantile; Erdos, Yau & Yin, Adv. Math. 229, 1435
    (2012); Pillai & Yin, Ann. Appl. Probab. 24, 935 (2014)), so a true MP spectrum lies far
    closer to its law than independent draws would, and the textbook KS p-value is much too
    large: for the 128 x 64 product of a 128 x 256 and a 256 x 64 Gaussian matrix it is 0.26
    (distance 0.129), though true MP spectra of that size stay below 0.061 in 99 % of cases;
    for pure noise it is close to 1. And the scale is fitted to the same data (Lilliefors,
    J. Am. Stat. Assoc. 62, 399 (1967)). Both are handled by a parametric bootstrap:
    ``n_samples`` spectra of m x n Gaussian matrices (drawn through the bidiagonal model of
    Dumitriu & Edelman, J. Math. Phys. 43, 5830 (2002)), each with its own fitted scale, give
    the null distribution of the statistic (computed for data and null by one code path),
    and the Monte Carlo p-value ``(1 + #{null >= observed}) / (n_samples + 1)`` has exactly its
    nominal level for Gaussian noise (Hope, J. R. Stat. Soc. B 30, 582 (1968); Davison &
    Hinkley, Bootstrap Methods (1997), section 4.2).

    Parameters
    ----------
    eigenvalues : array_like of float, shape (m,)
        Non-negative, finite; ``m = min(shape)``.
    shape : (int, int)
        The shape of the Gaussian matrix of the null, either orientation; ``min(shape) >= 2``.
        For the bulk left after removing r outliers of a K x L matrix, pass
        ``(min(K, L) - r, max(K, L) - r)``: as the signal grows, the other singular values of
        ``W + sum_k theta_k u_k v_k^T`` tend to those of W restricted to the complements of
        the u_k and v_k, a Gaussian matrix of that shape (rotation invariance).
    n_samples : int >= 1
        Null spectra. The p-value is a multiple of ``1 / (n_samples + 1)``; a test at level
        alpha needs ``alpha (n_samples + 1)`` to be an integer >= 1 (199 for 0.01).
    seed : int, numpy.random.Generator or None
        For the null spectra. The default 0 makes the p-value of a given matrix reproducible.

    Returns
    -------
    MarchenkoPasturGOF

    Raises
    ------
    ValueError
        Bad ``shape``, ``n_samples`` or ``seed``; eigenvalues not a finite non-negative vector
        of length ``min(shape)``; a median of zero (more than half the eigenvalues vanish).

    Notes
    -----
    The null is Gaussian noise; other i.i.d. entries with a finite fourth moment have the same
    Marchenko-Pastur bulk and rigid levels (the test accepts +-1 and uniform entries, see
    tests/test_spectrum_report.py). Cost: ``n_samples`` tridiagonal eigenvalue problems of
    size m (0.3 s at m = 300, ~18 s at m = 2048).

    References
    ----------
    Marchenko and Pastur (1967); Dumitriu and Edelman (2002); Hope (1968); Lilliefors (1967).
    """
    try:
        m, n = sorted(int(v) for v in shape)
        bad_shape = len(shape) != 2 or m < 2 or any(isinstance(v, bool) for v in shape)
    except (TypeError, ValueError):
        bad_shape = True
    if bad_shape:
        raise ValueError(
            f"shape must be (m, n), two integers >= 2 (the null Gaussian matrix), got {shape!r}"
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer (e.g. 199), got {n_samples!r}")
    x = np.asarray(eigenvalues, dtype=np.float64)
    if x.shape != (m,):
        raise ValueError(
            f"eigenvalues must have shape ({m},) for a {m} x {n} null, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("eigenvalues must be finite; got NaN or inf")
    if np.any(x < 0):
        raise ValueError("eigenvalues of X = W W^T must be non-negative; got negative values")
    if not np.median(x) > 0:
        raise ValueError(
            "the median eigenvalue is zero (more than half vanish): no Marchenko-Pastur scale"
        )
    statistic = _ks_to_median_fit(np.sort(x)[None, :], m / n)[0]
    rng = np.random.default_rng(_seeding.base_entropy(seed))
    null = _ks_to_median_fit(_laguerre_eigenvalues(m, n, int(n_samples), rng), m / n)
    pvalue = (1.0 + np.count_nonzero(null >= statistic)) / (n_samples + 1.0)
    return MarchenkoPasturGOF(
        statistic=float(statistic),
        pvalue=float(pvalue),
        shape=(m, n),
        n_samples=int(n_samples),
        null_median=float(np.median(null)),
        null_q99=float(np.quantile(null, 0.99)),
    )


def _likely_alternative(arr: np.ndarray, x: np.ndarray, ratio: float) -> str:
    """Plain-language guess of what a bulk that is not Marchenko-Pastur is.

    Heavy tails show in the entries (excess kurtosis above ``_HEAVY_TAIL_KURTOSIS``);
    otherwise the relative variance ``var(x) / mean(x)^2`` of the eigenvalues, which is
    ``ratio`` for Marchenko-Pastur, says whether the spectrum is broader (a product of
    matrices, correlated rows or columns: ``W = G T`` with ``T^T T`` not a multiple of the
    identity spreads it) or narrower (more regular than noise) than MP, by more than 3 sd of
    a Gaussian spectrum of as many levels.
    """
    a = arr - arr.mean()
    var = float(np.mean(a * a))
    kurt = float(np.mean(a**4) / var**2 - 3.0) if var > 0 else 0.0
    if kurt > _HEAVY_TAIL_KURTOSIS:
        return f"heavy-tailed (excess kurtosis of the entries {kurt:.3g}; Gaussian 0)"
    spread = float(np.var(x) / np.mean(x) ** 2)
    detail = f"var/mean^2 of the eigenvalues {spread:.3g}, MP {ratio:.3g}"
    z = (spread / ratio - 1.0 - _SPREAD_BIAS_COEFF / x.size) / (_SPREAD_SD_COEFF / x.size)
    if z > 3.0:
        return (
            f"product-like / correlated (broader than MP: {detail}; e.g. a product of "
            "matrices, or correlated rows or columns)"
        )
    if z < -3.0:
        return (
            f"more regular than noise (narrower than MP: {detail}; e.g. near-orthogonal, or "
            "a trained, rigid spectrum)"
        )
    return f"a different shape at the MP spread ({detail})"


# --------------------------------------------------------------------------------------------
# the analysis
# --------------------------------------------------------------------------------------------
def _finite_or_none(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def analyse_matrix(
    W: np.ndarray,
    name: str = "W",
    *,
    margin: float = 2.0,
    unfolding: str = "marchenko-pastur",
    mp_test_samples: int = MP_TEST_SAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> MatrixReport:
    """Singular values, Marchenko-Pastur bulk and outliers, and GOE/Poisson level statistics.

    Parameters
    ----------
    W : array_like of real numbers, shape (K, L)
        One weight matrix, ``min(K, L) >= 4``, all entries finite.
    name : str
        A label carried into the report.
    margin : float >= 0
        Outliers are eigenvalues of X above the fitted MP upper edge plus ``margin``
        Tracy-Widom units, named only if the rest passes the Marchenko-Pastur test. For
        Gaussian noise with the scale fitted by the median, the fraction of matrices with at
        least one (false) outlier is about 2 % at margin 2 (measured for K x 2K,
        K = 8 ... 128; 18 % at margin 0); see docs/spectrum.md.
    unfolding : {"marchenko-pastur", "polynomial"}
        How the bulk is unfolded before the spacing statistics (KS, Brody).
        ``"marchenko-pastur"``: ``xi = n_levels F(x)`` with F the fitted MP cdf, one fitted
        parameter, so it does not absorb the fluctuations it is meant to expose (falls back to
        "polynomial" without an MP fit). ``"polynomial"``: degree-5 Legendre fit of the bulk
        staircase (:func:`dysonsgd.spectra.unfold`), for bulks that are not MP (used whenever
        the bulk fails the MP test). Spacing ratios need no unfolding.
    mp_test_samples : int >= 99
        Null spectra of :func:`marchenko_pastur_gof` (199: an exact 1 % test).
    seed : int, numpy.random.Generator or None
        For the null spectra of the MP test. The default 0 makes the report of a given
        matrix reproducible.

    Returns
    -------
    MatrixReport

    Raises
    ------
    ValueError
        Not a finite real 2-D matrix, fewer than 4 singular values, all singular values
        zero, or a bad ``margin``/``unfolding``/``mp_test_samples``/``seed``.

    Notes
    -----
    Before naming outliers, the eigenvalues at or below the threshold are tested against the
    Marchenko-Pastur law (:func:`marchenko_pastur_gof`: KS distance to the law fitted by the
    median, Monte Carlo p-value from Gaussian spectra of shape ``(p - r, n - r)`` for r
    candidates, so rigidity and the fitted scale are accounted for). At p <= ``MP_PVALUE_MIN``
    the bulk is not MP: eigenvalues above the edge are then the tail of another law (a
    product of Gaussian matrices puts 10 % of its levels there), not learned directions, so
    none is named, the report says what the bulk likely is, and the level statistics use all
    nonzero levels, unfolded with a polynomial.

    The level statistics use the bulk only: outliers sit at the scale of the learned
    structure, not of the noise, and would give a few spurious tiny ratios and break the
    unfolding. The standard error of <r> is ``RATIO_SD_COEFF / sqrt(n_bulk)`` (the sd of <r>
    of one spectrum, measured) rather than the naive sd of the ratios over sqrt(count): ratios
    of one spectrum are correlated. KS p-values assume independent spacings; spacings of one
    spectrum are correlated, so read them as indicative.

    References
    ----------
    arXiv:2509.01349; Atas et al., PRL 110, 084101 (2013); Johnstone, Ann. Statist. 29, 295
    (2001); Brody (1973); Benaych-Georges & Nadakuditi, J. Multivariate Anal. 111, 120 (2012)
    (outliers of rank-r perturbations); Hope (1968) and Dumitriu & Edelman (2002) (the test).
    """
    label = str(name)
    arr = _check_matrix(W, label)
    try:
        margin_f = math.nan if isinstance(margin, bool) else float(margin)
    except (TypeError, ValueError):
        margin_f = math.nan
    if not (math.isfinite(margin_f) and margin_f >= 0):
        raise ValueError(f"margin must be a non-negative number (TW units), got {margin!r}")
    if unfolding not in _UNFOLDINGS:
        raise ValueError(f"unfolding must be one of {', '.join(_UNFOLDINGS)}, got {unfolding!r}")
    min_samples = round(1.0 / MP_PVALUE_MIN) - 1
    if (
        isinstance(mp_test_samples, bool)
        or not isinstance(mp_test_samples, (int, np.integer))
        or mp_test_samples < min_samples
    ):
        raise ValueError(
            f"mp_test_samples must be an integer >= {min_samples} (fewer cannot give a p-value "
            f"<= {MP_PVALUE_MIN:g}), got {mp_test_samples!r}"
        )
    entropy = _seeding.base_entropy(seed)  # checked here, not inside the test's try below
    K, L = arr.shape
    p, nn = min(K, L), max(K, L)
    s = spectra.singular_values(arr)
    if not s[0] > 0:
        raise ValueError(f"{label}: all singular values are zero (a zero matrix has no spectrum)")
    with np.errstate(over="ignore", under="ignore"):
        sq = s[s > 0] ** 2
    if not (np.isfinite(sq[0]) and sq[-1] >= np.finfo(np.float64).tiny):
        raise ValueError(
            f"{label}: singular values {s[0]:.3g} ... {s[s > 0][-1]:.3g} overflow or underflow "
            "when squared (eigenvalues of W W^T); rescale W (the level statistics are "
            "scale-free)"
        )
    notes: list[str] = []
    # numerically zero singular values (the matrix_rank rule): exact zeros, not levels
    tol = s[0] * nn * np.finfo(np.float64).eps
    rank = int(np.sum(s > tol))
    if rank < p:
        s = np.where(s > tol, s, 0.0)
        notes.append(
            f"rank {rank} < {p}: {p - rank} singular values vanish (to rounding); the level "
            "statistics use the nonzero ones only"
        )
    x = s**2

    # Marchenko-Pastur bulk and outliers. The eigenvalues of W W^T and W^T W agree, so the
    # fit is done in the orientation (p, nn) with ratio p / nn <= 1.
    fit = gof = None
    mp_bulk = alternative = None
    try:
        fit = spectra.fit_marchenko_pastur(x, (p, nn), method="median", margin=margin_f)
    except ValueError as exc:
        notes.append(
            f"no Marchenko-Pastur fit ({exc}): more than half the singular values vanish, so "
            "there is no noise bulk; no outliers are flagged and the level statistics use all "
            "nonzero levels"
        )
    if fit is not None:
        # The candidates above the threshold are learned structure only if the rest is a
        # Marchenko-Pastur bulk: noise plus r directions leaves a (p - r) x (nn - r) noise
        # matrix (see marchenko_pastur_gof). A product of Gaussian matrices puts 10 % of its
        # levels above the MP edge of its median fit, and they are no structure.
        is_out = np.zeros(p, dtype=bool)
        is_out[fit.outlier_indices] = True
        r = int(fit.n_outliers)
        try:
            gof = marchenko_pastur_gof(
                x[~is_out], (p - r, nn - r), n_samples=mp_test_samples, seed=entropy
            )
        except ValueError as exc:
            notes.append(
                f"the bulk could not be tested against Marchenko-Pastur ({exc}); outliers not "
                "named, the level statistics use all nonzero levels"
            )
        mp_bulk = gof is not None and gof.pvalue > MP_PVALUE_MIN
        if mp_bulk:
            bulk_x = x[~is_out & (x > 0)]
            outlier_s = s[fit.outlier_indices]
        else:
            bulk_x = x[x > 0]
            outlier_s = np.empty(0)
        if gof is not None and not mp_bulk:
            alternative = _likely_alternative(arr, x, p / nn)
            notes.append(
                f"bulk not Marchenko-Pastur (KS D = {gof.statistic:.3g}, Monte Carlo p = "
                f"{gof.pvalue:.2g} <= {MP_PVALUE_MIN:g}; true MP spectra of this size lie within "
                f"D = {gof.null_q99:.2g} in 99 % of cases): likely {alternative}. Outliers not "
                f"named: the {r} eigenvalue(s) above the MP edge + {margin_f:g} TW are part of a "
                "spectrum that is not noise plus a few directions; the level statistics use all "
                f"{bulk_x.size} nonzero levels (<r> needs no unfolding)"
            )
        if mp_bulk and margin_f < 2.0:
            notes.append(
                f"margin {margin_f:g} < 2 Tracy-Widom units: pure noise puts an eigenvalue above "
                "the edge in up to 18 % of matrices (margin 0), 2 % at margin 2"
            )
    else:
        bulk_x = x[x > 0]
        outlier_s = np.empty(0)
    n_bulk = int(bulk_x.size)
    bulk_sorted = np.sort(bulk_x)
    n_degenerate = 0
    if n_bulk >= 2:
        # spacings at the rounding level of the eigenvalues are degeneracies, not statistics
        n_degenerate = int(np.sum(np.diff(bulk_sorted) <= 1e-10 * bulk_sorted[-1]))
        if n_degenerate:
            notes.append(
                f"{n_degenerate} of {n_bulk - 1} bulk spacings vanish to rounding (degenerate "
                "levels, e.g. an orthogonal or identity-like matrix): the ratios and spacings "
                "of such a spectrum describe its symmetry, not GOE or Poisson statistics"
            )

    # Level statistics of the bulk: one spectrum, so the error of <r> is the calibrated
    # RATIO_SD_COEFF / sqrt(n_bulk) and its GOE reference is spectra.goe_ratio_mean(n_bulk)
    # (0.5307 from 4 levels on); the spacings are unfolded with the fitted MP law where there
    # is one (docs/statistics.md, section 7).
    used = unfolding if (mp_bulk or unfolding == "polynomial") else "polynomial"
    if used != unfolding:
        why = "no Marchenko-Pastur fit" if fit is None else "the bulk is not Marchenko-Pastur"
        notes.append(f"unfolded with a polynomial ({why}: no law to unfold with)")
    r_mean = r_se = z_goe = z_poi = None
    ks_w = ks_p = brody_fit = None
    ratios = unfolded = np.empty(0)
    if n_bulk >= 3:
        ratios = spectra.spacing_ratios(bulk_sorted)  # with NaN 0/0 ratios, for figures
        degree = min(_POLY_DEGREE, n_bulk - 2)
        bulk_stats = spectra.level_statistics(
            bulk_sorted[None, :],
            unfolding=used,
            degree=degree,
            mp_fit=fit if used == "marchenko-pastur" else None,
        )
        r_mean = _finite_or_none(bulk_stats.mean_ratio)
        if r_mean is not None:
            r_se = bulk_stats.mean_ratio_stderr
            z_goe, z_poi = bulk_stats.ratio_z_goe, bulk_stats.ratio_z_poisson
        else:
            notes.append("every spacing ratio is 0/0 (degenerate levels): no <r>")
    if n_bulk < RATIO_MIN_LEVELS:
        notes.append(
            f"only {n_bulk} bulk levels: <r> of one spectrum has sd {RATIO_SD_COEFF:g}/sqrt(N) "
            f"= {RATIO_SD_COEFF / math.sqrt(max(n_bulk, 1)):.3f}, more than half the GOE-Poisson "
            f"gap 0.144 (needs N >= {RATIO_MIN_LEVELS}); average <r> over several matrices "
            "(seeds) before concluding"
        )

    # unfolded spacings: KS against Wigner and Poisson, Brody fit
    if n_bulk >= MIN_LEVELS:
        if bulk_stats.non_monotone:
            notes.append(
                f"the degree-{degree} polynomial unfolding is not increasing over the bulk: "
                "the spacing statistics are unreliable (use the ratios)"
            )
        unfolded = bulk_stats.spacings
        if unfolded.size:
            ks_w, ks_p = bulk_stats.spacing_ks_wigner, bulk_stats.spacing_ks_poisson
            brody_fit = bulk_stats.brody
            n_zero = int(np.sum(unfolded <= 0))
            if n_zero:
                notes.append(
                    f"{n_zero} zero unfolded spacing(s) (degenerate "
                    "levels) left out of the Brody fit"
                )
        else:
            notes.append("the unfolded bulk has zero width: no spacing statistics")
        if unfolded.size and unfolded.size < KS_MIN_SPACINGS:
            notes.append(
                f"{unfolded.size} unfolded spacings: a 5 % KS test rejects the wrong one of "
                f"Wigner and Poisson reliably only from {KS_MIN_SPACINGS} spacings on (their cdfs "
                "differ by at most 0.216); the KS p-values and Brody q are indicative"
            )
    else:
        notes.append(f"only {n_bulk} bulk levels: no spacing statistics (need {MIN_LEVELS})")

    reliable = bool(mp_bulk) and n_bulk >= RATIO_MIN_LEVELS and r_mean is not None
    reliable = reliable and not n_degenerate
    return MatrixReport(
        name=label,
        shape=(int(K), int(L)),
        n_levels=int(p),
        singular_values=_readonly(s),
        margin=margin_f,
        mp_ratio=p / nn,
        mp_scale=None if fit is None else float(fit.scale),
        mp_lower_edge=None if fit is None else float(fit.lower_edge),
        mp_upper_edge=None if fit is None else float(fit.upper_edge),
        mp_tw_scale=None if fit is None else float(fit.tw_scale),
        mp_threshold=None if fit is None else float(fit.threshold),
        mp_ks_statistic=None if gof is None else gof.statistic,
        mp_ks_pvalue=None if gof is None else gof.pvalue,
        mp_bulk=mp_bulk,
        mp_alternative=alternative,
        n_above_threshold=None if fit is None else int(fit.n_outliers),
        n_outliers=int(fit.n_outliers) if mp_bulk else None,
        outlier_singular_values=_readonly(outlier_s),
        n_bulk=n_bulk,
        unfolding=used,
        mean_spacing_ratio=r_mean,
        mean_spacing_ratio_stderr=r_se,
        ratio_z_goe=z_goe,
        ratio_z_poisson=z_poi,
        ks_wigner_statistic=None if ks_w is None else ks_w.statistic,
        ks_wigner_pvalue=None if ks_w is None else ks_w.pvalue,
        ks_poisson_statistic=None if ks_p is None else ks_p.statistic,
        ks_poisson_pvalue=None if ks_p is None else ks_p.pvalue,
        brody_q=None if brody_fit is None else brody_fit.q,
        brody_q_stderr=None if brody_fit is None else _finite_or_none(brody_fit.stderr),
        reliable=bool(reliable),
        warnings=tuple(notes),
        ratios=_readonly(ratios),
        unfolded_spacings=_readonly(unfolded),
    )


@dataclass(frozen=True)
class PooledRatio:
    """Mean spacing ratio of several independent matrices of one ensemble (e.g. seeds).

    Attributes
    ----------
    group : str
    names : tuple of str
        The matrices pooled (those with a defined <r>).
    mean : float
        Average of the per-matrix <r>.
    stderr : float
        ``sqrt(sum_m RATIO_SD_COEFF^2 / N_m) / M``: the matrices are independent, each <r>
        has the sd of one spectrum of N_m levels (:func:`dysonsgd.spectra.pool_mean_spacing_ratios`
        with ``ratio_stderr="calibrated"``).
    n_levels : int
        Total bulk levels ``sum_m N_m``.
    z_goe, z_poisson : float
        ``(mean - goe) / stderr`` and ``(mean - 0.3863) / stderr``; ``goe`` is the mean of
        :func:`dysonsgd.spectra.goe_ratio_mean` over the matrices (0.5307 from 4 levels on).
    reliable : bool
        ``stderr`` at most half the GOE-Poisson gap, i.e. the two are 2 standard errors
        apart (the criterion that gives ``RATIO_MIN_LEVELS`` for one spectrum).
    """

    group: str
    names: tuple[str, ...]
    mean: float
    stderr: float
    n_levels: int
    z_goe: float
    z_poisson: float
    reliable: bool

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "group": self.group,
            "names": list(self.names),
            "mean_spacing_ratio": self.mean,
            "mean_spacing_ratio_stderr": self.stderr,
            "n_levels": self.n_levels,
            "ratio_z_goe": self.z_goe,
            "ratio_z_poisson": self.z_poisson,
            "reliable": self.reliable,
        }


def pool_spacing_ratios(reports, group: str = "") -> PooledRatio | None:
    """Average <r> over independent matrices of one ensemble, with its standard error.

    One K = 16 spectrum cannot tell GOE from Poisson (sd 0.085 against a gap of 0.144);
    M independent seeds shrink the error by sqrt(M). Ratios within one spectrum are
    correlated, so the error comes from the per-spectrum sd, not from the pooled ratios.

    Parameters
    ----------
    reports : sequence of MatrixReport
        Matrices drawn independently from one ensemble (e.g. the final W of each seed).
    group : str
        A label.

    Returns
    -------
    PooledRatio or None
        None if no report has a defined <r>.
    """
    usable = [r for r in reports if r.mean_spacing_ratio is not None and r.n_bulk >= 3]
    if not usable:
        return None
    # the calibrated error, not the spread: a file holds a few seeds (the spread of M values
    # has a relative error of 1/sqrt(2(M - 1)), 41 % at M = 4) and each report already gives
    # its <r> the calibrated error (docs/statistics.md, section 7)
    pooled = spectra.pool_mean_spacing_ratios(
        [r.mean_spacing_ratio for r in usable],
        [r.n_bulk for r in usable],
        ratio_stderr="calibrated",
    )
    return PooledRatio(
        group=group,
        names=tuple(r.name for r in usable),
        mean=pooled.mean,
        stderr=pooled.stderr,
        n_levels=pooled.n_levels,
        z_goe=pooled.z_goe,
        z_poisson=pooled.z_poisson,
        reliable=bool(pooled.stderr <= _GOE_POISSON_GAP / 2.0),
    )


# --------------------------------------------------------------------------------------------
# reading the user's file
# --------------------------------------------------------------------------------------------
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_TRAIN_KEYS = ("W", "W_teacher", "config", "epochs_saved", "diverged")


def _describe(arr: np.ndarray) -> str:
    return f"{arr.ndim}-D {arr.dtype}"


def _load_member(f, key: str, path: Path) -> np.ndarray:
    try:
        arr = f[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ValueError(
                f"{path}: array {key!r} holds Python objects (a pickle); dysonsgd never "
                "unpickles files: save plain numeric arrays (numpy.savez(path, W=W))"
            ) from None
        raise ValueError(f"{path}: array {key!r} is truncated or corrupt ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise ValueError(f"{path}: array {key!r} is truncated or corrupt ({exc})") from None
    if not isinstance(arr, np.ndarray):  # a zip member that is not a .npy file
        raise ValueError(
            f"{path}: member {key!r} is not a numpy array (is this a zip of other files?); "
            "write the file with numpy.savez"
        )
    return arr


def _train_file_matrices(f, path: Path, diverged_note: dict) -> dict[str, np.ndarray]:
    W = _load_member(f, "W", path)
    teacher = _load_member(f, "W_teacher", path)
    diverged = _load_member(f, "diverged", path)
    if W.ndim != 4 or teacher.ndim != 3 or W.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"{path}: looks like a dysonsgd training result but W has shape {W.shape} and "
            f"W_teacher {teacher.shape} (expected (seeds, saves, K, L) and (seeds, K, L))"
        )
    out: dict[str, np.ndarray] = {}
    for k in range(W.shape[0]):
        out[f"W[seed={k}]"] = W[k, -1]
        if diverged.shape == (W.shape[0],) and bool(diverged[k]):
            diverged_note[f"W[seed={k}]"] = (
                f"seed {k} diverged: its final W is the state at divergence"
            )
    for k in range(teacher.shape[0]):
        out[f"W_teacher[seed={k}]"] = teacher[k]
    return out


@dataclass(frozen=True)
class MatrixFile:
    """The matrices read from one file by :func:`load_matrices`.

    Attributes
    ----------
    path : str
    kind : str
        "npy", "npz" or "dysonsgd-train" (a ``dysonsgd train --out`` file).
    matrices : dict of str to ndarray of float64, shape (K, L)
        Validated: 2-D, real, finite, ``min(K, L) >= 4``; in file order (or ``names`` order).
    skipped : tuple of str
        ``"key (shape)"`` of the arrays of an ``.npz`` that are not 2-D (when not picked).
    notes : dict of str to str
        Per-matrix remarks (e.g. a diverged seed).
    ensembles : dict of str to tuple of str
        Groups of matrices drawn independently from one ensemble, whose <r> may be pooled
        (:func:`pool_spacing_ratios`): for a training file "W" (the seeds' final students) and
        "W_teacher"; empty for other files (different layers are different ensembles).
    """

    path: str
    kind: str
    matrices: dict[str, np.ndarray]
    skipped: tuple[str, ...]
    notes: dict[str, str]
    ensembles: dict[str, tuple[str, ...]] = field(default_factory=dict)


def load_matrices(
    path: str | os.PathLike, names: list[str] | tuple[str, ...] | None = None
) -> MatrixFile:
    """Read the weight matrices to analyse from a ``.npy`` or ``.npz`` file.

    Never unpickles (``allow_pickle=False``). The file type comes from its content (magic
    bytes), not its suffix.

    * ``.npy``: one array, which must be 2-D; its name is the file's stem.
    * ``.npz`` written by ``dysonsgd train --out`` (keys W, W_teacher, config, ...): the final
      student matrix of every seed, ``W[seed=k]`` (``W[k, -1]``), and every seed's teacher,
      ``W_teacher[seed=k]`` (a Gaussian N(0, 1/L) matrix: the noise reference).
    * any other ``.npz``: every 2-D array, under its key; arrays of other dimensions are
      listed as skipped.

    Parameters
    ----------
    path : str or PathLike
    names : sequence of str, optional
        Pick these arrays (names as above) from an ``.npz``, in this order.

    Returns
    -------
    MatrixFile

    Raises
    ------
    ValueError
        One line naming the file (and array) and the fix: missing file, not a numpy file,
        truncated or corrupt, object (pickled) arrays, no 2-D arrays, unknown names, arrays
        that are not finite 2-D real matrices with at least 4 singular values.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{p}: no such file")
    if p.is_dir():
        raise ValueError(f"{p} is a directory; give a .npy or .npz file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ValueError(f"{p}: cannot read ({exc.strerror})") from None
    names = None if names is None else list(names)
    notes: dict[str, str] = {}
    skipped: list[str] = []
    if head.startswith(_NPY_MAGIC):
        if names:
            raise ValueError(
                f"--name picks arrays from an .npz; {p} is a single .npy array (drop --name)"
            )
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                raise ValueError(
                    f"{p} holds Python objects (a pickle); dysonsgd never unpickles files: "
                    "save a plain numeric array (numpy.save(path, W))"
                ) from None
            raise ValueError(f"{p} is truncated or corrupt ({exc})") from None
        except (OSError, EOFError) as exc:
            raise ValueError(f"{p} is truncated or corrupt ({exc})") from None
        matrices = {p.stem: arr}
        kind = "npy"
    elif head.startswith(_ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        try:
            f = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(f"{p} is truncated or corrupt ({exc})") from None
        with f:
            files = list(f.files)
            if not files:
                raise ValueError(f"{p} is an empty .npz (no arrays)")
            is_train = all(k in files for k in _TRAIN_KEYS)
            kind = "dysonsgd-train" if is_train else "npz"
            if is_train:
                available = _train_file_matrices(f, p, notes)
                if names is None:
                    matrices = available
                else:
                    unknown = [n for n in names if n not in available]
                    if unknown:
                        raise ValueError(
                            f"{p} has no matrix named {unknown[0]!r}; this dysonsgd training "
                            f"result offers: {', '.join(available)}"
                        )
                    matrices = {n: available[n] for n in names}
            else:
                if names is not None:
                    unknown = [n for n in names if n not in files]
                    if unknown:
                        raise ValueError(
                            f"{p} has no array named {unknown[0]!r}; available: {', '.join(files)}"
                        )
                    matrices = {n: _load_member(f, n, p) for n in names}
                else:
                    loaded = {k: _load_member(f, k, p) for k in files}
                    matrices = {k: a for k, a in loaded.items() if a.ndim == 2}
                    skipped = [f"{k} {a.shape}" for k, a in loaded.items() if a.ndim != 2]
                    if not matrices:
                        found = ", ".join(f"{k} ({_describe(a)})" for k, a in loaded.items())
                        raise ValueError(
                            f"{p} has no 2-D arrays to analyse (found: {found}); save each "
                            "weight matrix as a 2-D array"
                        )
    else:
        raise ValueError(
            f"{p} is not a numpy .npy or .npz file; export the weights with numpy.save or "
            "numpy.savez (e.g. numpy.savez('w.npz', layer1=W1, layer2=W2))"
        )
    checked = {n: _check_matrix(a, f"{p}: array {n!r}") for n, a in matrices.items()}
    ensembles: dict[str, tuple[str, ...]] = {}
    if kind == "dysonsgd-train":
        for group in ("W", "W_teacher"):
            members = tuple(n for n in checked if n.startswith(group + "[seed="))
            if len(members) >= 2:
                ensembles[group] = members
    return MatrixFile(
        path=str(p),
        kind=kind,
        matrices=checked,
        skipped=tuple(skipped),
        notes=notes,
        ensembles=ensembles,
    )


# --------------------------------------------------------------------------------------------
# one file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FileReport:
    """The level statistics of every matrix of one file (:func:`analyse_file`).

    Attributes
    ----------
    file : MatrixFile
        What was read (path, kind, skipped arrays, per-matrix notes, ensembles).
    reports : tuple of MatrixReport
        One per matrix, in file order.
    pooled : tuple of PooledRatio
        The pooled <r> of each ensemble of ``file`` that has one.
    margin : float
    unfolding : str
        The settings of :func:`analyse_matrix`.
    """

    file: MatrixFile
    reports: tuple[MatrixReport, ...]
    pooled: tuple[PooledRatio, ...]
    margin: float
    unfolding: str

    def arrays(self) -> list[dict]:
        """``MatrixReport.to_dict`` of every matrix, the file's note on it first in its
        ``warnings``."""
        rows = []
        for rep in self.reports:
            d = rep.to_dict()
            note = self.file.notes.get(rep.name)
            if note:
                d["warnings"] = [note, *d["warnings"]]
            rows.append(d)
        return rows

    def to_dict(self) -> dict:
        """A JSON-ready dict (numpy values left as they are; see ``cli._common.to_jsonable``).

        Keys: ``file``, ``kind``, ``margin``, ``unfolding``, ``references`` (the GOE and
        Poisson <r>, :data:`RATIO_MIN_LEVELS`, :data:`MP_PVALUE_MIN`,
        :data:`MP_TEST_SAMPLES`), ``skipped``, ``arrays`` (:meth:`arrays`), ``pooled``.
        """
        return {
            "file": self.file.path,
            "kind": self.file.kind,
            "margin": self.margin,
            "unfolding": self.unfolding,
            "references": {
                "goe_ratio_mean": spectra.GOE_RATIO_MEAN_LARGE_N,
                "goe_ratio_mean_surmise": spectra.GOE_RATIO_MEAN_SURMISE,
                "poisson_ratio_mean": spectra.POISSON_RATIO_MEAN,
                "ratio_min_levels": RATIO_MIN_LEVELS,
                "mp_pvalue_min": MP_PVALUE_MIN,
                "mp_test_samples": MP_TEST_SAMPLES,
            },
            "skipped": list(self.file.skipped),
            "arrays": self.arrays(),
            "pooled": [p.to_dict() for p in self.pooled],
        }


def analyse_file(
    path: str | os.PathLike,
    names: list[str] | tuple[str, ...] | None = None,
    *,
    margin: float = 2.0,
    unfolding: str = "marchenko-pastur",
) -> FileReport:
    """:func:`analyse_matrix` of every matrix :func:`load_matrices` reads from ``path``, and
    :func:`pool_spacing_ratios` of each ensemble among them.

    Parameters
    ----------
    path : str or PathLike
    names : sequence of str, optional
        As for :func:`load_matrices`.
    margin, unfolding
        As for :func:`analyse_matrix`.

    Returns
    -------
    FileReport

    References
    ----------
    Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013)
    (the spacing ratio).
    """
    loaded = load_matrices(path, names)
    reports = tuple(
        analyse_matrix(W, name, margin=margin, unfolding=unfolding)
        for name, W in loaded.matrices.items()
    )
    by_name = {r.name: r for r in reports}
    pooled = (
        pool_spacing_ratios([by_name[n] for n in members], group)
        for group, members in loaded.ensembles.items()
    )
    return FileReport(
        file=loaded,
        reports=reports,
        pooled=tuple(p for p in pooled if p is not None),
        margin=margin,
        unfolding=unfolding,
    )

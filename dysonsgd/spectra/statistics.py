"""The one level-statistics summary of an ensemble of spectra (docs/statistics.md, section 7).

:func:`level_statistics` takes ``M`` spectra of ``N`` levels and returns a
:class:`LevelStatistics`: the spacing ratios and their mean ``<r>`` with one definition of its
standard error, the reference it is compared with, a KS test of the ratios against the GOE
surmise, and the unfolded spacings (by a per-spectrum polynomial or a fitted Marchenko-Pastur
law) with KS tests against the Wigner surmise and ``exp(-s)`` and a Brody fit.
:func:`pool_mean_spacing_ratios` pools per-spectrum ``<r>`` of spectra of different sizes with
the same error definition. Both ``dysonsgd compare`` and ``dysonsgd spectrum`` use them.

Conventions (derived in docs/statistics.md, section 7):

* ``<r>`` of an ensemble is the mean over spectra of the per-spectrum ``<r>``.
* Its standard error is the standard error of that mean. The sd of one spectrum's ``<r>`` is
  estimated from the spread of the ``M`` values (``"spread"``, needs ``M >= 2``, model-free) or
  taken from its calibrated value ``RATIO_SD_COEFF / sqrt(N)`` for GOE- and Poisson-class
  spectra (``"calibrated"``, the only choice for one spectrum). ``"auto"`` (the default) is
  ``"spread"`` for ``M >= 2`` and ``"calibrated"`` for ``M = 1``.
* The GOE reference for ``<r>`` is :func:`goe_ratio_mean` ``(N)``: the 3 x 3 surmise
  ``4 - 2 sqrt 3 = 0.5359`` for ``N = 3`` (where it is exact) and the large-N value 0.5307 from
  ``N = 4`` on, where the exact finite-N GOE mean (0.5318 at ``N = 4``, 0.529-0.531 for
  ``N = 5 ... 64``) is already closer to 0.5307.

References
----------
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
V. Oganesyan, D. A. Huse, Phys. Rev. B 75, 155111 (2007).
T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
T. Guhr, A. Mueller-Groeling, H. A. Weidenmueller, Phys. Rep. 299, 189 (1998), section 2.2.
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025) (level statistics of X = W W^T).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dysonsgd.spectra.distances import KSResult, ks_one_sample
from dysonsgd.spectra.fits import BrodyFit, MarchenkoPasturFit, fit_brody
from dysonsgd.spectra.laws import (
    GOE_RATIO_MEAN_LARGE_N,
    GOE_RATIO_MEAN_SURMISE,
    POISSON_RATIO_MEAN,
    goe_ratio,
    poisson_spacing,
    wigner_surmise,
)
from dysonsgd.spectra.levels import mean_spacing_ratio, spacing_ratios, spacings
from dysonsgd.spectra.unfolding import unfold

__all__ = [
    "GOE_RATIO_SURMISE_MAX_LEVELS",
    "RATIO_SD_COEFF",
    "LevelStatistics",
    "PooledMeanRatio",
    "goe_ratio_mean",
    "level_statistics",
    "pool_mean_spacing_ratios",
]

#: sd of <r> of one spectrum of N levels is RATIO_SD_COEFF / sqrt(N) (the ``"calibrated"``
#: error). Measured on 2000 spectra each (500 at N = 128) of K x 2K Gaussian matrices (GOE
#: class) and of sorted uniforms (Poisson), N = 8 ... 128: sd sqrt(N) = 0.29-0.34 (GOE),
#: 0.33-0.36 (Poisson); 0.34 covers both for N >= 16 (tests/cli/test_spectrum_cli.py re-measures
#: it). Below N = 8 it is too small: GOE N x N spectra have sd sqrt(N) = 0.40 at N = 4, 0.36 at
#: N = 6, 0.345 at N = 8 (docs/statistics.md, section 7).
RATIO_SD_COEFF: float = 0.34

#: Largest number of levels per spectrum for which the GOE reference of <r> is the 3 x 3
#: surmise 0.5359 (exact there); from N = 4 on it is the large-N value 0.5307, because the exact
#: finite-N mean (0.5318 at N = 4, 0.5306 at N = 5, 0.529-0.530 for N = 6 ... 32, whole spectrum;
#: docs/statistics.md, section 7) is closer to it than to the surmise.
GOE_RATIO_SURMISE_MAX_LEVELS: int = 3

#: Unfoldings of :func:`level_statistics` before the spacing statistics.
UNFOLDINGS: tuple[str, ...] = ("polynomial", "marchenko-pastur")

_STDERRS = ("auto", "spread", "calibrated")
_NAN_KS = KSResult(math.nan, math.nan, 0)


def goe_ratio_mean(n_levels: int) -> float:
    """GOE reference of the mean spacing ratio <r> of spectra of ``n_levels`` levels.

    Parameters
    ----------
    n_levels : int >= 3

    Returns
    -------
    float
        ``4 - 2 sqrt 3 = 0.5359`` (Atas et al. surmise, exact for 3 x 3 GOE matrices) for
        ``n_levels <= GOE_RATIO_SURMISE_MAX_LEVELS = 3``, else the large-N GOE value 0.5307
        (Atas et al. 2013, table I). The exact finite-N means lie within 0.002 of 0.5307 from
        N = 4 on (docs/statistics.md, section 7).
    """
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 3:
        raise ValueError(
            f"n_levels must be an integer >= 3 (a ratio needs 3 levels), got {n_levels!r}"
        )
    if n_levels <= GOE_RATIO_SURMISE_MAX_LEVELS:
        return GOE_RATIO_MEAN_SURMISE
    return GOE_RATIO_MEAN_LARGE_N


def _check_stderr(stderr: str) -> None:
    if stderr not in _STDERRS:
        raise ValueError(f"ratio_stderr must be one of {', '.join(_STDERRS)}, got {stderr!r}")


def _mean_and_stderr(means: np.ndarray, n_levels: np.ndarray, stderr: str):
    """<r> of an ensemble and its standard error: the one definition (module docstring).

    ``means`` and ``n_levels`` are the per-spectrum <r> (finite) and level counts.
    Returns ``(mean, stderr, method)``; NaN for an empty ensemble, and a NaN error for
    ``"spread"`` with one spectrum.
    """
    m = means.size
    if m == 0:
        return math.nan, math.nan, "none"
    method = ("spread" if m >= 2 else "calibrated") if stderr == "auto" else stderr
    mean = float(means.mean())
    if method == "spread":
        se = float(means.std(ddof=1) / math.sqrt(m)) if m >= 2 else math.nan
    else:
        # independent spectra, each <r> with sd RATIO_SD_COEFF / sqrt(N_m)
        se = math.sqrt(float(np.sum(RATIO_SD_COEFF**2 / n_levels))) / m
    return mean, se, method


@dataclass(frozen=True)
class PooledMeanRatio:
    """<r> pooled over independent spectra of possibly different sizes.

    Attributes
    ----------
    mean, stderr : float
        Mean of the per-spectrum <r> and its standard error (``stderr_method``).
    stderr_method : {"spread", "calibrated", "none"}
    n_spectra : int
        Spectra with a defined <r>.
    n_levels : int
        Their total number of levels.
    goe_reference : float
        Mean of :func:`goe_ratio_mean` over the spectra.
    """

    mean: float
    stderr: float
    stderr_method: str
    n_spectra: int
    n_levels: int
    goe_reference: float

    @property
    def z_goe(self) -> float:
        """``(mean - goe_reference) / stderr``."""
        return (self.mean - self.goe_reference) / self.stderr

    @property
    def z_poisson(self) -> float:
        """``(mean - 0.3863) / stderr`` (Poisson: 2 ln 2 - 1)."""
        return (self.mean - POISSON_RATIO_MEAN) / self.stderr

    def to_dict(self) -> dict:
        """Plain values (for JSON)."""
        return {
            "mean_ratio": self.mean,
            "mean_ratio_stderr": self.stderr,
            "mean_ratio_stderr_method": self.stderr_method,
            "n_spectra": self.n_spectra,
            "n_levels": self.n_levels,
            "goe_reference": self.goe_reference,
            "z_goe": self.z_goe,
            "z_poisson": self.z_poisson,
        }


def pool_mean_spacing_ratios(
    mean_ratios: Sequence[float], n_levels: Sequence[int], *, ratio_stderr: str = "auto"
) -> PooledMeanRatio | None:
    """Pool the per-spectrum <r> of independent spectra with the error of :func:`level_statistics`.

    Parameters
    ----------
    mean_ratios : sequence of float, length M
        <r> of each spectrum (:func:`dysonsgd.spectra.mean_spacing_ratio`); non-finite values
        (undefined <r>) are left out together with their level count.
    n_levels : sequence of int >= 3, length M
        Levels of each spectrum.
    ratio_stderr : {"auto", "spread", "calibrated"}
        See the module docstring; ``"calibrated"`` is
        ``sqrt(sum_m RATIO_SD_COEFF^2 / N_m) / M``.

    Returns
    -------
    PooledMeanRatio or None
        None if no spectrum has a defined <r>.
    """
    _check_stderr(ratio_stderr)
    r = np.asarray(mean_ratios, dtype=np.float64).ravel()
    n = np.asarray(n_levels).ravel()
    if r.shape != n.shape:
        raise ValueError(
            f"mean_ratios and n_levels must have the same length, got {r.size} and {n.size}"
        )
    if n.size and (n.dtype.kind not in "iu" or np.any(n < 3)):
        raise ValueError(f"n_levels must be integers >= 3, got {n_levels!r}")
    ok = np.isfinite(r)
    r, n = r[ok], n[ok].astype(np.int64)
    if r.size == 0:
        return None
    mean, se, method = _mean_and_stderr(r, n, ratio_stderr)
    ref = float(np.mean([goe_ratio_mean(int(k)) for k in n]))
    return PooledMeanRatio(mean, se, method, int(r.size), int(n.sum()), ref)


@dataclass(frozen=True, kw_only=True)
class LevelStatistics:
    """Level statistics of an ensemble of spectra (see :func:`level_statistics`).

    Attributes
    ----------
    spacing_ratios : ndarray of float64, shape (n_ratios,)
        ``r_i = min(s_i, s_{i+1}) / max(s_i, s_{i+1})`` of every spectrum, pooled (finite only).
    mean_ratios : ndarray of float64, shape (n_spectra,)
        <r> of each spectrum (NaN where all its ratios are 0/0).
    mean_ratio, mean_ratio_stderr : float
        ``<r>``, the mean of the finite ``mean_ratios``, and its standard error
        (``ratio_stderr_method``; module docstring).
    ratio_stderr_method : {"spread", "calibrated", "none"}
    ratio_reference : float
        GOE reference of ``<r>``, :func:`goe_ratio_mean` ``(n_levels)``.
    ratio_ks_goe : KSResult
        One-sample KS of the pooled ratios against the GOE surmise law
        ``P(r) = (27/4)(r + r^2)/(1 + r + r^2)^(5/2)`` (the 3 x 3 law, the only closed form;
        K = 16 spectra lie between it and the large-N law, which differ by 1 % in <r>).
    spacings : ndarray of float64, shape (n_spacings,)
        Nearest-neighbour spacings after unfolding (``unfolding``), pooled and normalised to
        mean 1. Empty (and the spacing KS tests NaN, ``brody`` None) when there is no
        unfolding: fewer than ``degree + 2`` levels or a spectrum of one repeated level
        (polynomial), or unfolded spacings of zero total width.
    unfolding : {"polynomial", "marchenko-pastur"}
    degree : int or None
        Polynomial degree of the unfolding (None for Marchenko-Pastur).
    mp_fit : MarchenkoPasturFit or None
        The fitted law the levels were unfolded with (``unfolding="marchenko-pastur"``).
    spacing_ks_wigner, spacing_ks_poisson : KSResult
        One-sample KS of the spacings against the beta = 1 Wigner surmise and ``exp(-s)``.
    brody : BrodyFit or None
        Brody fit of the positive spacings (q = 0 Poisson, q = 1 Wigner); None with fewer than 2.
    n_spectra : int
        Spectra used (rows with non-finite values are dropped).
    n_levels : int
        Levels per spectrum.
    non_monotone : int
        Spectra whose polynomial unfolding was not increasing (their spacings are unreliable;
        docs/statistics.md, section 2).
    """

    spacing_ratios: np.ndarray = field(repr=False)
    mean_ratios: np.ndarray = field(repr=False)
    mean_ratio: float
    mean_ratio_stderr: float
    ratio_stderr_method: str
    ratio_reference: float
    ratio_ks_goe: KSResult
    spacings: np.ndarray = field(repr=False)
    unfolding: str
    degree: int | None
    mp_fit: MarchenkoPasturFit | None = field(repr=False)
    spacing_ks_wigner: KSResult
    spacing_ks_poisson: KSResult
    brody: BrodyFit | None
    n_spectra: int
    n_levels: int
    non_monotone: int = 0

    @property
    def brody_q(self) -> float:
        """Brody parameter, NaN without a fit."""
        return math.nan if self.brody is None else self.brody.q

    @property
    def brody_stderr(self) -> float:
        """Its standard error, NaN without a fit (or at a bound)."""
        return math.nan if self.brody is None else self.brody.stderr

    @property
    def ratio_z_goe(self) -> float:
        """``(mean_ratio - ratio_reference) / mean_ratio_stderr``."""
        return (self.mean_ratio - self.ratio_reference) / self.mean_ratio_stderr

    @property
    def ratio_z_poisson(self) -> float:
        """``(mean_ratio - 0.3863) / mean_ratio_stderr``."""
        return (self.mean_ratio - POISSON_RATIO_MEAN) / self.mean_ratio_stderr

    def _unfolding_label(self) -> str:
        if self.unfolding == "polynomial":
            return f"per spectrum, polynomial degree {self.degree}, mean 1"
        return "fitted Marchenko-Pastur cdf, mean 1"

    def to_dict(self) -> dict:
        """Plain values (for JSON); the samples themselves are left out."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z_goe, z_poisson = self.ratio_z_goe, self.ratio_z_poisson
        return {
            "n_spectra": self.n_spectra,
            "n_levels": self.n_levels,
            "n_ratios": int(self.spacing_ratios.size),
            "mean_ratio": self.mean_ratio,
            "mean_ratio_stderr": self.mean_ratio_stderr,
            "mean_ratio_stderr_method": self.ratio_stderr_method,
            "goe_ratio_mean_surmise": GOE_RATIO_MEAN_SURMISE,
            "goe_ratio_mean_large_n": GOE_RATIO_MEAN_LARGE_N,
            "poisson_ratio_mean": POISSON_RATIO_MEAN,
            "ratio_reference": self.ratio_reference,
            "ratio_z_goe": z_goe,
            "ratio_z_poisson": z_poisson,
            "ratio_ks_law": "GOE surmise (Atas et al. 2013, exact for 3 x 3)",
            "ratio_ks_goe": self.ratio_ks_goe.to_dict(),
            "spacing_unfolding": self._unfolding_label(),
            "mp_fit": None if self.mp_fit is None else self.mp_fit.to_dict(),
            "non_monotone_unfoldings": self.non_monotone,
            "spacing_ks_wigner": self.spacing_ks_wigner.to_dict(),
            "spacing_ks_poisson": self.spacing_ks_poisson.to_dict(),
            "brody_q": self.brody_q,
            "brody_stderr": self.brody_stderr,
        }


def _as_spectra(levels) -> np.ndarray:
    x = np.asarray(levels, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 3:
        raise ValueError(
            f"levels must have shape (n_spectra, K) with K >= 3 (one spectrum per row; pass "
            f"x[None, :] for a single spectrum), got {np.shape(levels)}"
        )
    return x


def level_statistics(
    levels: np.ndarray,
    *,
    unfolding: str = "polynomial",
    degree: int = 5,
    mp_fit: MarchenkoPasturFit | None = None,
    ratio_stderr: str = "auto",
) -> LevelStatistics:
    """Spacing-ratio and spacing statistics of an ensemble of spectra against GOE and Poisson.

    Parameters
    ----------
    levels : array_like of float, shape (n_spectra, K)
        One spectrum per row (any order), K >= 3. Rows with non-finite values are dropped.
    unfolding : {"polynomial", "marchenko-pastur"}
        How the spectra are unfolded before the spacing statistics (ratios need none).
        ``"polynomial"``: each spectrum with its own degree-``degree`` Legendre fit of its
        staircase (:func:`dysonsgd.spectra.unfold`); used by ``dysonsgd compare``, whose seeds
        each have their own teacher and so their own density. ``"marchenko-pastur"``: through
        the cdf of the fitted law ``mp_fit.law``, one fitted parameter that absorbs none of the
        fluctuations; used by ``dysonsgd spectrum`` for a bulk that passed its MP test.
    degree : int >= 1
        Of the polynomial unfolding; spectra with fewer than ``degree + 2`` levels get no
        spacing statistics.
    mp_fit : MarchenkoPasturFit, required for ``unfolding="marchenko-pastur"``
        From :func:`dysonsgd.spectra.fit_marchenko_pastur`.
    ratio_stderr : {"auto", "spread", "calibrated"}
        Error of <r> (module docstring): ``"auto"`` is the spread of the per-spectrum <r> over
        sqrt(n_spectra) for two or more spectra, ``RATIO_SD_COEFF / sqrt(K)`` for one.

    Returns
    -------
    LevelStatistics

    Raises
    ------
    ValueError
        ``levels`` not of shape (n_spectra, K >= 3), an unknown ``unfolding`` or
        ``ratio_stderr``, a bad ``degree``, or ``"marchenko-pastur"`` without ``mp_fit``.

    References
    ----------
    Atas, Bogomolny, Giraud, Roux, PRL 110, 084101 (2013) (ratios); Brody, Lett. Nuovo
    Cimento 7, 482 (1973); docs/statistics.md, sections 2 and 7.
    """
    x = _as_spectra(levels)
    if unfolding not in UNFOLDINGS:
        raise ValueError(f"unfolding must be one of {', '.join(UNFOLDINGS)}, got {unfolding!r}")
    if unfolding == "marchenko-pastur" and not isinstance(mp_fit, MarchenkoPasturFit):
        raise ValueError(
            "unfolding='marchenko-pastur' needs mp_fit, a MarchenkoPasturFit from "
            f"dysonsgd.spectra.fit_marchenko_pastur; got {type(mp_fit).__name__}"
        )
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    _check_stderr(ratio_stderr)
    x = x[np.all(np.isfinite(x), axis=1)]
    m, n = x.shape

    # ratios: no unfolding needed
    if m:
        r = spacing_ratios(x)
        per = mean_spacing_ratio(x)
    else:
        r, per = np.zeros((0, n - 2)), np.zeros(0)
    pooled = r[np.isfinite(r)]
    ok = np.isfinite(per)
    mean_r, err_r, method = _mean_and_stderr(per[ok], np.full(int(ok.sum()), n), ratio_stderr)
    ks_r = ks_one_sample(pooled, goe_ratio) if pooled.size else _NAN_KS

    # unfolded spacings
    s = np.zeros(0)
    ks_w = ks_p = _NAN_KS
    brody = None
    bad = 0
    xi = None
    if m and unfolding == "marchenko-pastur":
        xi = mp_fit.law.cdf(np.sort(x, axis=1))
    elif m and n >= degree + 2 and np.all(np.ptp(x, axis=1) > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # counted below instead
            xi = unfold(x, "polynomial", degree=int(degree))
        order = np.argsort(x, axis=1)
        bad = int(np.sum(np.any(np.diff(np.take_along_axis(xi, order, 1), axis=1) < 0, axis=1)))
    if xi is not None:
        s = spacings(xi).ravel()
        s = s[np.isfinite(s)]
        if s.size and s.mean() > 0:
            s = s / s.mean()
            ks_w = ks_one_sample(s, wigner_surmise)
            ks_p = ks_one_sample(s, poisson_spacing)
            if np.count_nonzero(s > 0) >= 2:
                brody = fit_brody(s[s > 0])
        else:
            s = np.zeros(0)
    return LevelStatistics(
        spacing_ratios=pooled,
        mean_ratios=per,
        mean_ratio=mean_r,
        mean_ratio_stderr=err_r,
        ratio_stderr_method=method,
        ratio_reference=goe_ratio_mean(n),
        ratio_ks_goe=ks_r,
        spacings=s,
        unfolding=unfolding,
        degree=int(degree) if unfolding == "polynomial" else None,
        mp_fit=mp_fit if unfolding == "marchenko-pastur" else None,
        spacing_ks_wigner=ks_w,
        spacing_ks_poisson=ks_p,
        brody=brody,
        n_spectra=int(m),
        n_levels=int(n),
        non_monotone=bad,
    )

"""Distances between samples and laws: Kolmogorov-Smirnov and 1-Wasserstein.

See docs/statistics.md, section 6.

KS p-values assume independent draws; levels, spacings and ratios of one spectrum are
correlated (docs/statistics.md explains in which direction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dysonsgd.spectra._checks import _as_sample

__all__ = [
    "KSResult",
    "WassersteinResult",
    "ks_one_sample",
    "ks_two_sample",
    "wasserstein",
]


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

    def to_dict(self) -> dict:
        """Plain values (for JSON)."""
        return {"statistic": self.statistic, "pvalue": self.pvalue, "n": self.n, "m": self.m}


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

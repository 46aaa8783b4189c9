"""Fits to a spectrum or to its spacings: Brody, Marchenko-Pastur (docs/statistics.md, s. 5).

References
----------
T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967).
I. M. Johnstone, "On the distribution of the largest eigenvalue in principal components
analysis", Ann. Statist. 29, 295 (2001).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from dysonsgd.spectra._checks import _as_float_array, _as_sample
from dysonsgd.spectra.distances import KSResult
from dysonsgd.spectra.laws import _marchenko_pastur, marchenko_pastur

__all__ = ["BrodyFit", "MarchenkoPasturFit", "fit_brody", "fit_marchenko_pastur"]


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

    def to_dict(self) -> dict:
        """Plain values (for JSON)."""
        return {
            "q": self.q,
            "stderr": self.stderr,
            "n": self.n,
            "log_likelihood": self.log_likelihood,
        }


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

    def to_dict(self) -> dict:
        """Plain values (for JSON); ``outlier_indices`` as a list."""
        return {
            "ratio": self.ratio,
            "scale": self.scale,
            "lower_edge": self.lower_edge,
            "upper_edge": self.upper_edge,
            "tw_scale": self.tw_scale,
            "threshold": self.threshold,
            "n_outliers": self.n_outliers,
            "outlier_indices": [int(i) for i in self.outlier_indices],
            "ks": self.ks.to_dict(),
            "method": self.method,
        }


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

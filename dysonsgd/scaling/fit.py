"""Estimators of the scaling experiment: the stationary width of a record and the log-log fit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def stationary_width(
    singular_values: np.ndarray, record_times: np.ndarray, burn_in: float, s_star: float
) -> tuple[float, float]:
    """Rms deviation of the singular values from ``s*`` after burn-in, and its error.

    Each seed gives an independent mean square deviation (over the records at times
    ``>= burn_in`` and over the K singular values); the width is the root of their mean, the
    error the between-seed standard error propagated through the root (NaN for one seed).

    Parameters
    ----------
    singular_values : ndarray of float64, shape (n_seeds, n_records, K)
    record_times : ndarray, shape (n_records,)
        Steps (SGD) or Langevin times of the records.
    burn_in : float
        Records before this time are discarded.
    s_star : float
        The target singular value.

    Returns
    -------
    width, stderr : float
    """
    keep = record_times >= burn_in
    if keep.sum() < 2:
        raise ValueError(f"fewer than 2 records after the burn-in of {burn_in}: run longer")
    msd = ((singular_values[:, keep, :] - s_star) ** 2).mean(axis=(1, 2))  # (n_seeds,)
    w = math.sqrt(msd.mean())
    n = msd.size
    err = msd.std(ddof=1) / math.sqrt(n) / (2.0 * w) if n > 1 else float("nan")
    return w, float(err)


@dataclass(frozen=True)
class ScalingFit:
    """Weighted least-squares fit ``log width = slope log x + log prefactor``.

    Attributes
    ----------
    slope, slope_stderr : float
    prefactor, prefactor_stderr : float
        ``exp(intercept)`` and its error (delta method). With the slope free this is an
        extrapolation to x = 1, far outside a typical data range, so its error is large and
        strongly correlated with the slope's.
    chi2 : float
        Sum of squared normalised residuals; ``dof = n - 2``.
    dof : int
    prefactor_slope_one, prefactor_slope_one_stderr : float
        The prefactor of the one-parameter fit ``width = p x`` (slope fixed at 1): the
        weighted mean of ``log(width / x)``, exponentiated -- the sharp test of a predicted
        prefactor once the slope is established.
    """

    slope: float
    slope_stderr: float
    prefactor: float
    prefactor_stderr: float
    chi2: float
    dof: int
    prefactor_slope_one: float
    prefactor_slope_one_stderr: float


def fit_scaling(
    x: ArrayLike, width: ArrayLike, width_stderr: ArrayLike | None = None
) -> ScalingFit:
    """Fit ``log(width)`` against ``log(x)`` by weighted least squares.

    The weights are ``(width / width_stderr)^2`` (the variance of ``log width`` is
    ``(stderr/width)^2``); the parameter errors are the unscaled covariance of the fit, i.e.
    they trust the given errors (compare ``chi2`` with ``dof``). Without errors, an unweighted
    fit with the residual-scaled covariance.

    Parameters
    ----------
    x, width : array_like, shape (n,)
        Positive abscissae (e.g. ``sqrt(lr A / |B|)``) and widths, n >= 3.
    width_stderr : array_like, shape (n,), optional
        Positive standard errors of the widths.

    Returns
    -------
    ScalingFit
    """
    x = np.asarray(x, dtype=float).ravel()
    w = np.asarray(width, dtype=float).ravel()
    if x.size != w.size or x.size < 3:
        raise ValueError(f"x and width need the same length >= 3, got {x.size} and {w.size}")
    if not (np.all(x > 0) and np.all(w > 0) and np.all(np.isfinite(x)) and np.all(np.isfinite(w))):
        raise ValueError("x and width must be positive and finite to be fitted on a log scale")
    X = np.log(x)
    Y = np.log(w)
    if np.ptp(X) == 0:
        raise ValueError(f"x must take at least two distinct values to fit a slope, got {x}")
    if width_stderr is None:
        sy = np.ones_like(Y)
        scaled = True
    else:
        e = np.asarray(width_stderr, dtype=float).ravel()
        if e.size != w.size or not np.all(e > 0) or not np.all(np.isfinite(e)):
            raise ValueError("width_stderr must be positive and finite, one per width")
        sy = e / w
        scaled = False
    # Solve with relative errors sy / ref (ref = the smallest): the same solution, and A^T A
    # neither overflows (errors of 1e-300 relative gave NaN errors) nor underflows to a
    # singular matrix (errors of 1e300); the errors are rescaled by ref, chi2 by 1/ref^2.
    ref = float(sy.min())
    syn = sy / ref
    A = np.column_stack([X, np.ones_like(X)]) / syn[:, None]
    b = Y / syn
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    try:
        cov = np.linalg.inv(A.T @ A)  # in units of ref^2
    except np.linalg.LinAlgError:
        raise ValueError(
            f"log x = {X} are too close to separate a slope from the prefactor; spread x"
        ) from None
    resid = b - A @ coef
    with np.errstate(over="ignore"):  # inf: residuals beyond any representable chi2
        chi2 = float((np.linalg.norm(resid) / np.float64(ref)) ** 2)
    dof = x.size - 2
    if scaled:  # ref = 1 here
        cov = cov * chi2 / dof if dof > 0 else cov * np.nan
    slope, intercept = float(coef[0]), float(coef[1])
    pref = math.exp(intercept)
    # slope fixed at 1: log p = weighted mean of log(w/x)
    wt = 1.0 / syn**2
    logp = float(np.sum(wt * (Y - X)) / np.sum(wt))
    p1 = math.exp(logp)
    if scaled:
        r1 = (Y - X - logp) / sy
        se1 = math.sqrt(float(r1 @ r1) / (x.size - 1) / np.sum(wt))
    else:
        se1 = ref * math.sqrt(1.0 / float(np.sum(wt)))
    return ScalingFit(
        slope,
        float(ref * math.sqrt(cov[0, 0])),
        pref,
        float(pref * ref * math.sqrt(cov[1, 1])),
        chi2,
        dof,
        p1,
        p1 * se1,
    )

"""The exact stationary law of linear SGD with injected noise, and its harmonic Langevin map.

Model (docs/scaling.md): identity activation and a teacher with degenerate singular values,
``W* = s* U V^T`` (U: K x K orthogonal, V: L x K orthonormal columns, so all K singular values
equal ``s*``). The population loss of the linear student ``yhat = W a`` with inputs
``a ~ N(0, I_L)`` is ``1/2 ||W - W*||_F^2``, whose exact gradient is ``W - W*``. One SGD step is

    W <- W - lr * ( (W - W*) + xi ),     xi_kl ~ N(0, A / |B|) i.i.d.,

i.e. the exact gradient plus *injected* Gaussian gradient noise of per-element variance ``A`` per
sample, averaged over a batch of ``|B|`` samples. The noise is injected because the data noise of
a realisable linear teacher, ``(W - W*)(a a^T - I)``, vanishes at ``W = W*``: plain SGD would
converge to the teacher and the stationary width would be zero.

Stationary state (exact, any ``0 < lr < 2``): every element of ``D = W - W*`` is an AR(1) process
``D' = (1 - lr) D - lr xi``, whose stationary variance solves
``sigma^2 = (1 - lr)^2 sigma^2 + lr^2 A/|B|``:

    sigma^2 = lr A / (|B| (2 - lr)) = T A / (2 - lr),     T = lr / |B|.

So the stationary W is exactly ``W* + sigma G`` with G a K x L standard Gaussian matrix. For
``s* >> sigma`` the singular values are ``s_i = s* + sigma m_i + O(sigma^2/s*)``, with m_i the
eigenvalues of ``M = (H + H^T)/2``, ``H = U^T G V`` (K x K, i.i.d. N(0, 1)): a GOE matrix with
diagonal variance 1 and off-diagonal variance 1/2. The mean square deviation per singular value
is therefore ``E tr M^2 / K = (K + 1)/2`` and the **width** (the rms deviation of s_i from s*)

    width = sigma sqrt((K + 1)/2) = sqrt(T A) sqrt((K + 1) / (2 (2 - lr)))
          -> sqrt(lr A / |B|) * sqrt(K + 1) / 2       (lr -> 0).

The (L - K) columns enter first at second order: the mean shift of each s_i is
``sigma^2 (2L - K - 1) / (4 s*)`` and the relative correction to ``width^2`` is
``O((sigma/s*)^2)`` (odd orders vanish by G -> -G symmetry); see docs/scaling.md.

References
----------
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024) -- the linear scaling rule and its test in a linear
teacher-student model.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from dysonsgd._validate import positive_float as _check_positive

#: Relative bias of the stationary mean square deviation that the derived burn-in allows.
BURN_IN_TOLERANCE = 1e-3


def stationary_sigma(lr: ArrayLike, batch_size: ArrayLike, noise: ArrayLike) -> np.ndarray:
    """Per-element stationary standard deviation of ``W - W*`` (exact for the AR(1) update).

    ``sigma^2 = lr A / (|B| (2 - lr))``; scalars or broadcastable arrays.

    Parameters
    ----------
    lr : float or ndarray
        Learning rate, ``0 < lr < 2``.
    batch_size : int or ndarray
        |B|.
    noise : float or ndarray
        A, the per-sample, per-element variance of the injected gradient noise.

    Returns
    -------
    ndarray of float64
        Broadcast shape of the inputs (0-d for scalars). Increasing in ``lr`` and ``noise``,
        decreasing in ``batch_size``; positive and finite whenever the value is representable.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024); the derivation: docs/scaling.md,
    "The stationary state, exactly".
    """
    lr = np.asarray(lr, dtype=float)
    # a product of square roots: forming lr A first underflowed (1e-300 * 1e-300 -> sigma 0)
    # or overflowed (1.5 * 1e308 -> inf) where sigma itself is an ordinary number
    return (
        np.sqrt(lr)
        * np.sqrt(np.asarray(noise, float))
        / (np.sqrt(np.asarray(batch_size, float)) * np.sqrt(2.0 - lr))
    )


def theory_width(K: int, sigma: ArrayLike) -> np.ndarray:
    """Leading-order (``sigma << s*``) rms deviation of the singular values from ``s*``.

    ``width = sigma sqrt((K + 1)/2)``: ``E tr M^2 / K`` for the K x K GOE matrix
    ``M = (H + H^T)/2`` (diagonal variance 1, off-diagonal 1/2). Relative corrections are
    ``O((sigma/s*)^2)``.

    Parameters
    ----------
    K : int
        Number of singular values.
    sigma : float or ndarray
        Per-element stationary standard deviation, see :func:`stationary_sigma`.

    References
    ----------
    docs/scaling.md, "Singular values of W* + sigma G".
    """
    return np.asarray(sigma, dtype=float) * math.sqrt((K + 1) / 2.0)


def theory_prefactor(K: int) -> float:
    """``lim_{lr -> 0} width / sqrt(lr A / |B|) = sqrt(K + 1) / 2``."""
    return math.sqrt(K + 1) / 2.0


def initial_msd(K: int, L: int, s_star: float, init: str) -> float:
    """Initial ``E (W0 - W*)_kl^2`` per element of :func:`~dysonsgd.scaling.linear_sgd`.

    ``"random"``: W0 ~ N(0, 1/L) plus ``||W*||^2 / (K L) = s*^2 / L``; ``"teacher"``: 0.
    """
    return 0.0 if init == "teacher" else (1.0 + s_star**2) / L


def derived_burn_in(
    lr: ArrayLike, sigma2: ArrayLike, d0_sq: ArrayLike, tolerance: float = BURN_IN_TOLERANCE
) -> np.ndarray:
    """Steps after which the mean square deviation is stationary to ``tolerance``.

    Per element ``E D_t^2 - sigma^2 = (1 - lr)^(2t) (E D_0^2 - sigma^2)``: the relaxation time
    of the second moment is ``1 / (-2 ln|1 - lr|) ~ 1/(2 lr)`` steps. The burn-in is the first t
    with ``(1 - lr)^(2t) max(1, |E D_0^2 / sigma^2 - 1|) <= tolerance``.

    Parameters
    ----------
    lr, sigma2, d0_sq : float or ndarray
        Learning rate, stationary per-element variance, initial mean square of ``W - W*``.
    tolerance : float
        Allowed relative bias of the stationary second moment.

    Returns
    -------
    ndarray of int64
        Steps, >= 0; saturates at ``2^63 - 1`` (no run reaches it) when the relaxation is
        that slow (lr below ~1e-18).
    """
    lr = np.asarray(lr, float)
    ratio = np.maximum(1.0, np.abs(np.asarray(d0_sq, float) / np.asarray(sigma2, float) - 1.0))
    # log1p: log|1 - lr| rounded to 0 for lr < 1e-16 (a rate of 0 and a burn-in of -2^63)
    with np.errstate(divide="ignore", over="ignore"):  # lr = 1: rate inf, 0 steps
        rate = -2.0 * np.where(lr < 1.0, np.log1p(-np.minimum(lr, 1.0)), np.log(np.abs(1.0 - lr)))
        steps = np.ceil(np.log(ratio / tolerance) / rate)
    big = steps >= 2.0**63  # not representable in int64 (2^63 - 1 itself rounds to 2^63)
    out = np.where(big, 0.0, steps).astype(np.int64)
    return np.where(big, np.iinfo(np.int64).max, out)


def harmonic_map(s_star: float, noise: float) -> dict:
    """Parameters of the harmonic Langevin model equivalent to linear SGD near its target.

    In x = s^2 the linear model has (docs/scaling.md, aligned frames) ``Kt_ii = 2 s_i (s_i - s*)
    = (x_i - x*) + O((x - x*)^2 / x*)``, ``Vt_ij = A (x_i + x_j)``, ``Vt_ii = 4 A x_i``,
    ``C_ii = A L``. Linearised at ``x = x* = s*^2`` this is the constant-noise harmonic model
    (docs/theory.md, section 2, case 2) with ``kappa = 1``, ``Vt_ij = 2 A s*^2``,
    ``Vt_ii = 4 A s*^2`` -- i.e. noise ``A_h = 2 A s*^2`` and ``C = 0`` -- at temperature
    ``T = lr / |B|``. The neglected terms change the width by relative O((L sigma / s*)^2)
    (docs/scaling.md).

    Parameters
    ----------
    s_star : float
        Teacher singular value.
    noise : float
        A of the SGD (per-sample per-element gradient-noise variance).

    Returns
    -------
    dict
        ``{"target": s*^2, "kappa": 1.0, "noise": 2 A s*^2}``.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024); docs/scaling.md, "The harmonic
    Langevin model".
    """
    s_star = _check_positive("s_star", s_star)
    noise = _check_positive("noise", noise)
    # s*^2 raised Python's OverflowError for s* = 1e200 and 2 A s*^2 could overflow to inf
    # or underflow to 0: refuse them with the value
    lt = 2.0 * math.log(s_star)
    ln = math.log(2.0 * noise) + lt
    lim = math.log(np.finfo(float).max)
    tiny = math.log(np.finfo(float).tiny)
    if not (tiny < lt < lim and tiny < ln < lim):
        raise ValueError(
            f"s_star={s_star:g} with noise={noise:g} makes the target s_star^2 or the noise "
            f"2 noise s_star^2 overflow or underflow float64; rescale the problem"
        )
    return {"target": s_star**2, "kappa": 1.0, "noise": 2.0 * noise * s_star**2}

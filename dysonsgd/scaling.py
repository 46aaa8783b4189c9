"""The linear scaling rule in the linear teacher-student model (DBM paper; docs/scaling.md).

Model
-----
Identity activation and a teacher with *degenerate* singular values,
``W* = s* U V^T`` (U: K x K orthogonal, V: L x K orthonormal columns, so all K singular values
equal ``s*``). The population loss of the linear student ``yhat = W a`` with inputs
``a ~ N(0, I_L)`` is ``1/2 ||W - W*||_F^2``, whose exact gradient is ``W - W*``. One SGD step is

    W <- W - lr * ( (W - W*) + xi ),     xi_kl ~ N(0, A / |B|) i.i.d.,

i.e. the exact gradient plus *injected* Gaussian gradient noise of per-element variance ``A`` per
sample, averaged over a batch of ``|B|`` samples (the mean of ``|B|`` independent N(0, A) draws is
exactly N(0, A/|B|), so the batch mean is drawn directly). The noise is injected because the
data noise of a realisable linear teacher, ``(W - W*)(a a^T - I)``, vanishes at ``W = W*``: plain
SGD would converge to the teacher and the stationary width would be zero. Injecting it makes the
strength of the stochasticity a control parameter, as in the DBM paper.

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

Seeds: seed member ``k`` of a run, cell ``c`` (row-major index over the grid
(lr, |B|, A)) draws its noise from spawn child ``c`` of
``_seeding.stream(entropy, k, SCALING)`` with the purpose number ``dysonsgd._seeding.SCALING``.

References
----------
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024) -- the linear scaling rule and its test in a linear
teacher-student model.
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dysonsgd import _seeding
from dysonsgd._validate import integer as _check_int
from dysonsgd._validate import positive_float as _check_positive

#: Seed purpose of the injected gradient noise of the linear scaling experiment.
SCALING = _seeding.SCALING

#: Relative bias of the stationary mean square deviation that the derived burn-in allows.
BURN_IN_TOLERANCE = 1e-3

#: At most this many steps' noise is drawn in one call per (seed, cell) stream ...
_NOISE_BLOCK = 256
#: ... and the noise buffer holds at most this many float64 numbers (32 MB). The block length
#: does not change the results: each stream is read sequentially.
_NOISE_BUDGET = 2**22


# ----------------------------------------------------------------------------- theory


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
    """
    return np.asarray(sigma, dtype=float) * math.sqrt((K + 1) / 2.0)


def theory_prefactor(K: int) -> float:
    """``lim_{lr -> 0} width / sqrt(lr A / |B|) = sqrt(K + 1) / 2``."""
    return math.sqrt(K + 1) / 2.0


# ----------------------------------------------------------------------------- validation


def _check_lr(lr) -> float:
    v = _check_positive("lr", lr)
    if v >= 2.0:
        raise ValueError(
            f"lr must be in (0, 2) for the linear drift to be stable (|1 - lr| < 1), got {v}"
        )
    return v


def _check_init(init: str) -> str:
    if init not in ("random", "teacher"):
        raise ValueError(f"init must be 'random' or 'teacher', got {init!r}")
    return init


# ----------------------------------------------------------------------------- simulator


def teacher_matrix(K: int, L: int, s_star: float, rng: np.random.Generator) -> np.ndarray:
    """A K x L teacher ``s* U V^T`` with random orthonormal frames U (K x K), V (L x K).

    The frames are the Q factors of Gaussian matrices (not sign-corrected to Haar measure: the
    stationary law of the singular values does not depend on the frames).
    """
    U, _ = np.linalg.qr(rng.standard_normal((K, K)))
    V, _ = np.linalg.qr(rng.standard_normal((L, K)))
    return np.ascontiguousarray(s_star * U @ V.T)


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


@dataclass(frozen=True)
class LinearSGDResult:
    """Singular-value records of linear SGD with injected noise, one cell, many seeds.

    Attributes
    ----------
    singular_values : ndarray of float64, shape (n_seeds, n_records, K)
        Descending singular values of W at ``record_steps``.
    record_steps : ndarray of int64, shape (n_records,)
    lr, batch_size, noise, s_star : scalars of the run
    burn_in : int
        Steps discarded by :meth:`width` (derived with :func:`derived_burn_in` unless given).
    seed : int
        Base entropy of the run.
    """

    singular_values: np.ndarray
    record_steps: np.ndarray
    lr: float
    batch_size: int
    noise: float
    s_star: float
    burn_in: int
    seed: int

    @property
    def temperature(self) -> float:
        """``T = lr / |B|``."""
        return self.lr / self.batch_size

    @property
    def sigma(self) -> float:
        """Exact stationary per-element standard deviation of ``W - W*``."""
        return float(stationary_sigma(self.lr, self.batch_size, self.noise))

    def width(self) -> tuple[float, float]:
        """Rms deviation of the singular values from ``s*`` after burn-in, and its error.

        Each seed gives an independent mean square deviation (over records after burn-in and
        over the K singular values); the width is the root of their mean, the error the
        between-seed standard error propagated through the root.
        """
        return _width(self.singular_values, self.record_steps, self.burn_in, self.s_star)


def _width(sv: np.ndarray, record_times: np.ndarray, burn_in, s_star: float):
    keep = record_times >= burn_in
    if keep.sum() < 2:
        raise ValueError(f"fewer than 2 records after the burn-in of {burn_in}: run longer")
    msd = ((sv[:, keep, :] - s_star) ** 2).mean(axis=(1, 2))  # (n_seeds,)
    w = math.sqrt(msd.mean())
    n = msd.size
    err = msd.std(ddof=1) / math.sqrt(n) / (2.0 * w) if n > 1 else float("nan")
    return w, float(err)


def _simulate(
    K: int,
    L: int,
    s_star: float,
    lr: np.ndarray,
    scale: np.ndarray,
    *,
    steps: int,
    record_every: int,
    n_seeds: int,
    entropy: int,
    init: str,
):
    """Vectorised over (cell, seed); returns singular values (C, S, R, K) and record steps."""
    C = lr.size
    Wstar = np.empty((C, n_seeds, K, L))
    W = np.empty((C, n_seeds, K, L))
    rngs = []
    for k in range(n_seeds):
        children = _seeding.stream(entropy, k, SCALING).spawn(C)
        rngs.append(children)
        for c in range(C):
            g = children[c]
            Wstar[c, k] = teacher_matrix(K, L, s_star, g)
            W[c, k] = Wstar[c, k] if init == "teacher" else g.standard_normal((K, L)) / math.sqrt(L)
    record_steps = np.arange(0, steps + 1, record_every, dtype=np.int64)
    out = np.empty((C, n_seeds, record_steps.size, K))
    out[:, :, 0] = np.linalg.svd(W, compute_uv=False)
    lr4 = lr[:, None, None, None]
    amp = (lr * scale)[:, None, None, None]  # lr * sqrt(A/|B|)
    nblock = max(1, min(_NOISE_BLOCK, _NOISE_BUDGET // (C * n_seeds * K * L)))
    block = np.empty((C, n_seeds, nblock, K, L))
    r = 1
    for start in range(0, steps, nblock):
        nb = min(nblock, steps - start)
        for c in range(C):
            for k in range(n_seeds):
                rngs[k][c].standard_normal((nb, K, L), out=block[c, k, :nb])
        for j in range(nb):
            # W <- W - lr ((W - W*) + sqrt(A/|B|) z)
            W -= lr4 * (W - Wstar)
            W -= amp * block[:, :, j]
            t = start + j + 1
            if t % record_every == 0:
                out[:, :, r] = np.linalg.svd(W, compute_uv=False)
                r += 1
    return out, record_steps


def _initial_msd(K: int, L: int, s_star: float, init: str) -> float:
    # E (W0 - W*)_kl^2 per element: W0 ~ N(0, 1/L) plus ||W*||^2 / (K L) = s*^2 / L.
    return 0.0 if init == "teacher" else (1.0 + s_star**2) / L


def linear_sgd(
    K: int,
    L: int,
    s_star: float,
    lr: float,
    batch_size: int,
    noise: float,
    *,
    steps: int,
    record_every: int = 1,
    burn_in: int | None = None,
    n_seeds: int = 1,
    init: str = "random",
    seed: int | np.random.Generator | None = None,
) -> LinearSGDResult:
    """Linear teacher-student SGD with injected Gaussian gradient noise.

    ``W <- W - lr ((W - W*) + xi)``, ``xi`` i.i.d. N(0, noise / batch_size); the teacher
    ``W* = s* U V^T`` has K degenerate singular values ``s*`` (fresh Haar frames per seed).

    Parameters
    ----------
    K, L : int
        Shape of W (K <= L).
    s_star : float
        The teacher's common singular value.
    lr : float
        Learning rate, in (0, 2).
    batch_size : int
        |B|; the injected noise of the batch mean has per-element variance ``noise/|B|``.
    noise : float
        A, per-sample per-element variance of the injected noise.
    steps : int
        SGD steps per seed.
    record_every : int
        Singular values are recorded at steps 0, record_every, ...
    burn_in : int or None
        Steps discarded by :meth:`LinearSGDResult.width`; ``None`` derives it from the relaxation
        time (:func:`derived_burn_in`).
    n_seeds : int
        Independent runs (each with its own teacher, start and noise).
    init : {"random", "teacher"}
        Student start: entries N(0, 1/L), or exactly the teacher.
    seed : int, Generator or None
        Base seed; seed member k draws from spawn child 0 of ``stream(entropy, k, SCALING)``.

    Returns
    -------
    LinearSGDResult
        ``singular_values`` of shape (n_seeds, n_records, K).

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024).
    """
    K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init = _validate(
        K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init
    )
    entropy = _seeding.base_entropy(seed)
    sigma2 = float(stationary_sigma(lr, batch_size, noise)) ** 2
    if burn_in is None:
        burn_in = int(derived_burn_in(lr, sigma2, _initial_msd(K, L, s_star, init)))
    else:
        burn_in = _check_int("burn_in", burn_in, 0)
    sv, rec = _simulate(
        K,
        L,
        s_star,
        np.array([lr]),
        np.array([math.sqrt(noise / batch_size)]),
        steps=steps,
        record_every=record_every,
        n_seeds=n_seeds,
        entropy=entropy,
        init=init,
    )
    return LinearSGDResult(sv[0], rec, lr, batch_size, noise, s_star, burn_in, entropy)


def _validate(K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init):
    K = _check_int("K", K, 2)
    L = _check_int("L", L, 1)
    if K > L:
        raise ValueError(f"K must not exceed L, got K={K}, L={L}")
    steps = _check_int("steps", steps, 1)
    n_seeds = _check_int("n_seeds", n_seeds, 1)
    record_every = _check_int("record_every", record_every, 1)
    if record_every > steps:
        raise ValueError(f"record_every={record_every} exceeds steps={steps}: nothing recorded")
    batch_size = _check_int("batch_size", batch_size, 1)
    s_star = _check_positive("s_star", s_star)
    lr = _check_lr(lr)
    noise = _check_positive("noise", noise)
    return K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, _check_init(init)


# ----------------------------------------------------------------------------- fit


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


# ----------------------------------------------------------------------------- experiment


@dataclass(frozen=True)
class ScalingResult:
    """Stationary widths over a grid of (lr, |B|, A) and the scaling fits.

    Attributes
    ----------
    source : {"sgd", "langevin"}
        Linear SGD (:func:`linear_scaling_experiment`) or the harmonic Langevin model
        (:func:`harmonic_scaling_experiment`).
    K : int
    s_star : float
    lr, batch_size, noise : ndarray, shape (n_cells,)
        The grid, row-major over (lr, |B|, A); ``noise`` is the SGD's A in both cases.
    width, width_stderr : ndarray of float64, shape (n_cells,)
        Measured rms deviation of s_i from s* and its between-seed standard error.
    burn_in_time : ndarray of float64, shape (n_cells,)
        Discarded initial stretch in Langevin time ``t = lr * steps``.
    theory_sigma : ndarray of float64, shape (n_cells,)
        Per-element stationary standard deviation: ``sqrt(T A / (2 - lr))`` for SGD (exact),
        ``sqrt(T A / 2)`` for the Langevin equation (which drops the O(lr) terms).
    theory_width : ndarray of float64, shape (n_cells,)
        ``theory_sigma * sqrt((K + 1)/2)``: leading order in sigma/s*.
    fit : ScalingFit
        Fit of ``width`` against ``x = sqrt(lr A / |B|)`` (the linear scaling variable).
    fit_sigma : ScalingFit
        Fit of ``width`` against ``theory_sigma``; the theory is then an exact power law, slope 1
        and prefactor ``sqrt((K + 1)/2)``.
    theory_fit : ScalingFit
        The fit of ``fit`` (same relative weights) applied to ``theory_width``: the slope and
        prefactor that the finite-lr factor ``(2 - lr)^(-1/2)`` alone produces on this grid --
        the systematic reference for ``fit`` (slope 1 and prefactor ``sqrt(K + 1)/2`` exactly for
        the Langevin source).
    theory_prefactor : float
        ``sqrt(K + 1)/2``, the lr -> 0 prefactor of ``fit``.
    n_seeds : int
    seed : int
    settings : dict
        Source-specific run settings (SGD: L, steps, record_every, init; Langevin: time, dt,
        scheme, save_every, and the harmonic-model map).
    """

    source: str
    K: int
    s_star: float
    lr: np.ndarray
    batch_size: np.ndarray
    noise: np.ndarray
    width: np.ndarray
    width_stderr: np.ndarray
    burn_in_time: np.ndarray
    theory_sigma: np.ndarray
    theory_width: np.ndarray
    fit: ScalingFit
    fit_sigma: ScalingFit
    theory_fit: ScalingFit
    theory_prefactor: float
    n_seeds: int
    seed: int
    settings: dict

    @property
    def temperature(self) -> np.ndarray:
        """``T = lr / |B|`` per cell."""
        return self.lr / self.batch_size

    @property
    def x(self) -> np.ndarray:
        """The abscissa ``sqrt(lr A / |B|)`` per cell."""
        return np.sqrt(self.lr * self.noise / self.batch_size)

    def equal_temperature_pairs(self) -> list[dict]:
        """Pairs of cells with the same A and T = lr/|B| but different (lr, |B|).

        Returns
        -------
        list of dict
            ``i, j`` (cell indices, lr_i < lr_j), ``ratio = width_i / width_j`` with its
            propagated error ``ratio_stderr``, and ``expected = theory_width_i /
            theory_width_j``: ``sqrt((2 - lr_j)/(2 - lr_i))`` for SGD (the finite-lr correction
            to the scaling rule), exactly 1 for the Langevin equation.
        """
        pairs = []
        n = self.lr.size
        T = self.temperature
        for i in range(n):
            for j in range(n):
                if (
                    self.lr[i] < self.lr[j]
                    and math.isclose(T[i], T[j], rel_tol=1e-12)
                    and math.isclose(self.noise[i], self.noise[j], rel_tol=1e-12)
                ):
                    ratio = self.width[i] / self.width[j]
                    err = ratio * math.hypot(
                        self.width_stderr[i] / self.width[i], self.width_stderr[j] / self.width[j]
                    )
                    expected = self.theory_width[i] / self.theory_width[j]
                    pairs.append(
                        {
                            "i": i,
                            "j": j,
                            "ratio": float(ratio),
                            "ratio_stderr": float(err),
                            "expected": float(expected),
                        }
                    )
        return pairs

    def table(self) -> str:
        """A plain-text table of the cells, the fits and the equal-temperature pairs."""
        head = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        lines = [
            f"source={self.source} K={self.K} s*={self.s_star:g} n_seeds={self.n_seeds} "
            f"seed={self.seed} {head}",
            f"{'lr':>7} {'|B|':>4} {'A':>9} {'T':>9} {'burn_in_t':>9} {'width':>11} "
            f"{'stderr':>9} {'theory':>11} {'w/theory':>8} {'z':>6}",
        ]
        for c in range(self.lr.size):
            z = (self.width[c] - self.theory_width[c]) / self.width_stderr[c]
            lines.append(
                f"{self.lr[c]:7.4g} {self.batch_size[c]:4d} {self.noise[c]:9.3g} "
                f"{self.temperature[c]:9.4g} {self.burn_in_time[c]:9.3g} {self.width[c]:11.5g} "
                f"{self.width_stderr[c]:9.2g} {self.theory_width[c]:11.5g} "
                f"{self.width[c] / self.theory_width[c]:8.4f} {z:6.2f}"
            )
        f, t, g = self.fit, self.theory_fit, self.fit_sigma
        lines.append(
            f"fit vs sqrt(lr A/|B|): slope = {f.slope:.4f} +- {f.slope_stderr:.4f} (theory on "
            f"this grid {t.slope:.4f}), prefactor = {f.prefactor:.4f} +- "
            f"{f.prefactor_stderr:.4f} (theory on this grid {t.prefactor:.4f}, lr->0 limit "
            f"sqrt(K+1)/2 = {self.theory_prefactor:.4f}), chi2/dof = {f.chi2:.1f}/{f.dof}; "
            f"at slope 1: prefactor = {f.prefactor_slope_one:.4f} +- "
            f"{f.prefactor_slope_one_stderr:.4f} (theory on this grid "
            f"{t.prefactor_slope_one:.4f})"
        )
        lines.append(
            f"fit vs sigma: slope = {g.slope:.4f} +- {g.slope_stderr:.4f} (theory 1), "
            f"prefactor = {g.prefactor:.4f} +- {g.prefactor_stderr:.4f} (theory "
            f"sqrt((K+1)/2) = {math.sqrt((self.K + 1) / 2):.4f}), chi2/dof = {g.chi2:.1f}/{g.dof}; "
            f"at slope 1: prefactor = {g.prefactor_slope_one:.4f} +- "
            f"{g.prefactor_slope_one_stderr:.4f}"
        )
        for p in self.equal_temperature_pairs():
            i, j = p["i"], p["j"]
            lines.append(
                f"equal T={self.temperature[i]:.4g}, A={self.noise[i]:g}: "
                f"(lr={self.lr[i]:g},|B|={self.batch_size[i]}) / "
                f"(lr={self.lr[j]:g},|B|={self.batch_size[j]}): width ratio = "
                f"{p['ratio']:.4f} +- {p['ratio_stderr']:.4f} (theory {p['expected']:.4f})"
            )
        return "\n".join(lines)


def _grid(lr_values, batch_sizes, noise_values):
    lrs = [_check_lr(v) for v in lr_values]
    bss = [_check_int("batch_size", v, 1) for v in batch_sizes]
    As = [_check_positive("noise", v) for v in noise_values]
    if not lrs or not bss or not As:
        raise ValueError("lr_values, batch_sizes and noise_values must each be non-empty")
    grid = [(a, b, c) for a in lrs for b in bss for c in As]
    if len(grid) < 3:
        raise ValueError("the grid needs at least 3 cells to fit a slope and a prefactor")
    lr = np.array([g[0] for g in grid], dtype=float)
    bs = np.array([g[1] for g in grid], dtype=np.int64)
    A = np.array([g[2] for g in grid], dtype=float)
    return lr, bs, A


def _result(source, K, s_star, lr, bs, A, width, err, burn_time, sigma, n_seeds, entropy, st):
    x = np.sqrt(lr * A / bs)
    tw = theory_width(K, sigma)
    return ScalingResult(
        source=source,
        K=K,
        s_star=s_star,
        lr=lr,
        batch_size=bs,
        noise=A,
        width=width,
        width_stderr=err,
        burn_in_time=np.asarray(burn_time, dtype=float),
        theory_sigma=sigma,
        theory_width=tw,
        fit=fit_scaling(x, width, err),
        fit_sigma=fit_scaling(sigma, width, err),
        # Same relative weights as the data fit, so the two slopes are directly comparable.
        theory_fit=fit_scaling(x, tw, err * tw / width),
        theory_prefactor=theory_prefactor(K),
        n_seeds=n_seeds,
        seed=entropy,
        settings=st,
    )


def linear_scaling_experiment(
    K: int,
    L: int,
    s_star: float,
    lr_values: Sequence[float],
    batch_sizes: Sequence[int],
    noise_values: Sequence[float],
    *,
    steps: int,
    burn_in: int | None = None,
    record_every: int = 1,
    n_seeds: int = 16,
    init: str = "random",
    seed: int | np.random.Generator | None = None,
) -> ScalingResult:
    """Measure the stationary singular-value width of linear SGD over a grid; fit the scaling.

    Runs :func:`linear_sgd` for every (lr, |B|, A) of the grid (vectorised over cells and
    seeds), measures the width (rms deviation of s_i from s* over the records after burn-in,
    the K values and the seeds), and fits ``log width`` against ``log sqrt(lr A / |B|)``.

    Parameters
    ----------
    K, L : int
        Shape of W.
    s_star : float
        The teacher's common singular value; keep ``sigma << s*`` for the leading-order theory.
    lr_values, batch_sizes, noise_values : sequences
        The grid axes (row-major cell order: lr slowest, A fastest).
    steps : int
        SGD steps, the same for every cell (choose it from the smallest lr: the measurement
        spans ``(steps - burn_in) * lr`` relaxation times).
    burn_in : int or None
        Discarded steps for all cells, or ``None`` for the per-cell derived burn-in
        (:func:`derived_burn_in`).
    record_every : int
        Record interval in steps.
    n_seeds : int
        Independent seeds per cell (>= 2, the errors are between-seed).
    init : {"random", "teacher"}
    seed : int, Generator or None

    Returns
    -------
    ScalingResult

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024), the linear scaling rule.
    """
    lr, bs, A = _grid(lr_values, batch_sizes, noise_values)
    K, L, steps, n_seeds, record_every, _, s_star, _, _, init = _validate(
        K, L, steps, n_seeds, record_every, 1, s_star, lr[0], A[0], init
    )
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be >= 2 for between-seed errors, got {n_seeds}")
    sigma = stationary_sigma(lr, bs, A)
    if burn_in is None:
        burn = derived_burn_in(lr, sigma**2, _initial_msd(K, L, s_star, init))
    else:
        burn = np.full(lr.size, _check_int("burn_in", burn_in, 0), dtype=np.int64)
    if burn.max() >= steps:
        raise ValueError(
            f"steps={steps} does not exceed the burn-in of {int(burn.max())} steps: increase steps"
        )
    entropy = _seeding.base_entropy(seed)
    sv, rec = _simulate(
        K,
        L,
        s_star,
        lr,
        np.sqrt(A / bs),
        steps=steps,
        record_every=record_every,
        n_seeds=n_seeds,
        entropy=entropy,
        init=init,
    )
    width = np.empty(lr.size)
    err = np.empty(lr.size)
    for c in range(lr.size):
        width[c], err[c] = _width(sv[c], rec, int(burn[c]), s_star)
    settings = {"L": L, "steps": steps, "record_every": record_every, "init": init}
    return _result(
        "sgd", K, s_star, lr, bs, A, width, err, burn * lr, sigma, n_seeds, entropy, settings
    )


# ----------------------------------------------------------------------------- Langevin


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


def harmonic_scaling_experiment(
    K: int,
    s_star: float,
    lr_values: Sequence[float],
    batch_sizes: Sequence[int],
    noise_values: Sequence[float],
    *,
    time: float,
    burn_in_time: float = 5.0,
    dt: float = 2e-3,
    save_every: float = 0.1,
    scheme: str = "semi_implicit",
    n_seeds: int = 16,
    seed: int | np.random.Generator | None = None,
) -> ScalingResult:
    """The scaling experiment on the harmonic Langevin model mapped from linear SGD.

    Each cell integrates ``HarmonicModel(targets = s*^2 (K times), kappa = 1,
    noise = 2 A s*^2)`` (see :func:`harmonic_map`) at ``T = lr / |B|`` with
    :func:`dysonsgd.langevin.integrate`, from the equally spaced levels
    ``x* + 2 s* sqrt(T A / 2) linspace(1, -1, K)``, and measures the rms deviation of
    ``sqrt(x_i)`` from ``s*`` over the saves after ``burn_in_time``. Theory (docs/theory.md,
    section 2, case 2): GOE with diagonal variance ``2 T A s*^2``, so
    ``width = sqrt(T A (K + 1)/4)`` to leading order in sigma/s*, with no finite-lr factor (the
    Langevin equation drops O(lr) terms).

    Parameters
    ----------
    K : int
        Number of levels, >= 2.
    s_star : float
        Teacher singular value.
    lr_values, batch_sizes, noise_values : sequences
        The grid (as :func:`linear_scaling_experiment`); only ``T A`` enters the equation.
    time : float
        Langevin time per cell (relaxation time 1/kappa = 1).
    burn_in_time : float
        Discarded initial time; the start is O(sigma) from stationarity, whose second moment
        relaxes as exp(-2 t): 5 leaves a relative bias below e^-10.
    dt : float
        Integrator step (weak order 1: the width is biased by O(dt)).
    save_every : float
        Langevin time between saves.
    scheme : {"semi_implicit", "euler"}
    n_seeds : int
        Systems per cell (>= 2).
    seed : int, Generator or None
        Cell c integrates with the base seed ``stream(entropy, c, SCALING).integers(2**63 - 1)``
        (the integrator derives its per-system streams from it).

    Returns
    -------
    ScalingResult

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024).
    """
    from dysonsgd.langevin import HarmonicModel, integrate

    K = _check_int("K", K, 2)
    s_star = _check_positive("s_star", s_star)
    lr, bs, A = _grid(lr_values, batch_sizes, noise_values)
    time = _check_positive("time", time)
    burn_in_time = float(burn_in_time)
    if not (math.isfinite(burn_in_time) and 0 <= burn_in_time < time):
        raise ValueError(f"burn_in_time must be in [0, time={time}), got {burn_in_time}")
    dt = _check_positive("dt", dt)
    save_every = _check_positive("save_every", save_every)
    save_points = int(round(time / save_every)) + 1
    if save_points < 3 or not math.isclose((save_points - 1) * save_every, time, rel_tol=1e-9):
        raise ValueError(
            f"time={time} must be a multiple of save_every={save_every} with >= 2 intervals"
        )
    n_seeds = _check_int("n_seeds", n_seeds, 2)
    entropy = _seeding.base_entropy(seed)
    T = lr / bs
    width = np.empty(lr.size)
    err = np.empty(lr.size)
    for c in range(lr.size):
        hm = harmonic_map(s_star, A[c])
        model = HarmonicModel(
            targets=np.full(K, hm["target"]), kappa=hm["kappa"], noise=hm["noise"]
        )
        spread = 2.0 * s_star * math.sqrt(T[c] * A[c] / 2.0)
        x0 = np.tile(hm["target"] + spread * np.linspace(1.0, -1.0, K), (n_seeds, 1))
        cell_seed = int(_seeding.stream(entropy, c, SCALING).integers(0, 2**63 - 1))
        r = integrate(
            model,
            x0,
            time,
            temperature=float(T[c]),
            dt=dt,
            scheme=scheme,
            save_points=save_points,
            seed=cell_seed,
        )
        if r.stopped.any():
            raise RuntimeError(
                f"cell {c}: {int(r.stopped.sum())} Langevin systems stopped early "
                f"(status {sorted(set(r.status.tolist()))}); reduce dt"
            )
        sv = np.sqrt(np.maximum(r.x, 0.0))[:, :, :]
        # same estimator as the SGD: per-system mean square deviation after burn-in
        width[c], err[c] = _width(sv, r.times, burn_in_time, s_star)
    sigma = np.sqrt(T * A / 2.0)
    settings = {"time": time, "dt": dt, "save_every": save_every, "scheme": scheme}
    burn = np.full(lr.size, burn_in_time)
    return _result(
        "langevin", K, s_star, lr, bs, A, width, err, burn, sigma, n_seeds, entropy, settings
    )

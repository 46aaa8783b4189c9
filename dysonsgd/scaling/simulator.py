"""Linear teacher-student SGD with injected gradient noise: the validating API.

:func:`linear_sgd` runs one (lr, |B|, A) cell for many seeds; :func:`simulate` runs a grid of
cells at once for :func:`dysonsgd.scaling.linear_scaling_experiment`. Both validate, draw each
seed's teacher, start and noise stream, and hand the arrays to the private kernel
:func:`dysonsgd.scaling._linear_sgd.run`.

Why not :func:`dysonsgd.sgd.train`: its teacher is an exact fixed point (a realisable target, so
every per-sample gradient vanishes at ``W = W*`` for every activation), its drift is the
empirical ``Z^T Z (W - W*) a a^T`` of a fixed training set, and its teacher is Gaussian; this
process needs the exact drift ``W - W*``, additive noise and a degenerate teacher
(docs/scaling.md, "Why a separate simulator").

Seeds: seed member ``k`` of a run, cell ``c`` (row-major index over the grid (lr, |B|, A)) draws
its teacher, start and noise, in that order, from spawn child ``c`` of
``_seeding.stream(entropy, k, SCALING)`` with the purpose number ``dysonsgd._seeding.SCALING``.

References
----------
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import integer as _check_int
from dysonsgd._validate import positive_float as _check_positive
from dysonsgd.scaling import _linear_sgd
from dysonsgd.scaling.fit import stationary_width
from dysonsgd.scaling.theory import derived_burn_in, initial_msd, stationary_sigma

#: Seed purpose of the injected gradient noise of the linear scaling experiment.
SCALING = _seeding.SCALING

INITS: tuple[str, ...] = ("random", "teacher")


def check_lr(lr) -> float:
    """Validate a learning rate of the linear model: in (0, 2), where the drift contracts."""
    v = _check_positive("lr", lr)
    if v >= 2.0:
        raise ValueError(
            f"lr must be in (0, 2) for the linear drift to be stable (|1 - lr| < 1), got {v}"
        )
    return v


def _check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"init must be 'random' or 'teacher', got {init!r}")
    return init


def check_settings(K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init):
    """Validate the settings of a run; return them coerced, in the same order."""
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
    lr = check_lr(lr)
    noise = _check_positive("noise", noise)
    return K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, _check_init(init)


def teacher_matrix(K: int, L: int, s_star: float, rng: np.random.Generator) -> np.ndarray:
    """A K x L teacher ``s* U V^T`` with random orthonormal frames U (K x K), V (L x K).

    The frames are the Q factors of Gaussian matrices (not sign-corrected to Haar measure: the
    stationary law of the singular values does not depend on the frames).

    Returns
    -------
    ndarray of float64, shape (K, L)
        All K singular values equal ``s_star``.
    """
    U, _ = np.linalg.qr(rng.standard_normal((K, K)))
    V, _ = np.linalg.qr(rng.standard_normal((L, K)))
    return np.ascontiguousarray(s_star * U @ V.T)


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

        See :func:`dysonsgd.scaling.fit.stationary_width`.
        """
        return stationary_width(self.singular_values, self.record_steps, self.burn_in, self.s_star)


def simulate(
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
) -> tuple[np.ndarray, np.ndarray]:
    """Run every cell of a grid for every seed (inputs already validated).

    Parameters
    ----------
    K, L, s_star : shape of W and the teacher's singular value
    lr : ndarray of float64, shape (C,)
    scale : ndarray of float64, shape (C,)
        ``sqrt(A / |B|)`` per cell, the standard deviation of the batch-mean noise.
    steps, record_every, n_seeds : int
    entropy : int
        Base entropy (:func:`dysonsgd._seeding.base_entropy`).
    init : {"random", "teacher"}

    Returns
    -------
    singular_values : ndarray of float64, shape (C, n_seeds, n_records, K)
    record_steps : ndarray of int64, shape (n_records,)
    """
    C = lr.size
    W_teacher = np.empty((C, n_seeds, K, L))
    W = np.empty((C, n_seeds, K, L))
    rngs = []
    for k in range(n_seeds):
        children = _seeding.stream(entropy, k, SCALING).spawn(C)
        rngs.append(children)
        for c in range(C):
            g = children[c]
            W_teacher[c, k] = teacher_matrix(K, L, s_star, g)
            if init == "teacher":
                W[c, k] = W_teacher[c, k]
            else:
                W[c, k] = g.standard_normal((K, L)) / math.sqrt(L)
    record_steps = np.arange(0, steps + 1, record_every, dtype=np.int64)
    out = np.empty((C, n_seeds, record_steps.size, K))
    _linear_sgd.run(W, W_teacher, lr, lr * scale, rngs, steps, record_every, out)
    return out, record_steps


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
    ``W* = s* U V^T`` has K degenerate singular values ``s*`` (fresh random frames per seed).

    Parameters
    ----------
    K, L : int
        Shape of W (2 <= K <= L).
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
        time (:func:`dysonsgd.scaling.derived_burn_in`).
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

    Raises
    ------
    ValueError
        A bad argument; the message names the value and the allowed range.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024).
    """
    K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init = check_settings(
        K, L, steps, n_seeds, record_every, batch_size, s_star, lr, noise, init
    )
    entropy = _seeding.base_entropy(seed)
    sigma2 = float(stationary_sigma(lr, batch_size, noise)) ** 2
    if burn_in is None:
        burn_in = int(derived_burn_in(lr, sigma2, initial_msd(K, L, s_star, init)))
    else:
        burn_in = _check_int("burn_in", burn_in, 0)
    sv, rec = simulate(
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

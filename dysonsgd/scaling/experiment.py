"""The scaling experiments: stationary widths over a grid of (lr, |B|, A), fitted against theory.

:func:`linear_scaling_experiment` runs linear SGD with injected noise
(:mod:`dysonsgd.scaling.simulator`); :func:`harmonic_scaling_experiment` integrates the harmonic
Langevin model it maps to with :func:`dysonsgd.langevin.integrate`. Both measure the width with
the same estimator and return a :class:`ScalingResult` (data only: the example
``examples/linear_scaling.py`` prints it as a table).

References
----------
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024) -- the linear scaling rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import integer as _check_int
from dysonsgd._validate import positive_float as _check_positive
from dysonsgd.scaling.fit import ScalingFit, fit_scaling, stationary_width
from dysonsgd.scaling.simulator import SCALING, check_lr, check_settings, simulate
from dysonsgd.scaling.theory import (
    derived_burn_in,
    harmonic_map,
    initial_msd,
    stationary_sigma,
    theory_prefactor,
    theory_width,
)


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


def _grid(lr_values, batch_sizes, noise_values):
    lrs = [check_lr(v) for v in lr_values]
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
    K, L, steps, n_seeds, record_every, _, s_star, _, _, init = check_settings(
        K, L, steps, n_seeds, record_every, 1, s_star, lr[0], A[0], init
    )
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be >= 2 for between-seed errors, got {n_seeds}")
    sigma = stationary_sigma(lr, bs, A)
    if burn_in is None:
        burn = derived_burn_in(lr, sigma**2, initial_msd(K, L, s_star, init))
    else:
        burn = np.full(lr.size, _check_int("burn_in", burn_in, 0), dtype=np.int64)
    if burn.max() >= steps:
        raise ValueError(
            f"steps={steps} does not exceed the burn-in of {int(burn.max())} steps: increase steps"
        )
    entropy = _seeding.base_entropy(seed)
    sv, rec = simulate(
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
        width[c], err[c] = stationary_width(sv[c], rec, int(burn[c]), s_star)
    settings = {"L": L, "steps": steps, "record_every": record_every, "init": init}
    return _result(
        "sgd", K, s_star, lr, bs, A, width, err, burn * lr, sigma, n_seeds, entropy, settings
    )


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
    from dysonsgd.langevin import HarmonicModel, integrate  # lazily: it loads numba

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
        width[c], err[c] = stationary_width(sv, r.times, burn_in_time, s_star)
    sigma = np.sqrt(T * A / 2.0)
    settings = {"time": time, "dt": dt, "save_every": save_every, "scheme": scheme}
    burn = np.full(lr.size, burn_in_time)
    return _result(
        "langevin", K, s_star, lr, bs, A, width, err, burn, sigma, n_seeds, entropy, settings
    )

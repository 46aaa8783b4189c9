"""The public entry point of the Langevin integrator: :func:`integrate` and :class:`LangevinResult`.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 4 (the Langevin equation).
H.-L. Ngo, D. Taguchi, "Semi-implicit Euler-Maruyama approximation for noncolliding particle
systems", Ann. Appl. Probab. 30 (2020) 673.
P. E. Kloeden, E. Platen, Numerical Solution of Stochastic Differential Equations (Springer,
1992), section 10.2 (Euler-Maruyama orders).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import positive_float as _positive_float
from dysonsgd.langevin import _kernels as _k
from dysonsgd.langevin.models import DOMAINS, Coefficients, DriftModel
from dysonsgd.langevin.schemes import SCHEMES as SCHEMES  # re-exported: name -> Scheme
from dysonsgd.langevin.schemes import Scheme, as_scheme

#: Status of a system stopped by its guard (:class:`RunawayGuard`); set outside the kernels,
#: which skip every member whose status is not ``OK``.
RUNAWAY = 5

#: Status codes of a system in :attr:`LangevinResult.status`.
STATUS: dict[int, str] = {
    _k.OK: "ok",
    _k.NONFINITE: "non-finite state",
    _k.OVERFLOW: "overflow (|state| > 1e150)",
    _k.STEP_LIMIT: "no admissible step down to dt / 2**100",
    _k.MAX_STEPS: "max_steps exhausted",
    RUNAWAY: "runaway (x_1 beyond the guard's bound; stopped there)",
}


@dataclass
class LangevinResult:
    """An ensemble of Langevin trajectories of the eigenvalues of X = W W^T.

    Attributes
    ----------
    times : ndarray of float64, shape (n_saves,)
        Langevin times of the saves (t = eps * SGD steps).
    x : ndarray of float64, shape (n_systems, n_saves, K)
        Eigenvalues, descending. A stopped system repeats its last state (see ``status``).
    temperature : float
    scheme : str
    model : str
        The model's name.
    domain : str
    dt : float
        Largest step requested.
    seed : int
        Base entropy; system k's stream depends on it and k alone.
    steps, rejected_steps : ndarray of int64, shape (n_systems,)
        Accepted and rejected step attempts.
    min_gap : ndarray of float64, shape (n_systems,)
        Smallest nearest-neighbour spacing ``x_i - x_{i+1}`` seen after any accepted step.
    min_x : ndarray of float64, shape (n_systems,)
        Smallest ``x_K`` seen (positive domain; NaN for the real domain).
    status : ndarray of int64, shape (n_systems,)
        0 ok; otherwise the code of :data:`STATUS` that stopped the system (``RUNAWAY``:
        its guard stopped it).
    fallback_steps : ndarray of int64, shape (n_systems,)
        ``scheme="euler"`` only (zeros otherwise): accepted sub-steps that were taken with
        the semi-implicit step because the explicit one was still rejected after
        ``FALLBACK_DEPTH`` = 12 bisections (steps below dt / 4096; see docs/theory.md
        section 4). Included in ``steps``.
    """

    times: np.ndarray
    x: np.ndarray
    temperature: float
    scheme: str
    model: str
    domain: str
    dt: float
    seed: int
    steps: np.ndarray
    rejected_steps: np.ndarray
    min_gap: np.ndarray
    min_x: np.ndarray
    status: np.ndarray
    fallback_steps: np.ndarray

    @property
    def s(self) -> np.ndarray:
        """Singular values sqrt(x), shape (n_systems, n_saves, K) (positive domain only)."""
        if self.domain != "positive":
            raise ValueError("singular values exist only for the positive domain")
        return np.sqrt(self.x)

    @property
    def final(self) -> np.ndarray:
        """Eigenvalues at the last save, shape (n_systems, K)."""
        return self.x[:, -1, :]

    @property
    def blown_up(self) -> np.ndarray:
        """True for systems whose state overflowed, went non-finite or ran away (stopped by a
        :class:`RunawayGuard`), shape (n_systems,)."""
        st = self.status
        return (st == _k.NONFINITE) | (st == _k.OVERFLOW) | (st == RUNAWAY)

    @property
    def stopped(self) -> np.ndarray:
        """True for systems that stopped early for any reason, shape (n_systems,)."""
        return self.status != _k.OK

    @property
    def n_systems(self) -> int:
        """Ensemble size."""
        return self.x.shape[0]

    @property
    def K(self) -> int:
        """Number of levels."""
        return self.x.shape[2]


def x0_from_singular_values(s0: np.ndarray) -> np.ndarray:
    """Eigenvalues ``x = s^2`` from singular values (any shape), validated as positive."""
    s = np.asarray(s0, dtype=np.float64)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("singular values must be positive and finite")
    return s * s


# --------------------------------------------------------------------------- validation


def _check_x0(x0, domain: str) -> np.ndarray:
    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (K,) or (n_systems, K), got {np.shape(x0)}")
    if x.shape[0] < 1:
        raise ValueError("x0 holds no systems")
    if x.shape[1] < 2:
        raise ValueError(f"K must be at least 2 levels, got x0 with K={x.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x0 must be finite")
    x = -np.sort(-x, axis=1)
    if np.any(np.diff(x, axis=1) >= 0):
        bad = int(np.flatnonzero(np.any(np.diff(x, axis=1) >= 0, axis=1))[0])
        raise ValueError(
            f"initial levels must be distinct (coincident levels in system {bad}); separate "
            "them, e.g. by a tiny random perturbation"
        )
    if domain == "positive" and np.any(x <= 0):
        raise ValueError(
            "initial eigenvalues must be > 0 for a positive-domain model (x = s^2); "
            "start from tiny distinct positive values instead of 0"
        )
    return np.ascontiguousarray(x)


def check_coefficients(c: Coefficients, n: int, K: int, domain: str) -> Coefficients:
    """Validate a model's coefficients against the ensemble shape; return contiguous copies.

    V0 is returned symmetrised, ``0.5 (V0 + V0^T)``; it must be symmetric to a relative
    1e-12 (``_kernels.SYM_RTOL``) already. Every call checks everything (no trusted path:
    the check costs a copy's time, and models are user code).

    Raises
    ------
    ValueError
        Wrong type or shape, non-finite entries, asymmetric or negative V0, negative a_iso,
        or a non-zero a_iso for the real domain.
    """
    if not isinstance(c, Coefficients):
        raise ValueError(f"coefficients() must return a Coefficients, got {type(c).__name__}")
    want = {
        "kt0": (n, K),
        "kappa": (n, K),
        "V0": (n, K, K),
        "a_iso": (n,),
        "C": (n, K),
        "a_diag": (n, K),
    }
    out = {}
    for name, shape in want.items():
        if name == "V0":
            continue  # checked and symmetrised in one pass below
        # a writable C copy: a read-only array would compile a second kernel signature
        a = np.array(getattr(c, name), dtype=np.float64, order="C")
        if a.shape != shape:
            raise ValueError(f"coefficient {name} must have shape {shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"coefficient {name} has non-finite entries")
        out[name] = a
    # V0 is the one large array, (n, K, K): one numba pass over its pairs checks finiteness,
    # symmetry and signs and writes the symmetric part into a fresh array (the kernels read
    # its upper triangle), with no temporaries (np.allclose, isfinite, the transpose sum
    # made five full-size ones): at K = 256, n = 8, 0.8 ms instead of 8-15 ms; n = 64,
    # 14-16 ms instead of 80-160 ms (half of it the page faults of the fresh output)
    V0 = np.asarray(c.V0, dtype=np.float64)
    if V0.shape != want["V0"]:
        raise ValueError(f"coefficient V0 must have shape {want['V0']}, got {V0.shape}")
    sym = np.empty(V0.shape)
    where = np.zeros(3, dtype=np.int64)
    bad = _k.check_symmetrise_v0(np.require(V0, requirements=("C", "W")), sym, where)
    if bad:
        m, i, j = (int(v) for v in where)
        vij, vji = float(V0[m, i, j]), float(V0[m, j, i])
        at = f"system {m}, entries ({i}, {j}) and ({j}, {i}): {vij!r}, {vji!r}"
        raise ValueError(
            {
                1: f"coefficient V0 has non-finite entries ({at})",
                2: f"coefficient V0 must be symmetric in its last two axes ({at})",
                3: f"coefficient V0 must be >= 0 (its entries are variances; {at})",
            }[bad]
        )
    out["V0"] = sym
    if np.any(out["a_iso"] < 0):
        raise ValueError("coefficient a_iso must be >= 0")
    if np.any(out["a_iso"][:, None] + out["a_diag"] < 0):
        raise ValueError("coefficients a_iso + a_diag must be >= 0 (diagonal noise slopes)")
    if domain == "real" and (np.any(out["a_iso"] != 0) or np.any(out["a_diag"] != 0)):
        raise ValueError(
            "a_iso and a_diag must be 0 for a real-domain model (Vt_ii = 4 a x_i needs x > 0)"
        )
    return Coefficients(**out)


# --------------------------------------------------------------------------- hooks

#: ``progress(t, time)``: called by :func:`integrate` before every coefficient measurement
#: with its Langevin time ``t < time``, and once at the end with ``t == time``.
Progress = Callable[[float, float], None]


class Guard:
    """Base class of guards: :func:`integrate` asks one after every coefficient measurement.

    A guard sees the coefficients a model measured and returns the ones to integrate with,
    e.g. with some systems frozen; what it returns is validated like any model's output
    (:func:`check_coefficients`). This base accepts everything.

    Attributes
    ----------
    errstate : dict
        Keyword arguments of :func:`numpy.errstate` in force while the model measures
        (empty: numpy's current handling).
    """

    errstate: ClassVar[dict[str, str]] = {}

    def start(self, n_systems: int) -> None:
        """Called once before the first measurement of a run of ``n_systems`` systems."""

    def check(self, coefficients: Coefficients, x: np.ndarray, t: float) -> Coefficients:
        """Coefficients to integrate with, from those measured at ``x`` (shape (n, K)), time t."""
        return coefficients

    def stopped_systems(self) -> np.ndarray | None:
        """Systems the guard has stopped, shape (n_systems,) bool, or None (none).

        Asked after every :meth:`check`; :func:`integrate` stops them with status
        ``RUNAWAY`` (they stay at their state in every later save), and ends the run early
        when no system is left running.
        """
        return None


class OverflowGuard(Guard):
    """Freeze every system whose coefficients overflowed, from that refresh on.

    A system that runs away far enough overflows its coefficients before its state reaches
    the integrator's blow-up bound (|state| > 1e150): with the identity activation Vt ~ x^2
    is infinite at x ~ 1e154. Unguarded, :func:`check_coefficients` rejects the whole
    ensemble. With this guard such a system gets zero coefficients (no drift, no noise: it
    stays where it is, status ``ok``) from the first refresh whose coefficients are not
    finite, and the time of that refresh is recorded. Overflow and invalid-value warnings
    are silenced while the model measures.

    Attributes
    ----------
    overflow_time : ndarray of float64, shape (n_systems,)
        After a run: the Langevin time of the refresh at which a system's coefficients were
        first not finite (NaN: never). Reset by every run.
    """

    errstate: ClassVar[dict[str, str]] = {"over": "ignore", "invalid": "ignore"}

    def __init__(self) -> None:
        self.overflow_time = np.empty(0)

    @property
    def overflowed(self) -> np.ndarray:
        """True for the systems that were frozen, shape (n_systems,)."""
        return np.isfinite(self.overflow_time)

    def start(self, n_systems: int) -> None:
        self.overflow_time = np.full(n_systems, np.nan)

    def check(self, coefficients: Coefficients, x: np.ndarray, t: float) -> Coefficients:
        n = self.overflow_time.shape[0]
        rows = [np.asarray(getattr(coefficients, k), dtype=np.float64) for k in _COEF_FIELDS]
        if any(a.ndim < 1 or a.shape[0] != n for a in rows):
            return coefficients  # wrong shapes: check_coefficients names them
        finite = np.ones(n, dtype=bool)
        for a in rows:
            finite &= np.all(np.isfinite(a.reshape(n, -1)), axis=1)
        frozen = ~finite | self.overflowed
        if not np.any(frozen):
            return coefficients
        self.overflow_time[~finite & np.isnan(self.overflow_time)] = t
        rows = [np.where(frozen.reshape(-1, *([1] * (a.ndim - 1))), 0.0, a) for a in rows]
        return Coefficients(**dict(zip(_COEF_FIELDS, rows, strict=True)))


_COEF_FIELDS = ("kt0", "kappa", "V0", "a_iso", "C", "a_diag")


class RunawayGuard(OverflowGuard):
    """Stop every system whose top level ran away, and freeze overflowed ones.

    A system whose ``x_1`` exceeds ``factor * max(reference, x_1(0))`` at a refresh is
    stopped there: status ``RUNAWAY`` (:attr:`LangevinResult.blown_up`), its state repeated
    in every later save, the time recorded in :attr:`runaway_time`. When every system has
    stopped the run ends, so a hot run does not integrate ~10^6 time units of a network that
    left the teacher behind long ago. Like :class:`OverflowGuard` (which it extends), it also
    freezes a system whose coefficients overflow before its x_1 crosses the bound.

    Parameters
    ----------
    factor : float
        Bound on the growth of x_1, > 1 (default 1e3).
    reference : float or array_like of float64, shape (n_systems,), optional
        Scale of x_1 per system, e.g. the teacher's top eigenvalue
        (``NetworkModel.teacher_eigenvalues[:, 0]``); the bound is ``factor`` times the
        larger of it and the system's own ``x_1(0)``. Default: ``x_1(0)`` alone.

    Attributes
    ----------
    runaway_time : ndarray of float64, shape (n_systems,)
        After a run: the Langevin time of the refresh at which a system was stopped (NaN:
        never). Reset by every run.
    """

    def __init__(self, factor: float = 1e3, reference=None) -> None:
        super().__init__()
        self.factor = _positive_float("factor", factor)
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {factor!r}")
        if reference is not None:
            ref = np.asarray(reference, dtype=np.float64)
            if ref.ndim > 1 or not np.all(np.isfinite(ref)) or np.any(ref <= 0):
                raise ValueError(
                    "reference must be a positive number or one per system (shape (n,))"
                )
            reference = ref
        self.reference = reference
        self.runaway_time = np.empty(0)
        self._bound = None

    @property
    def runaway(self) -> np.ndarray:
        """True for the systems that were stopped, shape (n_systems,)."""
        return np.isfinite(self.runaway_time)

    def start(self, n_systems: int) -> None:
        super().start(n_systems)
        if self.reference is not None and self.reference.ndim == 1:
            if self.reference.shape[0] != n_systems:
                raise ValueError(
                    f"reference has {self.reference.shape[0]} entries for {n_systems} systems"
                )
        self.runaway_time = np.full(n_systems, np.nan)
        self._bound = None

    def check(self, coefficients: Coefficients, x: np.ndarray, t: float) -> Coefficients:
        x1 = np.asarray(x, dtype=np.float64)[:, 0]
        if self._bound is None:  # the first refresh: x is x(0)
            scale = x1 if self.reference is None else np.maximum(self.reference, x1)
            self._bound = self.factor * scale
        gone = (x1 > self._bound) & ~self.runaway
        self.runaway_time[gone] = t
        coefficients = super().check(coefficients, x, t)
        if not np.any(self.runaway):
            return coefficients
        n = self.runaway_time.shape[0]
        rows = [np.asarray(getattr(coefficients, k), dtype=np.float64) for k in _COEF_FIELDS]
        if any(a.ndim < 1 or a.shape[0] != n for a in rows):
            return coefficients  # wrong shapes: check_coefficients names them
        stop = self.runaway
        rows = [np.where(stop.reshape(-1, *([1] * (a.ndim - 1))), 0.0, a) for a in rows]
        return Coefficients(**dict(zip(_COEF_FIELDS, rows, strict=True)))

    def stopped_systems(self) -> np.ndarray | None:
        return self.runaway


#: Most outer steps a run may ask for (``time / dt``): float64 counts steps exactly up to
#: 2**53, and at ~3e6 system-steps/s that is decades of computing. ``dt = 1e-300`` used to
#: overflow the int64 step count into a run of 0 steps reported as "ok".
MAX_OUTER_STEPS = 2**53
#: Most coefficient refreshes (``time / refresh_interval``): each is a Python-level call.
MAX_REFRESHES = 10**7


def _segments(time: float, dt: float, save_points: int, refresh: float):
    """Segments between consecutive save/refresh times: (starts, lengths, steps, save index)."""
    with np.errstate(over="ignore"):
        nominal = time / dt
    if not nominal <= MAX_OUTER_STEPS:
        raise ValueError(
            f"time / dt = {time:g} / {dt:g} = {nominal:.3g} steps is more than {MAX_OUTER_STEPS} "
            "(2**53); use a larger dt or a shorter time"
        )
    saves = np.linspace(0.0, time, save_points)
    bounds = list(saves)
    if math.isfinite(refresh):
        if not time / refresh <= MAX_REFRESHES:
            raise ValueError(
                f"time / refresh_interval = {time:g} / {refresh:g} = {time / refresh:.3g} "
                f"coefficient refreshes is more than {MAX_REFRESHES}; use a longer refresh "
                "interval or a shorter time"
            )
        k = 1
        while k * refresh < time * (1 - 1e-12):
            bounds.append(k * refresh)
            k += 1
    bounds = np.unique(np.array(bounds))
    # merge boundaries closer than a relative 1e-12 (a refresh landing on a save)
    keep = np.concatenate([[True], np.diff(bounds) > 1e-12 * time])
    bounds = bounds[keep]
    bounds[-1] = time
    starts = bounds[:-1]
    lengths = np.diff(bounds)
    steps = np.maximum(1, np.ceil(lengths / dt * (1 - 1e-12))).astype(np.int64)
    save_idx = np.full(len(lengths), -1, dtype=np.int64)
    for k, b in enumerate(bounds[1:]):
        j = int(np.argmin(np.abs(saves - b)))
        if abs(saves[j] - b) <= 1e-12 * time:
            save_idx[k] = j
    return saves, starts, lengths, steps, save_idx


def step_count(model: DriftModel, time: float, *, dt: float, save_points: int = 21) -> int:
    """Number of outer steps :func:`integrate` takes: the length of the increments axis.

    Raises
    ------
    ValueError
        For a model with ``refresh_interval="auto"``: its step grid depends on the refresh
        times it chooses during the run.
    """
    if _is_auto(model.refresh_interval):
        raise ValueError(
            "the step count of a model with refresh_interval='auto' is known only after the run"
        )
    *_, steps, _ = _segments(time, dt, save_points, model.refresh_interval)
    return int(steps.sum())


def _is_auto(refresh_interval) -> bool:
    return isinstance(refresh_interval, str) and refresh_interval == "auto"


def _block_increments(model: DriftModel, t: float, h: np.ndarray, m: np.ndarray, n: int,
                      K: int, supplied: bool) -> np.ndarray | None:  # fmt: skip
    """The model's Brownian increments of one block (``DriftModel.block_increments``), checked;
    None: the integrator's own."""
    dB = model.block_increments(t, h, m)
    if dB is None:
        return None
    if supplied:
        raise ValueError(
            f"increments cannot be supplied to the {model.name!r} model: it draws the Brownian "
            "increments of its levels itself (block_increments)"
        )
    want = (n, int(m.sum()), K)
    dB = np.ascontiguousarray(dB, dtype=np.float64)
    if dB.shape != want:
        raise ValueError(
            f"model.block_increments({t:g}) must return shape (n_systems, steps, K) = {want}, "
            f"got {dB.shape}"
        )
    if not np.all(np.isfinite(dB)):
        raise ValueError(f"model.block_increments({t:g}) returned non-finite increments")
    return dB


def _adaptive_block(model: DriftModel, t_b: float, time: float, dt: float, saves: np.ndarray):
    """Segments from the refresh at t_b to the next one, which the model chooses.

    Returns the segments' step sizes, step counts and save indices (as :func:`_segments`
    cuts them: equal steps no longer than dt between consecutive save/refresh times) and
    the time of the next refresh.
    """
    interval = model.next_refresh_interval(t_b)
    try:
        interval = float(interval)
    except (TypeError, ValueError):
        interval = math.nan
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(
            f"model.next_refresh_interval({t_b:g}) must be a positive finite time, got {interval!r}"
        )
    tol = 1e-12 * time
    end = t_b + interval
    if end >= time - tol:
        end = time
    j = int(np.searchsorted(saves, end))  # snap to a save a rounding error away
    for k in (j - 1, j):
        if 0 <= k < len(saves) and abs(saves[k] - end) <= tol:
            end = float(saves[k])
    inner = saves[(saves > t_b + tol) & (saves < end - tol)]
    bounds = np.concatenate([[t_b], inner, [end]])
    lengths = np.diff(bounds)
    m = np.maximum(1, np.ceil(lengths / dt * (1 - 1e-12))).astype(np.int64)
    sv = np.full(len(lengths), -1, dtype=np.int64)
    for k, bnd in enumerate(bounds[1:]):
        i = int(np.argmin(np.abs(saves - bnd)))
        if abs(saves[i] - bnd) <= tol:
            sv[k] = i
    return lengths / m, m, sv, float(end)


def member_rng_states(entropy: int, n: int) -> np.ndarray:
    """xoshiro256** states of members 0..n-1, shape (n, 4) uint64.

    Member k's state comes from ``SeedSequence(entropy, spawn_key=(k, LANGEVIN))`` alone.
    """
    st = np.empty((n, 4), dtype=np.uint64)
    for k in range(n):
        ss = np.random.SeedSequence(entropy, spawn_key=(k, _seeding.LANGEVIN))
        st[k] = ss.generate_state(4, np.uint64)
        if not st[k].any():  # the all-zero state is the one fixed point of xoshiro
            st[k, 0] = 1
    return st


# --------------------------------------------------------------------------- entry point


def integrate(
    model: DriftModel,
    x0: np.ndarray,
    time: float,
    *,
    temperature: float,
    dt: float = 1e-3,
    scheme: str | Scheme = "semi_implicit",
    save_points: int = 21,
    seed: int | np.random.Generator | np.random.SeedSequence | None = 0,
    max_steps: int | None = None,
    increments: np.ndarray | None = None,
    progress: Progress | None = None,
    guard: Guard | None = None,
) -> LangevinResult:
    """Integrate the eigenvalue Langevin equation of an ensemble of independent systems.

    ``dx_i = [-Kt_ii + T (C_ii + sum_{j != i} Vt_ij / (x_i - x_j))] dt + sqrt(T Vt_ii) dB_i``
    (paper section 4; docs/theory.md, section 1); for ``domain == "positive"`` models the
    singular values s = sqrt(x) are integrated in Ito form, with a reflecting boundary at s = 0.

    Parameters
    ----------
    model : DriftModel
        Supplies the coefficients at t = 0 and every ``model.refresh_interval``; with
        ``model.refresh_interval == "auto"`` the model chooses each interval
        (``model.next_refresh_interval(t)``, asked after every measurement). A model with a
        ``temperature`` attribute (the rotating network model, whose frame noise uses it)
        must be integrated at that temperature.
    x0 : array_like of float64, shape (K,) or (n_systems, K)
        Initial eigenvalues of X (any order; sorted descending here). Distinct, and > 0 for
        a positive-domain model. K >= 2.
    time : float
        Langevin time to integrate, > 0.
    temperature : float
        T = eps / |B| > 0.
    dt : float
        Largest step, 0 < dt < time. Each interval between saves/refreshes is cut into equal
        steps no larger than dt; rejected steps are bisected.
    scheme : {"semi_implicit", "euler"} or Scheme
        A name of :data:`SCHEMES` or a scheme object (:mod:`dysonsgd.langevin.schemes`).
        ``"semi_implicit"`` (:class:`~dysonsgd.langevin.schemes.SemiImplicit`): Coulomb,
        mirror and wall terms implicit, order preserved by construction; strong order 1/2
        (1 for constant diffusion), weak order 1. ``"euler"``
        (:class:`~dysonsgd.langevin.schemes.Euler`): explicit Euler-Maruyama with rejection
        of steps that cross or leave the domain; same orders.
    save_points : int
        Number of evenly spaced saves from t = 0 to ``time`` inclusive, >= 2.
    seed : int, Generator, SeedSequence or None
        Base of the per-system streams.
    max_steps : int, optional
        Budget of step attempts per system (default 100 times the planned steps + 1000); a
        system that exhausts it stops with status ``MAX_STEPS``.
    increments : ndarray of float64, shape (n_systems, n_steps, K), optional
        Brownian increments dB of the outer steps (each N(0, h) for its step h); n_steps is
        :func:`step_count`. Bisection midpoints are still drawn from the seeded stream. Not
        with ``refresh_interval="auto"`` (the step grid is known only during the run).
    progress : callable, optional
        ``progress(t, time)``, called before every coefficient measurement with its Langevin
        time ``t < time`` and once at the end with ``t == time`` (e.g. to advance a progress
        bar). It cannot change the run.
    guard : Guard, optional
        Asked after every coefficient measurement which coefficients to integrate with, e.g.
        :class:`OverflowGuard`, which freezes the systems whose coefficients overflowed and
        records when (``guard.overflow_time``), or :class:`RunawayGuard`, which also stops
        the systems whose x_1 ran away (status ``RUNAWAY``, ``guard.runaway_time``). Without
        a guard, non-finite coefficients raise ``ValueError``. The run ends early once no
        system is left running (every later save repeats the last states).

    Returns
    -------
    LangevinResult

    Raises
    ------
    ValueError
        For any invalid argument; the message names it and the fix.

    References
    ----------
    C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025).
    H.-L. Ngo, D. Taguchi, Ann. Appl. Probab. 30 (2020) 673.
    """
    if not isinstance(model, DriftModel):
        raise ValueError(f"model must be a DriftModel, got {type(model).__name__}")
    if model.domain not in DOMAINS:
        raise ValueError(f"model.domain must be one of {DOMAINS}, got {model.domain!r}")
    scheme_ = as_scheme(scheme)
    if progress is not None and not callable(progress):
        raise ValueError(
            f"progress must be a callable progress(t, time), got {type(progress).__name__}"
        )
    if guard is not None and not isinstance(guard, Guard):
        raise ValueError(
            f"guard must be a Guard (e.g. OverflowGuard()), got {type(guard).__name__}"
        )
    T = _positive_float("temperature", temperature)
    time = _positive_float("time", time)
    dt = _positive_float("dt", dt)
    if dt >= time:
        raise ValueError(f"dt={dt} must be smaller than time={time}")
    if isinstance(save_points, bool) or not isinstance(save_points, (int, np.integer)):
        raise ValueError(f"save_points must be an integer >= 2, got {save_points!r}")
    if save_points < 2:
        raise ValueError(f"save_points must be at least 2 (start and end), got {save_points}")
    adaptive = _is_auto(model.refresh_interval)
    refresh = math.inf if adaptive else float(model.refresh_interval)
    if not (refresh > 0):
        raise ValueError(f"model.refresh_interval must be > 0, got {model.refresh_interval!r}")
    model_T = getattr(model, "temperature", None)
    if model_T is not None and not math.isclose(float(model_T), T, rel_tol=1e-12):
        raise ValueError(
            f"the model was built for temperature={model_T!r} (its own noise uses it), but "
            f"integrate() was asked for temperature={T!r}; use the same T for both"
        )
    domain = model.domain
    positive = domain == "positive"
    x = _check_x0(x0, domain)
    n, K = x.shape
    entropy = _seeding.base_entropy(seed)

    saves, starts, lengths, seg_m, seg_save = _segments(time, dt, int(save_points), refresh)
    n_steps = int(seg_m.sum())  # adaptive: the steps between saves, without the refreshes
    if max_steps is None:
        max_attempts = 100 * n_steps + 1000
    else:
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)):
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps}")
        max_attempts = int(max_steps)

    supplied = increments is not None
    if supplied:
        if adaptive:
            raise ValueError(
                "increments cannot be supplied with refresh_interval='auto' (the step grid "
                "depends on the refresh times the model chooses); draw them from the seed"
            )
        dB = np.ascontiguousarray(increments, dtype=np.float64)
        if dB.shape != (n, n_steps, K):
            raise ValueError(
                f"increments must have shape (n_systems, n_steps, K) = {(n, n_steps, K)} "
                f"(n_steps from step_count), got {dB.shape}"
            )
        if not np.all(np.isfinite(dB)):
            raise ValueError("increments must be finite")
    else:
        dB = np.zeros((1, 1, 1))

    out = np.empty((n, save_points, K))
    out[:, 0, :] = x
    y = np.ascontiguousarray(np.sqrt(x) if positive else x)
    rng = member_rng_states(entropy, n)
    status = np.zeros(n, dtype=np.int64)
    steps = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=np.int64)
    attempts = np.zeros(n, dtype=np.int64)
    fallback = np.zeros(n, dtype=np.int64)
    min_gap = np.min(-np.diff(x, axis=1), axis=1)
    min_x = x[:, -1].copy() if positive else np.full(n, np.nan)
    seg_h = lengths / seg_m

    # blocks of segments sharing one coefficient evaluation
    if math.isfinite(refresh):
        block = np.floor(starts / refresh * (1 + 1e-12)).astype(np.int64)
    else:
        block = np.zeros(len(starts), dtype=np.int64)
    blocks = iter(np.unique(block))
    code = scheme_.code
    if guard is not None:
        guard.start(n)
    offset = 0
    written = 1  # saves 0 .. written - 1 hold their state
    t_b = 0.0
    try:
        while True:
            if adaptive:
                if t_b >= time:
                    break
            else:
                b = next(blocks, None)
                if b is None:
                    break
                sel = np.flatnonzero(block == b)
                t_b = float(starts[sel[0]])
            if progress is not None:
                progress(t_b, time)
            if np.all(status != _k.OK):
                break  # nothing left to integrate: no more measurements
            # exact x0 at t = 0 (s -> s^2 would round it), the integrated state afterwards
            xs = x.copy() if offset == 0 else (y * y if positive else y.copy())
            model.set_active(status == _k.OK)
            if guard is None:
                measured = model.coefficients(xs, t_b)
            else:
                with np.errstate(**guard.errstate):
                    measured = model.coefficients(xs, t_b)
                measured = guard.check(measured, xs, t_b)
                stop = guard.stopped_systems()
                if stop is not None:
                    status[np.asarray(stop, dtype=bool) & (status == _k.OK)] = RUNAWAY
                    if np.all(status != _k.OK):
                        break
            coef = check_coefficients(measured, n, K, domain)
            t_start = t_b
            if adaptive:
                h, m, sv, t_b = _adaptive_block(model, t_b, time, dt, saves)
            else:
                h, m, sv = seg_h[sel], seg_m[sel], seg_save[sel]
            h, m, sv = np.ascontiguousarray(h), np.ascontiguousarray(m), np.ascontiguousarray(sv)
            own = _block_increments(model, t_start, h, m, n, K, supplied)
            _k.run(
                code, positive, y, T, coef.kt0, coef.kappa, coef.V0, coef.a_iso, coef.a_diag,
                coef.C, h, m, sv, out, supplied or own is not None, dB if own is None else own,
                offset if own is None else 0, rng, status, steps, rejected, attempts, max_attempts,
                min_gap, min_x, fallback,
            )  # fmt: skip
            offset += int(m.sum())
            if np.any(sv >= 0):
                written = int(sv.max()) + 1
    finally:
        model.set_active(None)  # a later coefficients() call measures every system
    # a run that ended early (every system stopped) repeats the last states
    out[:, written:, :] = (y * y if positive else y)[:, None, :]
    if progress is not None:
        progress(time, time)

    # a stopped system wrote its last state into every later save (see the kernel)
    return LangevinResult(
        times=saves,
        x=out,
        temperature=T,
        scheme=scheme_.name,
        model=str(model.name),
        domain=domain,
        dt=dt,
        seed=entropy,
        steps=steps,
        rejected_steps=rejected,
        min_gap=min_gap,
        min_x=min_x,
        status=status,
        fallback_steps=fallback,
    )

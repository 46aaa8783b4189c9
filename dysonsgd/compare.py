"""Theory against SGD: a ladder of models from SGD down to Dyson Brownian motion.

Two entry points:

1. :func:`compare` runs the ladder (:data:`RUNGS`) from the same seeds -- the same networks,
   data and initial matrices, so every rung starts from identical spectra -- over the same
   span, Langevin time ``t = eps * steps``, with save points at SGD's save epochs: SGD, full-
   batch gradient descent at the same step, the matrix SDE of SGD, Dyson Brownian motion of
   the singular values with rotating singular vectors, and the same with frozen singular
   vectors. Each rung is one approximation further from SGD (:data:`APPROXIMATIONS`). It
   reports, per rung, the phase (:func:`dysonsgd.phases.classify`), the mean and spread of
   each eigenvalue of ``X = W W^T`` per save point, the level statistics of the final spectra
   (spacing ratios against the GOE surmise, unfolded spacings, a Brody fit), and the two-sample
   Kolmogorov-Smirnov and 1-Wasserstein distances to SGD and to the rung above, so that the
   output says which approximation costs what.
2. :func:`compare_measured` starts the ``measured`` model (:class:`MeasuredModel`) from an SGD
   checkpoint with the coefficients Kt, Vt, C measured there on the probe set and predicts the
   eigenvalue shifts and spreads at the next checkpoint.

The comparison is between distributions over seeds: each rung's noise is independent of
SGD's batch noise, so a single seed's trajectories are not expected to agree, only their
ensembles (except ``gd``, which has no noise).

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), sections 4-5.
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
Q. Li, C. Tai, W. E, "Stochastic modified equations for the asymptotic analysis of stochastic
gradient algorithms", J. Mach. Learn. Res. 20 (2019) 1.
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
"""

from __future__ import annotations

import itertools
import math
import time as _time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from dysonsgd import spectra
from dysonsgd._validate import positive_float as _positive_float
from dysonsgd._validate import positive_int as _positive_int
from dysonsgd.langevin import (
    SCHEMES,
    STATUS,
    MeasuredModel,
    integrate,
)
from dysonsgd.langevin.coefficients import measure_coefficients
from dysonsgd.model import NetworkConfig, check_sigma_w
from dysonsgd.observables import eigenvalues_of_X
from dysonsgd.phases import PhaseClassification, classify, classify_sgd, vote
from dysonsgd.sgd import SGDResult, learning_rate, train
from dysonsgd.sgd.api import PAPER_SAVE_POINTS

__all__ = [
    "Comparison",
    "Distance",
    "EnsembleSummary",
    "LevelStatistics",
    "MeasuredComparison",
    "RUNGS",
    "APPROXIMATIONS",
    "RungDistance",
    "parse_rungs",
    "compare",
    "compare_measured",
    "default_save_points",
    "distance",
    "level_statistics",
]

#: Largest number of save points chosen by default (the paper's 21).
MAX_SAVE_POINTS: int = PAPER_SAVE_POINTS
#: Bootstrap resamples of the Wasserstein distance.
N_BOOTSTRAP: int = 200
#: Degree of the per-spectrum polynomial unfolding (the :func:`dysonsgd.spectra.unfold` default).
UNFOLD_DEGREE: int = 5
#: Refresh of the DBM rungs' coefficients: chosen from the dynamics at every refresh
#: (:class:`dysonsgd.langevin.network.AutoRefresh`), not a fixed absolute interval.
REFRESH_INTERVAL: float | str = "auto"
#: A system whose top eigenvalue passes this many times max(x*_1, x_1(0)) has run away: it is
#: stopped and labelled high-temperature. The phase rule calls a growth past
#: ``GROWTH_FACTOR`` = 18 times that scale high-temperature already, so a stop at 100 (over
#: five times further) changes no label and spares the rungs that run away slowly (the DBM
#: rungs at T = 4 take 10^4 time units to pass 1e3, docs/theory-network.md) most of their run.
RUNAWAY_FACTOR: float = 100.0

#: The ladder, from SGD down: each rung is one approximation further from SGD.
RUNGS: tuple[str, ...] = ("sgd", "gd", "sde", "dbm_rotating", "dbm_frozen")
#: What each rung changes relative to the one above it.
APPROXIMATIONS: dict[str, str] = {
    "gd": "no batch noise (full-batch gradient descent at SGD's step eps)",
    "sde": "continuous time, and the batch noise as a Gaussian of SGD's covariance",
    "dbm_rotating": "reduction to singular values (Dyson Brownian motion) and rotating "
    "singular vectors, coefficients held between refreshes",
    "dbm_frozen": "singular vectors frozen",
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Distance:
    """Distance between two samples: two-sample KS test and 1-Wasserstein with bootstrap error.

    Attributes
    ----------
    ks_statistic, ks_pvalue : float
        ``scipy.stats.ks_2samp``. The p-value assumes independent draws; levels of one
        spectrum are correlated, so read it as a guide, not a calibrated test.
    wasserstein, wasserstein_stderr : float
        W_1 in the units of the data, and its bootstrap standard error.
    n, m : int
        Sample sizes (SGD, Langevin).
    """

    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    wasserstein_stderr: float
    n: int
    m: int

    def to_dict(self) -> dict:
        """Plain values (for JSON)."""
        return {
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "wasserstein": self.wasserstein,
            "wasserstein_stderr": self.wasserstein_stderr,
            "n": self.n,
            "m": self.m,
        }


def distance(a: np.ndarray, b: np.ndarray, *, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0):
    """KS and 1-Wasserstein distance between the finite values of two samples.

    Parameters
    ----------
    a, b : array_like of float, any shape (flattened; NaN and inf dropped)
    n_bootstrap : int >= 2
    seed : int
        Bootstrap seed (fixed: the distance of the same samples is reproducible).

    Returns
    -------
    Distance
        All NaN (sizes 0) if either sample has no finite value.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return Distance(math.nan, math.nan, math.nan, math.nan, int(x.size), int(y.size))
    with warnings.catch_warnings():
        # ties (identical samples at t = 0) make scipy fall back to the asymptotic p-value
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = spectra.ks_two_sample(x, y)
    w = spectra.wasserstein(x, y, n_bootstrap=n_bootstrap, seed=seed)
    return Distance(ks.statistic, ks.pvalue, w.statistic, w.stderr, int(x.size), int(y.size))


#: The level statistics of an ensemble (:class:`dysonsgd.spectra.LevelStatistics`).
LevelStatistics = spectra.LevelStatistics


def level_statistics(eigenvalues: np.ndarray) -> LevelStatistics:
    """Level statistics of the final spectra of one ensemble, as ``dysonsgd compare`` reports them.

    :func:`dysonsgd.spectra.level_statistics` with compare's conventions made explicit: each
    spectrum unfolded with its own polynomial of degree :data:`UNFOLD_DEGREE` (every seed has its
    own teacher and so its own density; trained spectra span decades, which neither a pooled
    staircase nor a Marchenko-Pastur law follows), and the default error of <r> (the spread of
    the per-seed <r> over sqrt(n_seeds); ``RATIO_SD_COEFF / sqrt(K)`` for one seed).

    Parameters
    ----------
    eigenvalues : ndarray of float64, shape (n_spectra, K)
        One spectrum per row (any order), K >= 3. Rows with non-finite values are dropped.
        With K < UNFOLD_DEGREE + 2 = 7 only the ratios are computed.

    Returns
    -------
    LevelStatistics

    References
    ----------
    Atas, Bogomolny, Giraud, Roux, PRL 110, 084101 (2013) (ratios); Brody, Lett. Nuovo
    Cimento 7, 482 (1973); docs/statistics.md, section 7 (which command uses which convention).
    """
    return spectra.level_statistics(eigenvalues, unfolding="polynomial", degree=UNFOLD_DEGREE)


@dataclass(frozen=True)
class EnsembleSummary:
    """One rung's eigenvalue flow and its statistics.

    Attributes
    ----------
    name : str
        The rung, one of :data:`RUNGS`.
    eigenvalues : ndarray of float64, shape (n_seeds, n_saves, K)
        Eigenvalues of ``X = W W^T`` at the save points, descending.
    mean, std : ndarray of float64, shape (n_saves, K)
        Mean and spread (standard deviation, ddof = 1; 0 for one seed) of each eigenvalue over
        the seeds in ``used``.
    classification : PhaseClassification
        :func:`dysonsgd.phases.classify` of the flow against the teacher's eigenvalues, with
        the training loss at the start and end and the divergence flags: a diverged seed
        (loss above the guard), a system that ran away (stopped, see ``status``) or one
        whose coefficients overflowed is ``high-temperature``.
    phases : tuple of str
        Per seed: the classification's label, except that a Langevin system the integrator
        could not advance (step limit or budget exhausted) is ``stopped``: its frozen record
        says nothing about the phase.
    statistics : LevelStatistics
        Of the final spectra of the seeds in ``used``.
    used : ndarray of bool, shape (n_seeds,)
        Seeds entering the means, statistics and distances: all but the ``stopped`` ones.
    stopped : ndarray of bool, shape (n_seeds,)
        Seeds whose run ended early: diverged, ran away, overflowed or could not be advanced
        (see ``status``).
    status : tuple of str
        Per seed: ``ok``, ``diverged``, ``runaway at t = ...`` or the integrator's status.
    settings : dict
        How the rung was run (step, refresh, scheme, ...).
    seconds : float
        Wall time of the rung (its share of :func:`compare`'s run).
    """

    name: str
    eigenvalues: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)
    std: np.ndarray = field(repr=False)
    classification: PhaseClassification
    phases: tuple[str, ...]
    statistics: LevelStatistics
    used: np.ndarray
    stopped: np.ndarray
    status: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    seconds: float = math.nan

    @property
    def phase(self) -> str:
        """The ensemble's label, :func:`dysonsgd.phases.vote` of ``phases`` (``stopped``
        seeds do not vote)."""
        return vote(self.phases)

    @property
    def final(self) -> np.ndarray:
        """Final eigenvalues, shape (n_seeds, K)."""
        return self.eigenvalues[:, -1]

    def to_dict(self) -> dict:
        """JSON-ready summary (arrays left as arrays): ``name``, ``phase``, per-seed
        ``phases`` and ``final_eigenvalues`` (seeds x K), per-save ``mean`` and ``std``,
        ``mean_spacing_ratio`` and its ``mean_spacing_ratio_error``, ``level_statistics``,
        the classification's ``growth``/``progress``/``moved``, ``stopped``, ``used``,
        ``status``, ``settings`` and ``seconds``."""
        c = self.classification
        st = self.statistics
        return {
            "name": self.name,
            "phase": self.phase,
            "phases": list(self.phases),
            "flow_phases": list(c.phases),
            "final_eigenvalues": self.final,
            "initial_eigenvalues": self.eigenvalues[:, 0],
            "mean": self.mean,
            "std": self.std,
            "final_mean": self.mean[-1],
            "final_std": self.std[-1],
            "mean_spacing_ratio": st.mean_ratio,
            "mean_spacing_ratio_error": st.mean_ratio_stderr,
            "level_statistics": st.to_dict(),
            "growth": c.growth,
            "progress": c.progress,
            "moved": c.moved,
            "stopped": self.stopped,
            "used": self.used,
            "status": list(self.status),
            "settings": self.settings,
            "seconds": self.seconds,
        }


def _summary(name, x, pc, stopped, status, unresolved, settings, seconds) -> EnsembleSummary:
    n = x.shape[0]
    unresolved = np.asarray(unresolved, dtype=bool)
    phases = tuple("stopped" if unresolved[m] else pc.phases[m] for m in range(n))
    used = x[~unresolved]
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no system left
        mean = used.mean(axis=0)
        std = used.std(axis=0, ddof=1) if used.shape[0] > 1 else np.zeros_like(mean)
    return EnsembleSummary(
        name=name,
        eigenvalues=x,
        mean=mean,
        std=std,
        classification=pc,
        phases=phases,
        statistics=level_statistics(used[:, -1]),
        used=~unresolved,
        stopped=np.asarray(stopped, dtype=bool),
        status=tuple(status),
        settings=dict(settings),
        seconds=float(seconds),
    )


@dataclass(frozen=True)
class RungDistance:
    """How far one rung is from another: its final eigenvalues and spacing ratios.

    Attributes
    ----------
    rung, reference : str
        The two rungs (``reference`` is ``sgd`` for :attr:`Comparison.distances_to_sgd`, the
        rung above for :attr:`Comparison.steps`).
    eigenvalues : Distance
        Between the pooled final eigenvalues (n_seeds K values each, ``used`` seeds only).
    spacing_ratios : Distance
        Between the pooled final spacing ratios.
    per_save_point : tuple of Distance
        Between the pooled eigenvalues at every save (empty for :attr:`Comparison.steps`).
    approximation : str
        What ``rung`` drops or changes relative to ``reference`` (:data:`APPROXIMATIONS`).
    """

    rung: str
    reference: str
    eigenvalues: Distance
    spacing_ratios: Distance
    per_save_point: tuple[Distance, ...] = field(default=(), repr=False)
    approximation: str = ""

    def to_dict(self) -> dict:
        """``ks_statistic``, ``ks_pvalue``, ``wasserstein`` (+ stderr, n, m) of the final
        eigenvalues at the top level; ``spacing_ratios``; ``per_save_point`` lists."""
        per = self.per_save_point
        out = {
            "rung": self.rung,
            "reference": self.reference,
            "approximation": self.approximation,
            **self.eigenvalues.to_dict(),
            "spacing_ratios": self.spacing_ratios.to_dict(),
        }
        if per:
            out["per_save_point"] = {
                "ks_statistic": [d.ks_statistic for d in per],
                "ks_pvalue": [d.ks_pvalue for d in per],
                "wasserstein": [d.wasserstein for d in per],
                "wasserstein_stderr": [d.wasserstein_stderr for d in per],
            }
        return out


@dataclass(frozen=True)
class Comparison:
    """The ladder of models from SGD down to Dyson Brownian motion, from the same seeds.

    Every rung starts from the same networks, data and initial matrices (identical initial
    spectra), runs over the same Langevin time ``t = eps * steps`` and is saved at SGD's save
    epochs; every rung is labelled by the one phase rule and measured by the one level
    statistics. See docs/tutorial-theory-vs-sgd.md.

    Attributes
    ----------
    config : NetworkConfig
    temperature, sigma_w, lr : float
        ``T = lr / |B|``.
    epochs : int
    seed : int
        Base entropy shared by every rung.
    sampling : str
        How SGD drew its batches (``fixed``, ``shuffle`` or ``iid``).
    save_epochs : ndarray of int64, shape (n_saves,)
    times : ndarray of float64, shape (n_saves,)
        Langevin times of the saves, ``lr * n_batches * save_epochs``.
    teacher_eigenvalues : ndarray of float64, shape (n_seeds, K)
    rungs : tuple of EnsembleSummary
        In ladder order (:data:`RUNGS`), ``sgd`` first.
    distances_to_sgd : tuple of RungDistance
        One per rung other than ``sgd``.
    steps : tuple of RungDistance
        Between consecutive rungs of :attr:`rungs`: what each approximation costs.
    results : dict
        The raw results per rung (``SGDResult``, ``ContinuousResult``, ``LangevinResult``).
    """

    config: NetworkConfig
    temperature: float
    sigma_w: float
    lr: float
    epochs: int
    seed: int
    sampling: str
    save_epochs: np.ndarray
    times: np.ndarray
    teacher_eigenvalues: np.ndarray = field(repr=False)
    rungs: tuple[EnsembleSummary, ...]
    distances_to_sgd: tuple[RungDistance, ...]
    steps: tuple[RungDistance, ...]
    results: dict = field(repr=False, default_factory=dict)

    @property
    def n_seeds(self) -> int:
        """Ensemble size."""
        return self.rungs[0].eigenvalues.shape[0]

    @property
    def rung_names(self) -> tuple[str, ...]:
        """Names of the rungs run, in ladder order."""
        return tuple(r.name for r in self.rungs)

    def rung(self, name: str) -> EnsembleSummary:
        """The summary of rung ``name`` (KeyError naming the rungs run if absent)."""
        for r in self.rungs:
            if r.name == name:
                return r
        raise KeyError(f"rung {name!r} was not run; this comparison has {self.rung_names}")

    def distance_to_sgd(self, name: str) -> RungDistance:
        """The distance of rung ``name`` to SGD."""
        for d in self.distances_to_sgd:
            if d.rung == name:
                return d
        raise KeyError(f"no distance to SGD for {name!r}; rungs run: {self.rung_names}")

    @property
    def sgd(self) -> EnsembleSummary:
        """The SGD rung (always run: it is the reference)."""
        return self.rungs[0]

    def to_dict(self) -> dict:
        """A JSON-ready summary (numpy arrays left as arrays; see ``cli._common.to_jsonable``).

        Keys: the run's parameters; ``rungs``, a list with one object per rung in ladder
        order (:meth:`EnsembleSummary.to_dict`, plus ``distance_to_sgd`` for every rung but
        ``sgd``: :meth:`RungDistance.to_dict`, whose top level holds ``ks_statistic``,
        ``ks_pvalue`` and ``wasserstein`` of the final eigenvalues); ``steps``, the distances
        between consecutive rungs.
        """
        to_sgd = {d.rung: d.to_dict() for d in self.distances_to_sgd}
        rungs = []
        for r in self.rungs:
            d = r.to_dict()
            if r.name in to_sgd:
                d["distance_to_sgd"] = to_sgd[r.name]
            rungs.append(d)
        return {
            "T": self.temperature,
            "sigma": self.sigma_w,
            "lr": self.lr,
            "batch_size": self.config.batch_size,
            "n_batches": self.config.n_batches,
            "epochs": self.epochs,
            "seeds": self.n_seeds,
            "seed": self.seed,
            "sampling": self.sampling,
            "K": self.config.K,
            "L": self.config.L,
            "time": float(self.times[-1]),
            "save_epochs": self.save_epochs,
            "times": self.times,
            "teacher_eigenvalues": self.teacher_eigenvalues,
            "rungs": rungs,
            "steps": [s.to_dict() for s in self.steps],
        }


# --------------------------------------------------------------------------- validation


def default_save_points(epochs: int, maximum: int = MAX_SAVE_POINTS) -> int:
    """The most save points ``<= maximum`` that fall on whole epochs evenly spaced.

    ``n - 1`` must divide ``epochs`` so that SGD's save epochs and the Langevin save times
    ``linspace(0, t, n)`` coincide exactly: 21 for multiples of 20 epochs (the paper's), 16
    for 30 epochs, ``epochs + 1`` for up to 20 epochs.
    """
    epochs = _positive_int("epochs", epochs)
    for d in range(min(maximum - 1, epochs), 0, -1):
        if epochs % d == 0:
            return d + 1
    return 2


def parse_rungs(rungs: str | Sequence[str] | None) -> tuple[str, ...]:
    """The rungs to run, in ladder order, ``sgd`` always first (it is the reference).

    Parameters
    ----------
    rungs : str, sequence of str or None
        Names from :data:`RUNGS`, as a sequence or one comma-separated string
        (``"gd,dbm_rotating"``); ``None`` or ``"all"``: every rung.

    Raises
    ------
    ValueError
        An unknown or repeated name.
    """
    if rungs is None:
        return RUNGS
    if isinstance(rungs, str):
        if rungs.strip() == "all":
            return RUNGS
        names = [r.strip() for r in rungs.split(",") if r.strip()]
    else:
        names = [str(r) for r in rungs]
    if not names:
        raise ValueError(f"rungs is empty; choose from {', '.join(RUNGS)}")
    unknown = [r for r in names if r not in RUNGS]
    if unknown:
        raise ValueError(f"unknown rung {unknown[0]!r}; choose from {', '.join(RUNGS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"rungs names a rung twice ({', '.join(names)}); list each once")
    return tuple(r for r in RUNGS if r == "sgd" or r in names)


# --------------------------------------------------------------------------- the rungs


@dataclass
class _Setup:
    """What every rung shares: the cell, the instances, the span and the saves."""

    config: NetworkConfig
    temperature: float
    lr: float
    sigma_w: float
    time: float
    times: np.ndarray
    seed: int
    instances: list
    teacher: np.ndarray
    options: dict
    progress: Callable[[str, float, float], None] | None

    def hook(self, name: str):
        if self.progress is None:
            return None
        return lambda done, total: self.progress(name, float(done), float(total))


def _stop_status(diverged, runaway, stop_time) -> list[str]:
    out = []
    for d, r, t in zip(diverged, runaway, stop_time, strict=True):
        if d:
            out.append(f"diverged at t = {t:g}")
        elif r:
            out.append(f"runaway at t = {t:g} (stopped)")
        else:
            out.append("ok")
    return out


def _run_continuous(name: str, s: _Setup):
    from dysonsgd.ladder import continuous

    o = s.options
    kw = dict(time=s.time, save_times=s.times, runaway_factor=o["runaway_factor"],
              on_progress=s.hook(name))  # fmt: skip
    if name == "gd":
        res = continuous.run_gd(s.instances, lr=s.lr, **kw)
    else:
        res = continuous.run_sde(
            s.instances, temperature=s.temperature, lr=s.lr, dt=o["sde_dt"], seed=s.seed,
            order_eps=o["order_eps"], **kw,
        )  # fmt: skip
    x = eigenvalues_of_X(res.W)
    hot = np.asarray(res.diverged) | np.asarray(res.runaway)
    pc = classify(x, s.teacher, diverged=hot, loss=res.loss)
    status = _stop_status(res.diverged, res.runaway, res.stop_time)
    settings = {"dt": res.dt, "steps": int(res.steps), **res.settings}
    return x, pc, hot, status, np.zeros(len(status), dtype=bool), settings, res


def _run_dbm(name: str, s: _Setup):
    from dysonsgd.langevin.integrate import RunawayGuard
    from dysonsgd.langevin.network import NetworkModel

    o = s.options
    rotate = name == "dbm_rotating"
    model = NetworkModel(
        s.instances,
        basis="student" if rotate else o["basis"],
        n_drift=o["n_drift"],
        refresh_interval=o["refresh_interval"],
        lr=s.lr if o["order_eps"] else None,
        exchange=o["exchange"],
        rotate=rotate,
        temperature=s.temperature,
        seed=s.seed,
    )
    # RunawayGuard stops a system whose x_1 passed runaway_factor x max(x*_1, x_1(0)), so
    # that a hot run does not integrate 10^6 time units; like OverflowGuard it also freezes
    # a system whose coefficients overflow (x ~ 1e153 with the identity activation) before
    # its state reaches the integrator's blow-up bound.
    guard = RunawayGuard(o["runaway_factor"], reference=s.teacher[:, 0])
    loss0 = model.training_loss(model.x0)
    hook = s.hook(name)
    # The frame's linear algebra is on 16 x 32 matrices, one system at a time: a multi-
    # threaded BLAS only adds contention (4 seeds at the ordered point, t = 2000: 14.5 s with one
    # thread against 39.6 s with two on the 2-core machine, load ~3.5).
    with threadpool_limits(1, user_api="blas"):
        lang = integrate(
            model, model.x0, s.time, temperature=s.temperature, dt=o["dt"],
            scheme=o["scheme"], save_points=len(s.times), seed=s.seed, guard=guard,
            progress=hook,
        )  # fmt: skip
    overflowed = np.isfinite(guard.overflow_time)
    ran_away = np.isfinite(guard.runaway_time)
    status = []
    for m, code in enumerate(lang.status):
        if overflowed[m]:
            status.append(
                f"coefficients overflowed at t = {guard.overflow_time[m]:g} (frozen from there)"
            )
        elif ran_away[m]:
            status.append(f"runaway at t = {guard.runaway_time[m]:g} (stopped)")
        else:
            status.append(STATUS.get(int(code), f"code {int(code)}"))
    hot = lang.blown_up | overflowed | ran_away
    pc = model.classify(lang.x, loss0, diverged=hot)
    settings = {
        "model": "network",
        "rotate": rotate,
        "basis": model.basis,
        "scheme": o["scheme"],
        "dt": lang.dt,
        "refresh_interval": o["refresh_interval"],
        "order_eps": bool(o["order_eps"]),
        "exchange": bool(o["exchange"]),
        "n_drift": model.n_drift,
        "steps": lang.steps,
        "rejected_steps": lang.rejected_steps,
        "fallback_steps": lang.fallback_steps,
    }
    return lang.x, pc, lang.stopped | hot, status, lang.stopped & ~hot, settings, lang


_RUNNERS: dict[str, Callable] = {
    "gd": _run_continuous,
    "sde": _run_continuous,
    "dbm_rotating": _run_dbm,
    "dbm_frozen": _run_dbm,
}


# --------------------------------------------------------------------------- compare


def compare(
    config: NetworkConfig | None = None,
    *,
    temperature: float,
    sigma_w: float,
    epochs: int,
    n_seeds: int = 4,
    seed: int | np.random.Generator | None = 0,
    save_points: int | None = None,
    rungs: str | Sequence[str] | None = None,
    sampling: str = "fixed",
    shuffle: bool | None = None,
    basis: str = "teacher",
    refresh_interval: float | str = REFRESH_INTERVAL,
    dt: float | None = None,
    sde_dt: float | None = None,
    scheme: str = "semi_implicit",
    order_eps: bool = False,
    exchange: bool = False,
    n_drift: int | None = None,
    runaway_factor: float = RUNAWAY_FACTOR,
    n_bootstrap: int = N_BOOTSTRAP,
    on_progress: Callable[[str, float, float], None] | None = None,
) -> Comparison:
    """Run the ladder of models from SGD down to Dyson Brownian motion from the same seeds.

    The rungs (:data:`RUNGS`), each one approximation further from SGD:

    - ``sgd``: :func:`dysonsgd.sgd.train` (numba engine) with the chosen ``sampling``;
    - ``gd``: full-batch gradient descent at SGD's step eps (no batch noise);
    - ``sde``: the matrix SDE of SGD, ``dW = -gbar dt + sqrt(T Sigma) dB`` with Sigma the
      per-sample gradient covariance over the training set (Euler-Maruyama);
    - ``dbm_rotating``: its reduction to the singular values (Dyson Brownian motion: drift,
      Coulomb repulsion, noise) with the singular vectors carried along by the off-diagonal
      drift and noise (docs/theory-network.md);
    - ``dbm_frozen``: the same with the singular vectors frozen (the ``network`` model).

    All start from the same instances (so from identical spectra), run over the same Langevin
    time ``t = lr * n_batches * epochs`` and are saved at SGD's save epochs; each is labelled
    by :func:`dysonsgd.phases.classify`, measured by :func:`level_statistics` and compared
    with SGD and with the rung above it (KS and 1-Wasserstein distances).

    Parameters
    ----------
    config : NetworkConfig, optional
        Network and protocol (paper values by default); reduce ``n_batches`` for quick runs.
    temperature : float
        T = lr / |B| > 0.
    sigma_w : float
        Initial width, > 0 (disorder strength 1/sigma_w).
    epochs : int
        SGD epochs, >= 1.
    n_seeds : int
        Ensemble size (the same seeds for every rung).
    seed : int, Generator or None
        Base seed.
    save_points : int, optional
        Evenly spaced saves including 0 and the end; ``save_points - 1`` must divide
        ``epochs``. Default :func:`default_save_points`.
    rungs : str or sequence of str, optional
        Rungs to run (:func:`parse_rungs`; default all). ``sgd`` always runs.
    sampling : {"fixed", "shuffle", "iid"}
        SGD's batches: the paper's fixed order, reshuffled every epoch, or drawn i.i.d. with
        replacement (the process the ``sde`` rung describes).
    shuffle : bool, optional
        Alias: ``True`` is ``sampling="shuffle"``.
    basis : {"teacher", "student"}
        Frozen singular basis of ``dbm_frozen`` (``dbm_rotating`` starts in the student's).
    refresh_interval : float or "auto"
        Langevin time between coefficient measurements of the DBM rungs; ``"auto"``
        (default): chosen at every refresh from the measured rates
        (:class:`~dysonsgd.langevin.network.AutoRefresh`).
    dt : float, optional
        Largest Langevin step of the DBM rungs; default ``min(refresh / 2, t / 1000)`` with
        the longest refresh interval for ``"auto"``.
    sde_dt : float, optional
        Euler-Maruyama step of ``sde``, at most ``lr`` (default ``lr``).
    scheme : {"semi_implicit", "euler"}
        Integrator of the DBM rungs.
    order_eps : bool
        Add the order-eps drift to ``sde`` and the DBM rungs (experimental).
    exchange : bool
        ``NetworkModel(exchange=True)`` for the DBM rungs.
    n_drift : int, optional
        Training samples used for the DBM rungs' drift (default: all, the loss SGD descends).
    runaway_factor : float
        A ``gd``, ``sde`` or DBM system whose x_1 passes ``runaway_factor`` times
        ``max(x*_1, x_1(0))`` is stopped and labelled high-temperature (default 100).
    n_bootstrap : int
        Bootstrap resamples of every Wasserstein distance.
    on_progress : callable, optional
        ``on_progress(rung, done, total)``, called a bounded number of times per rung.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        For any invalid argument; the message names it and the fix.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), sections 4-5 (Langevin equation, phases);
    Li, Tai & E, J. Mach. Learn. Res. 20 (2019) 1 (stochastic modified equations).
    """
    from dysonsgd.langevin.network import BASES, AutoRefresh

    config = NetworkConfig() if config is None else config
    if not isinstance(config, NetworkConfig):
        raise ValueError(f"config must be a NetworkConfig, got {type(config).__name__}")
    sigma_w = check_sigma_w(sigma_w)
    lr, T = learning_rate(temperature, None, config.batch_size)
    epochs = _positive_int("epochs", epochs)
    n_seeds = _positive_int("n_seeds", n_seeds)
    names = parse_rungs(rungs)
    if save_points is None:
        save_points = default_save_points(epochs)
    save_points = _positive_int("save_points", save_points)
    if save_points < 2:
        raise ValueError(f"save_points must be at least 2 (start and end), got {save_points}")
    if epochs % (save_points - 1):
        raise ValueError(
            f"save_points={save_points} does not put the saves on whole epochs evenly "
            f"({save_points - 1} must divide epochs={epochs}); use save_points="
            f"{default_save_points(epochs)} or leave it unset"
        )
    if basis not in BASES:
        raise ValueError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    time = lr * config.n_batches * epochs
    if isinstance(refresh_interval, str) and refresh_interval == "auto":
        longest = AutoRefresh().max_interval
    else:
        refresh_interval = longest = _positive_float("refresh_interval", refresh_interval)
    if dt is None:
        dt = min(longest / 2.0, time / 1000.0)
    else:
        dt = _positive_float("dt", dt)
        if dt >= time:
            raise ValueError(f"dt={dt:g} must be smaller than the Langevin time {time:g}")
    if sde_dt is not None:
        sde_dt = _positive_float("sde_dt", sde_dt)
        if sde_dt > lr:
            raise ValueError(f"sde_dt={sde_dt:g} must be at most the step eps = {lr:g}")
    runaway_factor = _positive_float("runaway_factor", runaway_factor)
    n_bootstrap = _positive_int("n_bootstrap", n_bootstrap)
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be at least 2, got {n_bootstrap}")

    clock = _time.perf_counter()
    sgd = train(
        config, sigma_w=sigma_w, temperature=T, epochs=epochs, n_seeds=n_seeds, seed=seed,
        engine="numba", save_points=save_points, sampling=sampling, shuffle=shuffle,
        on_epoch=_epoch_hook(on_progress, n_seeds * epochs),
    )  # fmt: skip
    x_sgd = eigenvalues_of_X(sgd.W)
    teacher = eigenvalues_of_X(sgd.W_teacher)
    summaries = [
        _summary(
            "sgd", x_sgd, classify_sgd(sgd), sgd.diverged,
            ["diverged" if d else "ok" for d in sgd.diverged], np.zeros(n_seeds, dtype=bool),
            {"engine": "numba", "sampling": sgd.sampling, "lr": lr,
             "steps": epochs * config.n_batches},
            _time.perf_counter() - clock,
        )
    ]  # fmt: skip
    results: dict = {"sgd": sgd}
    times = lr * config.n_batches * sgd.save_epochs.astype(np.float64)
    setup = _Setup(
        config=config, temperature=T, lr=lr, sigma_w=sigma_w, time=time, times=times,
        seed=sgd.seed, instances=sgd.instances(), teacher=teacher,
        options=dict(basis=basis, refresh_interval=refresh_interval, dt=dt, sde_dt=sde_dt,
                     scheme=scheme, order_eps=bool(order_eps), exchange=bool(exchange),
                     n_drift=n_drift, runaway_factor=runaway_factor),
        progress=on_progress,
    )  # fmt: skip
    for name in names[1:]:
        clock = _time.perf_counter()
        x, pc, stopped, status, unresolved, settings, raw = _RUNNERS[name](name, setup)
        seconds = _time.perf_counter() - clock
        summaries.append(_summary(name, x, pc, stopped, status, unresolved, settings, seconds))
        results[name] = raw

    def dist(a: EnsembleSummary, b: EnsembleSummary, per_save: bool) -> RungDistance:
        per = ()
        if per_save:
            per = tuple(
                distance(b.eigenvalues[b.used, k], a.eigenvalues[a.used, k],
                         n_bootstrap=n_bootstrap, seed=k)
                for k in range(save_points)
            )  # fmt: skip
        final = distance(b.final[b.used], a.final[a.used], n_bootstrap=n_bootstrap)
        ratios = distance(
            b.statistics.spacing_ratios, a.statistics.spacing_ratios, n_bootstrap=n_bootstrap
        )
        i, j = RUNGS.index(b.name), RUNGS.index(a.name)
        what = "; ".join(APPROXIMATIONS[r] for r in RUNGS[i + 1 : j + 1])
        return RungDistance(a.name, b.name, final, ratios, per, what)

    s_sum = summaries[0]
    return Comparison(
        config=config,
        temperature=T,
        sigma_w=sigma_w,
        lr=lr,
        epochs=epochs,
        seed=sgd.seed,
        sampling=sgd.sampling,
        save_epochs=sgd.save_epochs,
        times=times,
        teacher_eigenvalues=teacher,
        rungs=tuple(summaries),
        distances_to_sgd=tuple(dist(r, s_sum, True) for r in summaries[1:]),
        steps=tuple(dist(b, a, False) for a, b in itertools.pairwise(summaries)),
        results=results,
    )


def _epoch_hook(on_progress, total: int):
    if on_progress is None:
        return None
    done = [0]

    def hook():
        done[0] += 1
        on_progress("sgd", done[0], total)

    return hook


# --------------------------------------------------------------------------- measured


@dataclass(frozen=True)
class MeasuredComparison:
    """Prediction of the ``measured`` model from one SGD checkpoint to the next.

    All arrays are eigenvalue shifts ``x(next) - x(checkpoint)`` of ``X = W W^T``, levels in
    descending order.

    Attributes
    ----------
    checkpoint : int
        Index of the starting save point; the prediction is for ``checkpoint + 1``.
    epochs : (int, int)
        Save epochs of the two checkpoints.
    time : float
        Langevin time between them, ``lr * n_batches * (epoch_1 - epoch_0)``.
    x_start : ndarray of float64, shape (n_seeds, K)
        Eigenvalues at the checkpoint (both start here).
    sgd_shift : ndarray of float64, shape (n_seeds, K)
        SGD's actual shift.
    predicted_shift, predicted_std : ndarray of float64, shape (n_seeds, K)
        Mean and standard deviation of the shift over the ``n_replicas`` Langevin runs per
        seed that reached the next checkpoint (runs the integrator stopped are left out;
        NaN if all of a seed's were).
    deterministic_shift : ndarray of float64, shape (n_seeds, K)
        ``time`` times the measured drift ``-Kt + T (C + sum_j Vt_ij/(x_i - x_j))`` at the
        checkpoint: the first-order prediction without integrating.
    z_score : ndarray of float64, shape (n_seeds, K)
        ``(sgd_shift - predicted_shift) / predicted_std``; NaN where it is not defined: all of
        a seed's runs stopped, or ``predicted_std`` is 0 (every replica ended in the same
        state, e.g. a level held at x = 0 by the frozen drift, or a jammed network whose
        gradients are exactly 0).
    sgd_mean, sgd_spread : ndarray of float64, shape (K,)
        Mean and standard deviation over seeds of SGD's shift.
    langevin_mean, langevin_spread : ndarray of float64, shape (K,)
        The same for the Langevin prediction: a seed drawn at random with one replica, i.e.
        ``spread^2 = Var_seeds(predicted_shift) + mean_seeds(predicted_std^2)``.
    n_replicas : int
    samples : str
        Where the coefficients were measured (``probe`` or ``train``).
    status : ndarray of int64, shape (n_seeds, n_replicas)
        Integrator status per run (0 ok; see :data:`dysonsgd.langevin.STATUS`).
    """

    checkpoint: int
    epochs: tuple[int, int]
    time: float
    x_start: np.ndarray = field(repr=False)
    sgd_shift: np.ndarray = field(repr=False)
    predicted_shift: np.ndarray = field(repr=False)
    predicted_std: np.ndarray = field(repr=False)
    deterministic_shift: np.ndarray = field(repr=False)
    z_score: np.ndarray = field(repr=False)
    sgd_mean: np.ndarray = field(repr=False)
    sgd_spread: np.ndarray = field(repr=False)
    langevin_mean: np.ndarray = field(repr=False)
    langevin_spread: np.ndarray = field(repr=False)
    n_replicas: int
    samples: str
    status: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """Plain values (for JSON)."""
        return {
            k: getattr(self, k)
            for k in (
                "checkpoint", "epochs", "time", "x_start", "sgd_shift", "predicted_shift",
                "predicted_std", "deterministic_shift", "z_score", "sgd_mean", "sgd_spread",
                "langevin_mean", "langevin_spread", "n_replicas", "samples", "status",
            )
        }  # fmt: skip


def compare_measured(
    sgd_result: SGDResult,
    checkpoint_index: int,
    *,
    n_replicas: int = 32,
    samples: str = "probe",
    dt: float | None = None,
    scheme: str = "semi_implicit",
    seed: int | np.random.Generator | None = 0,
) -> MeasuredComparison:
    """Predict SGD's next checkpoint from the coefficients measured at one checkpoint.

    At save point ``checkpoint_index`` the coefficients Kt, Vt, C of every seed are measured
    on its probe set in the eigenbasis of ``X = W W^T``
    (:func:`dysonsgd.langevin.coefficients.measure_coefficients`, exact Vt) and held fixed
    (:class:`dysonsgd.langevin.MeasuredModel`): Kt, C and the off-diagonal Vt as constants,
    the diagonal ``Vt_ii = 4 x_i Var(u_i^T g v_i)`` as its slope in ``x_i`` (``x_ref``, so a
    level's noise vanishes with it). ``n_replicas`` independent Langevin runs per seed go from
    the checkpoint's eigenvalues to the next save point's time.

    Parameters
    ----------
    sgd_result : SGDResult
    checkpoint_index : int
        ``0 <= checkpoint_index < n_saves - 1`` (negative values count from the end, so -2
        is the last interval).
    n_replicas : int
        Langevin runs per seed (the prediction's spread), >= 2.
    samples : {"probe", "train"}
        Where Kt, Vt, C are measured: the probe set (fresh inputs, as the paper's criterion
        does) or the training set (the loss SGD descends and the population its batches are
        drawn from).
    dt : float, optional
        Largest Langevin step; default the interval's time / 200.
    scheme : {"semi_implicit", "euler"}
    seed : int, Generator or None
        Base seed of the Langevin noise.

    Returns
    -------
    MeasuredComparison

    Raises
    ------
    ValueError
        For an invalid argument; when a seed diverged before the next checkpoint (its
        record then repeats the state at divergence: the message names the last usable
        checkpoint); when the checkpoint has degenerate or zero eigenvalues.

    Notes
    -----
    Held-fixed coefficients are a good description while the spectrum moves little relative
    to the drift's scale; over a long interval the constant drift extrapolates linearly and
    overshoots (the network model refreshes them instead).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 4.
    """
    if not isinstance(sgd_result, SGDResult):
        raise ValueError(f"sgd_result must be an SGDResult, got {type(sgd_result).__name__}")
    n_saves = sgd_result.save_epochs.shape[0]
    if isinstance(checkpoint_index, bool) or not isinstance(checkpoint_index, (int, np.integer)):
        raise ValueError(f"checkpoint_index must be an integer, got {checkpoint_index!r}")
    c = int(checkpoint_index)
    if c < 0:
        c += n_saves
    if not 0 <= c < n_saves - 1:
        raise ValueError(
            f"checkpoint_index={checkpoint_index} has no next checkpoint; use 0 .. {n_saves - 2} "
            f"(or -{n_saves} .. -2)"
        )
    n_replicas = _positive_int("n_replicas", n_replicas)
    if n_replicas < 2:
        raise ValueError(f"n_replicas must be at least 2 to give a spread, got {n_replicas}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if samples not in ("probe", "train"):
        raise ValueError(f"samples must be 'probe' or 'train', got {samples!r}")
    cfg = sgd_result.config
    e0, e1 = int(sgd_result.save_epochs[c]), int(sgd_result.save_epochs[c + 1])
    time = sgd_result.lr * cfg.n_batches * (e1 - e0)
    dt = time / 200.0 if dt is None else _positive_float("dt", dt)
    if dt >= time:
        raise ValueError(f"dt={dt:g} must be smaller than the interval's Langevin time {time:g}")
    T = sgd_result.temperature
    # A diverged seed's records repeat its state at divergence (the step that diverged is
    # not applied): the interval is genuine only if it ends before that step.
    nb = cfg.n_batches
    step = np.asarray(sgd_result.records.diverged_step)
    early = np.asarray(sgd_result.diverged) & (step < e1 * nb)
    if np.any(early):
        bad = np.flatnonzero(early).tolist()
        d = int(step[early].min())
        ok = [k for k in range(n_saves - 1) if sgd_result.save_epochs[k + 1] * nb <= d]
        hint = (f"use checkpoint_index <= {ok[-1]}" if ok
                else "no interval of this run precedes it")  # fmt: skip
        raise ValueError(
            f"seeds {bad} diverged (batch loss above the guard) at epoch {d // nb}, before "
            f"checkpoint {c + 1} (epoch {e1}), and their records repeat the state at "
            f"divergence; {hint}, or train without the diverging seeds"
        )

    n = sgd_result.n_seeds
    K = cfg.K
    W0 = sgd_result.W[:, c]
    x_next = eigenvalues_of_X(sgd_result.W[:, c + 1])
    Kt = np.empty((n, K))
    Vt = np.empty((n, K, K))
    C = np.empty((n, K))
    x_start = np.empty((n, K))
    det = np.empty((n, K))
    for m, inst in enumerate(sgd_result.instances()):
        a, y = (inst.a_probe, inst.y_probe) if samples == "probe" else (inst.a_train, inst.y_train)
        co = measure_coefficients(W0[m], a, y, inst.Z, cfg.activation)
        Kt[m], Vt[m], C[m], x_start[m] = co.Kt, co.Vt, co.C, co.x
        det[m] = time * co.drift(T)
    if np.any(np.diff(x_start, axis=1) >= 0) or np.any(x_start <= 0):
        raise ValueError(
            f"checkpoint {c} has degenerate or zero eigenvalues; the Langevin equation needs "
            "distinct positive levels"
        )
    # The diagonal noise goes over as its slope Vt_ii / (4 x_i) (x_ref): Vt_ii = 4 x_i
    # Var(u_i^T g v_i) vanishes with the level, where a constant Vt_ii would pull small
    # levels into 0 (131 of 320 runs stopped at the first checkpoint of the ordered point).
    model = MeasuredModel(
        Kt=np.repeat(Kt, n_replicas, axis=0),
        Vt=np.repeat(Vt, n_replicas, axis=0),
        C=np.repeat(C, n_replicas, axis=0),
        x_ref=np.repeat(x_start, n_replicas, axis=0),
    )
    from dysonsgd import _seeding

    r = integrate(
        model, np.repeat(x_start, n_replicas, axis=0), time, temperature=T, dt=dt,
        scheme=scheme, save_points=2, seed=_seeding.base_entropy(seed),
    )  # fmt: skip
    shift = r.final - np.repeat(x_start, n_replicas, axis=0)
    shift[r.stopped] = np.nan  # a stopped run's frozen state is no prediction
    shift = shift.reshape(n, n_replicas, K)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all replicas of a seed stopped
        pred = np.nanmean(shift, axis=1)
        pstd = np.nanstd(shift, axis=1, ddof=1)
        sgd_shift = x_next - x_start
        z = np.where(pstd > 0, (sgd_shift - pred) / pstd, np.nan)
        ddof = 1 if n > 1 else 0
        lang_spread = np.sqrt(np.nanvar(pred, axis=0, ddof=ddof) + np.nanmean(pstd**2, axis=0))
    return MeasuredComparison(
        checkpoint=c,
        epochs=(e0, e1),
        time=time,
        x_start=x_start,
        sgd_shift=sgd_shift,
        predicted_shift=pred,
        predicted_std=pstd,
        deterministic_shift=det,
        z_score=z,
        sgd_mean=sgd_shift.mean(axis=0),
        sgd_spread=sgd_shift.std(axis=0, ddof=ddof),
        langevin_mean=np.nanmean(pred, axis=0) if np.any(np.isfinite(pred)) else pred[0],
        langevin_spread=lang_spread,
        n_replicas=n_replicas,
        samples=samples,
        status=r.status.reshape(n, n_replicas),
    )

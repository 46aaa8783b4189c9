"""Theory against SGD: the reduced Langevin model beside the SGD ensemble it describes.

Two entry points:

1. :func:`compare` trains an SGD ensemble and integrates the ``network`` Langevin model
   (:class:`dysonsgd.langevin.network.NetworkModel`) from the same seeds -- the same networks,
   data and initial matrices, so both ensembles start from identical spectra -- over the same
   span, Langevin time ``t = eps * steps``, with save points at SGD's save epochs. It reports,
   per save point and at the end, the mean and spread of each eigenvalue of ``X = W W^T``, the
   two-sample Kolmogorov-Smirnov and 1-Wasserstein distances between the two ensembles'
   eigenvalue distributions, the level statistics of each (spacing ratios against the GOE
   surmise, unfolded spacings against the Wigner surmise, a Brody fit) and the phase each is
   in (:func:`dysonsgd.phases.classify`).
2. :func:`compare_measured` starts the ``measured`` model (:class:`MeasuredModel`) from an SGD
   checkpoint with the coefficients Kt, Vt, C measured there on the probe set and predicts the
   eigenvalue shifts and spreads at the next checkpoint.

The comparison is between distributions over seeds: the Langevin noise is independent of
SGD's batch noise, so a single seed's two trajectories are not expected to agree, only their
ensembles.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), sections 4-5.
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dysonsgd import spectra
from dysonsgd._validate import positive_float as _positive_float
from dysonsgd._validate import positive_int as _positive_int
from dysonsgd.langevin import (
    SCHEMES,
    STATUS,
    LangevinResult,
    MeasuredModel,
    OverflowGuard,
    integrate,
)
from dysonsgd.langevin.coefficients import measure_coefficients
from dysonsgd.model import NetworkConfig, check_sigma_w
from dysonsgd.observables import eigenvalues_of_X
from dysonsgd.phases import PhaseClassification, classify_sgd, vote
from dysonsgd.sgd import SGDResult, learning_rate, train
from dysonsgd.sgd.api import PAPER_SAVE_POINTS

__all__ = [
    "Comparison",
    "Distance",
    "EnsembleSummary",
    "LevelStatistics",
    "MeasuredComparison",
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
#: Langevin time between coefficient refreshes of the network model (its default).
REFRESH_INTERVAL: float = 1.0


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
    """One ensemble's eigenvalue flow and its statistics.

    Attributes
    ----------
    name : {"sgd", "langevin"}
    eigenvalues : ndarray of float64, shape (n_seeds, n_saves, K)
        Eigenvalues of ``X = W W^T`` at the save points, descending.
    mean, std : ndarray of float64, shape (n_saves, K)
        Mean and spread (standard deviation, ddof = 1; 0 for one seed) of each eigenvalue over
        the seeds in ``used``.
    classification : PhaseClassification
        :func:`dysonsgd.phases.classify` of the flow against the teacher's eigenvalues, with
        the training loss at the start and end and the divergence flags: a diverged SGD seed
        (batch loss above the guard) or a Langevin system that overflowed (its state, or its
        coefficients: it is then frozen from that refresh on) is ``high-temperature``.
    phases : tuple of str
        Per seed: the classification's label, except that a Langevin system the integrator
        could not advance (step limit or budget exhausted) is ``stopped``: its frozen record
        says nothing about the phase.
    statistics : LevelStatistics
        Of the final spectra of the seeds in ``used``.
    used : ndarray of bool, shape (n_seeds,)
        Seeds entering the means, statistics and distances: all but the ``stopped`` ones
        (a system the integrator could not advance holds a frozen state, not a prediction).
    stopped : ndarray of bool, shape (n_seeds,)
        SGD: diverged (batch loss above the guard); Langevin: stopped early or frozen after
        its coefficients overflowed (see ``status``).
    status : tuple of str
        Per seed: ``ok``, ``diverged`` (SGD) or the integrator's status message.
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

    @property
    def phase(self) -> str:
        """The ensemble's label, :func:`dysonsgd.phases.vote` of ``phases`` (``stopped``
        seeds do not vote)."""
        return vote(self.phases)

    @property
    def final(self) -> np.ndarray:
        """Final eigenvalues, shape (n_seeds, K)."""
        return self.eigenvalues[:, -1]


def _summary(name, x, pc, stopped, status, unresolved) -> EnsembleSummary:
    n = x.shape[0]
    phases = tuple("stopped" if unresolved[m] else pc.phases[m] for m in range(n))
    used = x[~np.asarray(unresolved, dtype=bool)]
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
        used=np.asarray(~np.asarray(unresolved, dtype=bool)),
        stopped=np.asarray(stopped, dtype=bool),
        status=tuple(status),
    )


@dataclass(frozen=True)
class Comparison:
    """SGD and the Langevin network model from the same seeds, over the same span.

    Attributes
    ----------
    config : NetworkConfig
    temperature, sigma_w, lr : float
        ``T = lr / |B|``.
    epochs : int
    seed : int
        Base entropy shared by both ensembles (networks, data, initial matrices).
    save_epochs : ndarray of int64, shape (n_saves,)
    times : ndarray of float64, shape (n_saves,)
        Langevin times of the saves, ``lr * n_batches * save_epochs``.
    teacher_eigenvalues : ndarray of float64, shape (n_seeds, K)
    sgd, langevin : EnsembleSummary
    eigenvalue_distances : tuple of Distance, length n_saves
        Between the two ensembles' pooled eigenvalues (n_seeds K values each; Langevin
        systems the integrator stopped are left out) at each save. At save 0 both hold the
        same initial spectra (distance 0 up to rounding).
    ratio_distance, spacing_distance : Distance
        Between the final pooled spacing ratios, and unfolded spacings.
    langevin_settings : dict
        ``dt``, ``refresh_interval``, ``scheme``, ``basis``, ``order_eps``, ``exchange``,
        step counts.
    sgd_result : SGDResult
    langevin_result : LangevinResult
    """

    config: NetworkConfig
    temperature: float
    sigma_w: float
    lr: float
    epochs: int
    seed: int
    save_epochs: np.ndarray
    times: np.ndarray
    teacher_eigenvalues: np.ndarray = field(repr=False)
    sgd: EnsembleSummary
    langevin: EnsembleSummary
    eigenvalue_distances: tuple[Distance, ...] = field(repr=False)
    ratio_distance: Distance
    spacing_distance: Distance
    langevin_settings: dict
    sgd_result: SGDResult = field(repr=False)
    langevin_result: LangevinResult = field(repr=False)

    @property
    def n_seeds(self) -> int:
        """Ensemble size."""
        return self.sgd.eigenvalues.shape[0]

    @property
    def final_distance(self) -> Distance:
        """Distance between the final eigenvalue distributions."""
        return self.eigenvalue_distances[-1]

    def to_dict(self) -> dict:
        """A JSON-ready summary (numpy arrays left as arrays; see ``cli._common.to_jsonable``).

        Keys: the run's parameters; ``sgd`` and ``langevin`` (each with
        ``final_eigenvalues`` per seed, ``phase``, ``phases``, per-save ``mean`` and ``std``,
        ``level_statistics``); ``distance`` with ``eigenvalues``, ``spacing_ratios``,
        ``spacings`` and ``per_save_point`` sub-objects, and the final eigenvalue distance's
        ``ks_statistic``, ``ks_pvalue``, ``wasserstein`` also at its top level.
        """

        def ens(e: EnsembleSummary) -> dict:
            c = e.classification
            return {
                "final_eigenvalues": e.final,
                "initial_eigenvalues": e.eigenvalues[:, 0],
                "phase": e.phase,
                "phases": list(e.phases),
                "flow_phases": list(c.phases),
                "growth": c.growth,
                "progress": c.progress,
                "moved": c.moved,
                "mean": e.mean,
                "std": e.std,
                "final_mean": e.mean[-1],
                "final_std": e.std[-1],
                "level_statistics": e.statistics.to_dict(),
                "stopped": e.stopped,
                "used": e.used,
                "status": list(e.status),
            }

        fd = self.final_distance.to_dict()
        per = self.eigenvalue_distances
        return {
            "T": self.temperature,
            "sigma": self.sigma_w,
            "lr": self.lr,
            "batch_size": self.config.batch_size,
            "n_batches": self.config.n_batches,
            "epochs": self.epochs,
            "seeds": self.n_seeds,
            "seed": self.seed,
            "K": self.config.K,
            "L": self.config.L,
            "save_epochs": self.save_epochs,
            "times": self.times,
            "teacher_eigenvalues": self.teacher_eigenvalues,
            "langevin_settings": self.langevin_settings,
            "sgd": ens(self.sgd),
            "langevin": ens(self.langevin),
            "distance": {
                "ks_statistic": fd["ks_statistic"],
                "ks_pvalue": fd["ks_pvalue"],
                "wasserstein": fd["wasserstein"],
                "eigenvalues": fd,
                "spacing_ratios": self.ratio_distance.to_dict(),
                "spacings": self.spacing_distance.to_dict(),
                "per_save_point": {
                    "ks_statistic": [d.ks_statistic for d in per],
                    "ks_pvalue": [d.ks_pvalue for d in per],
                    "wasserstein": [d.wasserstein for d in per],
                    "wasserstein_stderr": [d.wasserstein_stderr for d in per],
                },
            },
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
    shuffle: bool = False,
    basis: str = "teacher",
    refresh_interval: float = REFRESH_INTERVAL,
    dt: float | None = None,
    scheme: str = "semi_implicit",
    order_eps: bool = False,
    exchange: bool = False,
    n_drift: int | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    on_epoch: Callable[[], None] | None = None,
    on_refresh: Callable[[], None] | None = None,
) -> Comparison:
    """Run SGD and the Langevin network model from the same seeds and compare their spectra.

    SGD: :func:`dysonsgd.sgd.train` with the numba engine. Langevin:
    :func:`dysonsgd.langevin.integrate` of
    :class:`~dysonsgd.langevin.network.NetworkModel` on the same instances (so the initial
    spectra are identical), over ``t = lr * n_batches * epochs`` with saves at
    ``lr * n_batches * save_epochs``.

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
        Ensemble size (the same seeds for both).
    seed : int, Generator or None
        Base seed.
    save_points : int, optional
        Evenly spaced saves including 0 and the end; ``save_points - 1`` must divide
        ``epochs``. Default :func:`default_save_points`.
    shuffle : bool
        Reshuffle SGD's batches every epoch (the paper does not).
    basis : {"teacher", "student"}
        Fixed singular basis of the network model.
    refresh_interval : float
        Langevin time between coefficient measurements (default 1).
    dt : float, optional
        Largest Langevin step; default ``min(refresh_interval / 2, t / 1000)``.
    scheme : {"semi_implicit", "euler"}
    order_eps : bool
        Add the order-eps drift terms (``lr`` times the network model's
        ``order_eps_drift``) to the leading equation.
    exchange : bool
        Let adjacent levels of the network model exchange basis pairs when the drift would
        make them cross before the next refresh (``NetworkModel(exchange=True)``); without
        it a fast level jams against a slower one above it.
    n_drift : int, optional
        Training samples used for the model's drift (default: all, the loss SGD descends).
    n_bootstrap : int
        Bootstrap resamples of every Wasserstein distance.
    on_epoch, on_refresh : callable, optional
        Progress hooks: once per SGD seed-epoch, once per coefficient refresh.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        For any invalid argument; the message names it and the fix.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), sections 4-5 (Langevin equation, phases).
    """
    from dysonsgd.langevin.network import BASES, NetworkModel

    config = NetworkConfig() if config is None else config
    if not isinstance(config, NetworkConfig):
        raise ValueError(f"config must be a NetworkConfig, got {type(config).__name__}")
    sigma_w = check_sigma_w(sigma_w)
    lr, T = learning_rate(temperature, None, config.batch_size)
    epochs = _positive_int("epochs", epochs)
    n_seeds = _positive_int("n_seeds", n_seeds)
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
    refresh = _positive_float("refresh_interval", refresh_interval)
    time = lr * config.n_batches * epochs
    dt = min(refresh / 2.0, time / 1000.0) if dt is None else _positive_float("dt", dt)
    if dt >= time:
        raise ValueError(f"dt={dt:g} must be smaller than the Langevin time {time:g}")
    n_bootstrap = _positive_int("n_bootstrap", n_bootstrap)
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be at least 2, got {n_bootstrap}")

    sgd = train(
        config,
        sigma_w=sigma_w,
        temperature=T,
        epochs=epochs,
        n_seeds=n_seeds,
        seed=seed,
        engine="numba",
        save_points=save_points,
        shuffle=shuffle,
        on_epoch=on_epoch,
    )
    model = NetworkModel(
        sgd.instances(),
        basis=basis,
        n_drift=n_drift,
        refresh_interval=refresh,
        lr=lr if order_eps else None,
        exchange=exchange,
    )
    # A system that runs away far enough overflows its coefficients (x ~ 1e153 with the
    # identity activation: Vt ~ x^2) before its state reaches the integrator's blow-up
    # bound; the integrator would reject the whole ensemble. OverflowGuard freezes such a
    # system (zero coefficients) from that refresh on; it is reported as overflowed:
    # high-temperature.
    guard = OverflowGuard()
    loss0 = model.training_loss(model.x0)

    def progress(t, end):
        if t < end:  # once per coefficient refresh, not at the end
            on_refresh()

    lang = integrate(
        model, model.x0, time, temperature=T, dt=dt, scheme=scheme,
        save_points=save_points, seed=sgd.seed, guard=guard,
        progress=None if on_refresh is None else progress,
    )  # fmt: skip
    overflow_time = guard.overflow_time

    teacher = model.teacher_eigenvalues
    x_sgd = eigenvalues_of_X(sgd.W)
    sgd_status = ["diverged" if d else "ok" for d in sgd.diverged]
    overflowed = np.isfinite(overflow_time)
    lang_status = [
        f"coefficients overflowed at t = {overflow_time[m]:g} (frozen from there)"
        if overflowed[m] else STATUS.get(int(s), f"code {int(s)}")
        for m, s in enumerate(lang.status)
    ]  # fmt: skip
    hot = lang.blown_up | overflowed
    s_sum = _summary("sgd", x_sgd, classify_sgd(sgd), sgd.diverged, sgd_status,
                     np.zeros(n_seeds, dtype=bool))  # fmt: skip
    l_pc = model.classify(lang.x, loss0, diverged=hot)
    l_sum = _summary("langevin", lang.x, l_pc, lang.stopped | overflowed, lang_status,
                     lang.stopped & ~hot)  # fmt: skip
    per = tuple(
        distance(x_sgd[:, k], lang.x[l_sum.used, k], n_bootstrap=n_bootstrap, seed=k)
        for k in range(save_points)
    )
    settings = {
        "model": "network",
        "basis": basis,
        "scheme": scheme,
        "dt": dt,
        "refresh_interval": refresh,
        "order_eps": bool(order_eps),
        "exchange": bool(exchange),
        "n_drift": model.n_drift,
        "time": time,
        "steps": lang.steps,
        "rejected_steps": lang.rejected_steps,
        "fallback_steps": lang.fallback_steps,
    }
    return Comparison(
        config=config,
        temperature=T,
        sigma_w=sigma_w,
        lr=lr,
        epochs=epochs,
        seed=sgd.seed,
        save_epochs=sgd.save_epochs,
        times=lang.times,
        teacher_eigenvalues=teacher,
        sgd=s_sum,
        langevin=l_sum,
        eigenvalue_distances=per,
        ratio_distance=distance(
            s_sum.statistics.spacing_ratios,
            l_sum.statistics.spacing_ratios,
            n_bootstrap=n_bootstrap,
        ),  # fmt: skip
        spacing_distance=distance(
            s_sum.statistics.spacings, l_sum.statistics.spacings, n_bootstrap=n_bootstrap
        ),
        langevin_settings=settings,
        sgd_result=sgd,
        langevin_result=lang,
    )


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

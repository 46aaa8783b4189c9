"""The ``network`` drift model: the paper's teacher-student network in a fixed singular basis.

The state of system m is the vector of singular values ``s`` (eigenvalues ``x = s^2`` of
``X = W W^T``, descending) of a student matrix restricted to a fixed orthonormal basis,

    W(s) = U diag(s) V^T,

with U (K x K) and V (L x K) the teacher's singular vectors (``basis="teacher"``, the
"aligned" model) or the student's initial ones (``basis="student"``). Level i is attached to
the i-th basis pair (u_i, v_i) in the order of the basis' singular values, so the teacher's
matrix is a fixed point of the aligned model's drift.

Coefficients of the eigenvalue Langevin equation (docs/theory-network.md):

- drift ``Kt_ii = u_i^T E_n[D_n] u_i = 2 s_i u_i^T gbar v_i``, with gbar the mean gradient over
  the first ``n_drift`` = 1000 training samples (or the whole training set);
- fluctuations ``Vt_ij = Var_n(u_i^T D_n u_j)`` and second-order term
  ``C_ii = E_n |u_i^T (g_n - gbar)|^2`` from per-sample gradients on the probe set (or its
  first ``n_probe`` samples);
- the exact slope ``kappa_i = dKt_ii/dx_i`` (the loss Hessian's diagonal in the basis).

They are measured at the current state every ``refresh_interval`` of Langevin time
``t = eps * SGD steps`` and handed to the integrator in its affine form
(:class:`dysonsgd.langevin.models.Coefficients`):

- drift through the origin, ``Kt_ii(x) = (Kt_ii/x_i)|_ref x_i`` (``slope="secant"``, default;
  the true drift ``2 s_i G_ii`` vanishes with s_i), or ``Kt_ref + kappa (x - x_ref)``
  (``slope="hessian"``);
- ``Vt = V0 + a (x_i + x_j)`` with the largest isotropic part a the measurement contains;
- a level that the drift would bring to s_i = 0 before the next refresh has u_i flipped
  (it passes through zero in the fixed basis and comes back as a singular value).

Approximations (measured in docs/theory-network.md):

1. The singular vectors are frozen: SGD also rotates U and V, and the off-diagonal drift
   ``Kt_ij`` (i != j) that would rotate them is dropped. In the aligned model the student
   starts aligned and learns faster than SGD; with the student's basis it cannot reach the
   teacher.
2. Only the leading equation of docs/theory.md, section 1 (order T); the order-eps terms are
   optional (``lr``) and experimental. The model's high-temperature boundary lies above SGD's.
3. Gaussian noise with independent increments per level, as in the paper's Langevin
   description.
4. Coefficients are piecewise affine between refreshes; the exact fixed-basis noise is
   quadratic in s off the diagonal, so a level racing to zero within one refresh is
   misdescribed; the diagonal is handed over exactly (``4 x_i Var(u_i^T g v_i)``).
5. Vt and C come from the probe set (as the paper's measurement does), the drift from a
   fixed training subsample (``noise_set="train"``: Vt and C over the training set, the
   covariance of SGD's own noise).

``rotate=True`` lifts approximation 1: the frame starts at the student's own SVD and is
carried along by the off-diagonal drift and noise between refreshes, the levels take the
diagonal of the same noise, and every coefficient is over the training set
(:mod:`dysonsgd.langevin.rotating`; docs/theory-network.md, "Rotating singular vectors").
``refresh_interval="auto"`` lets the model choose each refresh interval (:class:`AutoRefresh`).

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), sections 2 and 4.
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024) (Dyson Brownian motion of weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd._validate import positive_float
from dysonsgd.langevin import _kernels_network as _kn
from dysonsgd.langevin.models import Coefficients, DriftModel
from dysonsgd.langevin.registry import ModelOptions, RunSummary, Start, register
from dysonsgd.model import Instance, NetworkConfig, loss_and_gradient, make_instances

BASES: tuple[str, ...] = ("teacher", "student")
#: Linearisations of the drift between refreshes (see NetworkModel).
SLOPES: tuple[str, ...] = ("secant", "hessian")

#: Default Langevin time between two coefficient measurements.
DEFAULT_REFRESH_INTERVAL: float = 1.0
#: Default Langevin time within which a level heading through zero gets its u_i flipped.
DEFAULT_FLIP_HORIZON: float = 10.0
#: Default size of the fixed training subsample of the drift. The teacher is realisable, so
#: every subsample's loss has W* as its exact minimum: the fixed point does not move, and
#: the drift is 4x cheaper than on the paper's 4000 inputs.
DEFAULT_N_DRIFT: int = 1000
#: Noise sets of Vt and C (and of the rotating frame's noise): the probe set, as the paper
#: measures them, or the training set, whose per-sample covariance is SGD's noise.
NOISE_SETS: tuple[str, ...] = ("probe", "train")
#: Training samples of the rotating frame's stiff Gauss-Newton block (its preconditioner).
DEFAULT_N_PRECOND: int = 500


@dataclass(frozen=True)
class AutoRefresh:
    """How ``refresh_interval="auto"`` chooses the Langevin time to the next refresh.

    ``Delta = clip(tolerance / rate, min_interval, min(max_interval, growth * Delta_prev))``,
    with ``rate`` the largest relative rate of change the model measured at the refresh
    (per unit time): a level's ``|Kt_ii| / x_i`` and, for the rotating frame, the rotation
    rate of its singular vectors (docs/theory-network.md, "Rotating singular vectors").

    Attributes
    ----------
    tolerance : float
        Largest relative change per refresh, kappa (default 0.1).
    min_interval, max_interval : float
        Bounds of Delta (default 0.05 and 8: beyond 8 the rotating frame's explicit part
        was unstable at the ordered point, docs/theory-network.md).
    growth : float
        Largest factor by which Delta grows from one refresh to the next (default 2).
    """

    tolerance: float = 0.1
    min_interval: float = 0.05
    max_interval: float = 8.0
    growth: float = 2.0

    def __post_init__(self) -> None:
        for name in ("tolerance", "min_interval", "max_interval"):
            positive_float(name, getattr(self, name))
        if not self.min_interval <= self.max_interval:
            raise ValueError(
                f"min_interval={self.min_interval} must not exceed max_interval={self.max_interval}"
            )
        if not (math.isfinite(self.growth) and self.growth > 1):
            raise ValueError(f"growth must be a finite number > 1, got {self.growth!r}")

    def choose(self, rate: float, previous: float) -> float:
        """The next interval for the measured ``rate`` (NaN previous: the first refresh)."""
        high = self.max_interval
        if math.isfinite(previous):
            high = min(high, self.growth * previous)
        if not rate > 0:  # nothing moves (or a rate that is not finite): the bounds decide
            return high if rate == 0 else self.min_interval
        return float(min(max(self.tolerance / rate, self.min_interval), high))


def _auto_refresh(value) -> AutoRefresh | None:
    if isinstance(value, AutoRefresh):
        return value
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"refresh_interval must be a positive number or 'auto', got {value!r}")
        return AutoRefresh()
    return None


def _svd(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD ``W = U diag(s) V^T`` with s descending; U (K, K), V (L, K)."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return np.ascontiguousarray(U), s, np.ascontiguousarray(Vt.T)


@register
class NetworkModel(DriftModel):
    """The tanh teacher-student network reduced to its singular values (docs/theory-network.md).

    Parameters
    ----------
    instances : Instance or sequence of Instance
        One network per system of the ensemble (n systems = n seeds).
    basis : {"teacher", "student"}, optional
        Fixed singular basis: the teacher's (default) or the student's initial one; with
        ``rotate=True`` the frame starts at the student's (the only choice).
    n_drift : int or None
        Use the first ``n_drift`` training samples for the drift (default 1000 in the fixed
        basis: the teacher is realisable, so every subsample has the same exact minimum W*;
        ``None``: the whole training set, the loss SGD descends, the default with
        ``rotate=True``).
    n_probe : int, optional
        Use the first ``n_probe`` probe samples for Vt and C (default: the whole probe set).
    refresh_interval : float, "auto" or AutoRefresh
        Langevin time between two measurements of the coefficients (default 1); ``"auto"``
        (or an :class:`AutoRefresh`): chosen at every refresh from the measured rates.
    exchange : bool
        Swap the basis pairs of adjacent levels that would cross before the next refresh
        (off by default; see docs/theory-network.md).
    slope : {"secant", "hessian"}
        Drift handed to the integrator: a line through the origin (default) or the tangent
        with the exact Hessian slope.
    lr : float, optional
        Learning rate eps: adds the order-eps drift (experimental, off by default).
    flip_horizon : float
        A level the drift would bring to s = 0 within this Langevin time has its u_i flipped
        (default 10; ``inf`` never flips). Not used with ``rotate=True``.
    rotate : bool
        Carry the singular frame along (:mod:`dysonsgd.langevin.rotating`): the reduction of
        the matrix SDE of SGD to singular values and vectors. Default False: today's fixed
        basis, unchanged.
    noise_set : {"probe", "train"}, optional
        Samples of Vt, C (and of the frame noise): the probe set (default of the fixed
        basis, as the paper measures them) or the training set (default with
        ``rotate=True``: SGD's noise covariance).
    temperature : float, optional
        T = eps / |B|; required with ``rotate=True`` (the frame noise). :func:`integrate`
        refuses another temperature.
    seed : int, Generator, SeedSequence or None
        Base of the frame noise's per-system streams (``rotate=True``; default 0).
    n_precond : int
        Drift samples of the stiff Gauss-Newton block of the frame step (default 500).

    Attributes
    ----------
    x0 : ndarray of float64, shape (n, K)
        Initial eigenvalues: the squared singular values of each student's initial W0.
    teacher_eigenvalues : ndarray of float64, shape (n, K)
        Eigenvalues of ``W* W*^T`` (descending).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025).
    """

    name = "network"
    domain = "positive"
    option_names = ("sigma", "refresh")
    #: t = 500 is 500 / (T |B| n_batches) paper epochs (4 epochs at T = 2^-5, 1/32 epoch at
    #: T = 4): long enough for the ordered flow to cover most of the way to the teacher
    #: (docs/theory-network.md), for a high-temperature flow to grow past 10 x*_1 and a
    #: disordered one to show it is frozen.
    default_time = 500.0
    default_sigma = None  # the disorder strength is the point of a network run: required

    def __init__(
        self,
        instances: Instance | Sequence[Instance],
        *,
        basis: str | None = None,
        n_drift: int | None | str = "default",
        n_probe: int | None = None,
        refresh_interval: float | str | AutoRefresh = DEFAULT_REFRESH_INTERVAL,
        exchange: bool = False,
        slope: str = "secant",
        lr: float | None = None,
        flip_horizon: float = DEFAULT_FLIP_HORIZON,
        rotate: bool = False,
        noise_set: str | None = None,
        temperature: float | None = None,
        seed: int | np.random.Generator | np.random.SeedSequence | None = 0,
        n_precond: int = DEFAULT_N_PRECOND,
    ) -> None:
        if isinstance(instances, Instance):
            instances = [instances]
        instances = list(instances)
        if not instances or not all(isinstance(i, Instance) for i in instances):
            raise ValueError("instances must be a non-empty sequence of dysonsgd.Instance")
        self.rotate = bool(rotate)
        if basis is None:
            basis = "student" if self.rotate else "teacher"
        if basis not in BASES:
            raise ValueError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
        if self.rotate and basis != "student":
            raise ValueError(
                "rotate=True starts the frame at the student's own SVD: use basis='student' "
                f"(or leave it unset), got basis={basis!r}"
            )
        cfg = instances[0].config
        if any(i.config != cfg for i in instances):
            raise ValueError("all instances must share one NetworkConfig")
        self.auto_refresh = _auto_refresh(refresh_interval)
        if self.auto_refresh is not None:
            self.refresh_interval = "auto"
        else:
            try:
                refresh = float(refresh_interval)
            except (TypeError, ValueError):
                raise ValueError(
                    f"refresh_interval must be a positive number or 'auto', got "
                    f"{refresh_interval!r}"
                ) from None
            if not refresh > 0 or math.isnan(refresh):
                raise ValueError(f"refresh_interval must be positive, got {refresh_interval!r}")
            self.refresh_interval = refresh
        self._interval = math.nan  # the interval chosen at the last refresh ("auto")
        self._active = None  # systems the next coefficients() call measures (None: all)
        self.exchange = bool(exchange)
        if self.exchange and self.auto_refresh is not None:
            raise ValueError("exchange=True needs a fixed refresh_interval (it looks one ahead)")
        fh = float(flip_horizon)
        if not fh > 0:
            raise ValueError(
                f"flip_horizon must be positive (inf: never flip), got {flip_horizon!r}"
            )
        self.flip_horizon = fh
        if slope not in SLOPES:
            raise ValueError(f"slope must be one of {', '.join(SLOPES)}, got {slope!r}")
        self.slope = slope
        self.lr = None if lr is None else positive_float("lr", lr)
        if self.rotate and (self.exchange or slope != "secant" or self.lr is not None):
            raise ValueError(
                "rotate=True takes the drift as the secant of its implicit frame step: "
                "exchange, slope='hessian' and lr are for the fixed basis only"
            )
        if noise_set is None:
            noise_set = "train" if self.rotate else "probe"
        if noise_set not in NOISE_SETS:
            raise ValueError(f"noise_set must be one of {', '.join(NOISE_SETS)}, got {noise_set!r}")
        self.noise_set = noise_set
        if isinstance(n_drift, str):
            if n_drift != "default":
                raise ValueError(f"n_drift must be a positive integer or None, got {n_drift!r}")
            n_drift = None if self.rotate else min(DEFAULT_N_DRIFT, cfg.n_samples)
        self.n_drift = self._count("n_drift", n_drift, cfg.n_samples)
        self.n_probe = self._count("n_probe", n_probe, cfg.n_test)
        self.temperature = (
            None if temperature is None else positive_float("temperature", temperature)
        )
        if self.rotate and self.temperature is None:
            raise ValueError(
                "rotate=True needs the temperature (T = eps / |B|) of the frame noise: pass "
                "temperature=T, the one integrate() runs at"
            )
        self.basis = basis
        self.config = cfg
        self.instances = instances
        self._code = cfg.activation_code
        self._systems = []
        x0, xt = [], []
        for inst in instances:
            U_t, s_t, V_t = _svd(inst.W_teacher)
            _, s_0, _ = _svd(inst.W0)
            U, V = (U_t, V_t) if basis == "teacher" else _svd(inst.W0)[::2]
            a_d = np.ascontiguousarray(inst.a_train[: self.n_drift])
            if noise_set == "probe":
                a_p = np.ascontiguousarray(inst.a_probe[: self.n_probe])
                y_p = np.ascontiguousarray(inst.y_probe[: self.n_probe])
            else:
                a_p = np.ascontiguousarray(inst.a_train)
                y_p = np.ascontiguousarray(inst.y_train)
            self._systems.append(
                dict(
                    U0=U,
                    V0=V,
                    Z=np.ascontiguousarray(inst.Z),
                    b_drift0=np.ascontiguousarray(a_d @ V),
                    y_drift=np.ascontiguousarray(inst.y_train[: self.n_drift]),
                    a_noise=a_p,
                    b_noise0=np.ascontiguousarray(a_p @ V),
                    y_noise=y_p,
                )
            )
            x0.append(s_0**2)
            xt.append(s_t**2)
        self._frame = None
        if self.rotate:
            from dysonsgd.langevin.rotating import RotatingFrame

            self._frame = RotatingFrame(self, seed=seed, n_precond=n_precond)
        self.reset()
        self.x0 = np.ascontiguousarray(np.array(x0))
        self.teacher_eigenvalues = np.ascontiguousarray(np.array(xt))

    # ------------------------------------------------------------ runs by name (registry)

    @classmethod
    def network_config(cls, options: ModelOptions) -> NetworkConfig:
        """The paper's protocol (``NetworkConfig`` defaults) with the options' K and L."""
        return NetworkConfig(K=options.K, L=options.L)

    @classmethod
    def epoch_time(cls, options: ModelOptions) -> float:
        """``T |B| n_batches``: Langevin time of one epoch of the paper's protocol."""
        config = cls.network_config(options)
        return options.temperature * config.batch_size * config.n_batches

    @classmethod
    def from_options(cls, options: ModelOptions) -> Start:
        """One network per seed (:func:`dysonsgd.model.make_instances`, width sigma_W) in
        the teacher's basis, coefficients refreshed every ``options.refresh``."""
        options.check_for(cls)
        kw = {} if options.refresh is None else {"refresh_interval": options.refresh}
        instances = make_instances(
            cls.network_config(options), options.sigma, options.n_systems, options.entropy
        )
        model = cls(instances, **kw)
        return Start(
            model=model,
            x0=model.x0,
            sigma=options.sigma,
            options=options,
            reference=model.teacher_eigenvalues,
            initial_loss=model.training_loss(model.x0),
        )

    def summarize(self, start: Start, result) -> RunSummary:
        """The phase of each seed (:func:`dysonsgd.phases.classify`) from its flow, its
        blow-ups and its training loss; advice when the run is too short to decide."""
        from dysonsgd.phases import LOSS_DROP

        phases = self.classify(result.x, start.initial_loss, diverged=result.blown_up)
        advice = None
        if phases.phase == "undetermined":
            epoch_time = self.epoch_time(start.options)
            E = float(result.times[-1]) / epoch_time
            longer = max(10.0 * E, self.default_time / epoch_time)
            pr, sc, lr = phases.progress, phases.scale, phases.loss_ratio
            advice = (
                f"the run ({E:.3g} paper epochs) is too short for the phase rule to decide: "
                f"the flow got {np.nanmin(pr):.0%} to {np.nanmax(pr):.0%} of the way to the "
                f"teacher's spectrum, x_1/x*_1 is {np.nanmin(sc):.3g} to {np.nanmax(sc):.3g} "
                f"and the loss ratio {np.nanmin(lr):.2g} to {np.nanmax(lr):.2g} (ordered needs "
                f"< {LOSS_DROP:g}); run longer, e.g. --epochs {longer:.3g}"
            )
        return RunSummary(
            phases=phases, advice=advice, ks_reason="the network model has no closed-form law"
        )

    def reset(self) -> None:
        """Attach level i to basis pair i again and undo every sign flip and exchange; with
        ``rotate=True``, put the frame back at the student's SVD and restart its noise."""
        self._interval = math.nan
        for m in range(len(self._systems)):
            self._systems[m]["sign"] = np.ones(self.config.K)
            self._set_assignment(m, np.arange(self.config.K))
        if self._frame is not None:
            self._frame.reset()

    def block_increments(self, t: float, h: np.ndarray, m: np.ndarray) -> np.ndarray | None:
        """With ``rotate=True``, the levels' Brownian increments up to the next refresh: their
        sum over the block is the diagonal of the matrix noise that moves the frame
        (:meth:`dysonsgd.langevin.rotating.RotatingFrame.block_increments`); otherwise None
        (the integrator's own streams)."""
        if self._frame is None:
            return None
        return self._frame.block_increments(t, h, m)

    def set_active(self, active: np.ndarray | None) -> None:
        """Measure only these systems in the next :meth:`coefficients` calls (bool mask,
        shape (n,); None: all). A stopped system gets zero coefficients and no say in the
        automatic refresh interval (:meth:`DriftModel.set_active`)."""
        if active is None:
            self._active = None
            return
        mask = np.asarray(active, dtype=bool)
        if mask.shape != (len(self._systems),):
            raise ValueError(
                f"active must be a bool mask of shape ({len(self._systems)},), got {mask.shape}"
            )
        self._active = None if mask.all() else mask

    def _is_active(self, m: int) -> bool:
        return self._active is None or bool(self._active[m])

    def next_refresh_interval(self, t: float) -> float:
        """Langevin time from the refresh at t to the next one (``refresh_interval="auto"``).

        Chosen at the refresh at t from the measured rates (:class:`AutoRefresh`): the
        fixed basis from the relative drift ``max_i |Kt_ii| / x_i``, the rotating frame also
        from the frame's rotation rate (:class:`dysonsgd.langevin.rotating.RotatingFrame`).
        """
        if self.auto_refresh is None:
            return float(self.refresh_interval)
        if not math.isfinite(self._interval):
            raise RuntimeError("next_refresh_interval(t) is asked after coefficients(x, t)")
        return self._interval

    @property
    def assignment(self) -> np.ndarray:
        """Basis pair of each level, shape (n, K): level i uses ``(u_p, v_p)``, p = [m, i]."""
        return np.stack([sys["perm"] for sys in self._systems])

    def _set_assignment(self, m: int, perm: np.ndarray) -> None:
        sys = self._systems[m]
        sys["perm"] = np.array(perm, dtype=np.int64)
        sys["U"] = np.ascontiguousarray(sys["U0"][:, perm] * sys["sign"][perm])
        sys["V"] = np.ascontiguousarray(sys["V0"][:, perm])
        sys["b_drift"] = np.ascontiguousarray(sys["b_drift0"][:, perm])
        sys["b_noise"] = np.ascontiguousarray(sys["b_noise0"][:, perm])

    def _flip(self, x: np.ndarray, Kt: np.ndarray) -> bool:
        """Pass levels through zero: flip u_i of a level that would reach s_i = 0 in time.

        In the fixed basis ``ds_i/dt = -u_i^T gbar v_i`` is finite at s_i = 0, so a level
        pushed down crosses zero in finite time and continues as ``-|s_i| u_i v_i^T``: its
        singular value bounces back with the sign of u_i flipped. The affine drift handed to
        the integrator cannot express this, so at each refresh a level whose drift would
        bring it to zero within ``flip_horizon`` (``s_i / G_ii = 2 x_i / Kt_ii < flip_horizon``,
        Kt_ii > 0) has its u_i flipped now; W changes by ``2 s_i u_i v_i^T``, at most
        ``2 G_ii flip_horizon``, small for such a level. (The secant drift makes a level
        decay exponentially instead of crossing, so waiting for it to arrive would pile
        levels up at s ~ 0.) Returns True if anything changed.
        """
        if not math.isfinite(self.flip_horizon):
            return False
        changed = False
        for m in range(x.shape[0]):
            hit = (Kt[m] > 0) & (2.0 * x[m] < Kt[m] * self.flip_horizon)
            if np.any(hit):
                sys = self._systems[m]
                sys["sign"][sys["perm"][hit]] *= -1.0
                self._set_assignment(m, sys["perm"])
                changed = True
        return changed

    def _exchange(self, x: np.ndarray, Kt: np.ndarray) -> bool:
        """Exchange the basis pairs of adjacent levels that would cross before the next refresh.

        Level i moves at ``-Kt_ii`` (the drift; the order-T terms are left out of the
        decision). When the level below closes in faster than the gap allows over one
        refresh interval, ``(v_{i+1} - v_i) * refresh_interval > x_i - x_{i+1}``, the two
        pairs are exchanged (a bubble pass, repeated until no pair qualifies): the pair that
        moves up faster takes the upper level. Returns True if anything changed.
        """
        if not math.isfinite(self.refresh_interval):
            return False
        changed = False
        K = x.shape[1]
        for m in range(x.shape[0]):
            v = -Kt[m].copy()
            perm = self._systems[m]["perm"].copy()
            moved = False
            for _ in range(K):
                swapped = False
                for i in range(K - 1):
                    closing = v[i + 1] - v[i]
                    if closing > 0 and closing * self.refresh_interval > x[m, i] - x[m, i + 1]:
                        v[i], v[i + 1] = v[i + 1], v[i]
                        perm[i], perm[i + 1] = perm[i + 1], perm[i]
                        swapped = True
                if not swapped:
                    break
                moved = True
            if moved:
                self._set_assignment(m, perm)
                changed = True
        return changed

    @staticmethod
    def _count(name: str, value, maximum: int) -> int:
        if value is None:
            return maximum
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not 2 <= value <= maximum:
            raise ValueError(f"{name} must be between 2 and {maximum}, got {value}")
        return int(value)

    @property
    def n_systems(self) -> int:
        """Number of systems (seeds) in the ensemble."""
        return len(self._systems)

    @property
    def K(self) -> int:
        """Number of levels."""
        return self.config.K

    def _check_x(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (self.n_systems, self.K):
            raise ValueError(
                f"x must have shape (n_systems, K) = {(self.n_systems, self.K)}, got {x.shape}"
            )
        if not (np.all(np.isfinite(x)) and np.all(x > 0)):
            raise ValueError("x must be finite and positive (eigenvalues of W W^T)")
        return x

    def weights(self, x: np.ndarray) -> np.ndarray:
        """The matrices ``W(s) = U diag(sqrt(x)) V^T``, shape (n, K, L)."""
        x = self._check_x(x)
        return np.stack(
            [
                (sys["U"] * np.sqrt(xm)) @ sys["V"].T
                for sys, xm in zip(self._systems, x, strict=True)
            ]
        )

    def classify(self, x: np.ndarray, initial_loss: np.ndarray, *, diverged: np.ndarray):
        """Phase of each system's run (:func:`dysonsgd.phases.classify`): its flow against
        the teacher's eigenvalues, its blow-ups, and the training loss of ``W(s)`` at the start
        (``initial_loss``, measured before the run: the basis may have changed since) and at
        the end. ``simulate`` and ``compare`` label the model's runs through this one place.

        Parameters
        ----------
        x : ndarray of float64, shape (n_systems, n_saves, K)
        initial_loss : ndarray of float64, shape (n_systems,)
            :meth:`training_loss` of the initial state.
        diverged : ndarray of bool, shape (n_systems,)
            Systems that blew up (or were frozen after their coefficients overflowed).

        Returns
        -------
        dysonsgd.phases.PhaseClassification
        """
        from dysonsgd.phases import classify

        loss = np.stack([initial_loss, self.training_loss(x[:, -1])], axis=1)
        return classify(x, self.teacher_eigenvalues, diverged=diverged, loss=loss)

    def training_loss(self, x: np.ndarray) -> np.ndarray:
        """Training loss of ``W(s)`` per system, over its whole training set
        (:func:`dysonsgd.observables.training_loss`); NaN for a system whose state is not
        finite and positive (one that blew up).

        Parameters
        ----------
        x : ndarray of float64, shape (n_systems, K)

        Returns
        -------
        ndarray of float64, shape (n_systems,)
        """
        from dysonsgd.observables import training_loss

        x = np.asarray(x, dtype=np.float64)
        out = np.full(x.shape[0], np.nan)
        ok = np.all(np.isfinite(x) & (x > 0), axis=1)
        if ok.any():
            W = self.weights(np.where(ok[:, None], x, self.x0))
            chosen = [inst for inst, keep in zip(self.instances, ok, strict=True) if keep]
            out[ok] = training_loss(W[ok], chosen)
        return out

    def measure(
        self, x: np.ndarray, *, with_slope: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients at the state x (zero for a system switched off by :meth:`set_active`).

        Parameters
        ----------
        x : ndarray of float64, shape (n, K)

        Returns
        -------
        Kt : ndarray, shape (n, K)
            Drift ``2 s_i u_i^T gbar v_i`` on the drift set.
        kappa : ndarray, shape (n, K)
            Its slope ``dKt_ii / dx_i`` (NaN when ``with_slope`` is False: half the work).
        Vt : ndarray, shape (n, K, K)
            Exact fluctuations on the probe set; exactly symmetric.
        C : ndarray, shape (n, K)
            Second-order term on the probe set.
        """
        x = self._check_x(x)
        n, K = x.shape
        Kt = np.zeros((n, K))
        kappa = np.full((n, K), np.nan)
        Vt = np.zeros((n, K, K))
        C = np.zeros((n, K))
        for m, sys in enumerate(self._systems):
            if not self._is_active(m):
                kappa[m] = 0.0  # stopped (set_active): zero coefficients, nothing measured
                continue
            s = np.sqrt(x[m])
            _kn.network_drift(
                s,
                sys["U"],
                sys["b_drift"],
                sys["y_drift"],
                sys["Z"],
                self._code,
                bool(with_slope),
                Kt[m],
                kappa[m],
            )
            _kn.network_noise(
                s,
                sys["U"],
                sys["b_noise"],
                sys["a_noise"],
                sys["y_noise"],
                sys["Z"],
                self._code,
                Vt[m],
                C[m],
            )
        # The kernel sums Vt_ij and Vt_ji with the products associated differently, so they
        # could differ in the last bit; Var_n(u_i^T D_n u_j) is symmetric, make it exactly so.
        Vt = 0.5 * (Vt + np.swapaxes(Vt, 1, 2))
        return Kt, kappa, Vt, C

    def order_eps_drift(self, x: np.ndarray) -> np.ndarray:
        """Order-eps drift per unit learning rate on the drift set, shape (n, K).

        ``|u_i^T gbar|^2 + sum_{j != i} Kt_ij^2 / (x_i - x_j)`` (docs/theory.md, section 1), with
        the off-diagonal drift ``Kt_ij = u_i^T (W gbar^T + gbar W^T) u_j`` in the fixed basis.
        """
        x = self._check_x(x)
        W = self.weights(x)
        out = np.empty_like(x)
        for m, sys in enumerate(self._systems):
            inst = self.instances[m]
            _, gbar = loss_and_gradient(
                W[m],
                inst.a_train[: self.n_drift],
                inst.y_train[: self.n_drift],
                inst.Z,
                self.config.activation,
            )
            G = sys["U"].T @ gbar  # row i: u_i^T gbar
            P = sys["U"].T @ W[m]  # row j: u_j^T W
            A = G @ P.T  # u_i^T gbar W^T u_j
            Kfull = A + A.T
            diff = x[m][:, None] - x[m][None, :]
            np.fill_diagonal(diff, np.inf)
            out[m] = np.sum(G * G, axis=1) + np.sum(Kfull**2 / diff, axis=1)
        return out

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        """Linearised coefficients about the state x (the integrator's contract).

        ``kt0 + kappa * x`` equals the measured drift at x; ``V0 + a_iso (x_i + x_j)`` the
        measured Vt off the diagonal and ``4 (a_iso + a_diag_i) x_i`` on it
        (:func:`isotropic_split`); C the measured second-order term.
        """
        if self._frame is not None:
            return self._frame.coefficients(np.asarray(x, dtype=np.float64), t)
        if t == 0:
            self.reset()
        hess = self.slope == "hessian"
        Kt, kappa, Vt, C = self.measure(x, with_slope=hess)
        x = np.asarray(x, dtype=np.float64)
        changed = self._flip(x, Kt)
        if self.exchange:
            changed = self._exchange(x, Kt) or changed
        if changed:
            Kt, kappa, Vt, C = self.measure(x, with_slope=hess)
        # Noise: in the fixed basis Vt_ii = 4 x_i Var_n(u_i^T g_n v_i) is proportional to x_i;
        # hand it over exactly as per-level slopes, and the off-diagonal with its largest
        # isotropic part a (x_i + x_j), so the noise of a level that shrinks between refreshes
        # shrinks with it (a frozen Vt_ii would make the Ito term T Vt_ii/(8 s^3) pull s to 0).
        a_iso, V0, a_diag = isotropic_split(Vt, x)
        if self.slope == "hessian":
            kt0, slope = Kt - kappa * x, kappa
        else:  # secant through the origin: Kt_ii = 2 s_i G_ii vanishes with s_i
            kt0, slope = np.zeros_like(Kt), Kt / x
        if self.lr is not None:  # the drift is -Kt: order-eps growth enters with a minus
            kt0 = kt0 - self.lr * self.order_eps_drift(x)
        if self.auto_refresh is not None:
            rates = np.abs(Kt) / x
            if self._active is not None:  # the running systems only (set_active)
                rates = rates[self._active]
            rate = float(np.max(rates)) if rates.size else 0.0
            self._interval = self.auto_refresh.choose(rate, self._interval)
        return Coefficients(
            kt0=np.ascontiguousarray(kt0),
            kappa=np.ascontiguousarray(slope),
            V0=V0,
            a_iso=a_iso,
            C=C,
            a_diag=a_diag,
        )


def isotropic_split(Vt: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``Vt`` into the integrator's affine noise family, exact on the diagonal.

    Off the diagonal ``Vt_ij = V0_ij + a (x_i + x_j)`` with the largest isotropic ``a`` the
    off-diagonal entries allow; on the diagonal ``V0_ii = 0`` and
    ``Vt_ii = 4 (a + a_diag_i) x_i``. In the fixed basis the diagonal is exactly proportional
    to x_i (``Vt_ii = 4 x_i Var_n(u_i^T g_n v_i)``), so the noise of a level vanishes with it,
    and the Ito term ``-T Vt_ii / (8 s^3)`` stays below the second-order push
    ``T C_i / (2 s)`` (``C_i >= Var_n(u_i^T g_n v_i)``): no level is pulled into s = 0.

    Parameters
    ----------
    Vt : ndarray of float64, shape (n, K, K)
        Symmetric, entries >= 0.
    x : ndarray of float64, shape (n, K)
        Positive.

    Returns
    -------
    a : ndarray of float64, shape (n,)
        ``min_{i != j} Vt_ij / (x_i + x_j)``.
    V0 : ndarray of float64, shape (n, K, K)
        ``Vt - a (x_i + x_j)`` off the diagonal (>= 0, rounding clipped at 0), 0 on it.
    a_diag : ndarray of float64, shape (n, K)
        ``Vt_ii / (4 x_i) - a``; ``a + a_diag >= 0``.
    """
    K = x.shape[1]
    idx = np.arange(K)
    w = x[:, :, None] + x[:, None, :]
    ratio = Vt / w
    ratio[:, idx, idx] = np.inf
    a = np.maximum(np.min(ratio, axis=(1, 2)), 0.0)
    V0 = np.maximum(Vt - a[:, None, None] * w, 0.0)
    V0 = 0.5 * (V0 + np.swapaxes(V0, 1, 2))
    V0[:, idx, idx] = 0.0
    a_diag = Vt[:, idx, idx] / (4.0 * x) - a[:, None]
    return np.ascontiguousarray(a), np.ascontiguousarray(V0), np.ascontiguousarray(a_diag)

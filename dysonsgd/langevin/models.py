"""Drift models of the eigenvalue Langevin equation: the coefficient contract and simple models.

Every model hands the integrator one affine family of coefficients (docs/theory.md, section 3),

    Kt_ii(x) = kt0_i + kappa_i x_i
    Vt_ij(x) = V0_ij + a_iso (x_i + x_j)      (i != j)
    Vt_ii(x) = V0_ii + 4 (a_iso + a_diag_i) x_i
    C_ii     = C_i

which is evaluated at the current eigenvalues every step and refreshed by calling
:meth:`DriftModel.coefficients` every ``refresh_interval`` of Langevin time. A new model is a
subclass of :class:`DriftModel` that sets ``name``, ``domain`` and ``refresh_interval`` and
implements ``coefficients`` (docs/theory.md shows one).

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 4 (the Langevin equation).
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024) (Dyson Brownian motion of weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dysonsgd._validate import positive_float as _positive_float
from dysonsgd.langevin.registry import (
    ModelOptions,
    OptionError,
    RunSummary,
    Start,
    initial_spectrum,
    register,
)

DOMAINS: tuple[str, ...] = ("positive", "real")


@dataclass(frozen=True, eq=False)
class Coefficients:
    """Langevin coefficients of an ensemble, valid until the model's next refresh.

    Drift:  ``Kt_ii(x) = kt0[n, i] + kappa[n, i] * x_i``
    Noise:  ``Vt_ij(x) = V0[n, i, j] + a_iso[n] * (x_i + x_j)`` (i != j),
            ``Vt_ii(x) = V0[n, i, i] + 4 * (a_iso[n] + a_diag[n, i]) * x_i``
    Second order: ``C_ii = C[n, i]``

    Attributes
    ----------
    kt0 : ndarray of float64, shape (n, K)
    kappa : ndarray of float64, shape (n, K)
    V0 : ndarray of float64, shape (n, K, K)
        Symmetric, entries >= 0 (they are variances).
    a_iso : ndarray of float64, shape (n,)
        Isotropic per-element gradient variance, >= 0 (0 for the real domain).
    C : ndarray of float64, shape (n, K)
    a_diag : ndarray of float64, shape (n, K), optional
        Per-level extra slope of the diagonal noise (default 0), with ``a_iso + a_diag >= 0``
        (0 for the real domain). In a fixed singular basis ``Vt_ii = 4 x_i Var(u_i^T g v_i)``
        exactly: a model can hand that over as ``a_iso + a_diag_i`` with ``V0_ii = 0``, so the
        noise of a level vanishes with it (a constant ``V0_ii`` would make the Ito term
        ``-T Vt_ii / (8 s^3)`` pull the singular value into 0).
    """

    kt0: np.ndarray
    kappa: np.ndarray
    V0: np.ndarray
    a_iso: np.ndarray
    C: np.ndarray
    a_diag: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.a_diag is None:
            object.__setattr__(self, "a_diag", np.zeros(np.shape(self.kt0)))


class DriftModel:
    """Base class of the drift models.

    Attributes
    ----------
    name : str
        Short name, recorded in the result.
    domain : {"positive", "real"}
        ``"positive"``: x = s^2 > 0, integrated in the singular values s with the Ito terms
        of docs/theory.md, section 1, and a reflecting boundary at s = 0; ``"real"``: x on
        the real line.
    refresh_interval : float or "auto"
        Langevin time between calls of :meth:`coefficients`; ``math.inf`` means constant
        coefficients (called once, at t = 0). ``"auto"``: the model chooses each interval,
        :func:`~dysonsgd.langevin.integrate` asks :meth:`next_refresh_interval` after every
        call of :meth:`coefficients`.
    """

    name: str = "model"
    domain: str = "positive"
    refresh_interval: float = math.inf

    # ---- what a model registered for runs by name provides (dysonsgd.langevin.registry)
    #: Optional fields of :class:`~dysonsgd.langevin.registry.ModelOptions` the model reads.
    option_names: tuple[str, ...] = ()
    #: Langevin time of a run when none is given (None: not registered).
    default_time: float | None = None
    #: Initial width sigma_W when none is given (None: the option is required).
    default_sigma: float | None = 1.0

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        """Coefficients at eigenvalues ``x`` (float64, shape (n, K), descending) and time t."""
        raise NotImplementedError("a DriftModel subclass must implement coefficients(x, t)")

    def block_increments(self, t: float, h: np.ndarray, m: np.ndarray) -> np.ndarray | None:
        """Brownian increments of the outer steps from the refresh at t to the next one.

        Asked by :func:`~dysonsgd.langevin.integrate` after ``coefficients(x, t)``, with the
        block's segments: ``m[s]`` outer steps of size ``h[s]`` each. ``None`` (the default):
        the integrator draws them from its per-system streams. A model whose level noise must
        be the same draw as noise it uses elsewhere (the rotating network model moves its
        singular frame with the matrix noise whose diagonal drives the levels) returns them,
        shape (n_systems, sum(m), K), step k's increment N(0, h_k) in law.
        """
        return None

    def set_active(self, active: np.ndarray | None) -> None:
        """Which systems the next :meth:`coefficients` call must measure.

        :func:`~dysonsgd.langevin.integrate` calls it before every refresh with a bool mask of
        shape (n_systems,): False for a system it no longer integrates (stopped by the
        integrator or a guard), whose coefficients it then ignores; ``None`` after the run
        (all). The default ignores the mask; a model whose measurement is costly per system
        (the network model) skips those systems, and an adaptive refresh interval follows the
        systems still running.
        """

    def next_refresh_interval(self, t: float) -> float:
        """Langevin time from the refresh at t to the next one, asked right after
        ``coefficients(x, t)`` when ``refresh_interval == "auto"``; the default is the
        fixed ``refresh_interval``."""
        return float(self.refresh_interval)

    @classmethod
    def from_options(cls, options: ModelOptions) -> Start:
        """The model and the initial state of its ensemble from a run's generic options.

        Raises
        ------
        OptionError
            An option the model cannot use or a bad value, naming the option.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be started from run options")

    @classmethod
    def epoch_time(cls, options: ModelOptions) -> float | None:
        """Langevin time of one paper epoch at the options' temperature; None: no epochs."""
        return None

    @classmethod
    def network_config(cls, options: ModelOptions):
        """The NetworkConfig of the network instances the model holds, or None."""
        return None

    def summarize(self, start: Start, result) -> RunSummary:
        """What the run ``result`` (a LangevinResult started from ``start``) says."""
        raise NotImplementedError(f"{type(self).__name__} has no run summary")


def _int_at_least(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


def _tile(a: np.ndarray, n: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(a, (n, *a.shape)), dtype=np.float64)


@register
@dataclass(frozen=True, eq=False)
class FreeModel(DriftModel):
    """No drift, isotropic gradient noise: the Wishart process (docs/theory.md, section 2, case 1).

    With per-element gradient variance ``a = noise``: ``Vt_ij = a (x_i + x_j)``,
    ``Vt_ii = 4 a x_i``, ``C_ii = a L``. Started at X = 0, X(t) is distributed as
    ``T a t`` times a Wishart(L, I_K) matrix.

    Parameters
    ----------
    K : int
        Number of levels, >= 2.
    L : int
        Columns of W, L >= K. For L = K the lowest singular value is not repelled from 0.
    noise : float
        Per-element gradient variance a > 0.
    """

    K: int
    L: int
    noise: float = 1.0
    name = "free"
    domain = "positive"
    refresh_interval = math.inf
    option_names = ("sigma", "noise")
    default_time = 10.0

    def __post_init__(self) -> None:
        _int_at_least("K", self.K, 2)
        _int_at_least("L", self.L, 1)
        if self.L < self.K:
            raise ValueError(
                f"L must be >= K (X = W W^T of a K x L matrix), got K={self.K}, L={self.L}"
            )
        object.__setattr__(self, "noise", _positive_float("noise", self.noise))

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        n = x.shape[0]
        z = np.zeros((n, self.K))
        return Coefficients(
            kt0=z,
            kappa=z.copy(),
            V0=np.zeros((n, self.K, self.K)),
            a_iso=np.full(n, self.noise),
            C=np.full((n, self.K), self.noise * self.L),
        )

    @classmethod
    def from_options(cls, options: ModelOptions) -> Start:
        """Noise a = ``options.noise``; W(0) with entries N(0, sigma_W^2 / L)."""
        options.check_for(cls)
        kw = {} if options.noise is None else {"noise": options.noise}
        model = cls(K=options.K, L=options.L, **kw)
        sigma = options.sigma if options.sigma is not None else cls.default_sigma
        x0 = initial_spectrum(options.K, options.L, sigma, options.n_systems, options.entropy)
        return Start(model=model, x0=x0, sigma=sigma, options=options)

    def summarize(self, start: Start, result) -> RunSummary:
        """The Wishart law of the final levels (:func:`free_model_law`) and its KS test."""
        L = start.options.L
        law = free_model_law(
            self, start.options.temperature, float(result.times[-1]),
            initial_variance=start.sigma * start.sigma / L,
        )  # fmt: skip
        return _law_summary(law, result)


@register
@dataclass(frozen=True, eq=False)
class HarmonicModel(DriftModel):
    """Harmonic drift and constant noise: a beta = 1 Coulomb gas (docs/theory.md, section 2).

    ``Kt_ii = kappa_i (x_i - x*_i)``, ``Vt_ij = A``, ``Vt_ii = 2 A``, ``C = 0``; the
    stationary density is ``prod_{i<j} |x_i - x_j| exp(-sum_i kappa_i (x_i - x*_i)^2 / (2 T A))``.
    The i-th largest level is attached to the i-th entry of ``targets`` sorted descending.

    Parameters
    ----------
    targets : array_like of float, shape (K,)
        Target eigenvalues x*, K >= 2.
    kappa : float or array_like of float, shape (K,)
        Stiffness, > 0 (default 1).
    noise : float
        A > 0 (default 1).
    """

    targets: np.ndarray
    kappa: np.ndarray | float = 1.0
    noise: float = 1.0
    name = "harmonic"
    domain = "real"
    refresh_interval = math.inf
    option_names = ("sigma", "targets", "kappa", "noise")
    default_time = 10.0

    def __post_init__(self) -> None:
        tg = np.asarray(self.targets, dtype=np.float64)
        if tg.ndim != 1 or tg.shape[0] < 2:
            raise ValueError(f"targets must be a 1-d array of K >= 2 values, got shape {tg.shape}")
        if not np.all(np.isfinite(tg)):
            raise ValueError("targets must be finite")
        K = tg.shape[0]
        kp = np.asarray(self.kappa, dtype=np.float64)
        if kp.ndim == 0:
            kp = np.full(K, float(kp))
        if kp.shape != (K,):
            raise ValueError(f"kappa must be a scalar or have shape ({K},), got {kp.shape}")
        if not (np.all(np.isfinite(kp)) and np.all(kp > 0)):
            raise ValueError(f"kappa must be positive and finite, got {kp}")
        object.__setattr__(self, "targets", _frozen(np.sort(tg)[::-1]))
        object.__setattr__(self, "kappa", _frozen(kp))
        object.__setattr__(self, "noise", _positive_float("noise", self.noise))

    @property
    def K(self) -> int:
        """Number of levels."""
        return self.targets.shape[0]

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        n, K = x.shape[0], self.K
        V0 = self.noise * (np.ones((K, K)) + np.eye(K))
        return Coefficients(
            kt0=_tile(-self.kappa * self.targets, n),
            kappa=_tile(self.kappa, n),
            V0=_tile(V0, n),
            a_iso=np.zeros(n),
            C=np.zeros((n, K)),
        )

    @classmethod
    def from_options(cls, options: ModelOptions) -> Start:
        """Targets x* = ``options.targets`` (K values), else the K eigenvalues of a teacher
        drawn like the network's (W* entries N(0, 1/L)); W(0) entries N(0, sigma_W^2 / L)."""
        options.check_for(cls)
        K, L = options.K, options.L
        if options.targets is None:
            targets = initial_spectrum(K, L, 1.0, 1, options.entropy + 1)[0]
        elif len(options.targets) != K:
            raise OptionError("targets", f"got {len(options.targets)} values, need K = {K}")
        else:
            targets = np.sort(np.asarray(options.targets, dtype=np.float64))[::-1]
        kw = {k: getattr(options, k) for k in ("kappa", "noise") if getattr(options, k) is not None}
        model = cls(targets=targets, **kw)
        sigma = options.sigma if options.sigma is not None else cls.default_sigma
        x0 = initial_spectrum(K, L, sigma, options.n_systems, options.entropy)
        reference = np.broadcast_to(model.targets, (options.n_systems, K))
        return Start(model=model, x0=x0, sigma=sigma, options=options, reference=reference)

    def summarize(self, start: Start, result) -> RunSummary:
        """The stationary GOE law (:func:`harmonic_stationary_law`) and its KS test, once the
        run is long enough to have forgotten its start."""
        return _stationary_summary(self, start.options.temperature, result)


@register
@dataclass(frozen=True, eq=False)
class LinearModel(DriftModel):
    """Linear teacher-student SGD near its teacher: the harmonic model of scaling.harmonic_map.

    The linear student ``yhat = W a`` (inputs ``a ~ N(0, I_L)``) of a teacher ``W* = s* U V^T``
    with K equal singular values s*, trained by SGD whose per-sample gradient carries noise of
    per-element variance A (:mod:`dysonsgd.scaling`). In the teacher's frame its levels
    ``x_i = s_i^2`` have ``Kt_ii = 2 s_i (s_i - s*)``, ``Vt_ij = A (x_i + x_j)``,
    ``Vt_ii = 4 A x_i``, ``C_ii = A L``; linearised about ``x* = s*^2``
    (:func:`dysonsgd.scaling.harmonic_map`) this is the harmonic model with ``kappa = 1`` (the
    data covariance is the identity), targets ``x*`` and noise ``2 A s*^2``, C = 0. The
    neglected terms change the width by a relative ``O((L sigma / s*)^2)`` (docs/scaling.md).

    Its stationary law is the GOE about ``s*^2`` with off-diagonal variance ``T A s*^2``
    (:func:`harmonic_stationary_law` of :attr:`harmonic`): the singular values' rms deviation
    from s* is ``sqrt(T A (K + 1)) / 2`` to leading order, which depends on the learning rate
    eps and batch size |B| only through ``T = eps / |B|`` -- the linear scaling rule.

    Parameters
    ----------
    K : int
        Number of levels, >= 2.
    s_star : float
        The teacher's singular value s* > 0 (default 1).
    noise : float
        A > 0, per-sample per-element gradient-noise variance of the SGD (default 1).

    Attributes
    ----------
    harmonic : HarmonicModel
        The equivalent harmonic model; :meth:`coefficients` are its coefficients.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024): the linear scaling rule and the
    linear teacher-student model.
    """

    K: int
    s_star: float = 1.0
    noise: float = 1.0
    name = "linear"
    domain = "real"
    refresh_interval = math.inf
    option_names = ("sigma", "targets", "noise")
    default_time = 10.0

    def __post_init__(self) -> None:
        from dysonsgd.scaling import harmonic_map

        _int_at_least("K", self.K, 2)
        object.__setattr__(self, "s_star", _positive_float("s_star", self.s_star))
        object.__setattr__(self, "noise", _positive_float("noise", self.noise))
        hm = harmonic_map(self.s_star, self.noise)
        harmonic = HarmonicModel(
            targets=np.full(self.K, hm["target"]), kappa=hm["kappa"], noise=hm["noise"]
        )
        object.__setattr__(self, "harmonic", harmonic)

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        return self.harmonic.coefficients(x, t)

    @classmethod
    def from_options(cls, options: ModelOptions) -> Start:
        """s* from ``options.targets`` (the teacher's x* = s*^2: one value or K equal ones),
        A from ``options.noise``; W(0) with entries N(0, sigma_W^2 / L)."""
        options.check_for(cls)
        K, L = options.K, options.L
        kw = {} if options.noise is None else {"noise": options.noise}
        if options.targets is not None:
            tg = np.asarray(options.targets, dtype=np.float64)
            if tg.size not in (1, K) or np.ptp(tg) != 0:
                raise OptionError(
                    "targets",
                    f"the linear model's teacher has K equal singular values s*, so its targets "
                    f"are one x* = s*^2 (one value or K = {K} equal values), got "
                    f"{tg.tolist()}; for unequal targets use --model harmonic",
                )
            if not (np.isfinite(tg[0]) and tg[0] > 0):
                raise OptionError("targets", f"x* = s*^2 must be positive, got {tg[0]!r}")
            kw["s_star"] = math.sqrt(float(tg[0]))
        try:
            model = cls(K=K, **kw)
        except ValueError as e:  # harmonic_map refuses an s*^2 or 2 A s*^2 out of float64
            raise OptionError("targets" if "s_star" in str(e) else "noise", str(e)) from None
        sigma = options.sigma if options.sigma is not None else cls.default_sigma
        x0 = initial_spectrum(K, L, sigma, options.n_systems, options.entropy)
        reference = np.broadcast_to(model.harmonic.targets, (options.n_systems, K))
        return Start(model=model, x0=x0, sigma=sigma, options=options, reference=reference)

    def summarize(self, start: Start, result) -> RunSummary:
        """The stationary GOE law and its KS test, as the harmonic model's."""
        return _stationary_summary(self.harmonic, start.options.temperature, result)


@dataclass(frozen=True, eq=False)
class MeasuredModel(DriftModel):
    """Coefficients measured at one state (e.g. an SGD checkpoint) and held fixed.

    ``Kt_ii = Kt_i`` (no x dependence), ``Vt_ij = Vt[i, j]`` off the diagonal, ``C_ii = C_i``;
    domain positive. The diagonal noise is held fixed in one of two forms:

    - ``x_ref`` not given (default, the original form): constant, ``Vt_ii(x) = Vt[i, i]``;
    - ``x_ref`` given (the eigenvalues at which Vt was measured): as the slope
      ``Vt_ii(x) = Vt[i, i] x_i / x_ref_i``, i.e. ``a_diag_i = Vt[i, i] / (4 x_ref_i)`` and
      ``V0_ii = 0`` in the :class:`Coefficients` contract. Both agree at ``x = x_ref``.

    The slope is the physical form: in the eigenbasis of ``X = W W^T``,
    ``u_i^T D_n u_i = 2 s_i u_i^T g_n v_i``, so ``Vt_ii = 4 x_i Var_n(u_i^T g_n v_i)`` vanishes
    with the level. Held constant instead, the Ito term ``-T Vt_ii / (8 s_i^3)`` of the
    singular-value equation (docs/theory.md, section 1) diverges faster than any ``1/s``
    repulsion as ``s_i -> 0`` and drives small levels into 0, where the integrator can find
    no admissible step (at the first checkpoint of the ordered reference point 131 of 320
    runs stopped; with the slope none). With the slope that term is ``-T a_i / (2 s_i)``,
    and the second-order push ``T C_i / (2 s_i)`` with ``C_i >= Var_n(u_i^T g_n v_i) = a_i``
    outweighs it.
    :func:`dysonsgd.compare.compare_measured` passes ``x_ref``.

    Arrays without the leading ensemble axis are shared by every system; with it
    (``(n, K)``, ``(n, K, K)``, ``(n, K)``) system m uses row m.

    Parameters
    ----------
    Kt : array_like of float, shape (K,) or (n, K)
    Vt : array_like of float, shape (K, K) or (n, K, K)
        Symmetric, entries >= 0.
    C : array_like of float, shape (K,) or (n, K)
    x_ref : array_like of float, shape of Kt, optional
        Positive eigenvalues at which Vt was measured; turns the diagonal noise into the
        slope form above. Default None: constant diagonal noise.

    References
    ----------
    C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 4 (the Langevin equation).
    """

    Kt: np.ndarray
    Vt: np.ndarray
    C: np.ndarray
    x_ref: np.ndarray | None = None
    name = "measured"
    domain = "positive"
    refresh_interval = math.inf

    def __post_init__(self) -> None:
        Kt = np.asarray(self.Kt, dtype=np.float64)
        Vt = np.asarray(self.Vt, dtype=np.float64)
        C = np.asarray(self.C, dtype=np.float64)
        if Kt.ndim not in (1, 2) or Kt.shape[-1] < 2:
            raise ValueError(f"Kt must have shape (K,) or (n, K) with K >= 2, got {Kt.shape}")
        K = Kt.shape[-1]
        lead = Kt.shape[:-1]
        if Vt.shape != (*lead, K, K):
            raise ValueError(f"Vt must have shape {(*lead, K, K)} to match Kt, got {Vt.shape}")
        if C.shape != Kt.shape:
            raise ValueError(f"C must have shape {Kt.shape} to match Kt, got {C.shape}")
        for nm, arr in (("Kt", Kt), ("Vt", Vt), ("C", C)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{nm} must be finite")
        if not np.allclose(Vt, np.swapaxes(Vt, -1, -2), rtol=1e-12, atol=0.0):
            raise ValueError("Vt must be symmetric (Vt_ij = Vt_ji)")
        if np.any(Vt < 0):
            raise ValueError("Vt entries are variances and must be >= 0")
        object.__setattr__(self, "Kt", _frozen(Kt))
        object.__setattr__(self, "Vt", _frozen(0.5 * (Vt + np.swapaxes(Vt, -1, -2))))
        object.__setattr__(self, "C", _frozen(C))
        if self.x_ref is not None:
            xr = np.asarray(self.x_ref, dtype=np.float64)
            if xr.shape != Kt.shape:
                raise ValueError(f"x_ref must have shape {Kt.shape} to match Kt, got {xr.shape}")
            if not (np.all(np.isfinite(xr)) and np.all(xr > 0)):
                raise ValueError(
                    "x_ref (the eigenvalues at which Vt was measured) must be finite and > 0; "
                    "leave it unset for constant diagonal noise"
                )
            object.__setattr__(self, "x_ref", _frozen(xr))

    @property
    def K(self) -> int:
        """Number of levels."""
        return self.Kt.shape[-1]

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        n, K = x.shape[0], self.K
        if self.Kt.ndim == 2 and self.Kt.shape[0] != n:
            raise ValueError(
                f"MeasuredModel holds coefficients of {self.Kt.shape[0]} systems, "
                f"but {n} are integrated; pass x0 with {self.Kt.shape[0]} rows"
            )
        kt0, V0, C = (
            np.ascontiguousarray(a) if self.Kt.ndim == 2 else _tile(a, n)
            for a in (self.Kt, self.Vt, self.C)
        )
        if self.x_ref is None:
            a_diag = None
        else:
            idx = np.arange(K)
            xr = np.ascontiguousarray(self.x_ref) if self.Kt.ndim == 2 else _tile(self.x_ref, n)
            V0 = V0.copy()
            a_diag = V0[:, idx, idx] / (4.0 * xr)
            V0[:, idx, idx] = 0.0
        return Coefficients(
            kt0=kt0, kappa=np.zeros((n, K)), V0=V0, a_iso=np.zeros(n), C=C, a_diag=a_diag
        )


# --------------------------------------------------------------------------- exact laws

#: Entropy of the reference samples of :func:`ks_exact_law`: fixed so that a run's p-value is
#: reproducible, and a constant of its own so the reference is independent of every run's noise
#: (runs draw theirs from streams of their base seed, dysonsgd._seeding).
EXACT_LAW_ENTROPY: int = 0x5EC3_D1A6

#: Default number of independent systems drawn from an exact law for the reference CDF.
EXACT_LAW_REFERENCE: int = 10_000

# Largest number of float64 values drawn at once when sampling a law (bounds the memory).
_SAMPLE_CHUNK = 4_000_000


def _sample_in_chunks(draw, n: int, per_system: int, rng: np.random.Generator) -> np.ndarray:
    chunk = max(1, _SAMPLE_CHUNK // per_system)
    return np.concatenate([draw(min(chunk, n - i), rng) for i in range(0, n, chunk)])


@dataclass(frozen=True)
class WishartLaw:
    """Eigenvalues of ``X = W W^T`` for a K x L matrix W of i.i.d. N(0, variance) entries.

    The law of the free model (:class:`FreeModel`) at every time when W started Gaussian;
    for large K its spectrum tends to Marchenko-Pastur with ratio ``K / L`` and mean
    eigenvalue ``variance L`` (:func:`dysonsgd.spectra.marchenko_pastur`).

    Attributes
    ----------
    K, L : int
    variance : float
        Entry variance of W, > 0.
    """

    K: int
    L: int
    variance: float
    name = "wishart"

    @property
    def parameters(self) -> dict[str, float]:
        """The law's parameters, and the Marchenko-Pastur ratio and scale it tends to."""
        return {
            "K": self.K,
            "L": self.L,
            "entry_variance": self.variance,
            "mp_ratio": self.K / self.L,
            "mp_scale": self.variance * self.L,
        }

    def describe(self) -> str:
        """One line naming the law and its parameters."""
        p = self.parameters
        return (
            f"Wishart: X = W W^T, W {p['K']} x {p['L']} with i.i.d. N(0, {p['entry_variance']:.4g})"
            f" entries (sigma_W^2/L + T a t); Marchenko-Pastur ratio {p['mp_ratio']:.3g}, "
            f"scale {p['mp_scale']:.4g} for large K"
        )

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Eigenvalues of n independent draws, float64, shape (n, K), descending."""
        K, L, sd = self.K, self.L, math.sqrt(self.variance)

        def draw(m, g):
            G = g.standard_normal((m, K, L)) * sd
            return np.linalg.eigvalsh(G @ G.transpose(0, 2, 1))[:, ::-1]

        return _sample_in_chunks(draw, n, K * L, rng)


@dataclass(frozen=True)
class GOELaw:
    """Eigenvalues of ``center I + H``, H a K x K GOE matrix (off-diagonal variance v).

    The diagonal of H has variance 2 v.

    The stationary law of the harmonic model (:class:`HarmonicModel`) with equal targets
    ``x* = center`` and ``v = T A / (2 kappa)``. For K = 2 the spacing is Wigner-distributed
    with ``sig^2 = 2 v`` (:func:`dysonsgd.spectra.goe_pair_density`); for large K the
    density tends to a semicircle of radius ``2 sqrt(K v)`` about the centre
    (:func:`dysonsgd.spectra.semicircle`).

    Attributes
    ----------
    K : int
    center : float
    variance : float
        Off-diagonal variance v > 0.
    """

    K: int
    center: float
    variance: float
    name = "goe"

    @property
    def parameters(self) -> dict[str, float]:
        """The law's parameters, the K = 2 spacing width and the large-K semicircle radius."""
        return {
            "K": self.K,
            "center": self.center,
            "offdiagonal_variance": self.variance,
            "pair_sig": math.sqrt(2.0 * self.variance),
            "semicircle_radius": 2.0 * math.sqrt(self.K * self.variance),
        }

    def describe(self) -> str:
        """One line naming the law and its parameters."""
        p = self.parameters
        return (
            f"GOE about x* = {p['center']:.4g}, off-diagonal variance T A/(2 kappa) = "
            f"{p['offdiagonal_variance']:.4g}"
            + (f" (Wigner spacing, sig = {p['pair_sig']:.4g})" if p["K"] == 2 else
               f" (semicircle radius {p['semicircle_radius']:.4g} for large K)")
        )  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Eigenvalues of n independent draws, float64, shape (n, K), descending."""
        K, sd = self.K, math.sqrt(self.variance)

        def draw(m, g):
            A = g.standard_normal((m, K, K)) * sd
            return np.linalg.eigvalsh((A + A.transpose(0, 2, 1)) / math.sqrt(2.0))[:, ::-1]

        return self.center + _sample_in_chunks(draw, n, K * K, rng)


def free_model_law(
    model: FreeModel, temperature: float, time: float, initial_variance: float = 0.0
) -> WishartLaw:
    """Exact law of the free model's eigenvalues at ``time`` (docs/theory.md, section 2.1).

    The free model is the eigenvalue process of ``W(t) = W(0) + sqrt(T a) B(t)``, B a K x L
    matrix of independent Brownian motions (Bru's Wishart process). Started from a W(0) with
    i.i.d. N(0, initial_variance) entries (the CLI's start: ``sigma_W^2 / L``), W(t) has
    i.i.d. N(0, initial_variance + T a t) entries; the eigenvalue process is Markov, so
    starting it from the eigenvalues of such a W(0) gives the same law.

    Parameters
    ----------
    model : FreeModel
    temperature, time : float
        T > 0 and t >= 0.
    initial_variance : float
        Entry variance of W(0), >= 0 (0: started at X = 0).

    Returns
    -------
    WishartLaw

    References
    ----------
    M.-F. Bru, "Wishart processes", J. Theor. Probab. 4 (1991) 725.
    """
    T = _positive_float("temperature", temperature)
    if not (math.isfinite(time) and time >= 0):
        raise ValueError(f"time must be a finite number >= 0, got {time!r}")
    if not (math.isfinite(initial_variance) and initial_variance >= 0):
        raise ValueError(f"initial_variance must be a finite number >= 0, got {initial_variance!r}")
    variance = initial_variance + T * model.noise * time
    if variance <= 0:
        raise ValueError("the law at t = 0 from X = 0 is degenerate; use time > 0")
    return WishartLaw(model.K, model.L, variance)


def harmonic_relaxation_time(model: HarmonicModel) -> float:
    """``1 / min(kappa)``: the slowest relaxation time of the harmonic model.

    With equal targets and stiffness the model is the eigenvalue process of a matrix
    Ornstein-Uhlenbeck process ``dH = -kappa (H - x*) dt + noise``, whose memory of the start
    decays as ``exp(-kappa t)``.
    """
    return 1.0 / float(np.min(model.kappa))


def harmonic_stationary_law(model: HarmonicModel, temperature: float) -> GOELaw:
    """Exact stationary law of the harmonic model with equal targets (docs/theory.md, 2.2).

    The stationary density ``prod_{i<j} |x_i - x_j| exp(-kappa sum_i (x_i - x*)^2 / (2 T A))``
    is that of the eigenvalues of ``x* I + H``, H from the GOE with off-diagonal variance
    ``v = T A / (2 kappa)``.

    Parameters
    ----------
    model : HarmonicModel
    temperature : float
        T > 0.

    Returns
    -------
    GOELaw

    Raises
    ------
    ValueError
        Unequal targets or stiffnesses: the levels are then attached to different targets
        and no closed-form law is known; use equal targets.

    References
    ----------
    F. J. Dyson, "A Brownian-motion model for the eigenvalues of a random matrix",
    J. Math. Phys. 3 (1962) 1191; G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024).
    """
    T = _positive_float("temperature", temperature)
    tg, kp = model.targets, model.kappa
    if np.ptp(tg) != 0:
        raise ValueError(
            f"targets {tg.tolist()} are not all equal: no closed-form stationary law; "
            "use equal targets (e.g. all 1)"
        )
    if np.ptp(kp) != 0:
        raise ValueError(
            f"kappa {kp.tolist()} is not the same for every level: no closed-form stationary "
            "law; use one stiffness"
        )
    return GOELaw(model.K, float(tg[0]), T * model.noise / (2.0 * float(kp[0])))


@dataclass(frozen=True)
class ExactLawTest:
    """Kolmogorov-Smirnov test of an ensemble's pooled levels against an exact law.

    Attributes
    ----------
    statistic : float
        ``D = sup |F_sample - F_reference|`` of the pooled levels.
    pvalue : float
        Monte Carlo p-value ``(1 + #{D_null >= D}) / (n_null + 1)``, >= 1 / (n_null + 1).
    n_systems : int
        Systems tested (each contributes its K levels).
    n_reference : int
        Systems drawn from the law for the reference CDF.
    n_null : int
        Groups of ``n_systems`` systems drawn from the law to calibrate the p-value.
    """

    statistic: float
    pvalue: float
    n_systems: int
    n_reference: int
    n_null: int


def _pooled_ks(groups: np.ndarray, reference: np.ndarray) -> np.ndarray:
    # Exact two-sample D of each row of `groups` (sorted) against sorted `reference`: between
    # consecutive group points the group's ECDF is flat and the reference's increases, so the
    # sup is at a group point, from the right (F_ref(a_i)) or the left (F_ref(a_i^-)).
    n = groups.shape[1]
    m = reference.shape[0]
    right = np.searchsorted(reference, groups, side="right") / m
    left = np.searchsorted(reference, groups, side="left") / m
    i = np.arange(1, n + 1) / n
    return np.maximum(np.abs(i - right), np.abs(i - 1.0 / n - left)).max(axis=1)


def ks_exact_law(
    x: np.ndarray,
    law: WishartLaw | GOELaw,
    *,
    n_reference: int = EXACT_LAW_REFERENCE,
    n_null: int | None = None,
    seed: int = EXACT_LAW_ENTROPY,
) -> ExactLawTest:
    """Test final eigenvalues of independent systems against an exact law, pooling the levels.

    The pooled levels of one system are not independent (they repel, and share the system's
    centre), so the p-value of ``scipy.stats.ks_2samp`` on them is not uniform under the law:
    for 4 systems it fell below 0.05 in 0.85% of 2000 trials for a 2 x 2 GOE pair and in none
    of 2000 for 16 x 32 Wishart matrices, a test that cannot reject. The statistic is the
    two-sample KS distance D between the pooled levels and those of ``n_reference`` systems
    drawn from the law, and its null distribution is sampled: ``n_null`` further groups of
    as many systems as ``x`` holds, drawn from the law, give ``D_null``; under the law, D and
    the ``D_null`` are exchangeable, so ``(1 + #{D_null >= D}) / (n_null + 1)`` is a valid
    p-value whatever K and the
    correlation between levels (Davison & Hinkley 1997, section 4.2).

    Parameters
    ----------
    x : ndarray of float64, shape (n, K)
        Final eigenvalues of n independent systems.
    law : WishartLaw or GOELaw
    n_reference : int
        Systems drawn for the reference CDF, >= 100.
    n_null : int, optional
        Null groups, >= 19; default ``min(999, max(99, 20000 // n))``: p resolves 0.001 for
        up to 20 systems and never costs more than ~20000 sampled systems above that.
    seed : int
        Entropy of the reference and null samples (default :data:`EXACT_LAW_ENTROPY`).

    Returns
    -------
    ExactLawTest

    References
    ----------
    A. C. Davison, D. V. Hinkley, *Bootstrap Methods and their Application* (Cambridge, 1997),
    section 4.2 (Monte Carlo tests).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != law.K or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, K={law.K}) with n >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite: leave out systems that stopped or blew up")
    n = x.shape[0]
    n_reference = _int_at_least("n_reference", n_reference, 100)
    n_null = min(999, max(99, 20_000 // n)) if n_null is None else n_null
    n_null = _int_at_least("n_null", n_null, 19)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    reference = np.sort(law.sample(n_reference, rng).ravel())
    null = np.sort(law.sample(n_null * n, rng).reshape(n_null, n * law.K), axis=1)
    d = float(_pooled_ks(np.sort(x.ravel())[None], reference)[0])
    d_null = _pooled_ks(null, reference)
    p = (1.0 + np.count_nonzero(d_null >= d)) / (n_null + 1.0)
    return ExactLawTest(d, float(p), n, n_reference, n_null)


# --------------------------------------------------------------------------- run summaries

#: The harmonic model's stationary law is compared with a run only after this many
#: relaxation times 1/kappa: the start's imprint decays as exp(-kappa t), e^-10 = 4.5e-5.
RELAXATION_TIMES = 10.0

#: ... and only once that imprint, exp(-kappa t) max_i |x_i(0) - x*|, is below this fraction
#: of the law's width sqrt(T A / (2 kappa)): a shift of 1% of the width moves the CDF by
#: ~0.4%, below the KS resolution of any ensemble under ~10^5 levels.
RESIDUAL_FRACTION = 0.01


def _law_summary(law: WishartLaw | GOELaw, result) -> RunSummary:
    """KS test of a finished run's final levels against ``law`` (none if a system failed)."""
    bad = int(np.sum(result.status != 0))
    if bad:
        return RunSummary(
            law=law,
            ks_reason=f"{bad} system(s) did not finish (see status): no sample of the law",
        )
    return RunSummary(law=law, ks=ks_exact_law(result.final, law), ks_seed=EXACT_LAW_ENTROPY)


def _stationary_summary(model: HarmonicModel, temperature: float, result) -> RunSummary:
    """The harmonic model's stationary law and its KS test, or why there is none."""
    try:
        law = harmonic_stationary_law(model, temperature)
    except ValueError:
        return RunSummary(
            ks_reason="unequal targets: no closed-form stationary law; give equal --targets"
        )
    t = float(result.times[-1])
    residual = float(np.max(np.abs(result.x[:, 0] - law.center)))
    tau = harmonic_relaxation_time(model)
    width = math.sqrt(law.variance)
    need = tau * max(RELAXATION_TIMES, math.log(max(residual / (RESIDUAL_FRACTION * width), 1)))
    if t < need:
        return RunSummary(
            law=law,
            ks_reason=(
                f"the run (t = {t:.3g}) is shorter than the time to forget its start "
                f"(t >= {need:.3g}, {need / tau:.3g} relaxation times 1/kappa); use --time "
                f"{need:.3g} or more"
            ),
        )
    return _law_summary(law, result)

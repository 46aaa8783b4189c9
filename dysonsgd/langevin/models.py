"""Drift models of the eigenvalue Langevin equation: the coefficient contract and simple models.

Every model hands the integrator one affine family of coefficients (SPEC section 3),

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
        of SPEC section 3 and a reflecting boundary at s = 0; ``"real"``: x on the real line.
    refresh_interval : float
        Langevin time between calls of :meth:`coefficients`; ``math.inf`` means constant
        coefficients (called once, at t = 0).
    """

    name: str = "model"
    domain: str = "positive"
    refresh_interval: float = math.inf

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        """Coefficients at eigenvalues ``x`` (float64, shape (n, K), descending) and time t."""
        raise NotImplementedError("a DriftModel subclass must implement coefficients(x, t)")


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


@dataclass(frozen=True, eq=False)
class FreeModel(DriftModel):
    """No drift, isotropic gradient noise: the Wishart process (SPEC section 3, case 1).

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


@dataclass(frozen=True, eq=False)
class HarmonicModel(DriftModel):
    """Harmonic drift and constant noise: a beta = 1 Coulomb gas (SPEC section 3, case 2).

    ``Kt_ii = kappa_i (x_i - x*_i)``, ``Vt_ij = A``, ``Vt_ii = 2 A``, ``C = 0``; the
    stationary density is ``prod_{i<j} |x_i - x_j| exp(-sum_i kappa_i (x_i - x*_i)^2 / (2 T A))``.
    The i-th largest level is attached to the i-th entry of ``targets`` sorted descending.

    Parameters
    ----------
    targets : array_like of float, shape (K,)
        Target eigenvalues x*, K >= 2.
    kappa : float or array_like of float, shape (K,)
        Stiffness, > 0.
    noise : float
        A > 0.
    """

    targets: np.ndarray
    kappa: np.ndarray
    noise: float = 1.0
    name = "harmonic"
    domain = "real"
    refresh_interval = math.inf

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
    singular-value equation (SPEC section 3) diverges faster than any ``1/s`` repulsion as
    ``s_i -> 0`` and drives small levels into 0, where the integrator can find no admissible
    step (at the first checkpoint of the ordered reference point 131 of 320 runs stopped;
    with the slope none). With the slope that term is ``-T a_i / (2 s_i)``, and the
    second-order push ``T C_i / (2 s_i)`` with ``C_i >= Var_n(u_i^T g_n v_i) = a_i`` outweighs it.
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

"""Phase boundaries and classification (SPEC section 5).

Two tools:

1. :func:`langevin_criterion` -- the paper's Langevin criterion for the high-temperature
   boundary, evaluated per seed on a final W with the probe set: signal
   ``S = |Kt_11| - |Kt_KK|``, noise ``N = sum_{j != 1} Vt_1j/(j-1) + sum_{j != K} Vt_Kj/(K-j)``,
   initial Marchenko-Pastur spacing ``Delta = 4 sigma_W^2 / (sqrt(r) (K-1))``; a seed is
   ordered when ``S >= T N / Delta``, i.e. below ``T_c = S Delta / N``.
2. :func:`classify_flow` -- a rule that names the phase of each seed from its eigenvalue flow
   x(t) and the teacher's eigenvalues, for SGD and Langevin results alike.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), section 5 and Fig 8
(criterion), Fig 6 (the three phases' eigenvalue flows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd._validate import positive_float as _positive
from dysonsgd.langevin.coefficients import VT_ESTIMATORS, measure_coefficients
from dysonsgd.model import Instance, check_sigma_w

#: Phase names, in the order used for tie-breaking a majority vote.
PHASES: tuple[str, ...] = ("high-temperature", "disordered", "ordered")

#: Default thresholds of :func:`classify_flow` (justified in its docstring).
GROWTH_FACTOR: float = 10.0
FROZEN_FRACTION: float = 0.1


# --------------------------------------------------------------------------- criterion


def mp_spacing(sigma_w: float, K: int, L: int) -> float:
    """Mean spacing of an initial Marchenko-Pastur spectrum, ``4 sigma_W^2/(sqrt(r)(K-1))``.

    The eigenvalues of ``W0 W0^T`` (entries N(0, sigma_W^2/L), r = L/K) fill
    ``sigma_W^2 [(1 - 1/sqrt r)^2, (1 + 1/sqrt r)^2]``, an interval of width
    ``4 sigma_W^2 / sqrt(r)``, shared by K - 1 gaps.

    Raises
    ------
    ValueError
        ``sigma_w`` so large that the spacing overflows float64 (sigma_w above ~1e153).
    """
    sigma_w = check_sigma_w(sigma_w)
    if K < 2 or L < K:
        raise ValueError(f"need 2 <= K <= L, got K={K}, L={L}")
    r = L / K
    spacing = 4.0 * sigma_w * sigma_w / (math.sqrt(r) * (K - 1))  # inf, not OverflowError
    if not math.isfinite(spacing):
        raise ValueError(
            f"sigma_w = {sigma_w:g} is too large: the initial level spacing 4 sigma_w^2 / "
            f"(sqrt(L/K) (K - 1)) overflows float64; use sigma_w below 1e150"
        )
    return spacing


def coulomb_noise(Vt: np.ndarray, *, shifted: bool = False) -> float:
    """Coulomb push on the extreme pair for unit-spaced levels, the criterion's N.

    ``N = sum_{j != 1} Vt_1j/(j-1) + sum_{j != K} Vt_Kj/(K-j)`` (1-based). With
    ``shifted=True`` the lower sum is the published one: it runs over all j including
    ``j = K`` and divides ``Vt_Kj`` by ``K - j + 1`` (SPEC section 5).

    Parameters
    ----------
    Vt : ndarray of float64, shape (K, K)
    shifted : bool
    """
    Vt = np.asarray(Vt, dtype=np.float64)
    K = Vt.shape[0]
    j = np.arange(K)
    upper = float(np.sum(Vt[0, 1:] / j[1:]))
    if shifted:
        lower = float(np.sum(Vt[K - 1, :] / (K - j)))
    else:
        lower = float(np.sum(Vt[K - 1, : K - 1] / (K - 1 - j[: K - 1])))
    return upper + lower


@dataclass(frozen=True)
class LangevinCriterion:
    """The Langevin criterion of an ensemble at one (T, sigma_W) cell.

    Attributes
    ----------
    temperature, sigma_w : float
    estimator : {"exact", "paper"}
    signal : ndarray of float64, shape (n_seeds,)
        ``S = |Kt_11| - |Kt_KK|``.
    noise : ndarray of float64, shape (n_seeds,)
        ``N`` (see :func:`coulomb_noise`); with the ``paper`` estimator it can be negative.
    spacing : float
        ``Delta`` of the initial Marchenko-Pastur spectrum.
    critical_temperature : ndarray of float64, shape (n_seeds,)
        ``T_c = S Delta / N`` (``inf`` where N <= 0 and S >= 0: the noise never wins, which
        includes a jammed or dead network with S = N = 0 exactly; ``-inf`` where N <= 0 and
        S < 0; NaN where S or N is not finite: the coefficients of a diverged W overflowed).
    ordered : ndarray of bool, shape (n_seeds,)
        ``S >= T N / Delta``; False where S or N is not finite.
    """

    temperature: float
    sigma_w: float
    estimator: str
    signal: np.ndarray
    noise: np.ndarray
    spacing: float
    critical_temperature: np.ndarray
    ordered: np.ndarray

    @property
    def ordered_fraction(self) -> float:
        """Fraction of seeds predicted ordered (the quantity contoured in paper Fig 8)."""
        return float(np.mean(self.ordered))


def langevin_criterion(
    W: np.ndarray,
    instances: Instance | Sequence[Instance],
    *,
    temperature: float,
    sigma_w: float | None = None,
    estimator: str = "exact",
) -> LangevinCriterion:
    """Evaluate the Langevin criterion per seed on final matrices with the probe sets.

    Parameters
    ----------
    W : ndarray of float64, shape (n_seeds, K, L) or (K, L)
        Final student matrices, e.g. ``SGDResult.W[:, -1]``.
    instances : Instance or sequence of Instance, length n_seeds
        The seeds' networks (probe inputs, teacher outputs, read-out Z).
    temperature : float
        T = eps / |B| > 0.
    sigma_w : float, optional
        Initial width entering Delta; default: the instances' ``sigma_w``.
    estimator : {"exact", "paper"}
        ``exact``: Vt computed component by component, the lower sum as written.
        ``paper``: the published analysis, quirks included -- Vt as the rotated element-wise
        variance and the lower sum shifted by one index.

    Returns
    -------
    LangevinCriterion

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5, Fig 8.
    """
    if isinstance(instances, Instance):
        instances = [instances]
    instances = list(instances)
    W = np.asarray(W, dtype=np.float64)
    if W.ndim == 2:
        W = W[None]
    if W.ndim != 3 or W.shape[0] != len(instances):
        raise ValueError(
            f"W must have shape (n_seeds, K, L) with n_seeds = {len(instances)} instances, "
            f"got {W.shape}"
        )
    if estimator not in VT_ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(VT_ESTIMATORS)}, got {estimator!r}")
    T = _positive("temperature", temperature)
    sig = instances[0].sigma_w if sigma_w is None else check_sigma_w(sigma_w)
    cfg = instances[0].config
    spacing = mp_spacing(sig, cfg.K, cfg.L)
    S = np.empty(len(instances))
    N = np.empty(len(instances))
    for m, inst in enumerate(instances):
        c = measure_coefficients(W[m], inst.a_probe, inst.y_probe, inst.Z, cfg.activation)
        S[m] = abs(c.Kt[0]) - abs(c.Kt[-1])
        N[m] = coulomb_noise(c.vt(estimator), shifted=estimator == "paper")
    finite = np.isfinite(S) & np.isfinite(N)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        Tc = np.where(
            N > 0, S * spacing / np.where(N > 0, N, 1.0), np.where(S >= 0, np.inf, -np.inf)
        )
        ordered = finite & (S >= T * N / spacing)
    # inf/inf from an overflowed W is no temperature: say so instead of a stray NaN or inf
    Tc = np.where(finite, Tc, np.nan)
    return LangevinCriterion(
        temperature=T,
        sigma_w=sig,
        estimator=estimator,
        signal=S,
        noise=N,
        spacing=spacing,
        critical_temperature=Tc,
        ordered=ordered,
    )


# --------------------------------------------------------------------------- flow rule


@dataclass(frozen=True)
class PhaseClassification:
    """Phases of an ensemble read off its eigenvalue flows.

    Attributes
    ----------
    phases : tuple of str, length n_seeds
        One of :data:`PHASES` per seed.
    growth : ndarray of float64, shape (n_seeds,)
        ``(x_1(t_f) - x_1(0)) / max(x*_1, x_1(0))``: growth of the top eigenvalue in units of
        the larger of the teacher's top eigenvalue and its own start.
    moved : ndarray of float64, shape (n_seeds,)
        ``|x(t_f) - x(0)| / |x(0) - x*|``: distance travelled over the initial distance to the
        teacher's spectrum (Euclidean norms over the K levels).
    progress : ndarray of float64, shape (n_seeds,)
        ``1 - |x(t_f) - x*| / |x(0) - x*|``: fraction of the way to the teacher (1 = arrived,
        negative = moved away).
    """

    phases: tuple[str, ...]
    growth: np.ndarray
    moved: np.ndarray
    progress: np.ndarray

    @property
    def phase(self) -> str:
        """The majority phase (ties go to the first in :data:`PHASES`)."""
        counts = {p: self.phases.count(p) for p in PHASES}
        return max(PHASES, key=lambda p: counts[p])

    def fractions(self) -> dict[str, float]:
        """Fraction of seeds in each phase."""
        n = len(self.phases)
        return {p: self.phases.count(p) / n for p in PHASES}


def _row_norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, scaled by its largest entry so that rows near 1e154
    (a hot phase's eigenvalues) do not overflow in the sum of squares as
    ``np.linalg.norm`` does. Rows holding inf or NaN give inf or NaN."""
    scale = np.max(np.abs(v), axis=1)
    safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    out = safe * np.sqrt(np.sum((v / safe[:, None]) ** 2, axis=1))
    return np.where(np.isfinite(scale), out, scale)  # max|v| is NaN if any entry is, else inf


def classify_flow(
    x: np.ndarray,
    teacher_eigenvalues: np.ndarray,
    *,
    growth_factor: float = GROWTH_FACTOR,
    frozen_fraction: float = FROZEN_FRACTION,
) -> PhaseClassification:
    """Name the phase of each seed from its eigenvalue flow (SGD or Langevin).

    Rule, per seed, in this order:

    1. **high-temperature** when the top eigenvalue grew by more than ``growth_factor``
       times the larger of the teacher's top eigenvalue and its own start,
       ``x_1(t_f) - x_1(0) > growth_factor * max(x*_1, x_1(0))``, or when the flow is not
       finite. An ordered flow ends near the teacher's spectrum and a disordered one does
       not move, so neither grows by more than about one x*_1 (or, from a wide start, a
       small fraction of x_1(0): SGD at sigma_W = 256 moves x_1 by ~1e-3 of itself); the
       runaway growth of the high-temperature phase is by orders of magnitude (SGD at
       T = 4, 1/sigma_W = 8 reaches x_1 ~ 800 x*_1 within one epoch). A factor 10 sits
       between the two with an order of magnitude to spare on either side.
    2. **disordered** when the spectrum travelled less than ``frozen_fraction`` of its
       initial distance to the teacher's, ``|x(t_f) - x(0)| < frozen_fraction |x(0) - x*|``:
       saturated units have exponentially small gradients (phi'(z) ~ 4 exp(-2|z|) for tanh),
       so a jammed spectrum stays where it started, while an ordered flow covers most of
       the way (at least half of it at the three reference points of paper Fig 6, see
       tests/test_phases.py). 10% separates them with a factor of five to spare.
    3. **ordered** otherwise.

    Parameters
    ----------
    x : ndarray of float64, shape (n_seeds, n_saves, K)
        Eigenvalues of ``W W^T`` at the save points, descending along the last axis;
        ``x[:, 0]`` is the initial spectrum and ``x[:, -1]`` the final one.
    teacher_eigenvalues : ndarray of float64, shape (n_seeds, K) or (K,)
    growth_factor : float
        Threshold of rule 1, > 0.
    frozen_fraction : float
        Threshold of rule 2, in (0, 1).

    Returns
    -------
    PhaseClassification

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5 and Fig 6.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(
            f"x must have shape (n_seeds, n_saves, K) with n_saves >= 2, got {x.shape}"
        )
    n, _, K = x.shape
    xt = np.asarray(teacher_eigenvalues, dtype=np.float64)
    if xt.ndim == 1:
        xt = np.broadcast_to(xt, (n, xt.shape[0]))
    if xt.shape != (n, K):
        raise ValueError(
            f"teacher_eigenvalues must have shape ({K},) or ({n}, {K}), got {xt.shape}"
        )
    if not np.all(np.isfinite(xt)) or np.any(xt[:, 0] <= 0):
        raise ValueError("teacher_eigenvalues must be finite with a positive top eigenvalue")
    if not (math.isfinite(growth_factor) and growth_factor > 0):
        raise ValueError(f"growth_factor must be a positive number, got {growth_factor!r}")
    if not (0 < frozen_fraction < 1):
        raise ValueError(f"frozen_fraction must lie in (0, 1), got {frozen_fraction!r}")
    x0, xf = x[:, 0], x[:, -1]
    finite = np.all(np.isfinite(x), axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        growth = (xf[:, 0] - x0[:, 0]) / np.maximum(xt[:, 0], x0[:, 0])
        d0 = _row_norm(x0 - xt)
        moved = _row_norm(xf - x0) / d0
        progress = 1.0 - _row_norm(xf - xt) / d0
    phases = []
    for m in range(n):
        if not finite[m] or growth[m] > growth_factor:
            phases.append("high-temperature")
        elif d0[m] > 0 and moved[m] < frozen_fraction:
            phases.append("disordered")
        else:
            phases.append("ordered")
    return PhaseClassification(phases=tuple(phases), growth=growth, moved=moved, progress=progress)

"""Phase boundaries and classification (paper section 5; docs/phase-diagram.md).

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

#: The paper's three phases, in the order used for tie-breaking a majority vote.
PHASES: tuple[str, ...] = ("high-temperature", "disordered", "ordered")

#: Every label :func:`classify` gives a seed: the three phases, ``crossover`` (learned with an
#: inflated spectrum: the observables disagree) and ``undetermined`` (nothing decisive yet).
LABELS: tuple[str, ...] = (*PHASES, "crossover", "undetermined")

#: Default thresholds of :func:`classify`, each in the gap between the measured distributions
#: of the paper grid at 10^3 epochs (docs/phase-diagram.md, "The phase rule"): the runaway
#: growth of x_1 (at most 10.7 max(x*_1, x_1(0)) at T <= 2^-2, at least 32 at T >= 2^-1: 18 is
#: the geometric middle), the teacher's scale (ordered seeds end at most 1.25 x*_1, wide starts
#: begin at least 3.8 x*_1: 2), the loss falling an order of magnitude (ordered seeds: 1e-5 to
#: 2e-4 of the initial loss at 10^3 epochs, up to 1e-2 at 20 epochs).
GROWTH_FACTOR: float = 18.0
SCALE_FACTOR: float = 2.0
LOSS_DROP: float = 0.1
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

    ``N = sum_{j=2..K} Vt_1j/(j-1) + sum_{j=1..K-1} Vt_Kj/(K-j)`` (1-based indices): the
    upper sum of the top level and the lower sum of the bottom one, as the paper writes it.

    With ``shifted=True`` the lower sum is the one of the published analysis,
    ``sum_{j=3..K} Vt_Kj/(K-j+1) + Vt_K1/(K-1)``: shifted by one index, so it includes the
    diagonal ``Vt_KK`` (weight 1) and leaves ``Vt_K2`` out, while ``Vt_K1`` keeps the
    weight ``1/(K-1)``. The upper sum is the same in both. On an all-ones Vt the two agree,
    ``H_{K-1} + H_{K-1}`` and ``H_{K-1} + H_{K-2} + 1/(K-1)`` with ``H_n = sum_{m=1..n} 1/m``
    (6.63646 for K = 16); they differ once the entries of the last row differ
    (docs/theory-network.md, "The Langevin criterion").

    Parameters
    ----------
    Vt : ndarray of float64, shape (K, K), K >= 2
        The fluctuation matrix in the eigenbasis of ``X = W W^T``, levels descending.
    shifted : bool
        Use the published lower sum (the ``paper`` estimator of :func:`langevin_criterion`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``Vt`` not square or smaller than 2 x 2.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5 and Fig 8.
    """
    Vt = np.asarray(Vt, dtype=np.float64)
    if Vt.ndim != 2 or Vt.shape[0] != Vt.shape[1] or Vt.shape[0] < 2:
        raise ValueError(
            f"Vt must be a square (K, K) matrix with K >= 2 levels, got shape {Vt.shape}"
        )
    K = Vt.shape[0]
    j = np.arange(K)  # 0-based: level j + 1
    upper = float(np.sum(Vt[0, 1:] / j[1:]))
    if shifted:
        # 1-based j = 3..K with weight 1/(K-j+1), i.e. 0-based j = 2..K-1 with 1/(K-j)
        lower = float(Vt[K - 1, 0] / (K - 1) + np.sum(Vt[K - 1, 2:] / (K - j[2:])))
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
        Final student matrices, e.g. ``SGDResult.W[:, -1]`` (for the published analysis
        exactly: a run trained with ``save_schedule="paper"``, whose last record is the
        network after epoch 95,001 of 100,000).
    instances : Instance or sequence of Instance, length n_seeds
        The seeds' networks (probe inputs, teacher outputs, read-out Z).
    temperature : float
        T = eps / |B| > 0.
    sigma_w : float, optional
        Initial width entering Delta; default: the instances' ``sigma_w``.
    estimator : {"exact", "paper"}
        ``exact`` (default): Vt computed component by component in the eigenbasis of
        ``X = W W^T``, the lower sum as written; it does not depend on the signs of the
        eigenvectors.
        ``paper``: the published analysis, quirks included -- Vt as the element-wise
        variance rotated into U of ``numpy.linalg.svd(X)`` as that returns it
        (:func:`dysonsgd.langevin.coefficients.paper_basis`), and the lower sum shifted by
        one index (:func:`coulomb_noise` with ``shifted=True``). Its N is not invariant
        under a change of sign of the basis vectors: entry (i, j) of the rotated variance
        flips with ``sign(u_i) sign(u_j)``, so the SVD's sign convention enters the result
        (docs/theory-network.md, "The Langevin criterion", measures by how much: on
        10^3-epoch networks, 10 seeds, random signs of U's columns flip the sign of N for
        32-50 % of draws and move the ordered fraction over 0.1-0.8, 0.5-0.9 and 0.3-1.0
        at T = 2^-1 and 1/sigma_W = 8, 2, 1; far below the boundary it does not move).

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


# --------------------------------------------------------------------------- phase rule


@dataclass(frozen=True)
class PhaseClassification:
    """Phases of an ensemble read off its observables (see :func:`classify`).

    Attributes
    ----------
    phases : tuple of str, length n_seeds
        One of :data:`LABELS` per seed.
    growth : ndarray of float64, shape (n_seeds,)
        ``(x_1(t_f) - x_1(0)) / max(x*_1, x_1(0))``: growth of the top eigenvalue in units of
        the larger of the teacher's top eigenvalue and its own start.
    scale : ndarray of float64, shape (n_seeds,)
        ``x_1(t_f) / x*_1``: the final top eigenvalue in units of the teacher's.
    moved : ndarray of float64, shape (n_seeds,)
        ``|x(t_f) - x(0)| / |x(0) - x*|``: distance travelled over the initial distance to the
        teacher's spectrum (Euclidean norms over the K levels).
    progress : ndarray of float64, shape (n_seeds,)
        ``1 - |x(t_f) - x*| / |x(0) - x*|``: fraction of the way to the teacher (1 = arrived,
        negative = moved away).
    loss_ratio : ndarray of float64, shape (n_seeds,)
        Final over initial loss (NaN where no loss was given).
    """

    phases: tuple[str, ...]
    growth: np.ndarray
    moved: np.ndarray
    progress: np.ndarray
    scale: np.ndarray
    loss_ratio: np.ndarray

    @property
    def phase(self) -> str:
        """The majority label (:func:`vote`)."""
        return vote(self.phases)

    def fractions(self) -> dict[str, float]:
        """Fraction of seeds with each label (the three phases always present as keys)."""
        n = len(self.phases)
        keys = [*PHASES, *(p for p in LABELS[len(PHASES) :] if p in self.phases)]
        return {p: self.phases.count(p) / n for p in keys}


def vote(phases: Sequence[str]) -> str:
    """Majority label of an ensemble: the one vote every command uses.

    Seeds labelled ``stopped`` (a Langevin system the integrator could not advance: its
    frozen record says nothing) do not vote; ``stopped`` if every seed is. Ties go to the
    label that comes first in :data:`LABELS` (high-temperature, disordered, ordered,
    crossover, undetermined).
    """
    votes = [p for p in phases if p != "stopped"]
    if not votes:
        return "stopped" if len(phases) else "undetermined"
    unknown = set(votes) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown phase labels {sorted(unknown)}; expected {LABELS}")
    return max(LABELS, key=votes.count)


def _row_norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, scaled by its largest entry so that rows near 1e154
    (a hot phase's eigenvalues) do not overflow in the sum of squares as
    ``np.linalg.norm`` does. Rows holding inf or NaN give inf or NaN."""
    scale = np.max(np.abs(v), axis=1)
    safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    out = safe * np.sqrt(np.sum((v / safe[:, None]) ** 2, axis=1))
    return np.where(np.isfinite(scale), out, scale)  # max|v| is NaN if any entry is, else inf


def classify(
    x: np.ndarray,
    teacher_eigenvalues: np.ndarray,
    *,
    diverged: np.ndarray | None = None,
    loss: np.ndarray | None = None,
    growth_factor: float = GROWTH_FACTOR,
    scale_factor: float = SCALE_FACTOR,
    loss_drop: float = LOSS_DROP,
    frozen_fraction: float = FROZEN_FRACTION,
) -> PhaseClassification:
    """Name the phase of each seed from its observables: the one phase rule of the package.

    Every command that labels a run (``train``, ``simulate``, ``compare``,
    ``phase-diagram``) calls this function with what it measured, and :func:`vote` for the
    ensemble, so a run gets the same label whichever command computed it. The phases are
    told apart by the dynamics of the spectrum of ``X = W W^T`` relative to the teacher's, as
    the paper defines them, with the loss to confirm learning; every threshold is a ratio of
    eigenvalues to the teacher's top eigenvalue or to the run's own start, or of losses,
    never a ratio of distances to the teacher's spectrum (ill-conditioned when the student
    starts next to it, at 1/sigma_W ~ 1). The values are derived from the measured
    distributions in docs/phase-diagram.md ("The phase rule").

    Rule, per seed, with ``top = max(x*_1, x_1(0))`` and ``c = scale_factor``:

    1. **high-temperature** when the seed diverged (batch loss above the guard), its flow is
       not finite, or its top eigenvalue ran away,
       ``x_1(t_f) - x_1(0) > growth_factor top``: the growth by orders of magnitude of the
       paper's hot phase (x_1 ~ 800 x*_1 within one epoch at T = 4, 1/sigma_W = 8).
    2. Ended **at the teacher's scale**, ``x_1(t_f) <= c x*_1``: **ordered** when the seed
       learned (its loss fell below ``loss_drop`` times its initial value), else
       **undetermined**: nothing decisive has happened yet, typically a run too short for
       the rule (``progress`` says how far the flow got).
    3. Ended above the teacher's scale after **starting at or below it**,
       ``x_1(0) <= c x*_1``: the spectrum inflated during the run. **high-temperature** (the
       repulsion inflating the spectrum before the runaway of rule 1), or **crossover** when
       the seed learned all the same: the observables disagree, since the paper's hot phase
       inflates the spectrum *and* keeps the loss high.
    4. Started **above the teacher's scale** (a wide start, ``x_1(0) > c x*_1``) and ended
       above it: **high-temperature** when the spectrum still inflated by more than ``c``,
       ``x_1(t_f) > c x_1(0)``, else **disordered** (jammed: it stayed where it started). The
       loss does not enter here: from a wide start the initial loss holds the saturated
       student's own output variance, so the loss ratio falls with 1/sigma_W and with T
       whatever the spectrum does, with no gap to put a threshold in
       (docs/phase-diagram.md).

    Without a loss, whether a seed at the teacher's scale learned is read off the flow: it
    did when the spectrum travelled at least ``frozen_fraction`` of its initial distance to
    the teacher's. **crossover** needs the loss and is not given without one.

    Parameters
    ----------
    x : ndarray of float64, shape (n_seeds, n_saves, K)
        Eigenvalues of ``W W^T`` at the save points, descending along the last axis;
        ``x[:, 0]`` is the initial spectrum and ``x[:, -1]`` the final one.
    teacher_eigenvalues : ndarray of float64, shape (n_seeds, K) or (K,)
    diverged : ndarray of bool, shape (n_seeds,), optional
        Seeds stopped by the divergence guard (or Langevin systems that blew up).
    loss : ndarray of float64, shape (n_seeds, n) with n >= 2, optional
        The loss per seed over the run (e.g. ``SGDResult.records.loss``, the training loss
        at the save points); only the first and last columns are used.
    growth_factor : float
        Threshold of rule 1, > 0.
    scale_factor : float
        Threshold of rule 2, > 1.
    loss_drop, frozen_fraction : float
        Each in (0, 1).

    Returns
    -------
    PhaseClassification

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5 and Figs 3, 6 and 9.
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
    if not (math.isfinite(scale_factor) and scale_factor > 1):
        raise ValueError(f"scale_factor must be a number above 1, got {scale_factor!r}")
    for name, v in (("loss_drop", loss_drop), ("frozen_fraction", frozen_fraction)):
        if not (0 < v < 1):
            raise ValueError(f"{name} must lie in (0, 1), got {v!r}")
    div = None
    if diverged is not None:
        div = np.asarray(diverged, dtype=bool)
        if div.shape != (n,):
            raise ValueError(
                f"diverged must have shape ({n},) (one flag per seed), got {div.shape}"
            )
    ratio = None
    if loss is not None:
        loss = np.asarray(loss, dtype=np.float64)
        if loss.ndim != 2 or loss.shape[0] != n or loss.shape[1] < 2:
            raise ValueError(
                f"loss must have shape ({n}, n) with n >= 2 (initial ... final), got {loss.shape}"
            )
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = loss[:, -1] / loss[:, 0]
    x0, xf = x[:, 0], x[:, -1]
    finite = np.all(np.isfinite(x), axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        growth = (xf[:, 0] - x0[:, 0]) / np.maximum(xt[:, 0], x0[:, 0])
        scale = xf[:, 0] / xt[:, 0]
        start = x0[:, 0] / xt[:, 0]
        inflation = xf[:, 0] / x0[:, 0]
        d0 = _row_norm(x0 - xt)
        moved = _row_norm(xf - x0) / d0
        progress = 1.0 - _row_norm(xf - xt) / d0
        # NaN comparisons are False: a NaN loss ratio has not learned
        learned = ratio < loss_drop if ratio is not None else ~(moved < frozen_fraction)
    phases = []
    for m in range(n):
        if (div is not None and div[m]) or not finite[m] or growth[m] > growth_factor:
            phases.append("high-temperature")
        elif scale[m] <= scale_factor:
            phases.append("ordered" if learned[m] else "undetermined")
        elif start[m] <= scale_factor:
            learned_anyway = ratio is not None and learned[m]
            phases.append("crossover" if learned_anyway else "high-temperature")
        elif inflation[m] > scale_factor:
            phases.append("high-temperature")
        else:
            phases.append("disordered")
    return PhaseClassification(
        phases=tuple(phases),
        growth=growth,
        moved=moved,
        progress=progress,
        scale=scale,
        loss_ratio=np.full(n, np.nan) if ratio is None else ratio,
    )


def classify_sgd(result) -> PhaseClassification:
    """:func:`classify` of an SGD run: its eigenvalue flow, the teacher's eigenvalues, the
    divergence flags and the training loss at the save points.

    ``dysonsgd train``, ``compare`` and the sweep behind ``phase-diagram`` all label SGD runs
    from exactly these records, so a run gets the same label from each.

    Parameters
    ----------
    result : SGDResult

    Returns
    -------
    PhaseClassification
    """
    from dysonsgd.observables import eigenvalues_of_X

    return classify(
        eigenvalues_of_X(result.W),
        eigenvalues_of_X(result.W_teacher),
        diverged=result.records.diverged,
        loss=result.records.loss,
    )


def classify_flow(
    x: np.ndarray,
    teacher_eigenvalues: np.ndarray,
    *,
    growth_factor: float = GROWTH_FACTOR,
    frozen_fraction: float = FROZEN_FRACTION,
) -> PhaseClassification:
    """:func:`classify` from the eigenvalue flow alone (no loss, no divergence flags).

    Kept for flows without a network behind them; every command passes the loss and overlap
    to :func:`classify` instead.
    """
    return classify(
        x, teacher_eigenvalues, growth_factor=growth_factor, frozen_fraction=frozen_fraction
    )

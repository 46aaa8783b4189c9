"""Phases of the cells of a sweep store and the boundaries between them (paper section 5).

Reads a Dataset from :func:`dysonsgd.sweep.load` and gives

- :func:`cell_phases` -- the phase of every cell: each seed is labelled by the package's one
  phase rule, :func:`dysonsgd.phases.classify`, from the cell's stored observables
  (:func:`seed_phases`), and the cell takes :func:`dysonsgd.phases.vote` of its seeds;
- :func:`ordered_fraction` -- the fraction of seeds the Langevin criterion calls ordered;
- :func:`boundary_temperatures` -- per 1/sigma_W, the temperature at which that fraction
  falls through 0.68, 0.95, 0.997 (the contours of paper Fig 8), interpolated in log2 T;
- :func:`disorder_lines` -- the disorder boundary 1/sigma_W = sqrt 2 (paper) and the line
  where the actual pre-activation width ``sigma_W rms(a)`` equals ``sigma_c = 1/sqrt 2``;
- :func:`summary` -- all of it as a :class:`SweepSummary` (``phase-diagram --json``);
- :func:`onset_temperatures` -- per 1/sigma_W, the lowest grid temperature whose cell is
  high-temperature (compared across batch sizes by ``phase-diagram --batch-sizes``).

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 5, Figs 1, 6 and 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dysonsgd._records import FieldsAsMapping

#: Contour levels of the predicted boundary (paper Fig 8).
LEVELS: tuple[float, ...] = (0.68, 0.95, 0.997)

#: sigma_c^2 = 1/2: the tanh soft-spin symmetry-breaking width (paper Fig 1; docs/phase-diagram.md).
SIGMA_C = 1.0 / math.sqrt(2.0)


def _done(ds) -> np.ndarray:
    return np.asarray(ds["cell_done"].values == 1.0)


def seed_phases(cell) -> list[str]:
    """Label of every seed of one cell of a sweep store: :func:`dysonsgd.phases.classify` of
    the cell's eigenvalue flows with its divergence flags and training losses at the save
    points.

    Parameters
    ----------
    cell : xarray.Dataset
        One cell of a sweep store (``ds.isel(T=i, sigma_w=j)``).

    Returns
    -------
    list of str, one of :data:`dysonsgd.phases.LABELS` per seed
    """
    from dysonsgd.phases import classify

    return list(
        classify(
            cell["eigenvalues"].values,
            cell["teacher_eigenvalues"].values,
            diverged=cell["diverged"].values == 1.0,
            loss=cell["loss"].values,
        ).phases
    )


def cell_phases(ds):
    """Label of every completed cell (:func:`dysonsgd.phases.vote` of its seeds), ``""`` where
    not done.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep store (:func:`dysonsgd.sweep.load`).

    Returns
    -------
    xarray.DataArray of str, dims (T, sigma_w)
    """
    import xarray as xr

    from dysonsgd.phases import vote

    done = _done(ds)
    out = np.full(done.shape, "", dtype=object)
    for i, j in zip(*np.nonzero(done), strict=True):
        out[i, j] = vote(seed_phases(ds.isel(T=i, sigma_w=j)))
    return xr.DataArray(out.astype(str), dims=("T", "sigma_w"), coords=_coords(ds))


def _coords(ds) -> dict:
    return {"T": ds["T"].values, "sigma_w": ds["sigma_w"].values}


def ordered_fraction(ds, estimator: str = "exact"):
    """Fraction of seeds with ``S >= T N / Delta`` per cell (NaN where not done).

    Returns
    -------
    xarray.DataArray of float64, dims (T, sigma_w)
    """
    if estimator not in ("exact", "paper"):
        raise ValueError(f"estimator must be 'exact' or 'paper', got {estimator!r}")
    frac = ds[f"ordered_{estimator}"].mean("seed")
    return frac.where(ds["cell_done"] == 1.0)


def _crossing(T: np.ndarray, f: np.ndarray, level: float) -> float:
    """Temperature at which f (ordered fraction vs ascending T) first drops below level."""
    logT = np.log2(T)
    if not np.all(np.isfinite(f)):
        return math.nan
    if f[0] < level:
        return -math.inf  # not ordered even at the lowest T of the grid
    for k in range(1, len(T)):
        if f[k] < level:
            # linear in log2 T between the last point above and the first below the level
            w = (f[k - 1] - level) / (f[k - 1] - f[k])
            return float(2.0 ** (logT[k - 1] + w * (logT[k] - logT[k - 1])))
    return math.inf  # ordered at every T of the grid


#: Tolerance of the seed counts below: 1 / (1 - 0.95) is 19.999999999999982 in floating point.
_COUNT_TOL = 1e-9


def seeds_needed(level: float) -> int:
    """Fewest seeds that resolve the contour ``level``: ``ceil(1 / (1 - level))``.

    With n seeds the ordered fraction takes the values k/n. A level p above (n - 1)/n is
    crossed as soon as one seed fails the criterion: its boundary temperature (and its
    quantile of T_c in :func:`advise`) is the minimum over the seeds whatever p is. Levels
    with ``n (1 - p) >= 1`` are resolved: 4 seeds for 0.68, 20 for 0.95, 334 for 0.997.
    """
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return math.ceil(1.0 / (1.0 - float(level)) - _COUNT_TOL)


def level_resolution(n_seeds: int, levels=LEVELS) -> dict:
    """Which contour levels ``n_seeds`` seeds can resolve (see :func:`seeds_needed`).

    Returns
    -------
    dict
        ``{f"{level:g}": {"resolved": bool, "seeds_needed": int, "note": str}}``; ``note`` is
        ``"not resolved with n seeds: needs >= m seeds"``, or ``""`` when resolved.
    """
    out = {}
    for lv in levels:
        need = seeds_needed(lv)
        ok = n_seeds >= need
        note = "" if ok else f"not resolved with {n_seeds} seeds: needs >= {need} seeds"
        out[f"{lv:g}"] = {"resolved": ok, "seeds_needed": need, "note": note}
    return out


#: What :func:`boundary_temperatures` answers (printed and in ``phase-diagram --json``).
BOUNDARY_QUESTION = (
    "per 1/sigma_W, the T at which the fraction of a cell's seeds, each trained at that "
    "cell's own T, that the Langevin criterion calls ordered (S >= T N / Delta) first falls "
    "below the level, interpolated linearly in log2 T between the grid temperatures"
)


def boundary_temperatures(ds, estimator: str = "exact", levels=LEVELS) -> dict:
    """Predicted high-temperature boundary per 1/sigma_W, one curve per contour level.

    Parameters
    ----------
    ds : xarray.Dataset
    estimator : {"exact", "paper"}
    levels : sequence of float
        Fractions of ordered seeds (paper Fig 8: 0.68, 0.95, 0.997).

    Returns
    -------
    dict
        ``{level: ndarray (n_sigma,)}`` of temperatures: where the fraction first falls below
        the level going up in T (interpolated linearly in log2 T); ``-inf`` when already
        below at the lowest T, ``inf`` when never below, NaN when a cell of the column is
        missing. A level is resolved only with ``>= seeds_needed(level)`` seeds per cell
        (:func:`level_resolution`); otherwise its curve is where the first seed fails.
    """
    frac = ordered_fraction(ds, estimator).values
    T = ds["T"].values
    return {
        float(lv): np.array([_crossing(T, frac[:, j], lv) for j in range(frac.shape[1])])
        for lv in levels
    }


def feature_rms(instances) -> np.ndarray:
    """rms of each seed's first-layer training features ``a = phi(M x)``.

    The actual width of the pre-activation ``z = W a`` at initialisation is
    ``sigma_W rms(a)`` (entries of W are N(0, sigma_W^2 / L), so ``Var z_k = sigma_W^2
    mean_l a_l^2``). Stored per cell and seed as ``a_rms`` by :func:`dysonsgd.sweep.compute_cell`.

    Parameters
    ----------
    instances : sequence of Instance

    Returns
    -------
    ndarray of float64, shape (n_seeds,)
    """
    return np.array([math.sqrt(np.mean(np.square(i.a_train))) for i in instances])


def disorder_lines(ds=None, *, a_rms=None) -> dict:
    """Disorder boundaries in 1/sigma_W, the one definition behind phase-diagram and advise.

    ``paper``: ``sqrt 2`` (the paper identifies the pre-activation width with sigma_W).
    ``actual``: ``sqrt 2 <rms(a)>`` where the actual width of ``z = W a``, ``sigma_W rms(a)``
    (:func:`feature_rms`), reaches ``sigma_c = 1/sqrt 2``; ``<.>`` is the mean over seeds
    of each seed's rms over its training features (L units x n_batches |B| inputs).

    The line depends on the seeds (each draws its own M and inputs; with d_in = 3 the rms
    varies by a few per cent from seed to seed) and on nothing else: not on T or sigma_W,
    so every cell of a sweep stores the same ``a_rms`` for a given seed. Two commands agree
    when they average over the same seeds; ``phase-diagram --seeds 2`` (seeds 0, 1) and
    ``advise --seeds 10`` (seeds 0-9) gave 0.815 and 0.834, within the spread of ten
    seeds. ``actual_seeds`` and ``actual_stderr`` say what the average rests on.

    Parameters
    ----------
    ds : xarray.Dataset, optional
        A sweep store: ``a_rms`` per seed (mean over the cells where it is finite).
    a_rms : array_like of float64, shape (n_seeds,), optional
        Per-seed rms from :func:`feature_rms` (advise's probe or checkpoint seeds).

    Returns
    -------
    dict
        ``paper``; with data also ``actual``, ``actual_seeds`` (seeds averaged) and
        ``actual_stderr`` (standard error of ``actual`` over seeds, NaN for one seed).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5 (sigma_c, the disorder line).
    """
    if ds is not None and a_rms is not None:
        raise ValueError("give at most one of ds and a_rms")
    out = {"paper": math.sqrt(2.0)}
    if ds is not None and "a_rms" in ds:
        a = ds["a_rms"]
        a = a.where(np.isfinite(a))
        other = [d for d in a.dims if d != "seed"]
        a_rms = a.mean(other, skipna=True).values if other else a.values
    if a_rms is None:
        return out
    a = np.asarray(a_rms, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size:
        out["actual"] = float(math.sqrt(2.0) * np.mean(a))
        out["actual_seeds"] = int(a.size)
        stderr = np.std(a, ddof=1) / math.sqrt(a.size) if a.size > 1 else math.nan
        out["actual_stderr"] = float(math.sqrt(2.0) * stderr)
    return out


@dataclass(frozen=True, eq=False)
class SweepSummary(FieldsAsMapping):
    """The phase diagram of a sweep store as plain data (:func:`summary`).

    ``summ["phases"]`` reads a field like ``summ.phases``.

    Attributes
    ----------
    cells, cells_done : int
    T_values : ndarray of float64, shape (n_T,)
    inv_sigma_values : ndarray of float64, shape (n_sigma,)
    phase_counts : dict of str to int
        Completed cells per label of :data:`dysonsgd.phases.LABELS`.
    phases : list of dict
        One per completed cell: ``T``, ``sigma_w``, ``inv_sigma_w``, ``phase``, the seed means
        of ``test_loss`` and ``overlap_G``, ``spacing_growth_rate``, ``diverged`` (seeds),
        ``ordered_fraction_exact`` and ``ordered_fraction_paper``.
    boundary_T : dict
        Estimator -> level -> :func:`boundary_temperatures` curve.
    disorder_line_inv_sigma : dict
        :func:`disorder_lines` of the store.
    boundary_T_question : str
        :data:`BOUNDARY_QUESTION`.
    boundary_T_seeds : int
        Seeds per cell.
    boundary_T_resolution : dict
        :func:`level_resolution` of that many seeds.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5, Figs 1, 6 and 8.
    """

    cells: int
    cells_done: int
    T_values: np.ndarray
    inv_sigma_values: np.ndarray
    phase_counts: dict
    phases: list
    boundary_T: dict
    disorder_line_inv_sigma: dict
    boundary_T_question: str
    boundary_T_seeds: int
    boundary_T_resolution: dict


def summary(ds) -> SweepSummary:
    """Cells done, phase per cell, criterion fractions and boundary estimates, as plain data,
    with what the boundary answers and on how many seeds."""
    from dysonsgd.phases import LABELS

    phases = cell_phases(ds)
    T = ds["T"].values
    inv = 1.0 / ds["sigma_w"].values
    cells = []
    for i in range(len(T)):
        for j in range(len(inv)):
            if phases.values[i, j] == "":
                continue
            c = ds.isel(T=i, sigma_w=j)
            cells.append(
                {
                    "T": float(T[i]),
                    "sigma_w": float(ds["sigma_w"].values[j]),
                    "inv_sigma_w": float(inv[j]),
                    "phase": str(phases.values[i, j]),
                    "test_loss": float(np.mean(c["test_loss"].values)),
                    "overlap_G": float(np.mean(c["overlap_G"].values)),
                    "spacing_growth_rate": float(c["spacing_growth_rate"].values),
                    "diverged": int(np.sum(c["diverged"].values)),
                    "ordered_fraction_exact": float(np.mean(c["ordered_exact"].values)),
                    "ordered_fraction_paper": float(np.mean(c["ordered_paper"].values)),
                }
            )
    bounds = {}
    for e in ("exact", "paper"):
        b = boundary_temperatures(ds, e)
        bounds[e] = {f"{lv:g}": b[lv] for lv in b}
    n_seeds = int(ds.sizes["seed"])
    return SweepSummary(
        cells=int(_done(ds).size),
        cells_done=int(_done(ds).sum()),
        T_values=T,
        inv_sigma_values=inv,
        phase_counts={p: int(np.sum(phases.values == p)) for p in LABELS},
        phases=cells,
        boundary_T=bounds,
        disorder_line_inv_sigma=disorder_lines(ds),
        boundary_T_question=BOUNDARY_QUESTION,
        boundary_T_seeds=n_seeds,
        boundary_T_resolution=level_resolution(n_seeds),
    )


def onset_temperatures(phases, label: str = "high-temperature") -> np.ndarray:
    """Per 1/sigma_W, the lowest grid temperature at which the cell's phase is ``label``.

    The onset of the high-temperature phase along each column of a phase map. Comparing it
    between sweeps at several batch sizes |B| (``phase-diagram --batch-sizes``) asks whether
    the onset sits at a fixed temperature ``T = eps / |B|`` (the noise) or at a fixed step
    ``eps``. Cells not done (label ``""``) count as not ``label``: the onset of a partial
    map is the lowest *computed* temperature with that phase.

    Parameters
    ----------
    phases : xarray.DataArray of str, dims (T, sigma_w)
        Phase labels per cell with coordinate ``T``, as :func:`cell_phases` returns.
    label : str
        The phase whose onset is wanted, one of :data:`dysonsgd.phases.LABELS`.

    Returns
    -------
    ndarray of float64, shape (n_sigma,)
        In the order of the ``sigma_w`` dimension; NaN for a column with no cell of that
        phase (``None`` in JSON).

    Raises
    ------
    ValueError
        ``label`` is not a phase label, or ``phases`` lacks the (T, sigma_w) dimensions.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 4, Fig 9 (the phase map).
    """
    from dysonsgd.phases import LABELS

    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if set(getattr(phases, "dims", ())) != {"T", "sigma_w"}:
        raise ValueError(
            "phases must be a DataArray with dims (T, sigma_w), as boundaries.cell_phases "
            f"returns; got dims {getattr(phases, 'dims', None)!r}"
        )
    hit = np.asarray(phases.transpose("T", "sigma_w").values == label)
    T = np.asarray(phases["T"].values, dtype=np.float64)
    return np.array([float(np.min(T[col])) if col.any() else math.nan for col in hit.T])


def _ordered_temperature(Tc_sorted: np.ndarray, level: float) -> float:
    """Largest T at which a fraction ``>= level`` of the seeds has ``T <= T_c``.

    The order statistic ``T_c(k+1)`` with ``k = floor(n (1 - level))``: at that T the seeds
    from the (k+1)-th lowest T_c up, ``n - k >= level n`` of them, are ordered. For
    ``n (1 - level) < 1`` it is the minimum (see :func:`seeds_needed`).
    """
    n = len(Tc_sorted)
    k = min(n - 1, math.floor(n * (1.0 - level) + _COUNT_TOL))
    return float(Tc_sorted[k])


#: Probe epochs of ``advise``: the shortest measured length whose ``T_max(0.68)`` (exact) is
#: within the seeds' spread of its 10^5-epoch value (:data:`PROBE_CONVERGENCE`: 0.389 after
#: 10^4 epochs against 0.394; 0.042 after 10^3 and 0.098 after 10^2).
PROBE_EPOCHS: int = 10_000

#: How far ``advise``'s probe is from converged, measured: ``T_max(0.68)`` of the criterion
#: on the 10 seeds (base seed 0) of the paper's network at 1/sigma_W = 8 trained at
#: T = 2^-5 for E epochs -- the coldest cell of ``dysonsgd phase-diagram --T-values
#: 0.03125,...,64 --sigma-values 0.125 --epochs E --seeds 10`` (docs/reproduction.md, "How
#: long to train"; ``convergence[].probe_T_max68_*`` in docs/data/reproduction.json).
PROBE_CONVERGENCE: dict[str, dict[int, float]] = {
    "exact": {100: 0.0985, 1000: 0.0423, 10000: 0.389, 100000: 0.394},
    "paper": {100: math.inf, 1000: 3.00, 10000: 6.30, 100000: 9.33},
}
#: The 1/sigma_W and seeds of :data:`PROBE_CONVERGENCE`.
PROBE_CONVERGENCE_AT: tuple[float, int] = (8.0, 10)


def probe_convergence(epochs: int, estimator: str = "exact") -> dict:
    """How far a probe of ``epochs`` epochs is from converged, from :data:`PROBE_CONVERGENCE`.

    The measured run length nearest to ``epochs`` (in log epochs) and the ratio of the
    probe's ``T_max(0.68)`` there to its value at the longest measured length.

    Parameters
    ----------
    epochs : int
    estimator : {"exact", "paper"}

    Returns
    -------
    dict
        ``epochs``, ``nearest_measured_epochs``, ``T_max68`` (there), ``reference_epochs``,
        ``reference_T_max68``, ``ratio`` (``T_max68 / reference_T_max68``; inf if the probe
        there had no finite value), ``inv_sigma_w`` and ``seeds`` of the measurement, and
        ``note``: one sentence for the user.
    """
    if estimator not in PROBE_CONVERGENCE:
        raise ValueError(f"estimator must be 'exact' or 'paper', got {estimator!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    table = PROBE_CONVERGENCE[estimator]
    lengths = sorted(table)
    ref = lengths[-1]
    near = min(lengths, key=lambda e: abs(math.log(e / epochs)))
    ratio = table[near] / table[ref]
    inv, seeds = PROBE_CONVERGENCE_AT
    there = "" if near == epochs else f" (nearest measured length to {epochs:,}: {near:,})"
    if near == ref:
        note = (
            f"a probe of {epochs:,} epochs is at the longest length measured ({ref:,} epochs"
            f" at 1/sigma_W = {inv:g}, {seeds} seeds): the reference itself"
        )
    else:
        shown = "no finite T_max" if not math.isfinite(ratio) else f"{ratio:.2g} x"
        note = (
            f"how far from converged: at 1/sigma_W = {inv:g} ({seeds} seeds, measured) the "
            f"probe's T_max(0.68) after {near:,} epochs{there} was {shown} its value after "
            f"{ref:,} epochs ({table[near]:.3g} vs {table[ref]:.3g}); see docs/reproduction.md"
        )
    return {
        "epochs": int(epochs),
        "nearest_measured_epochs": near,
        "T_max68": table[near],
        "reference_epochs": ref,
        "reference_T_max68": table[ref],
        "ratio": ratio,
        "inv_sigma_w": inv,
        "seeds": seeds,
        "note": note,
    }


@dataclass(frozen=True, eq=False)
class Advice(FieldsAsMapping):
    """What :func:`advise` predicts; ``adv["T_max"]`` reads a field like ``adv.T_max``.

    Attributes
    ----------
    sigma_w, inv_sigma_w : float
    estimator : str
    question : str
        What ``T_max`` means, in words.
    source : str
        The networks the criterion was evaluated on.
    trained_at_T : float
    n_seeds : int
        Seeds with a T_c.
    Tc : ndarray of float64, shape (n_seeds_run,)
        ``T_c = S Delta / N`` per seed; NaN where W overflowed.
    Tc_undefined : int
        Seeds without a T_c (left out of the statistics).
    Tc_median, Tc_16, Tc_84 : float
    ordered_at_trained_T : int
        Seeds the criterion calls ordered at the training temperature itself.
    T_max : dict of str to float
        Level -> the largest T at which that fraction of the seeds has ``T <= T_c``.
    T_max_resolution : dict
        Level -> :func:`level_resolution` entry.
    lr : dict of str to dict of int to float
        Level -> {batch size: ``T_max |B|``}.
    jammed : bool
        ``1/sigma_W < sqrt 2``.
    jammed_actual_width : bool
        ``1/sigma_W`` below the actual-width line of :func:`disorder_lines`.
    disorder_lines : dict
        :func:`disorder_lines` of these seeds.
    convergence : dict
        :func:`probe_convergence` of the probe's epochs: how far from converged a probe of
        that length was, measured at 1/sigma_W = 8.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5, Fig 8.
    """

    sigma_w: float
    inv_sigma_w: float
    estimator: str
    question: str
    source: str
    trained_at_T: float
    n_seeds: int
    Tc: np.ndarray
    Tc_undefined: int
    Tc_median: float
    Tc_16: float
    Tc_84: float
    ordered_at_trained_T: int
    T_max: dict
    T_max_resolution: dict
    lr: dict
    jammed: bool
    jammed_actual_width: bool
    disorder_lines: dict
    convergence: dict


def advise(
    sigma_w: float | None = None,
    *,
    result=None,
    batch_sizes=(1, 2, 4, 8, 16, 32),
    n_seeds: int = 10,
    epochs: int = PROBE_EPOCHS,
    n_batches: int = 1000,
    reference_temperature: float = 2.0**-5,
    seed: int = 0,
    estimator: str = "exact",
    levels=LEVELS,
    on_epoch=None,
) -> Advice:
    """Largest temperature the Langevin criterion predicts ordered at ``sigma_w``, and its lr.

    The criterion is evaluated per seed on networks trained at one temperature: those of
    ``result`` (a checkpoint from ``dysonsgd train --out``), or, without one, ``n_seeds``
    fresh networks trained for ``epochs`` epochs at the ordered reference temperature
    (T = 2^-5, paper Fig 6) with the numba engine. Per seed ``T_c = S Delta / N`` with S, N
    and Delta held at their values on those networks; ``T_max(p)``, the largest T at which a
    fraction ``>= p`` of the seeds has ``T <= T_c``, is an order statistic of T_c (the
    contours of paper Fig 8), and the learning rate is ``lr = T |B|``.

    This is a prediction of the criterion from one training temperature, not a phase label:
    ``phase-diagram``, ``compare`` and ``simulate`` name phases with the eigenvalue-flow rule
    (:func:`dysonsgd.phases.classify_flow`), and ``phase-diagram``'s boundary
    (:func:`boundary_temperatures`) uses networks trained at each grid T. With n seeds a
    level p needs ``n >= ceil(1 / (1 - p))`` (:func:`seeds_needed`); below that its T_max
    is the lowest T_c, flagged in ``T_max_resolution``.

    Parameters
    ----------
    sigma_w : float, optional
        Initial width; required without ``result``, and must match it when both are given.
    result : SGDResult, optional
    batch_sizes : sequence of int
    n_seeds, epochs, n_batches, reference_temperature, seed
        The probe training run used without ``result``. ``epochs`` defaults to
        :data:`PROBE_EPOCHS` (10^4): at 1/sigma_W = 8 shorter probes gave a ``T_max(0.68)``
        0.1-0.25 times the converged one (:data:`PROBE_CONVERGENCE`, docs/reproduction.md).
    estimator : {"exact", "paper"}
    levels : sequence of float
        Fractions of seeds that must stay ordered, each in (0, 1).
    on_epoch : callable, optional
        Called once per seed and epoch of the probe run (progress).

    Returns
    -------
    Advice
        ``sigma_w``, ``inv_sigma_w``, ``estimator``, ``question`` (what T_max means),
        ``source``, ``trained_at_T``, ``n_seeds`` (seeds with a T_c), ``Tc`` (per seed; NaN
        where W overflowed), ``Tc_undefined`` (how many such seeds; left out of the
        statistics), ``Tc_median``, ``Tc_16``, ``Tc_84``, ``ordered_at_trained_T`` (seeds the
        criterion calls ordered at the training temperature itself: ``phase-diagram``'s
        ordered fraction times n for the cell of the same seeds, T, sigma_W and
        epochs), ``T_max`` (level -> T), ``T_max_resolution`` (level ->
        :func:`level_resolution` entry), ``lr`` (level -> {batch size: lr}), ``jammed``
        (1/sigma_W < sqrt 2), ``jammed_actual_width``, ``disorder_lines``
        (:func:`disorder_lines` of these seeds).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5, Fig 8.
    """
    from dysonsgd.model import NetworkConfig, check_sigma_w
    from dysonsgd.phases import langevin_criterion
    from dysonsgd.sgd import train

    bs = []
    for b in batch_sizes:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ValueError(f"batch sizes must be positive integers, got {b!r}")
        bs.append(int(b))
    if not bs:
        raise ValueError("batch_sizes is empty; give at least one batch size")
    for lv in levels:
        seeds_needed(lv)  # raises for a level outside (0, 1)
    if result is None:
        if sigma_w is None:
            raise ValueError("give sigma_w (or a checkpoint to read it from)")
        sigma_w = check_sigma_w(sigma_w)
        result = train(
            NetworkConfig(n_batches=n_batches),
            sigma_w=sigma_w,
            temperature=reference_temperature,
            epochs=epochs,
            n_seeds=n_seeds,
            seed=seed,
            engine="numba",
            on_epoch=on_epoch,
        )
        source = (
            f"{n_seeds} seeds trained {epochs} epochs x {n_batches} batches at "
            f"T = {reference_temperature:g}"
        )
    else:
        if sigma_w is not None and not math.isclose(
            check_sigma_w(sigma_w), result.sigma_w, rel_tol=1e-12
        ):
            raise ValueError(
                f"sigma_w={sigma_w:g} differs from the checkpoint's sigma_W={result.sigma_w:g}; "
                "drop --sigma or use a matching checkpoint"
            )
        sigma_w = result.sigma_w
        source = (
            f"checkpoint: {result.n_seeds} seeds, {result.epochs} epochs at "
            f"T = {result.temperature:g}"
        )
    instances = result.instances()
    T_train = result.temperature
    crit = langevin_criterion(result.W[:, -1], instances, temperature=T_train, estimator=estimator)
    Tc = crit.critical_temperature
    # A seed whose W overflowed (possible only with a raised divergence guard) has no T_c
    # (a documented NaN): leave it out of the quantiles and count it, rather than let one
    # NaN turn every advised temperature into NaN.
    defined = ~np.isnan(Tc)
    if not defined.any():
        raise ValueError(
            f"no seed has a defined T_c ({source}): every final W overflowed (S or N is "
            "not finite); use a checkpoint trained at a lower temperature or with the "
            "default divergence guard"
        )
    Tq = np.sort(Tc[defined])
    n = len(Tq)
    T_max = {f"{lv:g}": max(_ordered_temperature(Tq, lv), 0.0) for lv in levels}
    lr = {k: {b: t * b for b in bs} for k, t in T_max.items()}
    lines = disorder_lines(a_rms=feature_rms(instances))
    question = (
        f"Langevin criterion ({estimator} estimator) on {n} networks trained at "
        f"T = {T_train:g}: per seed T_c = S Delta / N with S, N, Delta held at their values "
        f"there; T_max(p) is the largest T at which a fraction >= p of the {n} seeds has "
        "T <= T_c. A prediction of the criterion, not a phase label of the eigenvalue-flow "
        "rule (phase-diagram, compare, simulate); phase-diagram's boundary_T uses seeds "
        "trained at each grid T"
    )
    return Advice(
        sigma_w=sigma_w,
        inv_sigma_w=1.0 / sigma_w,
        estimator=estimator,
        question=question,
        source=source,
        trained_at_T=T_train,
        n_seeds=n,
        Tc=Tc,
        Tc_undefined=int(np.count_nonzero(~defined)),
        Tc_median=float(np.quantile(Tq, 0.5, method="inverted_cdf")),
        Tc_16=float(np.quantile(Tq, 0.16, method="inverted_cdf")),
        Tc_84=float(np.quantile(Tq, 0.84, method="inverted_cdf")),
        ordered_at_trained_T=int(np.count_nonzero(crit.ordered[defined])),
        T_max=T_max,
        T_max_resolution=level_resolution(n, levels),
        lr=lr,
        jammed=1.0 / sigma_w < math.sqrt(2.0),
        jammed_actual_width=1.0 / sigma_w < lines["actual"],
        disorder_lines=lines,
        convergence=probe_convergence(int(result.epochs), estimator),
    )

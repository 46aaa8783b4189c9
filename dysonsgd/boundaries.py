"""Phases of the cells of a sweep store and the boundaries between them (SPEC section 5).

Reads a Dataset from :func:`dysonsgd.sweep.load` and gives

- :func:`cell_phases` -- the phase of every cell: each seed is named by the eigenvalue-flow
  rule of :func:`dysonsgd.phases.classify_flow` (runaway growth of x_1 -> high-temperature;
  a spectrum that did not move -> disordered; otherwise ordered), amended for flows that move
  away from the teacher and for short runs (:func:`seed_phases`), and the cell takes the
  majority of its seeds;
- :func:`ordered_fraction` -- the fraction of seeds the Langevin criterion calls ordered;
- :func:`boundary_temperatures` -- per 1/sigma_W, the temperature at which that fraction
  falls through 0.68, 0.95, 0.997 (the contours of paper Fig 8), interpolated in log2 T;
- :func:`disorder_lines` -- the disorder boundary 1/sigma_W = sqrt 2 (paper) and the line
  where the actual pre-activation width ``sigma_W rms(a)`` equals ``sigma_c = 1/sqrt 2``;
- :func:`summary` -- all of it as plain data for ``dysonsgd phase-diagram --json``.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 5, Figs 1, 6 and 8.
"""

from __future__ import annotations

import math

import numpy as np

#: Contour levels of the predicted boundary (paper Fig 8).
LEVELS: tuple[float, ...] = (0.68, 0.95, 0.997)

#: sigma_c^2 = 1/2: the tanh soft-spin symmetry-breaking width (SPEC section 2).
SIGMA_C = 1.0 / math.sqrt(2.0)


def _done(ds) -> np.ndarray:
    return np.asarray(ds["cell_done"].values == 1.0)


#: A seed whose training loss fell below this fraction of its initial value has learned:
#: it is not jammed, whatever its spectrum did (see :func:`seed_phases`).
LOSS_DROP: float = 0.1


def seed_phases(cell, *, loss_drop: float = LOSS_DROP) -> list[str]:
    """Phase of every seed of one cell.

    The rule of :func:`dysonsgd.phases.classify_flow` on the eigenvalue flow (runaway growth of
    x_1 beyond 10 max(x*_1, x_1(0)) -> high-temperature; a spectrum that moved less than 10% of
    its distance to the teacher's -> disordered; otherwise ordered), with three amendments:

    1. a seed flagged as diverged is high-temperature;
    2. a seed called ordered that ended more than twice as far from the teacher's spectrum as it
       started (classify_flow's ``progress < -1``) is high-temperature when its top eigenvalue
       grew (the repulsion inflating the spectrum before the runaway of rule 1: at 20 epochs,
       T = 64 and 1/sigma_W = 2^-8, x_1 grows 3-4x, progress is -1.1 to -1.5 and the test loss
       stays ~0.1), disordered when it shrank. Ordered seeds that start near the teacher's
       scale (sigma_W ~ 1) wander by up to about half their small initial distance
       (progress down to -0.5 at T <= 2^-4), hence the margin;
    3. for short runs, a seed called disordered that did come closer (``progress > 0``) and whose
       training loss fell below ``loss_drop`` times its initial value while its features did not
       stay frozen (``G(t_f, 0) < 1/2``) is ordered. The ordered spectrum reaches the teacher's
       only over the paper's 10^5 epochs (at T = 2^-5, 1/sigma_W = 8 it covers about 5% of the
       way in 2 10^4 steps) while the loss falls by orders of magnitude within a few thousand
       steps (0.098 -> 4e-4 there, G(t_f, 0) ~ 0.01). Jammed seeds keep their saturated +-1
       features, G(t_f, 0) ~ 0.8-0.98 at 1/sigma_W = 2^-8, even where their loss falls by a
       factor of ten at T = 4.

    Parameters
    ----------
    cell : xarray.Dataset
        One cell of a sweep store (``ds.isel(T=i, sigma_w=j)``).
    loss_drop : float
        Threshold of the amendment, in (0, 1).

    Returns
    -------
    list of str, one of "ordered", "disordered", "high-temperature" per seed
    """
    from dysonsgd.phases import classify_flow

    if not (0 < loss_drop < 1):
        raise ValueError(f"loss_drop must lie in (0, 1), got {loss_drop!r}")
    cls = classify_flow(cell["eigenvalues"].values, cell["teacher_eigenvalues"].values)
    loss = cell["loss"].values
    diverged = cell["diverged"].values
    overlap = cell["overlap_G"].values
    out = []
    x1 = cell["eigenvalues"].values[:, :, 0]
    for k, p in enumerate(cls.phases):
        if diverged[k] == 1.0:
            p = "high-temperature"
        elif p == "ordered" and cls.progress[k] < -1.0:
            # moved, but away from the teacher: an inflating spectrum is the Coulomb
            # repulsion winning (high-temperature); a shrinking one is not learning either
            p = "high-temperature" if x1[k, -1] > x1[k, 0] else "disordered"
        if (
            p == "disordered"
            and cls.progress[k] > 0
            and loss[k, -1] < loss_drop * loss[k, 0]
            and overlap[k] < 0.5
        ):
            p = "ordered"
        out.append(p)
    return out


#: Order of the phases when breaking ties of the majority vote (as dysonsgd.phases).
_TIE_ORDER = ("high-temperature", "disordered", "ordered")


def cell_phases(ds, *, loss_drop: float = LOSS_DROP):
    """Phase of every completed cell (the majority of its seeds), ``""`` where not done.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep store (:func:`dysonsgd.sweep.load`).
    loss_drop : float
        See :func:`seed_phases`.

    Returns
    -------
    xarray.DataArray of str, dims (T, sigma_w)
    """
    import xarray as xr

    done = _done(ds)
    out = np.full(done.shape, "", dtype=object)
    for i, j in zip(*np.nonzero(done), strict=True):
        phases = seed_phases(ds.isel(T=i, sigma_w=j), loss_drop=loss_drop)
        out[i, j] = max(_TIE_ORDER, key=phases.count)
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
        missing.
    """
    frac = ordered_fraction(ds, estimator).values
    T = ds["T"].values
    return {
        float(lv): np.array([_crossing(T, frac[:, j], lv) for j in range(frac.shape[1])])
        for lv in levels
    }


def disorder_lines(ds=None) -> dict:
    """Disorder boundaries in 1/sigma_W.

    ``paper``: ``sqrt 2`` (the paper identifies the pre-activation width with sigma_W).
    ``actual``: ``sqrt 2 rms(a)`` where the actual width of ``z = W a``, ``sigma_W rms(a)``,
    reaches ``sigma_c = 1/sqrt 2`` (rms over the first-layer features of the training sets,
    averaged over seeds; only with a store).
    """
    out = {"paper": math.sqrt(2.0)}
    if ds is not None and "a_rms" in ds:
        a = np.asarray(ds["a_rms"].values)
        a = a[np.isfinite(a)]
        if a.size:
            out["actual"] = float(math.sqrt(2.0) * np.mean(a))
    return out


def summary(ds) -> dict:
    """Cells done, phase per cell, criterion fractions and boundary estimates, as plain data."""
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
    return {
        "cells": int(_done(ds).size),
        "cells_done": int(_done(ds).sum()),
        "T_values": T,
        "inv_sigma_values": inv,
        "phase_counts": {
            p: int(np.sum(phases.values == p))
            for p in ("ordered", "disordered", "high-temperature")
        },
        "phases": cells,
        "boundary_T": bounds,
        "disorder_line_inv_sigma": disorder_lines(ds),
    }


def advise(
    sigma_w: float | None = None,
    *,
    result=None,
    batch_sizes=(1, 2, 4, 8, 16, 32),
    n_seeds: int = 10,
    epochs: int = 20,
    n_batches: int = 1000,
    reference_temperature: float = 2.0**-5,
    seed: int = 0,
    estimator: str = "exact",
    levels=LEVELS,
) -> dict:
    """Largest temperature predicted to stay ordered at ``sigma_w``, and what it means for lr.

    The Langevin criterion is evaluated per seed on trained networks: those of ``result`` (a
    checkpoint from ``dysonsgd train --out``), or, without one, ``n_seeds`` fresh networks
    trained for ``epochs`` epochs at the ordered reference temperature (T = 2^-5, paper
    Fig 6) with the numba engine. Per seed ``T_c = S Delta / N``; the temperature below which
    a fraction ``p`` of seeds is ordered is the ``1 - p`` quantile of T_c (the contours of
    paper Fig 8), and the learning rate is ``lr = T |B|``.

    Parameters
    ----------
    sigma_w : float, optional
        Initial width; required without ``result``, and must match it when both are given.
    result : SGDResult, optional
    batch_sizes : sequence of int
    n_seeds, epochs, n_batches, reference_temperature, seed
        The probe training run used without ``result``.
    estimator : {"exact", "paper"}
    levels : sequence of float
        Fractions of seeds that must stay ordered.

    Returns
    -------
    dict
        ``sigma_w``, ``inv_sigma_w``, ``Tc`` (per seed; NaN where W overflowed),
        ``Tc_undefined`` (how many such seeds; the quantiles leave them out), ``Tc_median``,
        ``Tc_16``, ``Tc_84``,
        ``T_max`` (level -> T), ``lr`` (level -> {batch size: lr}), ``jammed`` (1/sigma_W <
        sqrt 2), ``disorder_lines``, ``source``.

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
        if not 0 < lv < 1:
            raise ValueError(f"levels must lie in (0, 1), got {lv!r}")
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
    crit = langevin_criterion(
        result.W[:, -1], instances, temperature=result.temperature, estimator=estimator
    )
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
    Tq = Tc[defined]
    T_max = {}
    for lv in levels:
        t = float(np.quantile(Tq, 1.0 - lv, method="inverted_cdf"))
        T_max[f"{lv:g}"] = max(t, 0.0)
    lr = {k: {b: t * b for b in bs} for k, t in T_max.items()}
    a_rms = float(np.mean([np.sqrt(np.mean(i.a_train**2)) for i in instances]))
    lines = {"paper": math.sqrt(2.0), "actual": math.sqrt(2.0) * a_rms}
    return {
        "sigma_w": sigma_w,
        "inv_sigma_w": 1.0 / sigma_w,
        "estimator": estimator,
        "Tc": Tc,
        "Tc_undefined": int(np.count_nonzero(~defined)),
        "Tc_median": float(np.quantile(Tq, 0.5, method="inverted_cdf")),
        "Tc_16": float(np.quantile(Tq, 0.16, method="inverted_cdf")),
        "Tc_84": float(np.quantile(Tq, 0.84, method="inverted_cdf")),
        "T_max": T_max,
        "lr": lr,
        "jammed": 1.0 / sigma_w < math.sqrt(2.0),
        "jammed_actual_width": 1.0 / sigma_w < lines["actual"],
        "disorder_lines": lines,
        "source": source,
    }

"""The paper at full length: what docs/reproduction.md quotes, computed from sweep stores.

A long run is a ``dysonsgd phase-diagram`` store (resumable; docs/phase-diagram.md). This
module reduces stores to the numbers the reproduction reports and that
``docs/data/reproduction.json`` holds:

- :func:`column_summary`: one column of the grid (1/sigma_W fixed) -- per temperature the
  median final training loss and gradient norm over seeds (paper Fig 3), the fraction of
  seeds the Langevin criterion calls ordered with each estimator (Fig 8), and ``tc68``: the
  temperature where that fraction first falls below 0.68, with its error from a bootstrap
  over seeds;
- :func:`convergence`: ``tc68`` of the same column at several run lengths (how long must a
  user train before the criterion means something?).

Run ``python -m dysonsgd.reproduction --column STORE [--convergence STORE ...] [--out JSON]``.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), Figs 3, 8 and 9.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from dysonsgd.boundaries import _crossing

#: The contour the reproduction reports (paper Fig 8's innermost, 1 sigma).
LEVEL: float = 0.68
#: Bootstrap resamples of the seeds behind every tc68 error.
N_BOOTSTRAP: int = 2000
#: The temperature ``dysonsgd advise`` trains its probe at (paper Fig 6's ordered point).
PROBE_TEMPERATURE: float = 2.0**-5

__all__ = [
    "LEVEL",
    "PROBE_TEMPERATURE",
    "column_summary",
    "batch_size_onset",
    "convergence",
    "gd_onset",
    "grid_summary",
    "main",
    "probe_summary",
    "sharpness_scan",
    "write_compact",
]


def _column(ds, inv_sigma_w: float):
    inv = 1.0 / ds["sigma_w"].values
    j = int(np.argmin(np.abs(np.log(inv / inv_sigma_w))))
    if not math.isclose(inv[j], inv_sigma_w, rel_tol=1e-9):
        raise ValueError(
            f"the store has no column 1/sigma_W = {inv_sigma_w:g}; it has "
            f"{', '.join(f'{v:g}' for v in sorted(inv))}"
        )
    return ds.isel(sigma_w=j)


def _tc(T: np.ndarray, ordered: np.ndarray, level: float, n_bootstrap: int, seed: int) -> dict:
    """tc at ``level`` from per-seed flags ``ordered`` (n_T, n_seeds), with a seed bootstrap."""
    frac = ordered.mean(axis=1)
    tc = _crossing(T, frac, level)
    rng = np.random.default_rng(seed)
    n_T, n = ordered.shape
    boot = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        pick = rng.integers(0, n, size=(n_T, n))  # each cell's seeds resampled on their own
        boot[b] = _crossing(T, np.take_along_axis(ordered, pick, axis=1).mean(axis=1), level)
    lo, med, hi = np.quantile(np.log2(np.clip(boot, 2.0**-60, 2.0**60)), [0.16, 0.5, 0.84])
    return {
        "tc": tc,
        "log2_tc_bootstrap_median": float(med),
        "log2_tc_16": float(lo),
        "log2_tc_84": float(hi),
        "below_grid": float(np.mean(np.isneginf(boot))),
        "above_grid": float(np.mean(np.isposinf(boot))),
    }


def column_summary(
    ds,
    inv_sigma_w: float = 8.0,
    *,
    level: float = LEVEL,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """The numbers of one column of a sweep store (paper Figs 3 and 8).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep store (:func:`dysonsgd.sweep.load`); every cell of the column must be done.
    inv_sigma_w : float
        The column, 1/sigma_W (the paper's reference column is 8).
    level : float
        Contour of the ordered fraction (0.68).
    n_bootstrap : int
        Resamples of the seeds (each cell's own) for the errors of ``tc``.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``inv_sigma_w``, ``epochs``, ``seeds``, ``T`` (ascending), per T:
        ``final_loss_median``, ``final_loss_16``, ``final_loss_84``, ``grad_norm_median``,
        ``test_loss_median``, ``diverged_fraction``, ``ordered_fraction_exact``,
        ``ordered_fraction_paper``, ``phase`` (the seed vote of the package's phase rule) and
        ``high_temperature_fraction`` (of seeds; these two only for a real store); and
        ``tc68_exact``, ``tc68_paper`` (the temperature where the fraction first falls
        below ``level``, linear in log2 T between grid points;
        ``-inf`` below the grid, ``inf`` above) with ``tc68_exact_error`` and
        ``tc68_paper_error``: the bootstrap's 16 and 84 % quantiles of log2 tc.

    Raises
    ------
    ValueError
        No such column, or a cell of it not done.
    """
    col = _column(ds, inv_sigma_w)
    done = np.asarray(col["cell_done"].values == 1.0)
    if not np.all(done):
        missing = [f"{t:g}" for t, d in zip(col["T"].values, done, strict=True) if not d]
        raise ValueError(
            f"column 1/sigma_W = {inv_sigma_w:g} is not complete: cells at T = "
            f"{', '.join(missing)} are not done yet (resume the sweep)"
        )
    T = col["T"].values.astype(float)
    out = {
        "inv_sigma_w": float(inv_sigma_w),
        "epochs": int(col["epoch"].values[-1]),
        "seeds": int(col.sizes["seed"]),
        "T": T.tolist(),
    }

    def q(name: str, p: float) -> list:
        v = col[name].values
        return [float(np.nanquantile(row, p)) if np.any(np.isfinite(row)) else math.nan
                for row in v]  # fmt: skip

    out["final_loss_median"] = q("final_loss", 0.5)
    out["final_loss_16"] = q("final_loss", 0.16)
    out["final_loss_84"] = q("final_loss", 0.84)
    out["grad_norm_median"] = q("grad_norm", 0.5)
    out["test_loss_median"] = q("test_loss", 0.5)
    out["diverged_fraction"] = col["diverged"].values.mean(axis=1).tolist()
    if "eigenvalues" in col:  # the phase of every cell by the one phase rule
        onset = _onset(ds, inv_sigma_w)
        out["phase"] = onset["phases"]
        out["high_temperature_fraction"] = onset["high_temperature_fraction"]
    for est in ("exact", "paper"):
        ordered = np.asarray(col[f"ordered_{est}"].values == 1.0)
        out[f"ordered_fraction_{est}"] = ordered.mean(axis=1).tolist()
        tc = _tc(T, ordered, level, n_bootstrap, seed)
        out[f"tc68_{est}"] = tc["tc"]
        out[f"tc68_{est}_error"] = {k: v for k, v in tc.items() if k != "tc"}
    return out


def convergence(stores, inv_sigma_w: float = 8.0, **kwargs) -> list[dict]:
    """``tc68`` of one column at several run lengths, shortest first.

    Parameters
    ----------
    stores : iterable of xarray.Dataset
        Sweep stores of the same column at different epochs.
    inv_sigma_w : float
    **kwargs
        Passed to :func:`column_summary`.

    Returns
    -------
    list of dict
        ``{"epochs", "seeds", "tc68_exact", "tc68_paper", "tc68_exact_error",
        "tc68_paper_error", "ordered_fraction_exact", "ordered_fraction_paper"}`` per store.
    """
    rows = []
    for ds in stores:
        s = column_summary(ds, inv_sigma_w, **kwargs)
        keys = ("epochs", "seeds", "T", "tc68_exact", "tc68_paper", "tc68_exact_error",
                "tc68_paper_error", "ordered_fraction_exact", "ordered_fraction_paper")  # fmt: skip
        row = {k: s[k] for k in keys}
        row.update(probe_summary(ds, inv_sigma_w, level=kwargs.get("level", LEVEL)))
        rows.append(row)
    return sorted(rows, key=lambda r: r["epochs"])


def probe_summary(ds, inv_sigma_w: float = 8.0, *, level: float = LEVEL) -> dict:
    """What ``dysonsgd advise`` would predict from the store's coldest cell of a column.

    ``advise`` trains its probe seeds at the reference temperature T = 2^-5 and reads the
    criterion's ``T_c = S Delta / N`` per seed (:func:`dysonsgd.boundaries.advise`). The
    store's cell at that temperature holds the same seeds (same base seed, network and
    data) trained for the store's epochs, with ``Tc_exact``/``Tc_paper`` per seed; so its
    order statistic is advise's ``T_max`` after that many epochs.

    Returns
    -------
    dict
        ``probe_T`` (the cell's temperature), and per estimator ``probe_Tc_median_<est>`` and
        ``probe_T_max68_<est>`` (:func:`dysonsgd.boundaries.advise`'s ``T_max`` at
        ``level``); ``{}`` when the column has no cell at T = 2^-5.
    """
    from dysonsgd.boundaries import _ordered_temperature

    col = _column(ds, inv_sigma_w)
    T = col["T"].values.astype(float)
    hit = np.nonzero(np.isclose(T, PROBE_TEMPERATURE, rtol=1e-9))[0]
    if len(hit) == 0 or col["cell_done"].values[hit[0]] != 1.0:
        return {}
    cell = col.isel(T=int(hit[0]))
    out: dict = {"probe_T": PROBE_TEMPERATURE}
    for est in ("exact", "paper"):
        tc = np.sort(cell[f"Tc_{est}"].values.astype(float))
        tc = tc[~np.isnan(tc)]
        out[f"probe_Tc_median_{est}"] = float(np.median(tc)) if len(tc) else math.nan
        out[f"probe_T_max68_{est}"] = _ordered_temperature(tc, level) if len(tc) else math.nan
    return out


def grid_summary(ds, *, level: float = LEVEL) -> dict:
    """The whole grid's numbers (paper Figs 8 and 9): per 1/sigma_W the temperature where
    the ordered fraction first falls below ``level`` for both estimators, and the phase of
    every cell by the package's one phase rule (:func:`dysonsgd.boundaries.cell_phases`).

    Returns
    -------
    dict
        ``epochs``, ``seeds``, ``T`` (ascending), ``inv_sigma_w`` (ascending),
        ``tc68_exact``/``tc68_paper`` (one per 1/sigma_W; ``-inf`` below the grid, ``inf``
        above) with ``tc68_exact_outside``/``tc68_paper_outside`` (``"below"``, ``"above"``
        or None, for JSON, which has no infinities), ``phases`` (``[T][1/sigma_W]`` labels,
        ``""`` where not done),
        ``phase_counts``, ``cells_done``, ``cells``.
    """
    from dysonsgd.boundaries import boundary_temperatures, cell_phases

    inv = 1.0 / ds["sigma_w"].values.astype(float)
    order = np.argsort(inv)
    phases = cell_phases(ds).values[:, order]
    out = {
        "epochs": int(ds["epoch"].values[-1]),
        "seeds": int(ds.sizes["seed"]),
        "T": ds["T"].values.astype(float).tolist(),
        "inv_sigma_w": inv[order].tolist(),
    }
    for est in ("exact", "paper"):
        tc = boundary_temperatures(ds, est, (level,))[level][order]
        out[f"tc68_{est}"] = tc.tolist()
        # JSON has no infinities: say which side of the grid a crossing outside it lies on
        out[f"tc68_{est}_outside"] = [
            "below" if t == -math.inf else "above" if t == math.inf else None for t in tc
        ]
    out["phases"] = [[str(p) for p in row] for row in phases]
    labels, counts = np.unique(phases[phases != ""], return_counts=True)
    out["phase_counts"] = {str(k): int(v) for k, v in zip(labels, counts, strict=True)}
    out["cells_done"] = int(np.sum(phases != ""))
    out["cells"] = int(phases.size)
    return out


def _onset(ds, inv_sigma_w: float) -> dict:
    """Where one column of a store turns high-temperature, by the package's phase rule
    (:func:`dysonsgd.boundaries.onset_temperatures` of :func:`~dysonsgd.boundaries.cell_phases`),
    with the fraction of each cell's seeds labelled high-temperature."""
    from dysonsgd.boundaries import cell_phases, onset_temperatures, seed_phases

    col = _column(ds, inv_sigma_w)
    j = int(np.nonzero(ds["sigma_w"].values == col["sigma_w"].values)[0][0])
    phases = cell_phases(ds.isel(sigma_w=[j]))  # this column's cells only
    T = col["T"].values.astype(float)
    lr = col["lr"].values.astype(float) if "lr" in col else T * math.nan
    frac = [
        float(np.mean([p == "high-temperature" for p in seed_phases(col.isel(T=i))]))
        if col["cell_done"].values[i] == 1.0
        else math.nan
        for i in range(len(T))
    ]
    onset = float(onset_temperatures(phases)[0])
    k = int(np.nonzero(T == onset)[0][0]) if math.isfinite(onset) else None
    return {
        "T": T.tolist(),
        "lr": lr.tolist(),
        "phases": [str(p) for p in phases.values[:, 0]],
        "high_temperature_fraction": frac,
        "onset_T": float(T[k]) if k is not None else None,
        "onset_lr": float(lr[k]) if k is not None else None,
    }


def batch_size_onset(store, inv_sigma_w: float = 8.0) -> list[dict]:
    """Onset of the high-temperature phase at every batch size of a ``--batch-sizes`` store.

    Returns
    -------
    list of dict
        Per batch size, ascending: ``batch_size``, ``epochs``, ``onset_T`` (the lowest grid T whose
        cell the seed vote calls high-temperature; None if none), ``onset_lr`` (= onset_T
        |B|), and per T the cell's ``phases`` and ``high_temperature_fraction`` of seeds.
    """
    from dysonsgd import sweep

    rows = []
    for B, child in sorted(sweep.batch_stores(store).items()):
        ds = sweep.load(child)
        rows.append(
            {"batch_size": int(B), "epochs": int(ds["epoch"].values[-1]), **_onset(ds, inv_sigma_w)}
        )
    return rows


def gd_onset(ds, inv_sigma_w: float = 8.0) -> dict:
    """Onset of the high-temperature signatures under full-batch gradient descent.

    Returns
    -------
    dict
        ``gd_onset_lr``: the smallest step eps of the store's ``engine="gd"`` column that the
        seed vote calls high-temperature (None if none); ``gd``: the column's ``lr``,
        ``phases`` and ``high_temperature_fraction``.
    """
    o = _onset(ds, inv_sigma_w)
    return {"gd_onset_lr": o["onset_lr"], "gd": o}


def write_compact(ds, path) -> Path:
    """Write a sweep store's per-seed scalars, loss and eigenvalue flows (everything but the
    final matrices ``W_final``) as one netCDF-3 file (scipy; no extra dependency), which
    :func:`xarray.open_dataset` reads back into a Dataset the figures of
    :func:`dysonsgd.plot.phase.plot_store` and the summaries here accept.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep store (:func:`dysonsgd.sweep.load`).
    path : path
        The file to write (``.nc``); its directory must exist.

    Returns
    -------
    Path
    """
    path = Path(path)
    compact = ds.drop_vars([v for v in ("W_final",) if v in ds]).load()
    compact.to_netcdf(path, engine="scipy")
    return path


def _finite_or_none(obj):
    """JSON-safe copy: non-finite floats become None (JSON has no inf or NaN)."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def sharpness_scan(
    T_values,
    batch_sizes=(4,),
    *,
    sigma_w: float = 0.125,
    epochs: int = 20,
    n_seeds: int = 4,
    seed: int = 0,
    n_samples: int = 4000,
    engine: str = "numba",
    save_points: int | None = None,
    on_run=None,
) -> list[dict]:
    """The top Hessian eigenvalue along training against the stability edge 2/eps.

    For every batch size |B| and temperature T: train ``n_seeds`` seeds on the same
    training set of ``n_samples`` inputs (``n_batches = n_samples / |B|``) at learning rate
    ``eps = T |B|`` (``engine="gd"``: full-batch gradient descent at that eps), and measure
    :func:`dysonsgd.observables.sharpness` at every save point.

    Parameters
    ----------
    T_values : sequence of float
    batch_sizes : sequence of int
        Each must divide ``n_samples``.
    sigma_w, epochs, n_seeds, seed, n_samples, engine, save_points
        The training runs (:func:`dysonsgd.sgd.train`).
    on_run : callable, optional
        Called after each (|B|, T) run (progress).

    Returns
    -------
    list of dict
        One per (|B|, T): ``batch_size``, ``T``, ``eps``, ``engine``, ``edge`` (2/eps),
        ``epochs`` (save epochs), ``lambda_max_median``/``_16``/``_84`` per save over seeds,
        ``eps_lambda_max_final_median``, ``above_edge_fraction`` (fraction of seeds x saves
        after epoch 0 with ``eps lambda_max > 2``), ``phases`` (per seed, the package's
        phase rule) and ``final_loss_median``.

    References
    ----------
    J. Cohen et al., ICLR 2021 (the edge of stability); Park, Lucini & Aarts,
    arXiv:2509.01349 (2025), section 2.
    """
    from dysonsgd.model import NetworkConfig
    from dysonsgd.observables import sharpness
    from dysonsgd.phases import classify_sgd
    from dysonsgd.sgd import train

    rows = []
    for B in batch_sizes:
        B = int(B)
        if B < 1 or n_samples % B:
            raise ValueError(f"batch size {B} does not divide the {n_samples} training inputs")
        cfg = NetworkConfig(batch_size=B, n_batches=n_samples // B)
        for T in T_values:
            r = train(
                cfg,
                sigma_w=sigma_w,
                temperature=float(T),
                epochs=epochs,
                n_seeds=n_seeds,
                seed=seed,
                engine=engine,
                save_points=save_points,
            )
            lam = sharpness(r)
            eps = float(T) * B
            with np.errstate(invalid="ignore"):
                above = eps * lam[:, 1:] > 2.0
                q = np.nanquantile(lam, [0.16, 0.5, 0.84], axis=0)
            rows.append(
                {
                    "batch_size": B,
                    "T": float(T),
                    "eps": eps,
                    "engine": engine,
                    "edge": 2.0 / eps,
                    "epochs": [int(e) for e in r.save_epochs],
                    "lambda_max_16": q[0].tolist(),
                    "lambda_max_median": q[1].tolist(),
                    "lambda_max_84": q[2].tolist(),
                    "eps_lambda_max_final_median": float(eps * q[1][-1]),
                    "above_edge_fraction": float(np.mean(above[np.isfinite(lam[:, 1:])]))
                    if np.any(np.isfinite(lam[:, 1:]))
                    else math.nan,
                    "phases": list(classify_sgd(r).phases),
                    "final_loss_median": float(np.nanmedian(r.loss[:, -1])),
                }
            )
            if on_run is not None:
                on_run()
    return rows


def _summary(a) -> dict:
    from dysonsgd import sweep

    out: dict = {}
    col = sweep.load(a.column)
    out["column"] = column_summary(col, a.inv_sigma)
    conv = [sweep.load(s) for s in a.convergence] + [col]
    out["convergence"] = convergence(conv, a.inv_sigma)
    if a.grid:
        out["grid"] = grid_summary(sweep.load(a.grid))
    if a.batch_store:
        out["batch_size_onset"] = [
            row for store in a.batch_store for row in batch_size_onset(store, a.inv_sigma)
        ]
    if a.gd_store:
        out.update(gd_onset(sweep.load(a.gd_store), a.inv_sigma))
    if a.sharpness:
        out["sharpness"] = []
        for path in a.sharpness:
            with open(path) as f:
                out["sharpness"] += json.load(f)
    if a.data_dir:
        d = Path(a.data_dir)
        d.mkdir(parents=True, exist_ok=True)
        for path in [a.column, *a.convergence, a.grid, a.gd_store]:
            if path:
                write_compact(sweep.load(path), d / (Path(path).name.removesuffix(".zarr") + ".nc"))
        for store in a.batch_store:
            for B, child in sweep.batch_stores(store).items():
                name = Path(store).name.removesuffix(".zarr") + f"-b{B}.nc"
                write_compact(sweep.load(child), d / name)
    return out


def _figures(summary_path, out_dir, grid_data=None) -> list[Path]:
    """Write the reproduction's figures from its summary (and the grid's compact data)."""
    from dysonsgd.plot import reproduction as fig

    with open(summary_path) as fh:
        d = json.load(fh)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig.column_figure(d["column"], out / "reproduction-column.png")
    fig.convergence_figure(d["convergence"], out / "reproduction-convergence.png")
    written += [out / "reproduction-column.png", out / "reproduction-convergence.png"]
    if d.get("batch_size_onset"):
        fig.onset_figure(d["batch_size_onset"], out / "reproduction-onset.png",
                         d.get("gd_onset_lr"))  # fmt: skip
        written.append(out / "reproduction-onset.png")
    if d.get("sharpness"):
        fig.sharpness_figure(d["sharpness"], out / "reproduction-sharpness.png")
        written.append(out / "reproduction-sharpness.png")
    if grid_data:
        import xarray as xr

        from dysonsgd.plot.phase import plot_store

        with xr.open_dataset(grid_data, engine="scipy") as ds:
            written += plot_store(ds.load(), out / "reproduction-grid", formats=("png",))
    return written


#: One-letter phase labels of the tables.
_ABBREV = {"ordered": "o", "crossover": "c", "high-temperature": "h", "disordered": "d",
           "undetermined": "u"}  # fmt: skip


def _g(v, fmt: str = ".3g") -> str:
    if v is None:
        return "--"
    if isinstance(v, float) and not math.isfinite(v):
        return "--"
    return format(v, fmt)


def _tc_cell(tc, err) -> str:
    """``tc [16 %, 84 %]`` from the summary's tc68 and its bootstrap quantiles of log2 tc."""
    if tc is None:
        return "outside the grid"
    if not err:
        return _g(tc)
    lo, hi = err.get("log2_tc_16"), err.get("log2_tc_84")

    def q(v):
        if v is None or v <= -59:
            return "below grid"
        if v >= 59:
            return "above grid"
        return _g(2.0**v)

    return f"{_g(tc)} [{q(lo)}, {q(hi)}]"


def tables(d: dict) -> str:
    """The Markdown tables of docs/reproduction.md from a summary (``summary`` subcommand).

    Parameters
    ----------
    d : dict
        The summary JSON, as :func:`main` ``summary`` writes it.

    Returns
    -------
    str
    """
    out = []
    c = d["column"]
    out.append(f"Column 1/sigma_W = {c['inv_sigma_w']:g}, {c['epochs']:,} epochs, "
               f"{c['seeds']} seeds\n")  # fmt: skip
    out.append("| T | final loss (median [16 %, 84 %]) | test loss | gradient norm | "
               "phase (hot seeds) | ordered, exact | ordered, paper |")  # fmt: skip
    out.append("|---|---|---|---|---|---|---|")
    for k, T in enumerate(c["T"]):
        ph = c.get("phase", [""] * len(c["T"]))[k]
        hot = c.get("high_temperature_fraction", [None] * len(c["T"]))[k]
        hot_s = "" if hot is None else f" ({round(hot * c['seeds'])}/{c['seeds']})"
        loss = (
            f"{_g(c['final_loss_median'][k], '.2e')} [{_g(c['final_loss_16'][k], '.1e')}, "
            f"{_g(c['final_loss_84'][k], '.1e')}]"
        )
        fe = _g(c["ordered_fraction_exact"][k], ".2f")
        fp = _g(c["ordered_fraction_paper"][k], ".2f")
        out.append(
            f"| {T:g} | {loss} | {_g(c['test_loss_median'][k], '.2e')} | "
            f"{_g(c['grad_norm_median'][k], '.2e')} | {ph}{hot_s} | {fe} | {fp} |"
        )
    out.append("")
    out.append("| epochs | seeds | tc68, exact [16 %, 84 %] | tc68, paper [16 %, 84 %] | "
               "advise T_max(0.68), exact | advise T_max(0.68), paper |")  # fmt: skip
    out.append("|---|---|---|---|---|---|")
    for r in d["convergence"]:
        out.append(
            f"| {r['epochs']:,} | {r['seeds']} | "
            f"{_tc_cell(r['tc68_exact'], r.get('tc68_exact_error'))} | "
            f"{_tc_cell(r['tc68_paper'], r.get('tc68_paper_error'))} | "
            f"{_g(r.get('probe_T_max68_exact'))} | {_g(r.get('probe_T_max68_paper'))} |"
        )
    if "grid" in d:
        g = d["grid"]
        out.append("")
        out.append(
            f"Grid: {g['epochs']:,} epochs, {g['seeds']} seeds, {g['cells_done']} of "
            f"{g['cells']} cells; phases {g['phase_counts']}\n"
        )
        out.append(
            "| 1/sigma_W | tc68, exact | tc68, paper | onset of high-temperature (phase rule) |"
        )
        out.append("|---|---|---|---|")
        for j, inv in enumerate(g["inv_sigma_w"]):
            col = [row[j] for row in g["phases"]]
            hot = [T for T, p in zip(g["T"], col, strict=True) if p == "high-temperature"]
            tcs = [
                f"{g[f'tc{k}_outside'][j]} the grid" if g.get(f"tc{k}_outside", [None] * 99)[j]
                else _g(g[f"tc{k}"][j])
                for k in ("68_exact", "68_paper")
            ]  # fmt: skip
            out.append(f"| {inv:g} | {tcs[0]} | {tcs[1]} | "
                       f"{_g(hot[0]) if hot else 'none on the grid'} |")  # fmt: skip
    if d.get("batch_size_onset"):
        out.append("")
        Ts = " ".join(f"{T:g}" for T in d["batch_size_onset"][0]["T"])
        out.append(f"Phase per T = {Ts}: o ordered, c crossover, h high-temperature, "
                   "d disordered, u undetermined\n")  # fmt: skip
        out.append("| epochs | \\|B\\| | onset T | onset eps = T \\|B\\| | phase per T | "
                   "high-temperature fraction of seeds per T |")  # fmt: skip
        out.append("|---|---|---|---|---|---|")
        for r in d["batch_size_onset"]:
            ph = " ".join(_ABBREV.get(p, p or "-") for p in r["phases"])
            fr = " ".join(_g(f, ".1f") for f in r["high_temperature_fraction"])
            out.append(f"| {r.get('epochs', '')} | {r['batch_size']} | {_g(r['onset_T'])} | "
                       f"{_g(r['onset_lr'])} | "
                       f"{ph} | {fr} |")  # fmt: skip
    if d.get("gd"):
        g = d["gd"]
        out.append("")
        out.append(f"GD onset step: {_g(d.get('gd_onset_lr'))}; phase per eps = "
                   + " ".join(f"{lr:g}" for lr in g["lr"]) + ": "
                   + " ".join(_ABBREV.get(p, p or "-") for p in g["phases"]))  # fmt: skip
    if d.get("sharpness"):
        out.append("")
        out.append(
            "| engine | \\|B\\| | T | eps | eps lambda_max at W0 | eps lambda_max at the "
            "end | saves above 2 | phases | final loss |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in d["sharpness"]:
            lam0 = r["lambda_max_median"][0]
            ph = ", ".join(f"{p} {r['phases'].count(p)}" for p in dict.fromkeys(r["phases"]))
            out.append(
                f"| {r['engine']} | {r['batch_size']} | {r['T']:g} | {r['eps']:g} | "
                f"{_g(None if lam0 is None else r['eps'] * lam0)} | "
                f"{_g(r['eps_lambda_max_final_median'])} | {_g(r['above_edge_fraction'], '.2f')} | "
                f"{ph} | {_g(r['final_loss_median'], '.1e')} |"
            )
    return "\n".join(out) + "\n"


def _numbers(option: str, text: str, kind) -> list:
    """A comma-separated list of numbers, or a ValueError naming the option and the value."""
    try:
        return [kind(v) for v in text.split(",")]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ValueError(f"{option} must be comma-separated {what}, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m dysonsgd.reproduction``: the reproduction's summary, data and scans.

    ``summary --column STORE [--convergence STORE ...] [--grid STORE] [--batch-store STORE]
    [--gd-store STORE] [--sharpness JSON] [--data-dir DIR] [--out JSON]``: the numbers of
    docs/reproduction.md. ``sharpness --T-values ... --batch-sizes ... --out JSON``: the
    top Hessian eigenvalue along training (:func:`sharpness_scan`). ``figures --summary
    JSON [--grid-data NC] --out DIR``: the figures, from the summary alone.
    """
    p = argparse.ArgumentParser(
        prog="python -m dysonsgd.reproduction", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("summary", help="summarise sweep stores (docs/data/reproduction.json)")
    s.add_argument("--column", required=True, help="sweep store of the full-length column")
    s.add_argument("--convergence", nargs="*", default=[], help="stores of shorter runs")
    s.add_argument("--grid", help="sweep store of the whole grid")
    s.add_argument("--batch-store", nargs="*", default=[],
                   help="sweep stores made with --batch-sizes")  # fmt: skip
    s.add_argument("--gd-store", help="sweep store made with --engine gd")
    s.add_argument("--sharpness", nargs="*", default=[], help="JSONs of sharpness scans")
    s.add_argument("--data-dir", help="write every store's compact netCDF here")
    s.add_argument("--inv-sigma", type=float, default=8.0)
    s.add_argument("--out", help="write the JSON here (default: print)")
    h = sub.add_parser("sharpness", help="top Hessian eigenvalue along training vs 2/eps")
    h.add_argument("--T-values", required=True, help="comma-separated temperatures")
    h.add_argument("--batch-sizes", default="4", help="comma-separated batch sizes")
    h.add_argument("--sigma", type=float, default=0.125)
    h.add_argument("--epochs", type=int, default=20)
    h.add_argument("--seeds", type=int, default=4)
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--engine", default="numba")
    h.add_argument(
        "--n-samples",
        type=int,
        default=4000,
        help="training inputs (4096 lets |B| = 1, 4, 16, 64 all divide it)",
    )
    h.add_argument("--out", help="write the JSON here (default: print)")
    t = sub.add_parser("tables", help="the Markdown tables of docs/reproduction.md")
    t.add_argument("--summary", required=True, help="JSON written by summary")
    f = sub.add_parser("figures", help="the figures of docs/reproduction.md from a summary")
    f.add_argument("--summary", required=True, help="JSON written by summary")
    f.add_argument("--grid-data", help="compact netCDF of the grid store (paper Figs 6, 8, 9)")
    f.add_argument("--out", required=True, help="directory for the PNG files")
    a = p.parse_args(argv)
    try:
        if a.what == "tables":
            with open(a.summary) as fh:
                print(tables(json.load(fh)), end="")
            return 0
        if a.what == "figures":
            for path in _figures(a.summary, a.out, a.grid_data):
                print(path)
            return 0
        if a.what == "summary":
            result = _summary(a)
        else:
            T_values = _numbers("--T-values", a.T_values, float)
            batch_sizes = _numbers("--batch-sizes", a.batch_sizes, int)
            result = sharpness_scan(T_values, batch_sizes, sigma_w=a.sigma, epochs=a.epochs,
                                    n_seeds=a.seeds, seed=a.seed, engine=a.engine,
                                    n_samples=a.n_samples)  # fmt: skip
    except (ValueError, FileNotFoundError) as e:  # a user's mistake: bad value, no such file
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:  # tables/figures of a JSON that is not a summary
        msg = (f"Error: {getattr(a, 'summary', '')} is not a summary written by "
               f"'python -m dysonsgd.reproduction summary' (it has no key {e})")  # fmt: skip
        print(msg, file=sys.stderr)
        return 2
    except OSError as e:  # the machine's: unreadable, unwritable, disk full
        print(f"Error: {e}", file=sys.stderr)
        return 1
    text = json.dumps(_finite_or_none(result), indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

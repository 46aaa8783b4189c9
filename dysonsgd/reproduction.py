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

import numpy as np

from dysonsgd.boundaries import _crossing

#: The contour the reproduction reports (paper Fig 8's innermost, 1 sigma).
LEVEL: float = 0.68
#: Bootstrap resamples of the seeds behind every tc68 error.
N_BOOTSTRAP: int = 2000

__all__ = ["LEVEL", "column_summary", "convergence", "main"]


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
        ``ordered_fraction_paper``; and ``tc68_exact``, ``tc68_paper`` (the temperature where
        the fraction first falls below ``level``, linear in log2 T between grid points;
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
        rows.append({k: s[k] for k in keys})
    return sorted(rows, key=lambda r: r["epochs"])


def main(argv: list[str] | None = None) -> int:
    """``python -m dysonsgd.reproduction``: print (or write) the reproduction summary."""
    from dysonsgd import sweep

    p = argparse.ArgumentParser(
        prog="python -m dysonsgd.reproduction", description=__doc__.split("\n")[0]
    )
    p.add_argument("--column", required=True, help="sweep store of the full-length column")
    p.add_argument("--convergence", nargs="*", default=[], help="stores of shorter runs")
    p.add_argument("--inv-sigma", type=float, default=8.0)
    p.add_argument("--out", help="write the JSON here (default: print)")
    a = p.parse_args(argv)
    try:
        col = sweep.load(a.column)
        summary = {"column": column_summary(col, a.inv_sigma)}
        conv = [sweep.load(s) for s in a.convergence] + [col]
        summary["convergence"] = convergence(conv, a.inv_sigma)
    except ValueError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(summary, indent=1, allow_nan=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

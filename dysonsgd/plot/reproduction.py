"""The figures of docs/reproduction.md, drawn from its summary (docs/data/reproduction.json).

Everything here reads the plain-data summary of :mod:`dysonsgd.reproduction`, so a figure is
remade without rerunning anything:

- :func:`column_figure`: the 1/sigma_W = 8 column -- final training loss and gradient norm
  against T (paper Fig 3) and the criterion's ordered fraction with both estimators;
- :func:`convergence_figure`: the 0.68 temperature against the run length;
- :func:`onset_figure`: the onset temperature of the high-temperature phase against the
  batch size, with the lines a fixed-T and a fixed-step onset would follow and GD's onset;
- :func:`sharpness_figure`: the top Hessian eigenvalue along training against 2/eps.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Figs 3 and 8; J. Cohen et al.,
"Gradient descent on neural networks typically occurs at the edge of stability", ICLR 2021.
"""

from __future__ import annotations

import math
import os

import numpy as np

from dysonsgd.plot._base import _pyplot, _save, power_of_two


def _arr(v) -> np.ndarray:
    # JSON null (a non-finite value) -> NaN
    return np.array([math.nan if x is None else x for x in v], dtype=float)


def column_figure(column: dict, path: str | os.PathLike) -> None:
    """Final loss, gradient norm and ordered fraction against T for one column.

    Parameters
    ----------
    column : dict
        ``summary["column"]`` (:func:`dysonsgd.reproduction.column_summary`).
    path : path
        Output file; the suffix gives the format.
    """
    plt = _pyplot()
    T = _arr(column["T"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.7), layout="constrained")
    ax = axes[0]
    ax.fill_between(T, _arr(column["final_loss_16"]), _arr(column["final_loss_84"]),
                    color="C0", alpha=0.25, label="16-84 % of seeds")  # fmt: skip
    ax.plot(T, _arr(column["final_loss_median"]), "o-", color="C0", label="median")
    ax.plot(T, _arr(column["test_loss_median"]), "s--", color="C1", ms=4,
            label="test loss, median")  # fmt: skip
    ax.set_ylabel("final loss")
    ax.legend(fontsize=7)
    axes[1].plot(T, _arr(column["grad_norm_median"]), "o-", color="C2")
    axes[1].set_ylabel("gradient norm (median)")
    ax = axes[2]
    for est, c in (("exact", "C0"), ("paper", "C3")):
        ax.plot(T, _arr(column[f"ordered_fraction_{est}"]), "o-", color=c,
                label=f"{est} estimator")  # fmt: skip
        tc = column.get(f"tc68_{est}")
        if tc is not None and math.isfinite(tc):
            ax.axvline(tc, color=c, lw=0.8, ls=":")
    ax.axhline(0.68, color="k", lw=0.8, ls="--", label="0.68")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("fraction of seeds called ordered")
    ax.legend(fontsize=7)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel(r"$T = \epsilon/|B|$")
    for ax in axes[:2]:
        ax.set_yscale("log")
    fig.suptitle(
        f"1/$\\sigma_W$ = {column['inv_sigma_w']:g}: {column['epochs']:,} epochs, "
        f"{column['seeds']} seeds (dotted: T where the fraction falls below 0.68)",
        fontsize=9,
    )
    _save(fig, path)
    plt.close(fig)


def _log2_err(row: dict, est: str) -> tuple[float, float, float]:
    tc = row.get(f"tc68_{est}")
    err = row.get(f"tc68_{est}_error") or {}
    if tc is None or not math.isfinite(tc) or tc <= 0:
        return math.nan, math.nan, math.nan
    lo, hi = err.get("log2_tc_16"), err.get("log2_tc_84")
    lo = math.nan if lo is None else 2.0**lo
    hi = math.nan if hi is None else 2.0**hi
    return tc, lo, hi


def convergence_figure(convergence: list, path: str | os.PathLike) -> None:
    """The 0.68 temperature of the column against the run length, both estimators.

    Parameters
    ----------
    convergence : list of dict
        ``summary["convergence"]`` (:func:`dysonsgd.reproduction.convergence`).
    path : path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4), layout="constrained")
    E = np.array([r["epochs"] for r in convergence], dtype=float)
    for k, (est, c) in enumerate((("exact", "C0"), ("paper", "C3"))):
        vals = np.array([_log2_err(r, est) for r in convergence])
        x = E * (1.0 + 0.04 * (2 * k - 1))  # side by side
        yerr = np.vstack([vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]])
        ax.errorbar(x, vals[:, 0], yerr=np.where(np.isfinite(yerr), yerr, 0), fmt="o-",
                    color=c, capsize=3, label=f"sweep boundary, {est} estimator")  # fmt: skip
        probe = _arr([r.get(f"probe_T_max68_{est}") for r in convergence])
        if np.any(np.isfinite(probe)):
            ax.plot(E, probe, "x--", color=c, alpha=0.7,
                    label=f"advise's T_max(0.68), {est}")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("epochs")
    ax.set_ylabel(r"$T$ where the ordered fraction falls below 0.68")
    seeds = sorted({r["seeds"] for r in convergence})
    ax.set_title(
        f"convergence in run length (bars: 16-84 % of a seed bootstrap, "
        f"{'/'.join(map(str, seeds))} seeds)",
        fontsize=8,
    )
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def onset_figure(
    batch_size_onset: list, path: str | os.PathLike, gd_onset_lr: float | None = None
) -> None:
    """Onset temperature of the high-temperature phase against the batch size.

    A noise-driven onset sits at one T for every |B| (horizontal); a step-size-driven one
    at one eps = T |B| (slope -1). The noise line passes through the onset at the smallest
    batch size, the step line through that at the largest (of the longest run); GD's onset
    step, if given, is drawn as ``T = eps_GD / |B|``.

    Parameters
    ----------
    batch_size_onset : list of dict
        ``summary["batch_size_onset"]`` (:func:`dysonsgd.reproduction.batch_size_onset`);
        one line per run length (``epochs``). The reference lines go through the longest.
    path : path
    gd_onset_lr : float, optional
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4), layout="constrained")
    Tgrid = np.unique(np.concatenate([_arr(r["T"]) for r in batch_size_onset]))
    lengths = sorted({r.get("epochs") for r in batch_size_onset}, key=lambda e: e or 0)
    for k, E in enumerate(lengths):
        rows = [r for r in batch_size_onset if r.get("epochs") == E]
        B = np.array([r["batch_size"] for r in rows], dtype=float)
        on = _arr([r["onset_T"] for r in rows])
        shift = 1.0 + 0.05 * (k - (len(lengths) - 1) / 2)  # markers side by side
        ax.plot(B * shift, on, "o-", color=f"C{3 + k}", ms=7 - k,
                label=f"SGD, {E:,} epochs: onset (seed vote)" if E else "SGD: onset")  # fmt: skip
    ok = np.nonzero(np.isfinite(on))[0]
    bb = np.geomspace(B.min(), B.max(), 50)
    if len(ok):
        lo, hi = ok[0], ok[-1]  # the noise line through the smallest |B|, the step line
        ax.plot(bb, np.full_like(bb, on[lo]), "k--", lw=0.9,  # through the largest
                label=f"fixed T (noise), through |B| = {B[lo]:g}")  # fmt: skip
        ax.plot(bb, on[hi] * B[hi] / bb, "k:", lw=1.6, zorder=3,
                label=f"fixed step $\\epsilon$, through |B| = {B[hi]:g}")  # fmt: skip
        if gd_onset_lr is not None and math.isfinite(gd_onset_lr):
            ax.plot(bb, gd_onset_lr / bb, "-", color="C0", lw=1.2,
                    label=f"GD onset: $T|B|$ = {power_of_two(gd_onset_lr)}")  # fmt: skip
    for r in batch_size_onset:
        if r["onset_T"] is None:
            ax.annotate("none on grid", (r["batch_size"], Tgrid.max()), fontsize=7)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_ylim(Tgrid.min() / 1.5, Tgrid.max() * 1.5)
    ax.set_xlabel("batch size |B|")
    ax.set_ylabel(r"onset $T = \epsilon/|B|$ (grid value)")
    ax.set_title("where the high-temperature phase starts (grid resolution: factor 2)",
                 fontsize=8)  # fmt: skip
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def sharpness_figure(rows: list, path: str | os.PathLike) -> None:
    """``eps lambda_max`` along training, one panel per batch size (and GD), one curve per T.

    Gradient descent is stable near a minimum only below 2 (the dashed line).

    Parameters
    ----------
    rows : list of dict
        :func:`dysonsgd.reproduction.sharpness_scan`.
    path : path
    """
    plt = _pyplot()
    panels = sorted({(r["engine"] == "gd", r["batch_size"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6),
                             layout="constrained", sharey=True, squeeze=False)  # fmt: skip
    Ts = sorted({r["T"] for r in rows})
    cmap = plt.get_cmap("plasma")
    for ax, (gd, B) in zip(axes[0], panels, strict=True):
        for r in rows:
            if (r["engine"] == "gd", r["batch_size"]) != (gd, B):
                continue
            E = np.array(r["epochs"], dtype=float)
            y = r["eps"] * _arr(r["lambda_max_median"])
            c = cmap(Ts.index(r["T"]) / max(1, len(Ts) - 1) * 0.9)
            x = np.where(E > 0, E, 0.5)  # epoch 0 drawn at 1/2 on the log axis
            ax.plot(x, y, "o-", ms=2.5, color=c, label=f"T={power_of_two(r['T'])}")
        ax.axhline(2.0, color="k", ls="--", lw=0.9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (epoch 0 at 1/2)")
        ax.set_title(("full-batch GD at " if gd else "SGD, ") + f"|B| = {B}", fontsize=9)
    axes[0][0].set_ylabel(r"$\epsilon\,\lambda_{max}$ (median over seeds)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(r"top Hessian eigenvalue along training; GD is stable below "
                 r"$\epsilon\lambda_{max}=2$ (dashed)", fontsize=9)  # fmt: skip
    _save(fig, path)
    plt.close(fig)

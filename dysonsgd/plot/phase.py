"""The paper's phase-diagram figures (Figs 1-9) from a sweep store. matplotlib is imported lazily.

Maps are drawn on the paper's axes: x = 1/sigma_W and y = T, both on log2 scales, one square
per cell. The predicted boundaries (contours of the fraction of seeds the Langevin criterion
calls ordered, at 0.68 / 0.95 / 0.997) and the disorder lines are overlaid where they apply.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Figs 1-9.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dysonsgd.plot._base import _pyplot

#: Reference points of paper Fig 6: (name, T, 1/sigma_W).
REFERENCE_POINTS = (
    ("ordered", 2.0**-5, 8.0),
    ("high-temperature", 4.0, 8.0),
    ("disordered", 2.0**-5, 2.0**-8),
)

FORMATS = ("png", "pdf")


def soft_spin_density(f: np.ndarray, s2: float) -> np.ndarray:
    """tanh soft-spin density ``exp(-artanh(f)^2/(2 s^2)) / ((1 - f^2) sqrt(2 pi s^2))``.

    The density of ``f = tanh(z)`` for ``z ~ N(0, s^2)`` (SPEC section 2): single-peaked at 0
    for ``s^2 < 1/2``, peaked at +-1 above.
    """
    f = np.asarray(f, dtype=np.float64)
    return np.exp(-(np.arctanh(f) ** 2) / (2 * s2)) / ((1 - f * f) * math.sqrt(2 * math.pi * s2))


def _edges(centres: np.ndarray) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def _axes_log2(ds):
    """x = log2(1/sigma_W) ascending (columns reordered), y = log2 T; and the column order."""
    inv = 1.0 / ds["sigma_w"].values
    order = np.argsort(inv)
    return np.log2(inv[order]), np.log2(ds["T"].values), order


def _label_map(ax, x, y):
    ax.set_xlabel(r"$1/\sigma_W$")
    ax.set_ylabel(r"$T = \epsilon/|B|$")
    ax.set_xticks(x)
    ax.set_xticklabels([f"$2^{{{int(round(v))}}}$" if v == round(v) else f"{2**v:.3g}" for v in x])
    ax.set_yticks(y)
    ax.set_yticklabels([f"$2^{{{int(round(v))}}}$" if v == round(v) else f"{2**v:.3g}" for v in y])
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.tick_params(axis="y", labelsize=7)


def _map(ax, ds, values: np.ndarray, label: str, *, cmap="viridis", vmin=None, vmax=None):
    plt = _pyplot()
    x, y, order = _axes_log2(ds)
    v = np.asarray(values, dtype=np.float64)[:, order]
    m = ax.pcolormesh(
        _edges(x), _edges(y), np.ma.masked_invalid(v), cmap=cmap, vmin=vmin, vmax=vmax
    )
    plt.colorbar(m, ax=ax, label=label)
    _label_map(ax, x, y)
    return x, y, order


def _overlay_boundaries(ax, ds, *, legend=True, estimators=("exact",)):
    from dysonsgd import boundaries

    x, y, order = _axes_log2(ds)
    handles = []
    if len(x) >= 2 and len(y) >= 2:
        for est, style in (("exact", "-"), ("paper", "--")):
            if est not in estimators:
                continue
            frac = boundaries.ordered_fraction(ds, est).values[:, order]
            if not np.all(np.isfinite(frac)):
                continue
            cs = ax.contour(
                x, y, frac, levels=list(boundaries.LEVELS), colors=["w", "0.7", "0.4"],
                linestyles=style, linewidths=1.2,
            )  # fmt: skip
            if est == "exact":
                ax.clabel(cs, fmt="%g", fontsize=6)
    lines = boundaries.disorder_lines(ds)
    h = ax.axvline(np.log2(lines["paper"]), color="r", lw=1.2, label=r"$1/\sigma_W=\sqrt{2}$")
    handles.append(h)
    if "actual" in lines:
        h = ax.axvline(
            np.log2(lines["actual"]), color="r", lw=1.0, ls=":",
            label=r"$\sigma_W\,\mathrm{rms}(a)=1/\sqrt{2}$",
        )  # fmt: skip
        handles.append(h)
    if legend:
        ax.legend(handles=handles, fontsize=6, loc="lower left")


def _mean_over_seeds(ds, name: str) -> np.ndarray:
    return np.asarray(ds[name].mean("seed").values)


def _save(fig, out: Path, stem: str, formats) -> list[Path]:
    paths = []
    for fmt in formats:
        p = out / f"{stem}.{fmt}"
        fig.savefig(p, dpi=110, bbox_inches="tight")
        paths.append(p)
    _pyplot().close(fig)
    return paths


def _nearest_cell(ds, T: float, inv_sigma: float) -> tuple[int, int]:
    i = int(np.argmin(np.abs(np.log2(ds["T"].values) - math.log2(T))))
    j = int(np.argmin(np.abs(np.log2(1.0 / ds["sigma_w"].values) - math.log2(inv_sigma))))
    return i, j


def plot_store(ds, out_dir: str | os.PathLike, formats=FORMATS) -> list[Path]:
    """Write the figures of a sweep store into ``out_dir`` (created if missing).

    Files (each as PNG and PDF): ``fig1_soft_spin``, ``fig2_test_loss``,
    ``fig3_loss_gradient_vs_T``, ``fig4_overlap_G``, ``fig5_alignment``,
    ``fig6_eigenvalue_flows``, ``fig7_spacing_growth``, ``fig8_criterion_boundary``,
    ``fig9_phases``.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`dysonsgd.sweep.load`.
    out_dir : path
    formats : sequence of str

    Returns
    -------
    list of Path
    """
    from dysonsgd import boundaries

    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    attrs = ds.attrs
    cfg_note = ""
    if "dysonsgd_sweep" in attrs:
        import json

        cfg = json.loads(attrs["dysonsgd_sweep"])
        cfg_note = (
            f"{cfg['epochs']} epochs x {cfg['network']['n_batches']} batches, "
            f"{cfg['n_seeds']} seeds"
        )

    # Fig 1: soft spins.
    fig, ax = plt.subplots(figsize=(4.5, 3.3))
    f = np.linspace(-0.999, 0.999, 801)
    for s2 in (0.1, 0.3, 0.5, 0.7, 1.0, 2.0):
        ax.plot(f, soft_spin_density(f, s2), label=f"$s^2={s2:g}$", lw=1.4 if s2 == 0.5 else 1)
    ax.set_xlabel("$f = \\tanh z$, $z \\sim N(0, s^2)$")
    ax.set_ylabel("$p(f)$")
    ax.set_ylim(0, 3)
    ax.set_title(r"soft spins: $\sigma_c^2 = 1/2$", fontsize=9)
    ax.legend(fontsize=7)
    written += _save(fig, out, "fig1_soft_spin", formats)

    # Fig 2: test loss map.
    fig, ax = plt.subplots(figsize=(5, 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        _map(ax, ds, np.log10(_mean_over_seeds(ds, "test_loss")), r"$\log_{10}$ test loss")
    _overlay_boundaries(ax, ds)
    ax.set_title(f"test loss ({cfg_note})", fontsize=8)
    written += _save(fig, out, "fig2_test_loss", formats)

    # Fig 3: final loss and gradient norm vs T, one line per 1/sigma_W.
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
    T = ds["T"].values
    inv = 1.0 / ds["sigma_w"].values
    cmap = plt.get_cmap("viridis")
    for k, j in enumerate(np.argsort(inv)):
        col = cmap(k / max(1, len(inv) - 1))
        for ax, name in zip(axes, ("final_loss", "grad_norm"), strict=True):
            v = ds[name].isel(sigma_w=j).mean("seed").values
            ax.plot(T, v, "o-", ms=3, color=col, label=f"$1/\\sigma_W={inv[j]:g}$")
    for ax, lab in zip(axes, ("final training loss", "gradient norm"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("$T$")
        ax.set_ylabel(lab)
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(f"seed means ({cfg_note})", fontsize=8)
    written += _save(fig, out, "fig3_loss_gradient_vs_T", formats)

    # Fig 4, 5: overlap and alignment maps.
    for stem, name, lab in (
        ("fig4_overlap_G", "overlap_G", "$G(t_f, 0)$"),
        ("fig5_alignment", "alignment_per_sample", "alignment / $n_{test}$ (cosine / 128)"),
    ):
        fig, ax = plt.subplots(figsize=(5, 4))
        _map(ax, ds, _mean_over_seeds(ds, name), lab)
        _overlay_boundaries(ax, ds)
        ax.set_title(f"{lab} ({cfg_note})", fontsize=8)
        written += _save(fig, out, stem, formats)

    # Fig 6: eigenvalue flows at the three reference points (nearest cells of the grid).
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    epochs = ds["epoch"].values
    for ax, (name, Tr, invr) in zip(axes, REFERENCE_POINTS, strict=True):
        i, j = _nearest_cell(ds, Tr, invr)
        cell = ds.isel(T=i, sigma_w=j)
        ev = cell["eigenvalues"].values[0]  # seed 0, (n_saves, K)
        if np.all(np.isfinite(ev)):
            ax.plot(epochs, ev, color="C0", lw=0.9)
            for xt in cell["teacher_eigenvalues"].values[0]:
                ax.axhline(xt, color="0.5", lw=0.6, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(
            f"{name}: $T$={float(cell['T']):g}, $1/\\sigma_W$={1 / float(cell['sigma_w']):g}",
            fontsize=8,
        )
    axes[0].set_ylabel("eigenvalues of $X = W W^T$")
    fig.suptitle("seed 0; dashed: teacher's eigenvalues", fontsize=8, y=1.02)
    written += _save(fig, out, "fig6_eigenvalue_flows", formats)

    # Fig 7: spacing growth rate.
    fig, ax = plt.subplots(figsize=(5, 4))
    _map(ax, ds, ds["spacing_growth_rate"].values, r"spacing growth $\lambda$ (per epoch)",
         cmap="magma")  # fmt: skip
    _overlay_boundaries(ax, ds)
    written += _save(fig, out, "fig7_spacing_growth", formats)

    # Fig 8: the criterion's ordered fraction with its contours.
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, est in zip(axes, ("exact", "paper"), strict=True):
        _map(ax, ds, boundaries.ordered_fraction(ds, est).values, "fraction ordered",
             cmap="RdBu", vmin=0, vmax=1)  # fmt: skip
        _overlay_boundaries(ax, ds, legend=est == "exact", estimators=("exact", "paper"))
        ax.set_title(f"Langevin criterion, {est} estimator (contours 0.68/0.95/0.997)", fontsize=8)
    written += _save(fig, out, "fig8_criterion_boundary", formats)

    # Fig 9: phases from the observables, with the predicted boundaries.
    phases = boundaries.cell_phases(ds).values
    code = {"ordered": 0.0, "disordered": 1.0, "high-temperature": 2.0}
    v = np.array([[code.get(p, np.nan) for p in row] for row in phases])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    from matplotlib.colors import ListedColormap

    _map(ax, ds, v, "phase: 0 ordered, 1 disordered, 2 high-T",
         cmap=ListedColormap(["#4c72b0", "#999999", "#dd8452"]), vmin=-0.5, vmax=2.5)  # fmt: skip
    _overlay_boundaries(ax, ds)
    ax.set_title(f"phases from the observables ({cfg_note})", fontsize=8)
    written += _save(fig, out, "fig9_phases", formats)
    return written

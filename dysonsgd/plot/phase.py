"""The paper's phase-diagram figures (Figs 1-9) from a sweep store. matplotlib is imported lazily.

Maps are drawn on the paper's axes: x = 1/sigma_W and y = T, both on log2 scales, one square
per cell. The predicted boundaries (contours of the fraction of seeds the Langevin criterion
calls ordered, at 0.68 / 0.95 / 0.997, as in the paper's Fig 8) and the disorder lines are
overlaid where they apply, and a legend under each map says what every line is. The phase map
(Fig 9) is categorical: one colour and one legend entry per label present in the store.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Figs 1-9.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dysonsgd.plot._base import _pyplot, power_of_two

#: Fixed colours of the phase labels (Fig 9); labels not listed take :data:`FALLBACK_COLORS`
#: in sorted order, so a new label of :mod:`dysonsgd.phases` still gets its own entry.
PHASE_COLORS = {
    "ordered": "#4c72b0",
    "disordered": "#999999",
    "high-temperature": "#dd8452",
    "crossover": "#8172b3",
    "undetermined": "#e8dca8",
}
FALLBACK_COLORS = ("#55a868", "#c44e52", "#937860", "#da8bc3", "#64b5cd", "#ccb974")

#: Line styles of the contour levels of the ordered fraction (all white with a dark halo,
#: legible on every colour map).
LEVEL_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)))

#: Reference points of paper Fig 6: (name, T, 1/sigma_W).
REFERENCE_POINTS = (
    ("ordered", 2.0**-5, 8.0),
    ("high-temperature", 4.0, 8.0),
    ("disordered", 2.0**-5, 2.0**-8),
)

FORMATS = ("png", "pdf")


def soft_spin_density(f: np.ndarray, s2: float) -> np.ndarray:
    """tanh soft-spin density ``exp(-artanh(f)^2/(2 s^2)) / ((1 - f^2) sqrt(2 pi s^2))``.

    The density of ``f = tanh(z)`` for ``z ~ N(0, s^2)`` (paper Fig 1): single-peaked at 0
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


def _tick(v: float) -> str:
    return f"$2^{{{int(round(v))}}}$" if abs(v - round(v)) < 1e-9 else f"{2**v:.3g}"


def _label_map(ax, x, y):
    ax.set_xlabel(r"$1/\sigma_W$")
    ax.set_ylabel(r"$T = \epsilon/|B|$")
    ax.set_xticks(x)
    ax.set_xticklabels([_tick(v) for v in x])
    ax.set_yticks(y)
    ax.set_yticklabels([_tick(v) for v in y])
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


def _overlay_boundaries(ax, ds, *, legend=True, estimator="exact"):
    """Contours of the ordered fraction and the disorder lines; legend below the map.

    Returns the legend handles (contour levels first, then the disorder lines).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    from dysonsgd import boundaries

    x, y, order = _axes_log2(ds)
    n_seeds = int(ds.sizes.get("seed", 0))
    resolution = boundaries.level_resolution(max(n_seeds, 1))
    halo = [patheffects.withStroke(linewidth=2.3, foreground="0.15")]
    handles = []
    if len(x) >= 2 and len(y) >= 2:
        frac = boundaries.ordered_fraction(ds, estimator).values[:, order]
        if np.all(np.isfinite(frac)):
            levels = list(boundaries.LEVELS)
            cs = ax.contour(x, y, frac, levels=levels, colors="w", linewidths=1.1,
                            linestyles=list(LEVEL_STYLES[: len(levels)]))  # fmt: skip
            for artist in getattr(cs, "collections", [cs]):
                artist.set_path_effects(halo)
            for lv, ls in zip(levels, LEVEL_STYLES, strict=False):
                note = "" if resolution[f"{lv:g}"]["resolved"] else (
                    f" (needs {resolution[f'{lv:g}']['seeds_needed']} seeds: unresolved)"
                )  # fmt: skip
                handles.append(Line2D([], [], color="w", ls=ls, lw=1.1, path_effects=halo,
                                      label=f"{lv:g}{note}"))  # fmt: skip
    lines = boundaries.disorder_lines(ds)
    h = ax.axvline(np.log2(lines["paper"]), color="r", lw=1.2,
                   label=r"disorder line $1/\sigma_W=\sqrt{2}$ (paper)")  # fmt: skip
    handles.append(h)
    if "actual" in lines:
        h = ax.axvline(
            np.log2(lines["actual"]), color="r", lw=1.0, ls=":",
            label=r"disorder line $\sigma_W\,\mathrm{rms}(a)=1/\sqrt{2}$",
        )  # fmt: skip
        handles.append(h)
    if legend:
        _legend_below(ax, handles, n_seeds, estimator)
    return handles


def _contour_title(n_seeds: int, estimator: str | None = None) -> str:
    est = "" if estimator is None else f" ({estimator} estimator)"
    return (
        f"contours: fraction of a cell's {n_seeds} seeds that the Langevin criterion\n"
        f"$S \\geq T N/\\Delta${est} calls ordered (paper Fig 8)"
    )


def _legend_below(ax, handles, n_seeds: int, estimator: str = "exact"):
    """The overlay legend under a map; its title says what the contour levels are."""
    has_contours = any(str(h.get_label())[:1].isdigit() for h in handles)
    return ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7,
        title=_contour_title(n_seeds, estimator) if has_contours else None, title_fontsize=7,
        frameon=False,
    )  # fmt: skip


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


def phase_colors(labels) -> dict[str, str]:
    """Colour of each phase label: :data:`PHASE_COLORS`, else :data:`FALLBACK_COLORS` in
    sorted order of the unknown labels (cycled if there are more)."""
    unknown = sorted(set(labels) - set(PHASE_COLORS) - {""})
    out = {p: PHASE_COLORS[p] for p in PHASE_COLORS if p in set(labels)}
    for k, p in enumerate(unknown):
        out[p] = FALLBACK_COLORS[k % len(FALLBACK_COLORS)]
    return out


def phase_map(ax, ds, phases: np.ndarray):
    """Categorical map of phase labels, one colour and one legend entry (with its count of
    cells) per label present; ``""`` (cell not computed) is left blank. The predicted
    boundaries are overlaid with their own legend below the map.

    Parameters
    ----------
    ax : matplotlib Axes
    ds : xarray.Dataset
        The sweep store (axes and overlays).
    phases : ndarray of str, shape (n_T, n_sigma_w)
        :func:`dysonsgd.boundaries.cell_phases` values, columns in the store's order.

    Returns
    -------
    matplotlib.legend.Legend
        The phase legend (the overlay legend is ``ax.get_legend()``).
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    x, y, order = _axes_log2(ds)
    labels = np.asarray(phases, dtype=str)[:, order]
    colors = phase_colors(labels.ravel().tolist())
    names = list(colors)
    code = {p: float(k) for k, p in enumerate(names)}
    v = np.array([[code.get(p, np.nan) for p in row] for row in labels])
    n = max(len(names), 1)
    cmap = ListedColormap([colors[p] for p in names] or ["#ffffff"])
    ax.pcolormesh(_edges(x), _edges(y), np.ma.masked_invalid(v), cmap=cmap,
                  norm=BoundaryNorm(np.arange(-0.5, n), n))  # fmt: skip
    _label_map(ax, x, y)
    handles = [
        Patch(facecolor=colors[p], edgecolor="0.3", label=f"{p} ({int(np.sum(labels == p))})")
        for p in names
    ]
    if np.any(labels == ""):
        handles.append(Patch(facecolor="w", edgecolor="0.3",
                             label=f"not computed ({int(np.sum(labels == ''))})"))  # fmt: skip
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
                    title="phase (cells)", title_fontsize=7, frameon=False)  # fmt: skip
    ax.add_artist(leg)
    leg.set_clip_on(False)  # add_artist clips to the axes; this legend sits beside them
    _overlay_boundaries(ax, ds)
    return leg


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
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6), layout="constrained")
    T = ds["T"].values
    inv = 1.0 / ds["sigma_w"].values
    cmap = plt.get_cmap("viridis")
    for k, j in enumerate(np.argsort(inv)):
        col = cmap(k / max(1, len(inv) - 1))
        for ax, name in zip(axes, ("final_loss", "grad_norm"), strict=True):
            v = ds[name].isel(sigma_w=j).mean("seed").values
            ax.plot(T, v, "o-", ms=3, color=col, label=power_of_two(inv[j]))
    for ax, lab in zip(axes, ("final training loss", "gradient norm"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"$T = \epsilon/|B|$")
        ax.set_ylabel(lab)
    axes[1].legend(fontsize=7, title=r"$1/\sigma_W$", title_fontsize=8, loc="center left",
                   bbox_to_anchor=(1.02, 0.5), ncol=1 if len(inv) <= 8 else 2)  # fmt: skip
    fig.suptitle(f"seed means ({cfg_note})", fontsize=9)
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
    from dysonsgd.plot._base import eigenvalue_flow_axes, level_colorbar, width_label

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.9), layout="constrained")
    epochs = ds["epoch"].values
    K = ds["eigenvalues"].shape[-1]
    handles = []
    for k, (ax, (name, Tr, invr)) in enumerate(zip(axes, REFERENCE_POINTS, strict=True)):
        i, j = _nearest_cell(ds, Tr, invr)
        cell = ds.isel(T=i, sigma_w=j)
        ev = cell["eigenvalues"].values  # (seed, n_saves, K)
        head = (f"{name}: $T$ = {power_of_two(float(cell['T']))}, "
                f"{width_label(float(cell['sigma_w']))}")  # fmt: skip
        if np.all(np.isfinite(ev[0])):
            handles = eigenvalue_flow_axes(
                ax, epochs, ev, cell["teacher_eigenvalues"].values, title=head, legend=False
            )
            ax.title.set_fontsize(9)
        else:
            ax.set_title(head + " (not computed)", fontsize=9)
            ax.set_xlabel("epoch")
        if k:
            ax.set_ylabel("")
    level_colorbar(fig, axes, K)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8,
                   frameon=False)  # fmt: skip
    fig.suptitle(f"eigenvalue flows at the paper's reference points ({cfg_note})", fontsize=9)
    written += _save(fig, out, "fig6_eigenvalue_flows", formats)

    # Fig 7: spacing growth rate.
    fig, ax = plt.subplots(figsize=(5, 4))
    _map(ax, ds, ds["spacing_growth_rate"].values, r"spacing growth $\lambda$ (per epoch)",
         cmap="magma")  # fmt: skip
    _overlay_boundaries(ax, ds)
    ax.set_title(f"growth rate of the mean eigenvalue spacing ({cfg_note})", fontsize=8)
    written += _save(fig, out, "fig7_spacing_growth", formats)

    # Fig 8: the criterion's ordered fraction with its contours, one estimator per panel.
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), layout="constrained")
    for ax, est in zip(axes, ("exact", "paper"), strict=True):
        _map(ax, ds, boundaries.ordered_fraction(ds, est).values,
             "fraction of seeds called ordered", cmap="RdBu", vmin=0, vmax=1)  # fmt: skip
        handles = _overlay_boundaries(ax, ds, estimator=est, legend=False)
        ax.set_title(f"Langevin criterion $S \\geq TN/\\Delta$, {est} estimator", fontsize=8)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7, frameon=False,
               title=_contour_title(int(ds.sizes.get("seed", 0))).replace("\n", " "),
               title_fontsize=7)  # fmt: skip
    fig.suptitle(cfg_note, fontsize=8)
    written += _save(fig, out, "fig8_criterion_boundary", formats)

    # Fig 9: phases from the observables, with the predicted boundaries.
    fig, ax = plt.subplots(figsize=(5.5, 4))
    phase_map(ax, ds, boundaries.cell_phases(ds).values)
    ax.set_title(f"phases from the observables ({cfg_note})", fontsize=8)
    written += _save(fig, out, "fig9_phases", formats)
    return written

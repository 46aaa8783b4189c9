"""Figure of a theory-vs-SGD comparison (:func:`dysonsgd.compare.compare`).

matplotlib is imported lazily through :mod:`dysonsgd.plot._base`; nothing numerical is computed
here beyond histogram binning.
"""

from __future__ import annotations

import os

import numpy as np


def comparison_figure(comp, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Four panels: both eigenvalue flows, final eigenvalues, unfolded spacings, ratios.

    Top row: x_i(t) of SGD (left) and of the Langevin network model (right) on the same axes
    (log scale, Langevin time ``t = eps x steps``): seed 0 coloured by level index (one colour
    key for both), its teacher's eigenvalues dashed in the same colours, the other seeds faint
    grey; the legend says which is which. Bottom row: the
    final eigenvalue histograms of both ensembles overlaid (log-spaced bins); the pooled
    unfolded spacings with the Wigner surmise and ``exp(-s)``; the pooled spacing ratios with
    the GOE surmise and the Poisson law.

    Parameters
    ----------
    comp : dysonsgd.compare.Comparison
    path : str or PathLike
        Output file; the format comes from the suffix (.png, .pdf, .svg).
    title : str, optional
        Figure title (default: the cell and the two phases).
    """
    from dysonsgd import spectra
    from dysonsgd.plot import _base as _plot

    plt = _plot._pyplot()
    fig = plt.figure(figsize=(12.5, 8.4), layout="constrained")
    gs = fig.add_gridspec(2, 6)
    ax_s = fig.add_subplot(gs[0, :3])
    ax_l = fig.add_subplot(gs[0, 3:], sharex=ax_s, sharey=ax_s)
    ax_h = fig.add_subplot(gs[1, :2])
    ax_sp = fig.add_subplot(gs[1, 2:4])
    ax_r = fig.add_subplot(gs[1, 4:])

    teacher = comp.teacher_eigenvalues
    for ax, ens, label in ((ax_s, comp.sgd, "SGD"), (ax_l, comp.langevin, "Langevin model")):
        # systems the integrator stopped are not drawn (their frozen state is no prediction)
        flow = np.where(np.isfinite(ens.eigenvalues), ens.eigenvalues, np.nan)[ens.used]
        seeds = np.flatnonzero(ens.used)
        n_out = int(np.sum(~ens.used))
        if seeds.size == 0:
            ax.set_title(f"{label}: every system stopped, nothing drawn", fontsize=10)
            continue
        _plot.eigenvalue_flow_axes(
            ax, comp.times, flow, teacher[ens.used], seed_labels=seeds,
            xlabel=r"Langevin time $t = \epsilon \times$ SGD steps", legend=ax is ax_s,
            title=f"{label}: {ens.phase} (majority of seeds)"
            + (f", {n_out} stopped, not drawn" if n_out else ""),
        )  # fmt: skip
    ax_l.set_ylabel("")
    _plot.level_colorbar(fig, [ax_s, ax_l], comp.sgd.eigenvalues.shape[-1])

    # final eigenvalue distributions, shared log-spaced bins
    xs, xl = comp.sgd.final[comp.sgd.used], comp.langevin.final[comp.langevin.used]
    both = np.concatenate([xs.ravel(), xl.ravel(), teacher.ravel()])
    both = both[np.isfinite(both) & (both > 0)]
    bins = np.geomspace(both.min() * 0.9, both.max() * 1.1, 25)
    kw = dict(bins=bins, histtype="step", lw=1.5, density=False)
    ax_h.hist(xs[np.isfinite(xs)], label="SGD", color="C0", **kw)
    ax_h.hist(xl[np.isfinite(xl)], label="Langevin", color="C3", **kw)
    ax_h.hist(teacher.ravel(), label="teacher", color="0.5", ls="--", **kw)
    ax_h.set_xscale("log")
    ax_h.set_xlabel(r"final eigenvalues $x_i$")
    ax_h.set_ylabel("count (all seeds)")
    d = comp.final_distance
    ax_h.set_title(
        f"final eigenvalues, SGD vs Langevin: KS D = {d.ks_statistic:.2f}, "
        f"W1 = {d.wasserstein:.3g}", fontsize=9,
    )  # fmt: skip
    ax_h.legend(fontsize=8)

    # unfolded spacings with the Wigner surmise
    s_grid = np.linspace(0, 4, 200)
    sb = np.linspace(0, 4, 17)
    for ens, col in ((comp.sgd, "C0"), (comp.langevin, "C3")):
        s = ens.statistics.spacings
        if s.size:
            ax_sp.hist(s, bins=sb, density=True, histtype="step", lw=1.5, color=col,
                       label=f"{'SGD' if ens.name == 'sgd' else 'Langevin'}")  # fmt: skip
    ax_sp.plot(s_grid, spectra.wigner_surmise.pdf(s_grid), "k-", lw=1, label="Wigner (GOE)")
    ax_sp.plot(s_grid, spectra.poisson_spacing.pdf(s_grid), "k:", lw=1, label="Poisson")
    ax_sp.set_xlabel("unfolded spacing s (per-spectrum polynomial)")
    ax_sp.set_ylabel("P(s)")
    ax_sp.set_title("nearest-neighbour spacings of the final spectra", fontsize=9)
    ax_sp.legend(fontsize=8)

    # spacing ratios with the GOE surmise
    r_grid = np.linspace(0, 1, 200)
    rb = np.linspace(0, 1, 11)
    for ens, col in ((comp.sgd, "C0"), (comp.langevin, "C3")):
        r = ens.statistics.spacing_ratios
        st = ens.statistics
        if r.size:
            ax_r.hist(r, bins=rb, density=True, histtype="step", lw=1.5, color=col,
                      label=f"{'SGD' if ens.name == 'sgd' else 'Langevin'} "
                            f"<r> = {st.mean_ratio:.3f}")  # fmt: skip
    ax_r.plot(r_grid, spectra.goe_ratio.pdf(r_grid), "k-", lw=1, label="GOE surmise (0.536)")
    ax_r.plot(r_grid, spectra.poisson_ratio.pdf(r_grid), "k:", lw=1, label="Poisson (0.386)")
    ax_r.set_xlabel("spacing ratio r")
    ax_r.set_ylabel("P(r)")
    dr = comp.ratio_distance
    ax_r.set_title(
        f"spacing ratios, SGD vs Langevin: KS D = {dr.ks_statistic:.2f} "
        f"(p = {dr.ks_pvalue:.2g})", fontsize=9,
    )  # fmt: skip
    ax_r.legend(fontsize=7)

    if title is None:
        title = (
            f"$T$ = {_plot.power_of_two(comp.temperature)}, {_plot.width_label(comp.sigma_w)}, "
            f"{comp.epochs} epochs x {comp.config.n_batches} batches, {comp.n_seeds} seeds"
        )
    fig.suptitle(title)
    _plot._save(fig, path)
    plt.close(fig)

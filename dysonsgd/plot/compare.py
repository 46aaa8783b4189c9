"""Figure of the theory-vs-SGD ladder (:func:`dysonsgd.compare.compare`).

matplotlib is imported lazily through :mod:`dysonsgd.plot._base`; nothing numerical is computed
here beyond histogram binning.
"""

from __future__ import annotations

import os

import numpy as np

#: Colour and display name of each rung, in ladder order.
RUNG_STYLE: dict[str, tuple[str, str]] = {
    "sgd": ("k", "SGD"),
    "gd": ("C0", "GD (no noise, step eps)"),
    "sde": ("C2", "SDE of SGD"),
    "dbm_rotating": ("C1", "DBM, rotating vectors"),
    "dbm_frozen": ("C3", "DBM, frozen vectors"),
}


def comparison_figure(comp, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Every rung's eigenvalue flow on shared axes, then how the rungs differ.

    Top row: x_i(t) of each rung, one panel per rung on the same axes (log scale, Langevin
    time ``t = eps x steps``): seed 0 coloured by level index (one colour key for all), its
    teacher's eigenvalues dashed in the same colours, the other seeds faint grey; the title
    gives the rung's phase. Bottom row: the mean top eigenvalue <x_1>(t) of every rung with its
    seed spread (the teacher's mean x*_1 dashed); the 1-Wasserstein distance of each rung's
    pooled eigenvalues to SGD's at every save; the final eigenvalue histograms; the pooled
    spacing ratios with the GOE surmise and the Poisson law.

    Parameters
    ----------
    comp : dysonsgd.compare.Comparison
    path : str or PathLike
        Output file; the format comes from the suffix (.png, .pdf, .svg).
    title : str, optional
        Figure title (default: the cell, epochs and seeds).
    """
    from dysonsgd import spectra
    from dysonsgd.plot import _base as _plot

    plt = _plot._pyplot()
    n = len(comp.rungs)
    fig = plt.figure(figsize=(max(12.5, 3.4 * n), 8.6), layout="constrained")
    gs = fig.add_gridspec(2, 4 * n)
    top = []
    for i in range(n):
        share = top[0] if top else None
        top.append(fig.add_subplot(gs[0, 4 * i : 4 * i + 4], sharex=share, sharey=share))
    w = n  # the bottom row: four panels of width n each
    ax_m = fig.add_subplot(gs[1, 0:w])
    ax_w = fig.add_subplot(gs[1, w : 2 * w], sharex=ax_m)
    ax_h = fig.add_subplot(gs[1, 2 * w : 3 * w])
    ax_r = fig.add_subplot(gs[1, 3 * w : 4 * w])

    teacher = comp.teacher_eigenvalues
    K = teacher.shape[-1]
    for ax, ens in zip(top, comp.rungs, strict=True):
        label = RUNG_STYLE.get(ens.name, ("k", ens.name))[1]
        # systems the integrator stopped are not drawn (their frozen state is no prediction)
        flow = np.where(np.isfinite(ens.eigenvalues), ens.eigenvalues, np.nan)[ens.used]
        seeds = np.flatnonzero(ens.used)
        n_out = int(np.sum(~ens.used))
        if seeds.size == 0:
            ax.set_title(f"{label}: every system stopped, nothing drawn", fontsize=9)
            continue
        _plot.eigenvalue_flow_axes(
            ax, comp.times, flow, teacher[ens.used], seed_labels=seeds,
            xlabel=r"Langevin time $t = \epsilon \times$ steps", legend=ax is top[0],
            title=f"{label}\n{ens.phase} (majority of seeds)"
            + (f", {n_out} stopped" if n_out else ""),
        )  # fmt: skip
        ax.title.set_fontsize(9)
        if ax is not top[0]:
            ax.set_ylabel("")
    _plot.level_colorbar(fig, top, K)

    # mean top eigenvalue with its spread, and the distance to SGD, per save point
    t = comp.times
    for ens in comp.rungs:
        col, label = RUNG_STYLE.get(ens.name, ("k", ens.name))
        m, s = ens.mean[:, 0], ens.std[:, 0]
        ax_m.plot(t, m, color=col, lw=1.6, label=label)
        ax_m.fill_between(t, np.maximum(m - s, 0), m + s, color=col, alpha=0.15, lw=0)
    ax_m.axhline(float(np.mean(teacher[:, 0])), color="0.4", ls="--", lw=1,
                 label=r"teacher $\langle x^*_1 \rangle$")  # fmt: skip
    ax_m.set_yscale("log")
    ax_m.set_xlabel(r"Langevin time $t$")
    ax_m.set_ylabel(r"$\langle x_1 \rangle$ (band: $\pm$ 1 sd over seeds)")
    ax_m.set_title("top eigenvalue, every rung", fontsize=9)
    ax_m.legend(fontsize=7)
    for d in comp.distances_to_sgd:
        col, label = RUNG_STYLE.get(d.rung, ("k", d.rung))
        ax_w.plot(t, [p.wasserstein for p in d.per_save_point], color=col, marker=".",
                  label=label)  # fmt: skip
    ax_w.set_xlabel(r"Langevin time $t$")
    ax_w.set_ylabel(r"$W_1$ to SGD (pooled eigenvalues)")
    ax_w.set_title("distance of each rung's spectrum to SGD's", fontsize=9)
    if comp.distances_to_sgd:
        ax_w.set_yscale("symlog", linthresh=1e-3)
        ax_w.legend(fontsize=7)

    # final eigenvalue distributions, shared log-spaced bins
    finals = [e.final[e.used] for e in comp.rungs]
    both = np.concatenate([f.ravel() for f in finals] + [teacher.ravel()])
    both = both[np.isfinite(both) & (both > 0)]
    bins = np.geomspace(both.min() * 0.9, both.max() * 1.1, 25)
    kw = dict(bins=bins, histtype="step", lw=1.4, density=False)
    for ens, f in zip(comp.rungs, finals, strict=True):
        col, label = RUNG_STYLE.get(ens.name, ("k", ens.name))
        f = f[np.isfinite(f) & (f > 0)]
        if f.size:
            ax_h.hist(f, color=col, label=label, **kw)
    ax_h.hist(teacher.ravel(), label="teacher", color="0.5", ls="--", **kw)
    ax_h.set_xscale("log")
    ax_h.set_xlabel(r"final eigenvalues $x_i$")
    ax_h.set_ylabel("count (all seeds)")
    ax_h.set_title("final spectra", fontsize=9)
    ax_h.legend(fontsize=7)

    # spacing ratios with the GOE surmise
    r_grid = np.linspace(0, 1, 200)
    rb = np.linspace(0, 1, 11)
    for ens in comp.rungs:
        col, label = RUNG_STYLE.get(ens.name, ("k", ens.name))
        r = ens.statistics.spacing_ratios
        if r.size:
            ax_r.hist(r, bins=rb, density=True, histtype="step", lw=1.4, color=col,
                      label=f"{label}: <r> = {ens.statistics.mean_ratio:.3f}")  # fmt: skip
    ax_r.plot(r_grid, spectra.goe_ratio.pdf(r_grid), "k-", lw=0.8, alpha=0.6,
              label="GOE surmise (0.536)")  # fmt: skip
    ax_r.plot(r_grid, spectra.poisson_ratio.pdf(r_grid), "k:", lw=0.8,
              label="Poisson (0.386)")  # fmt: skip
    ax_r.set_xlabel("spacing ratio r (final spectra)")
    ax_r.set_ylabel("P(r)")
    ax_r.set_title("level repulsion", fontsize=9)
    ax_r.legend(fontsize=6)

    if title is None:
        title = (
            f"$T$ = {_plot.power_of_two(comp.temperature)}, {_plot.width_label(comp.sigma_w)}, "
            f"{comp.epochs} epoch{'s' if comp.epochs != 1 else ''} x "
            f"{comp.config.n_batches} batches, {comp.n_seeds} seeds, "
            f"SGD batches: {comp.sampling}"
        )
    fig.suptitle(title)
    _plot._save(fig, path)
    plt.close(fig)

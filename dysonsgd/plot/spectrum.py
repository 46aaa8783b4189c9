"""Figures of ``dysonsgd spectrum``.

matplotlib is imported lazily through :mod:`dysonsgd.plot._base`. Nothing is computed here that
:func:`dysonsgd.spectrum_report.analyse_matrix` has not already computed and tested, except
evaluating the laws on a grid for drawing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from dysonsgd import spectra

#: More matrices than this go into one figure per matrix instead of one row each.
MAX_ROWS = 6


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "matrix"


def figure_paths(names: list[str], path: str | os.PathLike) -> list[Path]:
    """The file(s) :func:`spectrum_figure` writes for these matrices.

    Up to ``MAX_ROWS`` matrices: ``path`` itself (one row per matrix). More: one file per
    matrix, ``<stem>-<index>-<name><suffix>`` beside ``path``.
    """
    p = Path(path)
    if len(names) <= MAX_ROWS:
        return [p]
    return [p.with_name(f"{p.stem}-{i}-{_safe(n)}{p.suffix}") for i, n in enumerate(names)]


def _eigenvalue_axes(ax, rep) -> None:
    x = rep.eigenvalues
    law = rep.mp_law
    right = float(x.max())
    if law is not None:
        right = max(rep.mp_threshold, float(x[x <= rep.mp_threshold].max(initial=0.0)))
        right *= 1.15
    shown = x[x <= right]
    bins = max(10, min(60, int(np.sqrt(x.size) * 2)))
    # normalised over all n_levels so the fitted law (a density of all levels) overlays it
    weights = np.full(shown.size, 1.0 / (x.size * (right / bins)))
    ax.hist(shown, bins=bins, range=(0.0, right), weights=weights, color="0.75", label="levels")
    if law is not None:
        grid = np.linspace(0.0, right, 800)[1:]
        ax.plot(grid, law.pdf(grid), color="C0", lw=1.4, label=f"MP fit, q={rep.mp_ratio:.3g}")
        ax.axvline(rep.mp_upper_edge, color="C0", ls="--", lw=0.9, label="MP edge")
        ax.axvline(rep.mp_threshold, color="C3", ls=":", lw=0.9, label=f"+{rep.margin:g} TW")
    title = f"{rep.name}  {rep.shape[0]}x{rep.shape[1]}"
    if rep.outlier_singular_values.size:
        out = rep.outlier_singular_values**2
        inside = out[out <= right]
        if inside.size:
            ax.plot(inside, np.zeros_like(inside), "v", color="C3", ms=7, label="outliers")
        beyond = out[out > right]
        if beyond.size:
            txt = ", ".join(f"{v:.3g}" for v in beyond[:3]) + (" ..." if beyond.size > 3 else "")
            title += f"\n{beyond.size} outlier(s) beyond the axis: x = {txt}"
    ax.set_xlim(0.0, right)
    ax.set_xlabel(r"eigenvalue $x$ of $X = WW^T$")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False)


def _spacing_axes(ax, rep) -> None:
    s = rep.unfolded_spacings
    grid = np.linspace(0.0, 4.0, 400)
    if s.size:
        bins = max(6, min(40, int(np.sqrt(s.size) * 1.5)))
        ax.hist(s, bins=bins, range=(0.0, 4.0), density=True, color="0.75")
    ax.plot(grid, spectra.wigner_surmise.pdf(grid), color="C0", label="Wigner (GOE)")
    ax.plot(grid, spectra.poisson_spacing.pdf(grid), color="C1", ls="--", label="Poisson")
    title = f"unfolded spacings ({rep.unfolding})"
    if rep.brody_q is not None:
        title += f", Brody q={rep.brody_q:.2f}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("s")
    ax.legend(fontsize=7, frameon=False)


def _ratio_axes(ax, rep) -> None:
    r = rep.ratios[np.isfinite(rep.ratios)]
    grid = np.linspace(0.0, 1.0, 300)
    if r.size:
        bins = max(5, min(30, int(np.sqrt(r.size) * 1.5)))
        ax.hist(r, bins=bins, range=(0.0, 1.0), density=True, color="0.75")
    ax.plot(grid, spectra.goe_ratio.pdf(grid), color="C0", label="GOE surmise")
    ax.plot(grid, spectra.poisson_ratio.pdf(grid), color="C1", ls="--", label="Poisson")
    if rep.mean_spacing_ratio is not None:
        ax.axvline(rep.mean_spacing_ratio, color="k", lw=1.0, label="<r>")
        title = f"<r> = {rep.mean_spacing_ratio:.3f} +- {rep.mean_spacing_ratio_stderr:.3f}"
    else:
        title = "<r> undefined"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("r")
    ax.legend(fontsize=7, frameon=False)


def spectrum_figure(reports, path: str | os.PathLike) -> list[Path]:
    """Eigenvalue histogram with the MP fit, unfolded spacings, and spacing ratios.

    One row per matrix (up to ``MAX_ROWS``), otherwise one figure per matrix (see
    :func:`figure_paths`).

    Parameters
    ----------
    reports : sequence of dysonsgd.spectrum_report.MatrixReport
    path : str or PathLike
        Output file; the format comes from the suffix (.png, .pdf, .svg).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from dysonsgd.plot import _base as _plot

    plt = _plot._pyplot()
    reports = list(reports)
    paths = figure_paths([r.name for r in reports], path)
    groups = [reports] if len(paths) == 1 else [[r] for r in reports]
    for group, out in zip(groups, paths, strict=True):
        fig, axes = plt.subplots(len(group), 3, figsize=(12.0, 3.2 * len(group)), squeeze=False)
        for row, rep in zip(axes, group, strict=True):
            _eigenvalue_axes(row[0], rep)
            _spacing_axes(row[1], rep)
            _ratio_axes(row[2], rep)
        fig.tight_layout()
        _plot._save(fig, out)
        plt.close(fig)
    return paths

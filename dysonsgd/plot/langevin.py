"""Figure of a Langevin run (``dysonsgd simulate``).

matplotlib is imported lazily through :mod:`dysonsgd.plot._base`.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Fig 6 (eigenvalue flows with the
teacher's eigenvalues dashed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

#: Up to this many seeds the figure has one panel per seed; above it, one panel with seed 0
#: in colour and the others faint.
MAX_PANELS = 4

_REFERENCE = {
    "network": "teacher's eigenvalues $x^*_i$",
    "harmonic": "harmonic targets $x^*_i$",
}


def langevin_flow_figure(
    result,
    path: str | os.PathLike,
    *,
    teacher: np.ndarray | None = None,
    title: str = "",
    sigma_w: float | None = None,
    phases: Sequence[str] | None = None,
) -> None:
    """Eigenvalue flow x_i(t) of a Langevin ensemble (paper Fig 6 style).

    Up to :data:`MAX_PANELS` seeds: one panel per seed (shared axes), each seed's reference
    levels dashed in the colour of the level they belong to. More seeds: one panel, seed 0
    in colour and the others faint grey. A colour key gives the level index ``i``
    (1 = largest); the legend says which lines are the flow and which the references. Works
    for any number of save points (markers at the saves when they are few).

    Parameters
    ----------
    result : dysonsgd.langevin.LangevinResult
    path : str or PathLike
        Output file; the format comes from the suffix (.png, .pdf, .svg).
    teacher : ndarray of float64, shape (n_systems, K) or (K,), optional
        Reference levels drawn dashed (the teacher's eigenvalues, or harmonic targets).
    title : str
        Figure title. Default: the model, ``T`` and ``1/sigma_W`` (when ``sigma_w`` is given)
        in the paper's convention.
    sigma_w : float, optional
        Initial width, written as ``1/sigma_W`` in the default title.
    phases : sequence of str, optional
        Phase of each system (:func:`dysonsgd.phases.classify`), shown per panel.
    """
    from dysonsgd.plot import _base as _plot

    plt = _plot._pyplot()
    flow = np.asarray(result.x, dtype=np.float64)
    n, _, K = flow.shape
    ref_label = _REFERENCE.get(result.model, "reference levels")
    if not title:
        title = _default_title(result, sigma_w, phases)
    stopped = np.asarray(getattr(result, "status", np.zeros(n)), dtype=np.int64) != 0
    xlabel = r"Langevin time $t = \epsilon \times$ SGD steps"

    if n <= MAX_PANELS:
        ncols = n if n <= 2 else 2
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.6 * ncols + 1.4, 3.0 * nrows + 0.6), sharex=True,
            sharey=True, squeeze=False, layout="constrained",
        )  # fmt: skip
        for k, ax in enumerate(axes.ravel()):
            if k >= n:
                ax.set_visible(False)
                continue
            sub = f"seed {k}"
            if phases is not None:
                sub += f": {phases[k]}"
            if stopped[k]:
                sub += " (stopped early)"
            _plot.eigenvalue_flow_axes(
                ax, result.times, flow[k : k + 1], None if teacher is None else
                np.broadcast_to(np.asarray(teacher, dtype=np.float64), (n, K))[k : k + 1],
                title=sub, xlabel=xlabel if k // ncols == nrows - 1 else "",
                seed_labels=[k], reference_label=ref_label, legend=k == 0,
            )  # fmt: skip
            if k % ncols:
                ax.set_ylabel("")
        _plot.level_colorbar(fig, axes, K)
    else:
        fig, ax = plt.subplots(figsize=(7.2, 4.6), layout="constrained")
        _plot.eigenvalue_flow_axes(
            ax, result.times, flow, teacher, xlabel=xlabel, reference_label=ref_label,
            title=f"seed 0{'' if phases is None else ': ' + phases[0]} in colour, "
            f"{n - 1} others grey",
        )  # fmt: skip
        _plot.level_colorbar(fig, ax, K)
    fig.suptitle(title, fontsize=11)
    _plot._save(fig, path)
    plt.close(fig)


def _default_title(result, sigma_w, phases) -> str:
    from dysonsgd.plot._base import power_of_two, width_label

    parts = [f"Langevin {result.model} model: $T$ = {power_of_two(result.temperature)}"]
    if sigma_w is not None:
        parts.append(width_label(sigma_w))
    title = ", ".join(parts)
    if phases is not None:
        counts = {p: list(phases).count(p) for p in dict.fromkeys(phases)}
        title += " (" + ", ".join(f"{c} {p}" for p, c in counts.items()) + ")"
    return title

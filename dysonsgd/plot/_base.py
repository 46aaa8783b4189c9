"""What every figure shares: the lazy pyplot import (Agg backend), atomic saving, the
``1/sigma_W`` label, and the eigenvalue-flow axes (paper Fig 6 style).

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Fig 6 (eigenvalue flows, the teacher's
eigenvalues dashed) and the convention of labelling the width by ``1/sigma_W``.
"""

from __future__ import annotations

import math
import os

import numpy as np

#: Save points up to which the flow lines carry a marker at every saved time, so that a
#: coarse sampling (the 21 paper save points) is visible as such and not read as straight
#: segments of a smooth flow.
MARKER_MAX_SAVES = 40


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    from dysonsgd import _io

    fmt = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
    _io.atomic_write_bytes(
        path, lambda fh: fig.savefig(fh, format=fmt, dpi=130, bbox_inches="tight")
    )


def power_of_two(v: float) -> str:
    """``v`` for a label: ``$2^{-8}$`` for a power of two below 1/2 (0.00390625 is not
    read at a glance), else ``%.4g`` (8, 0.5, 0.03)."""
    if v > 0 and math.isfinite(v):
        e = math.log2(v)
        if abs(e - round(e)) < 1e-9 and e < -1.5:
            return f"$2^{{{int(round(e))}}}$"
    return f"{v:.4g}"


def width_label(sigma_w: float) -> str:
    """The paper's label of an initial width: ``1/sigma_W = 8`` (mathtext), never sigma_W."""
    return f"$1/\\sigma_W$ = {power_of_two(1.0 / sigma_w)}"


def level_colormap(K: int):
    """Discrete viridis with one colour per level index i = 1..K, and its norm."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap(_pyplot().cm.viridis(np.linspace(0, 0.9, K)))
    return cmap, BoundaryNorm(np.arange(0.5, K + 1.0), K)


def level_colorbar(fig, ax, K: int):
    """Colour key of the level index ``i`` (1 = largest eigenvalue) beside ``ax``."""
    from matplotlib.cm import ScalarMappable

    cmap, norm = level_colormap(K)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, pad=0.02, fraction=0.05, aspect=30)
    ticks = sorted({1, (K + 1) // 2, K})
    cb.set_ticks(ticks)
    cb.ax.invert_yaxis()  # level 1 on top, as the largest eigenvalue is in the flow
    cb.set_label("level index $i$ (1 = largest)")
    return cb


def eigenvalue_flow_axes(
    ax,
    times,
    flow,
    teacher=None,
    *,
    title="",
    xlabel="epoch",
    highlight=0,
    seed_labels=None,
    others=True,
    reference_label="teacher's eigenvalues $x^*_i$",
    legend=True,
    legend_loc="best",
):
    """Draw the eigenvalue flow x_i(t) of one seed in colour on ``ax``, the other seeds faint.

    The highlighted seed's levels are coloured by their index ``i`` (descending order, the key
    is :func:`level_colorbar`); its reference levels (the teacher's eigenvalues) are dashed in
    the same colours. The other seeds are thin grey lines without references, so the spread
    of the ensemble shows without hiding the one flow that is read. Log y-axis when every
    drawn value is positive, linear otherwise. Save points are marked when there are at most
    :data:`MARKER_MAX_SAVES` of them. Non-finite values (stopped systems) are not drawn.

    Parameters
    ----------
    ax : matplotlib Axes
    times : ndarray of float64, shape (n_saves,)
    flow : ndarray of float64, shape (n_seeds, n_saves, K)
    teacher : ndarray of float64, shape (n_seeds, K) or (K,), optional
        Reference levels; only the highlighted seed's are drawn.
    title, xlabel : str
    highlight : int
        Row of ``flow`` drawn in colour.
    seed_labels : sequence of int, optional
        Seed number of each row of ``flow`` (default 0, 1, ...), for the legend.
    others : bool
        Draw the other rows faint.
    reference_label : str
        Legend text of the dashed lines.
    legend : bool
    legend_loc : str
        A matplotlib location inside the axes, or ``"below"`` (one row under the x label).

    Returns
    -------
    list of matplotlib artists
        The legend handles (whether or not a legend was drawn).
    """
    from matplotlib.lines import Line2D

    times = np.asarray(times, dtype=np.float64)
    flow = np.asarray(flow, dtype=np.float64)
    n_seeds, n_saves, K = flow.shape
    seed_labels = list(range(n_seeds)) if seed_labels is None else list(seed_labels)
    cmap, norm = level_colormap(K)
    marker = "." if n_saves <= MARKER_MAX_SAVES else None
    handles = []
    drawn = [flow[highlight]]
    if others and n_seeds > 1:
        for k in range(n_seeds):
            if k != highlight:
                ax.plot(times, flow[k], color="0.6", lw=0.5, alpha=0.45, zorder=1)
                drawn.append(flow[k])
        handles.append(
            Line2D([], [], color="0.6", lw=0.8, label=f"other seeds ({n_seeds - 1}), grey")
        )
    for i in range(K):
        ax.plot(times, flow[highlight, :, i], color=cmap(i), lw=1.1, marker=marker, ms=2.5,
                zorder=3)  # fmt: skip
    mid = cmap((K - 1) // 2)
    label = "student's eigenvalues $x_i(t)$"
    if others and n_seeds > 1:
        label += f", seed {seed_labels[highlight]}"
    handles.insert(
        0, Line2D([], [], color=mid, lw=1.1, marker=marker, ms=2.5, label=label)
    )  # fmt: skip
    if teacher is not None:
        ref = np.broadcast_to(np.asarray(teacher, dtype=np.float64), (n_seeds, K))[highlight]
        for i in range(K):
            if np.isfinite(ref[i]):
                ax.axhline(ref[i], color=cmap(i), ls="--", lw=0.8, alpha=0.8, zorder=2)
        drawn.append(ref)
        handles.insert(1, Line2D([], [], color=mid, ls="--", lw=0.8, label=reference_label))
    values = np.concatenate([np.ravel(v) for v in drawn])
    values = values[np.isfinite(values)]
    ax.set_yscale("log" if values.size and np.all(values > 0) else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"eigenvalues $x_i$ of $X = WW^T$")
    if title:
        ax.set_title(title, fontsize=10)
    if legend and legend_loc == "below":
        ax.legend(handles=handles, fontsize=8, loc="upper center", ncol=len(handles),
                  bbox_to_anchor=(0.5, -0.16), frameon=False)  # fmt: skip
    elif legend:
        ax.legend(handles=handles, fontsize=7, loc=legend_loc, framealpha=0.85)
    return handles

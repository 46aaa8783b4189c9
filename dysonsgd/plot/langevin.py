"""Figure of a Langevin run (``dysonsgd simulate``).

matplotlib is imported lazily through :mod:`dysonsgd.plot._base`.
"""

from __future__ import annotations

import os

import numpy as np


def langevin_flow_figure(
    result,
    path: str | os.PathLike,
    *,
    teacher: np.ndarray | None = None,
    title: str = "",
) -> None:
    """Eigenvalue flow x_i(t) of every system (paper Fig 6 style), teacher's levels dashed.

    Parameters
    ----------
    result : dysonsgd.langevin.LangevinResult
    path : str or PathLike
        Output file; the format comes from the suffix (.png, .pdf, .svg).
    teacher : ndarray of float64, shape (n_systems, K) or (K,), optional
        Reference levels drawn dashed (the teacher's eigenvalues, or harmonic targets).
    title : str
    """
    from dysonsgd.plot import _base as _plot

    plt = _plot._pyplot()
    flow = np.asarray(result.x)
    positive = np.all(flow > 0)
    ref = None
    if teacher is not None:
        ref = np.broadcast_to(np.asarray(teacher, dtype=np.float64), flow[:, 0, :].shape)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    _plot.eigenvalue_flow_axes(
        ax, result.times, flow, ref, title=title, xlabel="Langevin time t = eps x steps"
    )
    if not positive:
        ax.set_yscale("linear")
    fig.tight_layout()
    _plot._save(fig, path)
    plt.close(fig)

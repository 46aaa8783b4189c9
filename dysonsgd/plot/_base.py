"""What every figure shares: the lazy pyplot import (Agg backend), atomic saving, and the
eigenvalue-flow axes (paper Fig 6 style)."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    from dysonsgd import _io

    fmt = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
    _io.atomic_write_bytes(path, lambda fh: fig.savefig(fh, format=fmt, dpi=130))


def eigenvalue_flow_axes(ax, times, flow, teacher=None, *, title="", xlabel="epoch"):
    """Draw x_i(t) of every seed on ``ax`` (log scale), the teacher's levels dashed.

    Parameters
    ----------
    times : ndarray, shape (n_saves,)
    flow : ndarray, shape (n_seeds, n_saves, K)
    teacher : ndarray, shape (n_seeds, K), optional
    """
    n_seeds, _, K = flow.shape
    colors = _pyplot().cm.viridis(np.linspace(0, 0.9, K))
    for k in range(n_seeds):
        for i in range(K):
            ax.plot(times, flow[k, :, i], color=colors[i], lw=0.9, alpha=0.8)
        if teacher is not None:
            for i in range(K):
                ax.axhline(teacher[k, i], color=colors[i], ls="--", lw=0.6, alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"eigenvalues $x_i$ of $X = WW^T$")
    if title:
        ax.set_title(title)

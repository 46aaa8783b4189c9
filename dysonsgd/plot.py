"""Every matplotlib figure of the package (matplotlib is imported lazily, Agg backend).

Figures take results and write files; nothing numerical is computed here that a test of
the numerical modules would not already cover.
"""

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


def training_figure(result, obs: dict, path: str | os.PathLike) -> None:
    """Eigenvalue flow (paper Fig 6 style) beside the training-loss curve of an SGD run.

    Parameters
    ----------
    result : SGDResult
    obs : dict
        :func:`dysonsgd.observables.summarize` of ``result``.
    path : path-like
        Output file; the suffix gives the format.
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    eigenvalue_flow_axes(
        ax1,
        result.save_epochs,
        obs["eigenvalues"],
        obs["teacher_eigenvalues"],
        title=(
            f"SGD: T = {result.temperature:g}, $1/\\sigma_W$ = {1 / result.sigma_w:g} "
            f"({result.n_seeds} seed{'s' if result.n_seeds > 1 else ''}; teacher dashed)"
        ),
    )
    epochs = np.arange(result.records.epoch_loss.shape[1])
    for k in range(result.n_seeds):
        ax2.plot(epochs, result.records.epoch_loss[k], lw=1)
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("epoch-mean training loss")
    ax2.set_title("training loss")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)

"""Figure of an SGD run: eigenvalue flow beside the loss curve."""

from __future__ import annotations

import os

import numpy as np

from dysonsgd.plot._base import _pyplot, _save, eigenvalue_flow_axes


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

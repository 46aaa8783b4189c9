"""Figure of an SGD run (``dysonsgd train --plot``): eigenvalue flow beside the loss curve.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), Fig 6 (eigenvalue flows with the
teacher's eigenvalues dashed).
"""

from __future__ import annotations

import os

import numpy as np

from dysonsgd.plot._base import (
    _pyplot,
    _save,
    eigenvalue_flow_axes,
    level_colorbar,
    power_of_two,
    width_label,
)


def training_figure(result, obs, path: str | os.PathLike) -> None:
    """Eigenvalue flow (paper Fig 6 style) beside the training-loss curve of an SGD run.

    Left: x_i(t) of seed 0 coloured by level index (colour key beside it), its teacher's
    eigenvalues dashed in the same colours, the other seeds faint grey. Right: the
    epoch-mean training loss, seed 0 in the same emphasis, the others grey.

    Parameters
    ----------
    result : SGDResult
    obs : Observables
        :func:`dysonsgd.observables.summarize` of ``result``.
    path : path-like
        Output file; the suffix gives the format.
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(11.5, 4.6), layout="constrained", width_ratios=(1.25, 1)
    )
    fig.get_layout_engine().set(wspace=0.06)
    n = result.n_seeds
    eigenvalue_flow_axes(
        ax1,
        result.save_epochs,
        obs["eigenvalues"],
        obs["teacher_eigenvalues"],
        title="eigenvalue flow" + (" (seed 0 in colour)" if n > 1 else ""),
        legend_loc="below",
    )
    level_colorbar(fig, ax1, np.shape(obs["eigenvalues"])[-1])
    loss = np.asarray(result.records.epoch_loss)
    epochs = np.arange(loss.shape[1])
    for k in range(1, n):
        ax2.plot(epochs, loss[k], color="0.6", lw=0.7, alpha=0.7,
                 label=f"other seeds ({n - 1}), grey" if k == 1 else None)  # fmt: skip
    ax2.plot(epochs, loss[0], color="C0", lw=1.3, label="seed 0")
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("epoch-mean training loss")
    ax2.set_title("training loss (epoch 0: initial)", fontsize=10)
    ax2.legend(fontsize=7)
    fig.suptitle(
        f"SGD: $T$ = {power_of_two(result.temperature)}, {width_label(result.sigma_w)}, "
        f"{n} seed{'s' if n > 1 else ''}",
        fontsize=11,
    )
    _save(fig, path)
    plt.close(fig)

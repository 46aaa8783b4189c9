"""The reference SGD simulator in numpy: the paper's protocol, written to be read.

One seed at a time, one batch at a time, with the analytic gradient of
:func:`dysonsgd.model.loss_and_gradient`. The numba engine (:mod:`dysonsgd.sgd.engine`)
must reproduce these records; this file is the definition of what they mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd.model import Instance, loss_and_gradient
from dysonsgd.sgd.sampling import engine_sampling, epoch_order

#: Epochs of per-epoch loss filled by one numpy call after a divergence (8 MB, ~1 ms).
_FILL_CHUNK = 2**20


@dataclass
class Records:
    """Raw records of an ensemble run (what an engine returns).

    Attributes
    ----------
    W : ndarray of float64, shape (n_seeds, n_saves, K, L)
        The student's matrix at each save epoch.
    grad : ndarray of float64, shape (n_seeds, n_saves, K, L)
        Mean of the batch gradients over the epoch ending at the save point (epoch 0: the
        full-training-set gradient at W0).
    loss : ndarray of float64, shape (n_seeds, n_saves)
        Mean batch loss over that epoch (epoch 0: the training loss at W0).
    epoch_loss : ndarray of float64, shape (n_seeds, epochs + 1)
        The same mean training loss for every epoch.
    diverged : ndarray of bool, shape (n_seeds,)
        True when a batch loss exceeded the threshold (or was not finite).
    diverged_step : ndarray of int64, shape (n_seeds,)
        Index (from 0) of the SGD step whose batch loss diverged, -1 if none. That update is
        not applied; every later record repeats the state at divergence.
    """

    W: np.ndarray
    grad: np.ndarray
    loss: np.ndarray
    epoch_loss: np.ndarray
    diverged: np.ndarray
    diverged_step: np.ndarray

    @classmethod
    def empty(cls, n_seeds: int, n_saves: int, epochs: int, K: int, L: int) -> Records:
        """Allocate records for an ensemble."""
        return cls(
            W=np.zeros((n_seeds, n_saves, K, L)),
            grad=np.zeros((n_seeds, n_saves, K, L)),
            loss=np.zeros((n_seeds, n_saves)),
            epoch_loss=np.zeros((n_seeds, epochs + 1)),
            diverged=np.zeros(n_seeds, dtype=bool),
            diverged_step=np.full(n_seeds, -1, dtype=np.int64),
        )


def run_seed(
    inst: Instance,
    lr: float,
    epochs: int,
    save_epochs: np.ndarray,
    sample_rng: np.random.Generator | None,
    out: Records,
    k: int,
    on_epoch: Callable[[], None] | None = None,
    *,
    sampling: str | None = None,
) -> None:
    """Train seed ``k`` with plain SGD and write its records into ``out``.

    Protocol (paper section 2; docs/model.md): epochs of ``n_batches`` consecutive batches of
    the fixed training set, ``W <- W - lr * mean_B g_n``. With ``sample_rng`` each epoch's
    sample indices are :func:`dysonsgd.sgd.sampling.epoch_order` of it: a permutation
    (``sampling="shuffle"``, the default when a generator is given) or draws with
    replacement (``"iid"``). A batch whose loss exceeds ``divergence_threshold`` (or is not
    finite) stops the seed before its update.
    """
    sampling = engine_sampling(sampling, sample_rng is not None)
    c = inst.config
    B, nb, act, thr = c.batch_size, c.n_batches, c.activation, c.divergence_threshold
    a_all, y_all, Z = inst.a_train, inst.y_train, inst.Z
    W = inst.W0.copy()
    save_pos = {int(e): i for i, e in enumerate(save_epochs)}

    loss0, grad0 = loss_and_gradient(W, a_all, y_all, Z, act)
    out.epoch_loss[k, 0] = loss0
    if 0 in save_pos:
        out.W[k, save_pos[0]], out.grad[k, save_pos[0]], out.loss[k, save_pos[0]] = W, grad0, loss0

    for epoch in range(1, epochs + 1):
        if sample_rng is not None:
            order = epoch_order(sample_rng, sampling, c.n_samples)
            a_ep, y_ep = a_all[order], y_all[order]
        else:
            a_ep, y_ep = a_all, y_all
        grad_sum = np.zeros_like(W)
        loss_sum = 0.0
        n_done = nb
        for b in range(nb):
            loss, grad = loss_and_gradient(
                W, a_ep[b * B : (b + 1) * B], y_ep[b * B : (b + 1) * B], Z, act
            )
            grad_sum += grad
            loss_sum += loss
            if not loss <= thr:  # also catches NaN
                out.diverged[k] = True
                out.diverged_step[k] = (epoch - 1) * nb + b
                n_done = b + 1
                break
            W -= lr * grad
        mean_loss, mean_grad = loss_sum / n_done, grad_sum / n_done
        if out.diverged[k]:
            # The seed stops: every remaining record repeats the state at divergence.
            # In chunks, so that a Ctrl-C lands between them: one numpy fill of 10**9
            # epochs is a C loop of seconds that Python cannot interrupt.
            for lo in range(epoch, epochs + 1, _FILL_CHUNK):
                out.epoch_loss[k, lo : lo + _FILL_CHUNK] = mean_loss
            for e, i in save_pos.items():
                if e >= epoch:
                    out.W[k, i], out.grad[k, i], out.loss[k, i] = W, mean_grad, mean_loss
            if on_epoch is not None:
                for _ in range(epoch, epochs + 1):
                    on_epoch()
            return
        out.epoch_loss[k, epoch] = mean_loss
        if epoch in save_pos:
            i = save_pos[epoch]
            out.W[k, i], out.grad[k, i], out.loss[k, i] = W, mean_grad, mean_loss
        if on_epoch is not None:
            on_epoch()


def run(
    instances: Sequence[Instance],
    lr: float,
    epochs: int,
    save_epochs: np.ndarray,
    sample_rngs: Sequence[np.random.Generator] | None,
    on_epoch: Callable[[], None] | None = None,
    *,
    sampling: str | None = None,
) -> Records:
    """Run an ensemble of seeds with the reference simulator, one after the other.

    ``sample_rngs``: one generator per seed (:func:`dysonsgd.sgd.sampling.sample_streams`)
    or None for the fixed order; ``sampling``: how they are read, ``"shuffle"`` (the default
    when generators are given) or ``"iid"``.
    """
    sampling = engine_sampling(sampling, sample_rngs is not None)
    c = instances[0].config
    out = Records.empty(len(instances), len(save_epochs), epochs, c.K, c.L)
    for k, inst in enumerate(instances):
        rng = None if sample_rngs is None else sample_rngs[k]
        run_seed(inst, lr, epochs, save_epochs, rng, out, k, on_epoch, sampling=sampling)
    return out

"""The naive baseline: SGD written the straightforward way, with einsum (benchmark only).

This is how such code is usually first written (and the style of the original study's
numpy code): every batch recomputes the first layer ``a = phi(M x)`` and the teacher's
targets from the raw inputs, builds the per-sample gradients as a (|B|, K, L) array and
averages them. It trains the same network with the same protocol as
:mod:`dysonsgd.sgd.reference` (which is already smarter: fixed features and targets, one
matrix product per batch), so all three can be timed on the same instance.
"""

from __future__ import annotations

import numpy as np

from dysonsgd.model import Instance


def _phi(z, act):
    if act == "tanh":
        return np.tanh(z)
    if act == "relu":
        return np.maximum(z, 0.0)
    return z


def _dphi(z, act):
    if act == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if act == "relu":
        return (z > 0).astype(float)
    return np.ones_like(z)


def run_seed(inst: Instance, lr: float, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Train one seed for ``epochs`` epochs; return the final W and the epoch-mean losses."""
    c = inst.config
    act, B = c.activation, c.batch_size
    M, Z, Wt, x = inst.M, inst.Z, inst.W_teacher, inst.x_train
    W = inst.W0.copy()
    losses = np.zeros(epochs)
    for epoch in range(epochs):
        loss_sum = 0.0
        grad_sum = np.zeros_like(W)
        for b in range(c.n_batches):
            xb = x[b * B : (b + 1) * B]
            a = _phi(np.einsum("li,bi->bl", M, xb), act)
            y = np.einsum("ok,bk->bo", Z, _phi(np.einsum("kl,bl->bk", Wt, a), act))
            z = np.einsum("kl,bl->bk", W, a)
            yhat = np.einsum("ok,bk->bo", Z, _phi(z, act))
            e = y - yhat
            loss = np.mean(0.5 * np.einsum("bo,bo->b", e, e))
            delta = np.einsum("bo,ok->bk", e, Z) * _dphi(z, act)
            g_per_sample = -np.einsum("bk,bl->bkl", delta, a)
            grad = g_per_sample.mean(axis=0)
            if not loss <= c.divergence_threshold:
                break
            W = W - lr * grad
            loss_sum += loss
            grad_sum += grad
        losses[epoch] = loss_sum / c.n_batches
    return W, losses

"""Private numba kernels of the SGD engine (see :mod:`dysonsgd.sgd.engine`).

Everything here takes C-contiguous float64 arrays and writes into preallocated outputs;
nothing is allocated inside the step loop. The trained matrix is held transposed,
``Wt = W^T`` of shape (L, K), so that the inner loops run over the contiguous K axis
without a reduction: LLVM vectorises them without reassociating any sum (no fastmath),
and the result does not depend on the SIMD width.

Activation codes follow :data:`dysonsgd.model.ACTIVATIONS`: 0 tanh, 1 identity, 2 relu.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

TANH = 0
IDENTITY = 1
RELU = 2

# Above this |z|, tanh(z) rounds to +-1 in float64: 1 - tanh(z) ~ 2 exp(-2 z) < 2^-54.
_TANH_SATURATE = 19.1


@njit(cache=True)
def _tanh(z: float) -> float:
    """tanh through expm1, branch-free in the hot path so that loops over K vectorise.

    ``tanh(z) = expm1(2 z) / (expm1(2 z) + 2)`` for z <= 0 loses no relative accuracy for
    small |z| (expm1 is accurate there), and ``tanh(-z) = -tanh(z)``. Not used by default:
    it calls libm's expm1, which is no faster than tanh; kept as a documented experiment.
    """
    u = -abs(z)
    if u < -_TANH_SATURATE:
        u = -_TANH_SATURATE
    t = math.expm1(2.0 * u)
    r = t / (t + 2.0)
    return -r if z > 0.0 else r


@njit(cache=True)
def _sample_forward(
    act: int,
    a: np.ndarray,
    i: int,
    y: np.ndarray,
    Z: np.ndarray,
    Wt: np.ndarray,
    z: np.ndarray,
    dp: np.ndarray,
    e: np.ndarray,
) -> float:
    """Forward pass of one sample: fill ``dp = delta`` (shape (K,)), return ``|e|^2``.

    ``z = W a``, ``f = phi(z)``, ``e = y - Z f``, ``delta = (Z^T e) * phi'(z)``.
    ``z`` holds the pre-activations on entry to the activation step, then phi(z).
    """
    L, K = Wt.shape
    d_out = Z.shape[0]
    for k in range(K):
        z[k] = 0.0
    for l in range(L):
        al = a[i, l]
        for k in range(K):
            z[k] += al * Wt[l, k]
    # f in z, phi'(z) in dp.
    if act == TANH:
        for k in range(K):
            t = math.tanh(z[k])
            z[k] = t
            dp[k] = 1.0 - t * t
    elif act == IDENTITY:
        for k in range(K):
            dp[k] = 1.0
    else:
        for k in range(K):
            if z[k] > 0.0:
                dp[k] = 1.0
            else:
                z[k] = 0.0
                dp[k] = 0.0
    sq = 0.0
    for o in range(d_out):
        yh = 0.0
        for k in range(K):
            yh += Z[o, k] * z[k]
        eo = y[i, o] - yh
        e[o] = eo
        sq += eo * eo
    # delta = (Z^T e) * phi'(z), overwriting phi'(z).
    if d_out == 1:
        e0 = e[0]
        for k in range(K):
            dp[k] *= e0 * Z[0, k]
    else:
        for k in range(K):
            s = 0.0
            for o in range(d_out):
                s += e[o] * Z[o, k]
            dp[k] *= s
    return sq


@njit(cache=True)
def _train_item(
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    lr: float,
    act: int,
    thr: float,
    n_batches: int,
    batch_size: int,
    epoch_start: int,
    epoch_stop: int,
    perms: np.ndarray,
    save_slot: np.ndarray,
    Wt: np.ndarray,
    W_rec: np.ndarray,
    grad_rec: np.ndarray,
    loss_rec: np.ndarray,
    epoch_loss: np.ndarray,
    div: np.ndarray,
) -> None:
    """Epochs ``epoch_start .. epoch_stop-1`` (counted from 1) of one seed, in place.

    Parameters
    ----------
    a : (n_samples, L) first-layer features; y : (n_samples, d_out) targets;
    Z : (d_out, K) read-out.
    perms : int32 (n_block, n_samples) per-epoch sample orders, or shape (0, 0) for the fixed
        order.
    save_slot : int64 (epochs + 1,) save index of each epoch, -1 if not saved.
    Wt : (L, K) the state W^T, updated.
    W_rec, grad_rec : (n_saves, K, L); loss_rec : (n_saves,); epoch_loss : (epochs + 1,).
    div : int64 (2,) ``[diverged, diverged_step]``; a diverged seed is skipped.
    """
    L, K = Wt.shape
    d_out = Z.shape[0]
    B = batch_size
    shuffled = perms.shape[0] > 0
    inv_b = 1.0 / B
    step_scale = lr * inv_b  # W <- W + (lr/B) sum_n delta_n a_n^T
    epochs = save_slot.shape[0] - 1
    z = np.empty(K)
    deltas = np.empty((B, K))
    e = np.empty(d_out)
    idx = np.empty(B, dtype=np.int64)
    gsum = np.empty((L, K))  # running sum over the epoch of sum_n delta_n a_n^T
    acc = np.empty(K)
    if div[0] != 0:
        return
    for epoch in range(epoch_start, epoch_stop):
        gsum[:, :] = 0.0
        loss_sum = 0.0
        n_done = n_batches
        diverged = False
        for b in range(n_batches):
            sq = 0.0
            for n in range(B):
                if shuffled:
                    i = np.int64(perms[epoch - epoch_start, b * B + n])
                else:
                    i = b * B + n
                idx[n] = i
                sq += _sample_forward(act, a, i, y, Z, Wt, z, deltas[n], e)
            loss = 0.5 * sq * inv_b
            loss_sum += loss
            diverged = not loss <= thr  # also catches NaN
            scale = 0.0 if diverged else step_scale
            for l in range(L):
                for k in range(K):
                    acc[k] = 0.0
                for n in range(B):
                    anl = a[idx[n], l]
                    for k in range(K):
                        acc[k] += deltas[n, k] * anl
                for k in range(K):
                    gsum[l, k] += acc[k]
                    Wt[l, k] += scale * acc[k]
            if diverged:
                div[0] = 1
                div[1] = (epoch - 1) * n_batches + b
                n_done = b + 1
                break
        mean_loss = loss_sum / n_done
        gscale = -inv_b / n_done
        last = epochs if diverged else epoch
        for ep in range(epoch, last + 1):
            epoch_loss[ep] = mean_loss
            s = save_slot[ep]
            if s >= 0:
                loss_rec[s] = mean_loss
                for l in range(L):
                    for k in range(K):
                        W_rec[s, k, l] = Wt[l, k]
                        grad_rec[s, k, l] = gscale * gsum[l, k]
        if diverged:
            return


@njit(cache=True, parallel=True)
def train_items(
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    data_index: np.ndarray,
    lr: np.ndarray,
    act: int,
    thr: float,
    n_batches: int,
    batch_size: int,
    epoch_start: int,
    epoch_stop: int,
    perms: np.ndarray,
    save_slot: np.ndarray,
    Wt: np.ndarray,
    W_rec: np.ndarray,
    grad_rec: np.ndarray,
    loss_rec: np.ndarray,
    epoch_loss: np.ndarray,
    div: np.ndarray,
) -> None:
    """Run a block of epochs for every item (a seed of a cell), items in parallel.

    Item j uses data ``data_index[j]`` of ``a`` (n_data, n_samples, L), ``y`` (n_data,
    n_samples, d_out), ``Z`` (n_data, d_out, K), learning rate ``lr[j]``, state ``Wt[j]``
    (L, K), sample orders ``perms[j]`` (int32 (n_block, n_samples), or n_block = 0), and
    writes ``W_rec[j]``, ``grad_rec[j]`` (n_saves, K, L), ``loss_rec[j]`` (n_saves,),
    ``epoch_loss[j]`` (epochs + 1,), ``div[j]`` (2,). Items are independent, so the result
    is the same for any number of threads.
    """
    n_items = Wt.shape[0]
    for j in prange(n_items):
        d = data_index[j]
        _train_item(
            a[d],
            y[d],
            Z[d],
            lr[j],
            act,
            thr,
            n_batches,
            batch_size,
            epoch_start,
            epoch_stop,
            perms[j],
            save_slot,
            Wt[j],
            W_rec[j],
            grad_rec[j],
            loss_rec[j],
            epoch_loss[j],
            div[j],
        )

"""Private numba kernels of the SGD engine (see :mod:`dysonsgd.sgd.engine`).

Everything here takes C-contiguous float64 arrays and writes into preallocated outputs;
nothing is allocated inside the step loop. The trained matrix is held transposed,
``Wt = W^T`` of shape (L, K), so that the inner loops run over the contiguous K axis
without a reduction: LLVM vectorises them without reassociating any sum (no fastmath),
and the result does not depend on the SIMD width. ``error_model="numpy"`` drops numba's
ZeroDivisionError checks, which would otherwise stop vectorisation; it changes no arithmetic.
Timings and the reasoning behind each layout choice: docs/performance.md.

Activation codes follow :data:`dysonsgd.model.ACTIVATIONS`: 0 tanh, 1 identity, 2 relu.
"""

from __future__ import annotations

import math

import numpy as np

from dysonsgd._jit import njit, prange

TANH = 0
IDENTITY = 1
RELU = 2

# tanh(z) = +-1 in float64 beyond |z| = 19.06 (1 - tanh z ~ 2 exp(-2 z) < 2^-54).
_TANH_SATURATE = 19.1
# Cody-Waite split of ln 2 (fdlibm's constants): k ln2_hi is exact for |k| < 2^20.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@njit(cache=True, error_model="numpy", inline="always")
def tanh(x: float) -> float:
    """tanh to within 2 ulp of numpy's, written so that LLVM vectorises loops calling it.

    libm's tanh is a scalar call (~9 ns here); this one is straight-line arithmetic and
    selects, ~2.4 ns per element in a vectorised loop (benchmarks/bench_sgd.py).

    - |x| < 0.625: Cephes' rational form ``x + x^3 P(x^2) / Q(x^2)`` (relative error
      ~2e-16 on that interval; no cancellation since the correction is < x^2/3).
    - otherwise: ``1 - 2 / (exp(2|x|) + 1)`` with the sign of x; |tanh| > 0.55 there, so
      the subtraction loses nothing. exp(v), v = 2 min(|x|, 19.1) in [1.25, 38.2], by the
      reduction v = k ln2 + r, |r| <= ln2/2, a degree-13 Taylor polynomial (truncation
      < 5e-18 relative) and 2^k (0 <= k <= 55) built exactly from the bits of k.
    - NaN propagates (through the first branch); +-inf gives +-1; -0.0 stays -0.0.

    ``error_model="numpy"`` drops the ZeroDivisionError checks (the divisors here are
    never 0), which is what lets the loop vectorise; it changes no arithmetic.

    References
    ----------
    S. L. Moshier, Cephes Math Library (tanh.c); W. J. Cody and W. Waite, Software Manual
    for the Elementary Functions (1980), the argument reduction of exp.
    """
    ax = abs(x)
    zz = x * x
    p = (-9.64399179425052238628e-1 * zz - 9.92877231001918586564e1) * zz
    p = p - 1.61468768441708447952e3
    q = ((zz + 1.12811678491632931402e2) * zz + 2.23548839060100448583e3) * zz
    q = q + 4.84406305325125486048e3
    small = x + x * zz * (p / q)
    small = small if zz != 0.0 else x  # keeps the sign of -0.0
    v = 2.0 * min(ax, _TANH_SATURATE)
    k = math.floor(v * _INV_LN2 + 0.5)
    r = (v - k * _LN2_HI) - k * _LN2_LO
    e = 1.0 / 6227020800.0
    e = e * r + 1.0 / 479001600.0
    e = e * r + 1.0 / 39916800.0
    e = e * r + 1.0 / 3628800.0
    e = e * r + 1.0 / 362880.0
    e = e * r + 1.0 / 40320.0
    e = e * r + 1.0 / 5040.0
    e = e * r + 1.0 / 720.0
    e = e * r + 1.0 / 120.0
    e = e * r + 1.0 / 24.0
    e = e * r + 1.0 / 6.0
    e = e * r + 0.5
    e = e * r + 1.0
    e = e * r + 1.0
    ki = np.int64(k)
    s = 2.0 if (ki & 1) else 1.0
    s = s * (4.0 if (ki & 2) else 1.0)
    s = s * (16.0 if (ki & 4) else 1.0)
    s = s * (256.0 if (ki & 8) else 1.0)
    s = s * (65536.0 if (ki & 16) else 1.0)
    s = s * (4294967296.0 if (ki & 32) else 1.0)
    big = 1.0 - 2.0 / (e * s + 1.0)
    big = big if x >= 0.0 else -big
    return big if ax >= 0.625 else small


@njit(cache=True, error_model="numpy")
def tanh_array(x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = tanh(x[i])`` with :func:`tanh` (for tests and benchmarks)."""
    for i in range(x.size):
        out[i] = tanh(x[i])


@njit(cache=True, error_model="numpy")
def _batch_forward(
    act: int,
    a: np.ndarray,
    idx: np.ndarray,
    nb: int,
    y: np.ndarray,
    Z: np.ndarray,
    Wt: np.ndarray,
    zb: np.ndarray,
    fb: np.ndarray,
    db: np.ndarray,
) -> float:
    """Forward pass of the samples ``idx[:nb]``: deltas into ``db``, return ``sum |e|^2``.

    ``zb``, ``fb``, ``db`` are flat buffers of at least nb*K: row n (``[n*K:(n+1)*K]``)
    holds z = W a_n, f = phi(z), then delta_n = (Z^T e_n) * phi'(z). Samples go four at
    a time through the rows of Wt (one load of a row of W feeds four samples); the
    activation runs over the whole flat block. Every loop is over K or nb*K without a
    reduction, so LLVM vectorises it and the sums are in the same order at any SIMD width.
    """
    L, K = Wt.shape
    d_out = Z.shape[0]
    nk = nb * K
    for m in range(nk):
        zb[m] = 0.0
    n4 = nb - nb % 4
    L4 = L - L % 4
    for n in range(0, n4, 4):
        i0, i1, i2, i3 = idx[n], idx[n + 1], idx[n + 2], idx[n + 3]
        r0, r1, r2, r3 = n * K, (n + 1) * K, (n + 2) * K, (n + 3) * K
        # Four columns of W per pass, summed as a pairwise tree before they touch zb: a
        # chain of 8 dependent updates per element instead of 32 (each a round trip
        # through L1), in a fixed order, so still independent of the SIMD width.
        for l in range(0, L4, 4):
            a00, a01, a02, a03 = a[i0, l], a[i0, l + 1], a[i0, l + 2], a[i0, l + 3]
            a10, a11, a12, a13 = a[i1, l], a[i1, l + 1], a[i1, l + 2], a[i1, l + 3]
            a20, a21, a22, a23 = a[i2, l], a[i2, l + 1], a[i2, l + 2], a[i2, l + 3]
            a30, a31, a32, a33 = a[i3, l], a[i3, l + 1], a[i3, l + 2], a[i3, l + 3]
            for k in range(K):
                w0, w1, w2, w3 = Wt[l, k], Wt[l + 1, k], Wt[l + 2, k], Wt[l + 3, k]
                zb[r0 + k] += (a00 * w0 + a01 * w1) + (a02 * w2 + a03 * w3)
                zb[r1 + k] += (a10 * w0 + a11 * w1) + (a12 * w2 + a13 * w3)
                zb[r2 + k] += (a20 * w0 + a21 * w1) + (a22 * w2 + a23 * w3)
                zb[r3 + k] += (a30 * w0 + a31 * w1) + (a32 * w2 + a33 * w3)
        for l in range(L4, L):
            a0, a1, a2, a3 = a[i0, l], a[i1, l], a[i2, l], a[i3, l]
            for k in range(K):
                w = Wt[l, k]
                zb[r0 + k] += a0 * w
                zb[r1 + k] += a1 * w
                zb[r2 + k] += a2 * w
                zb[r3 + k] += a3 * w
    for n in range(n4, nb):
        i0, r0 = idx[n], n * K
        for l in range(L):
            a0 = a[i0, l]
            for k in range(K):
                zb[r0 + k] += a0 * Wt[l, k]
    # f = phi(z) and phi'(z) (in db for now)
    if act == TANH:
        for m in range(nk):
            t = tanh(zb[m])
            fb[m] = t
            db[m] = 1.0 - t * t
    elif act == IDENTITY:
        for m in range(nk):
            fb[m] = zb[m]
            db[m] = 1.0
    else:
        for m in range(nk):
            pos = zb[m] > 0.0
            fb[m] = zb[m] if pos else 0.0
            db[m] = 1.0 if pos else 0.0
    sq = 0.0
    for n in range(nb):
        i, r = idx[n], n * K
        if d_out == 1:
            yh = 0.0
            for k in range(K):
                yh += Z[0, k] * fb[r + k]
            e0 = y[i, 0] - yh
            sq += e0 * e0
            for k in range(K):
                db[r + k] *= e0 * Z[0, k]
        else:
            # zb's row is free now: it holds Z^T e
            for k in range(K):
                zb[r + k] = 0.0
            for o in range(d_out):
                yh = 0.0
                for k in range(K):
                    yh += Z[o, k] * fb[r + k]
                eo = y[i, o] - yh
                sq += eo * eo
                for k in range(K):
                    zb[r + k] += eo * Z[o, k]
            for k in range(K):
                db[r + k] *= zb[r + k]
    return sq


@njit(cache=True, error_model="numpy")
def _batch_backward(
    a: np.ndarray,
    idx: np.ndarray,
    nb: int,
    db: np.ndarray,
    grow: np.ndarray,
    gsum: np.ndarray,
    Wt: np.ndarray,
    step: float,
    update: bool,
) -> None:
    """``G = sum_{n < nb} delta_n a_n^T``: ``gsum += G^T``, and ``Wt += step G^T`` if update.

    Row l of G^T is ``sum_n a_n[l] delta_n`` (a K-vector, no reduction across K, so the
    loops vectorise), summed over n in order. For the paper's |B| = 4 it is formed in
    registers as ((d0 a0 + d1 a1) + d2 a2) + d3 a3 (the same order); otherwise it goes
    through the scratch row ``grow`` (K,).
    """
    L, K = Wt.shape
    if nb == 4:
        r1, r2, r3 = K, 2 * K, 3 * K
        i0, i1, i2, i3 = idx[0], idx[1], idx[2], idx[3]
        for l in range(L):
            a0, a1, a2, a3 = a[i0, l], a[i1, l], a[i2, l], a[i3, l]
            if update:
                for k in range(K):
                    g = ((db[k] * a0 + db[r1 + k] * a1) + db[r2 + k] * a2) + db[r3 + k] * a3
                    gsum[l, k] += g
                    Wt[l, k] += step * g
            else:
                for k in range(K):
                    g = ((db[k] * a0 + db[r1 + k] * a1) + db[r2 + k] * a2) + db[r3 + k] * a3
                    gsum[l, k] += g
        return
    for l in range(L):
        a0 = a[idx[0], l]
        for k in range(K):
            grow[k] = db[k] * a0
        for n in range(1, nb):
            an, r = a[idx[n], l], n * K
            for k in range(K):
                grow[k] += db[r + k] * an
        for k in range(K):
            gsum[l, k] += grow[k]
        if update:
            for k in range(K):
                Wt[l, k] += step * grow[k]


#: Samples per block of the epoch-0 full-training-set pass (:func:`initial_items`): the
#: buffers of 64 samples (3 x 8 KB at K = 16) stay in L1.
_CHUNK = 64
#: Samples per block of a full-batch gradient-descent step (:func:`_train_item` with
#: ``full_batch``): blocks of 4 take the register path of :func:`_batch_backward` (SGD's at
#: |B| = 4), ~3x faster per sample than blocks of 64 (docs/model.md, "Full-batch gradient
#: descent"). A different summation order from the epoch-0 pass, so GD's first step and
#: the epoch-0 gradient agree to roundoff, not bit for bit.
_GD_BLOCK = 4


@njit(cache=True, error_model="numpy")
def _full_gradient(
    act: int,
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    Wt: np.ndarray,
    zb: np.ndarray,
    fb: np.ndarray,
    db: np.ndarray,
    idx: np.ndarray,
    grow: np.ndarray,
    gfull: np.ndarray,
    block: int,
) -> float:
    """``gfull = sum_n delta_n a_n^T`` (transposed, (L, K)) over the whole training set at
    ``Wt``; return ``sum_n |e_n|^2``.

    Samples ``0 .. n-1`` in blocks of ``block`` through :func:`_batch_forward` and
    :func:`_batch_backward` (no update); ``zb``, ``fb``, ``db`` hold at least block*K,
    ``idx`` block. The pass of the epoch-0 record (:func:`initial_items`, blocks of
    :data:`_CHUNK`) and of every step of full-batch gradient descent (:func:`_train_item`,
    blocks of :data:`_GD_BLOCK`).
    """
    n = a.shape[0]
    gfull[:, :] = 0.0
    sq = 0.0
    for start in range(0, n, block):
        m = min(block, n - start)
        for t in range(m):
            idx[t] = start + t
        sq += _batch_forward(act, a, idx, m, y, Z, Wt, zb, fb, db)
        _batch_backward(a, idx, m, db, grow, gfull, Wt, 0.0, False)
    return sq


@njit(cache=True, error_model="numpy")
def _train_item(
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    lr: float,
    act: int,
    thr: float,
    n_batches: int,
    batch_size: int,
    full_batch: bool,
    epoch_start: int,
    epoch_stop: int,
    perms: np.ndarray,
    save_epochs: np.ndarray,
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
    full_batch : False for SGD (a step is a batch of ``batch_size`` samples); True for
        full-batch gradient descent: every step is the gradient over all n_samples
        (:func:`_full_gradient`), ``W <- W + (lr/n) sum_n delta_n a_n^T``, still
        ``n_batches`` steps per epoch (perms must then be empty). Records, divergence and
        blocks mean the same in both.
    perms : int32 (n_block, n_samples) per-epoch sample indices (batch b of epoch t is
        ``perms[t, b*B:(b+1)*B]``: a permutation when shuffling, draws with replacement for
        iid sampling; see dysonsgd/sgd/sampling.py), or shape (0, 0) for the fixed order.
    save_epochs : int64 (n_saves,) strictly increasing epochs at which W, grad, loss are
        recorded (a table indexed by epoch would be O(epochs): 8 GB for 10**9 epochs).
    Wt : (L, K) the state W^T, updated.
    W_rec, grad_rec : (n_saves, K, L); loss_rec : (n_saves,); epoch_loss : (epochs + 1,).
    div : int64 (2,) ``[diverged, diverged_step]``. A seed that diverges records its state
        at every later save at once, and its mean loss in ``epoch_loss`` up to the end of
        this block; in later blocks it only fills ``epoch_loss[epoch_start:epoch_stop]``
        with that loss. The work of a call is thus bounded by its block, whatever
        ``epochs`` is, which is what keeps Ctrl-C responsive (see the engine).
    """
    L, K = Wt.shape
    # Samples per step: a batch, or the whole training set (full-batch GD).
    B = a.shape[0] if full_batch else batch_size
    drawn = perms.shape[0] > 0  # indices drawn per epoch (shuffle, iid), else fixed order
    inv_b = 1.0 / B
    step = lr * inv_b  # W <- W + (lr/B) sum_n delta_n a_n^T
    n_saves = save_epochs.shape[0]
    if div[0] != 0:
        # Diverged in an earlier block: the loss at divergence repeats to the end.
        frozen = epoch_loss[div[1] // n_batches + 1]
        for ep in range(epoch_start, epoch_stop):
            epoch_loss[ep] = frozen
        return
    # the first save at or after epoch_start
    s = 0
    while s < n_saves and save_epochs[s] < epoch_start:
        s += 1
    nbuf = _GD_BLOCK if full_batch else B  # samples held in the buffers at once
    zb = np.empty(nbuf * K)
    fb = np.empty(nbuf * K)
    db = np.empty(nbuf * K)
    idx = np.empty(nbuf, dtype=np.int64)
    grow = np.empty(K)
    gsum = np.empty((L, K))  # running sum over the epoch of sum_n delta_n a_n^T
    gfull = np.empty((L, K) if full_batch else (0, 0))  # a GD step's sum_n delta_n a_n^T
    for epoch in range(epoch_start, epoch_stop):
        gsum[:, :] = 0.0
        loss_sum = 0.0
        n_done = n_batches
        diverged = False
        for b in range(n_batches):
            if full_batch:
                sq = _full_gradient(act, a, y, Z, Wt, zb, fb, db, idx, grow, gfull, _GD_BLOCK)
            else:
                for n in range(B):
                    if drawn:
                        idx[n] = perms[epoch - epoch_start, b * B + n]
                    else:
                        idx[n] = b * B + n
                sq = _batch_forward(act, a, idx, B, y, Z, Wt, zb, fb, db)
            loss = 0.5 * sq * inv_b
            loss_sum += loss
            diverged = not loss <= thr  # also catches NaN
            # The offending batch's gradient enters the epoch mean; W is not updated.
            if full_batch:
                # W moves only once the whole gradient is formed (SGD's update is fused
                # into the backward pass: a batch's gradient depends only on W before it).
                for l in range(L):
                    for k in range(K):
                        gsum[l, k] += gfull[l, k]
                if not diverged:
                    for l in range(L):
                        for k in range(K):
                            Wt[l, k] += step * gfull[l, k]
            else:
                _batch_backward(a, idx, B, db, grow, gsum, Wt, step, not diverged)
            if diverged:
                div[0] = 1
                div[1] = (epoch - 1) * n_batches + b
                n_done = b + 1
                break
        mean_loss = loss_sum / n_done
        gscale = -inv_b / n_done
        epoch_loss[epoch] = mean_loss
        # A diverged seed's state repeats in every later record: all remaining saves now,
        # the per-epoch loss to the end of this block (later blocks fill the rest).
        if diverged:
            s_stop = n_saves
        elif s < n_saves and save_epochs[s] == epoch:
            s_stop = s + 1
        else:
            s_stop = s
        for t in range(s, s_stop):
            loss_rec[t] = mean_loss
            for l in range(L):
                for k in range(K):
                    W_rec[t, k, l] = Wt[l, k]
                    grad_rec[t, k, l] = gscale * gsum[l, k]
        s = s_stop
        if diverged:
            for ep in range(epoch + 1, epoch_stop):
                epoch_loss[ep] = mean_loss
            return


@njit(cache=True, parallel=True, error_model="numpy")
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
    full_batch: bool,
    epoch_start: int,
    epoch_stop: int,
    perms: np.ndarray,
    save_epochs: np.ndarray,
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
    (L, K), sample indices ``perms[j]`` (int32 (n_block, n_samples), or n_block = 0), the
    save epochs ``save_epochs`` (n_saves,) shared by all items (``full_batch``: SGD or
    full-batch gradient descent, as in :func:`_train_item`), and writes ``W_rec[j]``,
    ``grad_rec[j]`` (n_saves, K, L), ``loss_rec[j]`` (n_saves,), ``epoch_loss[j]`` (epochs
    + 1,), ``div[j]`` (2,). Items are independent, so the result is the same for any
    number of threads; it does not depend on how the epochs are cut into blocks either.
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
            full_batch,
            epoch_start,
            epoch_stop,
            perms[j],
            save_epochs,
            Wt[j],
            W_rec[j],
            grad_rec[j],
            loss_rec[j],
            epoch_loss[j],
            div[j],
        )


@njit(cache=True, parallel=True, error_model="numpy")
def initial_items(
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    data_index: np.ndarray,
    act: int,
    Wt: np.ndarray,
    grad0: np.ndarray,
    loss0: np.ndarray,
) -> None:
    """Full-training-set loss and mean gradient at each item's W (the epoch-0 record).

    ``loss0[j] = mean_n |e_n|^2 / 2`` and ``grad0[j] = -(1/n) sum_n delta_n a_n^T``, shape
    (n_items, K, L), for the state ``Wt[j]`` (L, K); data as in :func:`train_items`.
    """
    n_items, L, K = Wt.shape
    for j in prange(n_items):
        d = data_index[j]
        aj, yj, Zj, W = a[d], y[d], Z[d], Wt[j]
        n = aj.shape[0]
        zb = np.empty(_CHUNK * K)
        fb = np.empty(_CHUNK * K)
        db = np.empty(_CHUNK * K)
        idx = np.empty(_CHUNK, dtype=np.int64)
        grow = np.empty(K)
        gsum = np.empty((L, K))
        sq = _full_gradient(act, aj, yj, Zj, W, zb, fb, db, idx, grow, gsum, _CHUNK)
        loss0[j] = 0.5 * sq / n
        for l in range(L):
            for k in range(K):
                grad0[j, k, l] = -gsum[l, k] / n

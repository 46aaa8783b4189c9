"""Private numba kernels of the continuous-time rungs (see :mod:`dysonsgd.ladder.continuous`).

Everything takes C-contiguous float64 arrays and writes into preallocated outputs. The one
hot operation is a weighted pass over the whole training set,

    G = sum_n u_n a_n^T,   u_n = c_n delta_n (+ h d delta_n along V for the HVP),

with ``delta_n = (Z^T e_n) * phi'(W a_n)`` as in the SGD engine (``g_n = -delta_n a_n^T``).
A gradient-descent step and an Euler-Maruyama step of the SDE are both ``W <- W + G`` with
different per-sample weights c_n, so both cost one pass.

Layout (docs/performance.md explains the same reasoning for the SGD engine): samples go
through in chunks of ``CHUNK``; the forward product is formed transposed, ``z^T`` of shape
(K, chunk), from the transposed features ``aT`` (L, n), so its inner loop runs over the
chunk's samples without a reduction; the backward product runs over the rows of ``a``
(n, L), inner loop over L, again without a reduction. Four rows of the output per sweep and
four terms per update, summed as a pairwise tree in a fixed order: LLVM vectorises every
inner loop without reassociating a sum, so the result does not depend on the SIMD width
or the number of threads (systems run in parallel, each one sequentially).

Activation codes follow :data:`dysonsgd.model.ACTIVATIONS`: 0 tanh, 1 identity, 2 relu.
"""

from __future__ import annotations

import numpy as np

from dysonsgd._jit import njit, prange
from dysonsgd.langevin._kernels import fill_normals
from dysonsgd.sgd._kernels import tanh

TANH = 0
IDENTITY = 1
RELU = 2

#: Samples per chunk of a pass: six (K, CHUNK) scratch rows stay in L1 at K = 16.
CHUNK = 64

# rows of the per-chunk scratch array (NSCR, K, CHUNK)
_ZR, _FR, _PR, _QR, _SR, _DZ, _UR = range(7)
NSCR = 7


@njit(cache=True, error_model="numpy")
def _project(Wm, aT, start, m, out):
    """``out[k, t] = sum_l Wm[k, l] aT[l, start + t]`` for t < m (z^T = W a of a chunk)."""
    K, L = Wm.shape
    K4 = K - K % 4
    L4 = L - L % 4
    for k in range(0, K4, 4):
        o0, o1, o2, o3 = out[k], out[k + 1], out[k + 2], out[k + 3]
        for t in range(m):
            o0[t] = 0.0
            o1[t] = 0.0
            o2[t] = 0.0
            o3[t] = 0.0
        for l in range(0, L4, 4):
            x0 = aT[l, start : start + m]
            x1 = aT[l + 1, start : start + m]
            x2 = aT[l + 2, start : start + m]
            x3 = aT[l + 3, start : start + m]
            w00, w01, w02, w03 = Wm[k, l], Wm[k, l + 1], Wm[k, l + 2], Wm[k, l + 3]
            w10, w11, w12, w13 = Wm[k + 1, l], Wm[k + 1, l + 1], Wm[k + 1, l + 2], Wm[k + 1, l + 3]
            w20, w21, w22, w23 = Wm[k + 2, l], Wm[k + 2, l + 1], Wm[k + 2, l + 2], Wm[k + 2, l + 3]
            w30, w31, w32, w33 = Wm[k + 3, l], Wm[k + 3, l + 1], Wm[k + 3, l + 2], Wm[k + 3, l + 3]
            for t in range(m):
                p0, p1, p2, p3 = x0[t], x1[t], x2[t], x3[t]
                o0[t] += (w00 * p0 + w01 * p1) + (w02 * p2 + w03 * p3)
                o1[t] += (w10 * p0 + w11 * p1) + (w12 * p2 + w13 * p3)
                o2[t] += (w20 * p0 + w21 * p1) + (w22 * p2 + w23 * p3)
                o3[t] += (w30 * p0 + w31 * p1) + (w32 * p2 + w33 * p3)
        for l in range(L4, L):
            x0 = aT[l, start : start + m]
            w0, w1, w2, w3 = Wm[k, l], Wm[k + 1, l], Wm[k + 2, l], Wm[k + 3, l]
            for t in range(m):
                p0 = x0[t]
                o0[t] += w0 * p0
                o1[t] += w1 * p0
                o2[t] += w2 * p0
                o3[t] += w3 * p0
    for k in range(K4, K):
        o0 = out[k]
        for t in range(m):
            o0[t] = 0.0
        for l in range(0, L4, 4):
            x0 = aT[l, start : start + m]
            x1 = aT[l + 1, start : start + m]
            x2 = aT[l + 2, start : start + m]
            x3 = aT[l + 3, start : start + m]
            w0, w1, w2, w3 = Wm[k, l], Wm[k, l + 1], Wm[k, l + 2], Wm[k, l + 3]
            for t in range(m):
                o0[t] += (w0 * x0[t] + w1 * x1[t]) + (w2 * x2[t] + w3 * x3[t])
        for l in range(L4, L):
            x0 = aT[l, start : start + m]
            w0 = Wm[k, l]
            for t in range(m):
                o0[t] += w0 * x0[t]


@njit(cache=True, error_model="numpy")
def _accumulate(uT, a, start, m, G):
    """``G[k, :] += sum_{t < m} uT[k, t] a[start + t, :]`` (the backward outer products)."""
    K, L = G.shape
    K4 = K - K % 4
    m4 = m - m % 4
    for k in range(0, K4, 4):
        g0, g1, g2, g3 = G[k], G[k + 1], G[k + 2], G[k + 3]
        v0, v1, v2, v3 = uT[k], uT[k + 1], uT[k + 2], uT[k + 3]
        for t in range(0, m4, 4):
            i = start + t
            r0, r1, r2, r3 = a[i], a[i + 1], a[i + 2], a[i + 3]
            u00, u01, u02, u03 = v0[t], v0[t + 1], v0[t + 2], v0[t + 3]
            u10, u11, u12, u13 = v1[t], v1[t + 1], v1[t + 2], v1[t + 3]
            u20, u21, u22, u23 = v2[t], v2[t + 1], v2[t + 2], v2[t + 3]
            u30, u31, u32, u33 = v3[t], v3[t + 1], v3[t + 2], v3[t + 3]
            for l in range(L):
                p0, p1, p2, p3 = r0[l], r1[l], r2[l], r3[l]
                g0[l] += (u00 * p0 + u01 * p1) + (u02 * p2 + u03 * p3)
                g1[l] += (u10 * p0 + u11 * p1) + (u12 * p2 + u13 * p3)
                g2[l] += (u20 * p0 + u21 * p1) + (u22 * p2 + u23 * p3)
                g3[l] += (u30 * p0 + u31 * p1) + (u32 * p2 + u33 * p3)
        for t in range(m4, m):
            r0 = a[start + t]
            u0, u1, u2, u3 = v0[t], v1[t], v2[t], v3[t]
            for l in range(L):
                p0 = r0[l]
                g0[l] += u0 * p0
                g1[l] += u1 * p0
                g2[l] += u2 * p0
                g3[l] += u3 * p0
    for k in range(K4, K):
        g0 = G[k]
        v0 = uT[k]
        for t in range(0, m4, 4):
            i = start + t
            r0, r1, r2, r3 = a[i], a[i + 1], a[i + 2], a[i + 3]
            u0, u1, u2, u3 = v0[t], v0[t + 1], v0[t + 2], v0[t + 3]
            for l in range(L):
                g0[l] += (u0 * r0[l] + u1 * r1[l]) + (u2 * r2[l] + u3 * r3[l])
        for t in range(m4, m):
            r0 = a[start + t]
            u0 = v0[t]
            for l in range(L):
                g0[l] += u0 * r0[l]


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _activate(act, scr, m, second):
    """f = phi(z), phi'(z) and, if ``second``, phi''(z) for the chunk's z in ``scr[_ZR]``.

    The only kernel that allows floating-point contraction (fused multiply-add, never a
    reassociation): the tanh polynomial runs ~30% faster (64,000 tanh and phi': 119 us
    against 167 us without, Zen 4); tanh stays within 2 ulp of numpy's (measured on
    340,000 points) and of the SGD engine's.
    """
    K = scr.shape[1]
    for k in range(K):
        z = scr[_ZR, k]
        f = scr[_FR, k]
        p = scr[_PR, k]
        q = scr[_QR, k]
        if act == TANH:
            for t in range(m):
                v = tanh(z[t])
                f[t] = v
                p[t] = 1.0 - v * v
            if second:
                for t in range(m):
                    q[t] = -2.0 * f[t] * p[t]
        elif act == IDENTITY:
            for t in range(m):
                f[t] = z[t]
                p[t] = 1.0
            if second:
                for t in range(m):
                    q[t] = 0.0
        else:
            for t in range(m):
                pos = z[t] > 0.0
                f[t] = z[t] if pos else 0.0
                p[t] = 1.0 if pos else 0.0
            if second:
                for t in range(m):
                    q[t] = 0.0


@njit(cache=True, error_model="numpy")
def _chunk(act, a, aT, y, Z, W, V, c, h, hvp, start, m, scr, esc, G):
    """One chunk of :func:`full_pass`; returns the chunk's ``sum_n |e_n|^2``.

    ``esc`` (2, d_out, CHUNK) holds e and, for the HVP, de. With ``hvp`` the per-sample
    weight is ``u = c_n delta_n + h d delta_n``, the directional derivative along V being

        dz = V a_n,  dphi = phi'(z) dz,  de = -Z dphi,
        d delta = (Z^T de) phi'(z) + (Z^T e) phi''(z) dz.
    """
    K = W.shape[0]
    d_out = Z.shape[0]
    _project(W, aT, start, m, scr[_ZR])
    _activate(act, scr, m, hvp)
    sq = 0.0
    # e = y - Z f, vector over the chunk's samples; s = Z^T e into scr[_SR]
    for o in range(d_out):
        e = esc[0, o]
        for t in range(m):
            e[t] = 0.0
        for k in range(K):
            zo = Z[o, k]
            f = scr[_FR, k]
            for t in range(m):
                e[t] += zo * f[t]
        for t in range(m):
            v = y[start + t, o] - e[t]
            e[t] = v
            sq += v * v
    for k in range(K):
        s = scr[_SR, k]
        e = esc[0, 0]
        zo = Z[0, k]
        for t in range(m):
            s[t] = zo * e[t]
        for o in range(1, d_out):
            e = esc[0, o]
            zo = Z[o, k]
            for t in range(m):
                s[t] += zo * e[t]
    if not hvp:
        for k in range(K):
            s = scr[_SR, k]
            p = scr[_PR, k]
            u = scr[_UR, k]
            for t in range(m):
                u[t] = c[start + t] * (s[t] * p[t])
        _accumulate(scr[_UR], a, start, m, G)
        return sq
    _project(V, aT, start, m, scr[_DZ])
    # de = -Z (phi' dz), into esc[1]
    for o in range(d_out):
        de = esc[1, o]
        for t in range(m):
            de[t] = 0.0
        for k in range(K):
            zo = Z[o, k]
            p = scr[_PR, k]
            dz = scr[_DZ, k]
            for t in range(m):
                de[t] -= zo * (p[t] * dz[t])
    for k in range(K):
        s = scr[_SR, k]
        p = scr[_PR, k]
        q = scr[_QR, k]
        dz = scr[_DZ, k]
        u = scr[_UR, k]
        de = esc[1, 0]
        zo = Z[0, k]
        for t in range(m):
            u[t] = zo * de[t]  # (Z^T de)_k
        for o in range(1, d_out):
            de = esc[1, o]
            zo = Z[o, k]
            for t in range(m):
                u[t] += zo * de[t]
        for t in range(m):
            ddelta = u[t] * p[t] + s[t] * q[t] * dz[t]
            u[t] = c[start + t] * (s[t] * p[t]) + h * ddelta
    _accumulate(scr[_UR], a, start, m, G)
    return sq


@njit(cache=True, error_model="numpy")
def full_pass(act, a, aT, y, Z, W, V, c, h, hvp, G, scr, esc):
    """Weighted pass over the training set: ``G = sum_n u_n a_n^T``, return ``sum_n |e_n|^2``.

    Parameters
    ----------
    act : int
        Activation code.
    a : (n, L) features; aT : (L, n) the same, transposed; y : (n, d_out) targets;
    Z : (d_out, K) read-out; W : (K, L) the state.
    V : (K, L)
        Direction of the Hessian-vector product (read only if ``hvp``).
    c : (n,)
        Per-sample weights of delta_n.
    h : float
        Weight of d delta_n (only if ``hvp``).
    G : (K, L) output, overwritten.
    scr : (NSCR, K, CHUNK), esc : (2, d_out, CHUNK) scratch.

    Notes
    -----
    The gradient of the loss ``(1/2n) sum |e_n|^2`` is ``-(1/n) sum delta_n a_n^T``
    (c = 1/n, sign flipped) and its Hessian applied to V is ``-(1/n) sum d delta_n a_n^T``
    (c = 0, h = 1, sign flipped).
    """
    n = a.shape[0]
    G[:, :] = 0.0
    sq = 0.0
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        sq += _chunk(act, a, aT, y, Z, W, V, c, h, hvp, start, m, scr, esc, G)
    return sq


@njit(cache=True, error_model="numpy")
def step_weights(z, base, noise, c):
    """Per-sample weights of one step: ``c_n = base + noise (z_n - zbar)``.

    With ``z`` empty (gradient descent) every ``c_n = base``; with ``noise = 0`` (T = 0) the
    same values result exactly, since ``base + 0.0 = base``.
    """
    n = c.shape[0]
    if z.shape[0] == 0:
        for i in range(n):
            c[i] = base
        return
    s = 0.0
    for i in range(n):
        s += z[i]
    zbar = s / n
    for i in range(n):
        c[i] = base + noise * (z[i] - zbar)


@njit(cache=True, error_model="numpy")
def top_x(W):
    """Largest eigenvalue of ``W W^T`` (x_1 = s_1(W)^2)."""
    K, L = W.shape
    X = np.zeros((K, K))
    for i in range(K):
        for j in range(i + 1):
            s = 0.0
            for l in range(L):
                s += W[i, l] * W[j, l]
            X[i, j] = s
            X[j, i] = s
    return np.linalg.eigvalsh(X)[-1]


@njit(cache=True, error_model="numpy")
def _record(W, loss, s_from, s_to, W_rec, loss_rec):
    for s in range(s_from, s_to):
        loss_rec[s] = loss
        W_rec[s, :, :] = W


@njit(cache=True, error_model="numpy")
def _run_system(
    act,
    a,
    aT,
    y,
    Z,
    thr,
    bound,
    base,
    noise,
    h_eps,
    order_eps,
    k_start,
    k_stop,
    n_steps,
    zs,
    rng,
    save_steps,
    W,
    W_rec,
    loss_rec,
    state,
):
    """Evaluations ``k_start .. k_stop-1`` of one system (see :func:`run_systems`)."""
    if state[0] != 0:
        return
    K, L = W.shape
    n = a.shape[0]
    d_out = Z.shape[0]
    n_saves = save_steps.shape[0]
    supplied = zs.shape[1] > 0
    drawn = rng.shape[0] > 0
    s = 0
    while s < n_saves and save_steps[s] < k_start:
        s += 1
    scr = np.empty((NSCR, K, CHUNK))
    esc = np.empty((2, d_out, CHUNK))
    c = np.empty(n)
    ones = np.ones(n)
    no_z = np.empty(0)
    zbuf = np.empty(n if drawn else 0)
    G = np.empty((K, L))
    G2 = np.empty((K, L))
    V = np.empty((K, L))
    step_weights(no_z, base, 0.0, c)
    for k in range(k_start, k_stop):
        step = k < n_steps
        if step:
            if supplied:
                step_weights(zs[k - k_start], base, noise, c)
            elif drawn:
                fill_normals(rng, zbuf, 1.0)
                step_weights(zbuf, base, noise, c)
            else:
                step_weights(no_z, base, noise, c)
        # the pass at W_k: the loss, and the update (or, for order_eps, the gradient sum)
        sq = full_pass(act, a, aT, y, Z, W, W, ones if order_eps else c, 0.0, False, G, scr, esc)
        loss = 0.5 * sq / n
        code = 0
        if not loss <= thr:  # also NaN
            code = 1
        elif bound < np.inf:
            fro = 0.0
            for i in range(K):
                for l in range(L):
                    fro += W[i, l] * W[i, l]
            if fro > bound and top_x(W) > bound:  # ||W||_F^2 >= x_1: x_1 only when needed
                code = 2
        if code != 0:
            state[0] = code
            state[1] = k
            _record(W, loss, s, n_saves, W_rec, loss_rec)
            return
        if s < n_saves and save_steps[s] == k:
            _record(W, loss, s, s + 1, W_rec, loss_rec)
            s += 1
        if not step:
            continue
        if order_eps:
            # V = gbar = -(1/n) sum delta_n a_n^T; G2 = sum (c_n delta_n + h d delta_n) a_n^T
            for i in range(K):
                for l in range(L):
                    V[i, l] = -G[i, l] / n
            full_pass(act, a, aT, y, Z, W, V, c, h_eps, True, G2, scr, esc)
            for i in range(K):
                for l in range(L):
                    W[i, l] += G2[i, l]
        else:
            for i in range(K):
                for l in range(L):
                    W[i, l] += G[i, l]


@njit(cache=True, parallel=True, error_model="numpy")
def run_systems(
    act,
    a,
    aT,
    y,
    Z,
    thr,
    bound,
    base,
    noise,
    h_eps,
    order_eps,
    k_start,
    k_stop,
    n_steps,
    zs,
    rng,
    save_steps,
    W,
    W_rec,
    loss_rec,
    state,
):
    """Evaluations ``k_start .. k_stop-1`` (k_stop <= n_steps + 1) of every system, in parallel.

    Evaluation k computes the full training loss at W_k and stops the system if it is not
    ``<= thr`` (``state = [1, k]``) or if ``x_1(W_k) > bound`` (``state = [2, k]``); a
    stopped system records W_k and its loss in every remaining save and is skipped in later
    calls. Otherwise W_k is saved if ``save_steps`` holds k, and, if ``k < n_steps``, the
    step ``W_{k+1} = W_k + sum_n (c_n delta_n + h_eps d delta_n) a_n^T`` is taken with
    ``c_n = base + noise (z_n - zbar)``: z is ``zs[j, k - k_start]`` if ``zs`` has steps
    (supplied normals), else n fresh draws of system j's xoshiro256** generator ``rng[j]``
    (uint64 (4,), advanced; the ziggurat of :func:`dysonsgd.langevin._kernels.fill_normals`)
    if ``rng`` has a state, else no noise (``zs`` (n_sys, 0, 0), ``rng`` (n_sys, 0)). The
    ``d delta`` term along the mean gradient is added only if ``order_eps``.

    Shapes: a (n_sys, n, L), aT (n_sys, L, n), y (n_sys, n, d_out), Z (n_sys, d_out, K),
    bound (n_sys,), zs (n_sys, n_block, n) or (n_sys, 0, 0), rng uint64 (n_sys, 4) or
    (n_sys, 0), save_steps int64 (n_saves,), W (n_sys, K, L) updated, W_rec (n_sys,
    n_saves, K, L), loss_rec (n_sys, n_saves), state int64 (n_sys, 2). Each system runs
    sequentially, so the result does not depend on the number of threads, nor on how the
    evaluations are cut into calls.
    """
    for j in prange(W.shape[0]):
        _run_system(
            act,
            a[j],
            aT[j],
            y[j],
            Z[j],
            thr,
            bound[j],
            base,
            noise,
            h_eps,
            order_eps,
            k_start,
            k_stop,
            n_steps,
            zs[j],
            rng[j],
            save_steps,
            W[j],
            W_rec[j],
            loss_rec[j],
            state[j],
        )


@njit(cache=True, error_model="numpy")
def loss_gradient_hvp(act, a, aT, y, Z, W, V, grad, hv):
    """Full training loss (returned), its gradient and, if ``V.size``, the HVP ``H V``.

    ``grad`` and ``hv`` (K, L) are written (``hv`` only when V is not empty).
    """
    K, L = W.shape
    n = a.shape[0]
    d_out = Z.shape[0]
    scr = np.empty((NSCR, K, CHUNK))
    esc = np.empty((2, d_out, CHUNK))
    c = np.full(n, 1.0 / n)
    sq = full_pass(act, a, aT, y, Z, W, W, c, 0.0, False, grad, scr, esc)
    for i in range(K):
        for l in range(L):
            grad[i, l] = -grad[i, l]
    if V.size > 0:
        c[:] = 0.0
        full_pass(act, a, aT, y, Z, W, V, c, 1.0 / n, True, hv, scr, esc)
        for i in range(K):
            for l in range(L):
                hv[i, l] = -hv[i, l]
    return 0.5 * sq / n

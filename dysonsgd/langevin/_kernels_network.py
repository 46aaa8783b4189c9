"""Numba kernels of the ``network`` drift model (private; see :mod:`dysonsgd.langevin.network`).

The network is restricted to ``W(s) = U diag(s) V^T`` with fixed orthonormal U (K x K) and
V (L x K). With ``b_n = V^T a_n`` precomputed, ``z_n = W a_n = U (s * b_n)`` and the drift and
fluctuations need only O(K^2 d_out) work per sample. Activation codes follow
``dysonsgd.model.ACTIVATIONS``: 0 tanh, 1 identity, 2 relu.
"""

from __future__ import annotations

import math

import numpy as np

from dysonsgd._jit import njit
from dysonsgd.sgd._kernels import tanh


@njit(cache=True)
def _act(z, code):
    """phi(z), phi'(z), phi''(z)."""
    if code == 0:
        # tanh through expm1: exact to rounding and about three times faster than libm tanh
        m = math.expm1(-2.0 * abs(z))
        t = -m / (2.0 + m)
        if z < 0.0:
            t = -t
        p = 1.0 - t * t
        return t, p, -2.0 * t * p
    if code == 1:
        return z, 1.0, 0.0
    if z > 0.0:
        return z, 1.0, 0.0
    return 0.0, 0.0, 0.0


@njit(cache=True, inline="always")
def _rows_times(A, x, out):
    """``out = A^T x`` as a sum of scaled rows, ``out[:] += A[r, :] x_r``: no reduction in
    the inner loop, so LLVM vectorises it without reassociating a sum."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    for r in range(A.shape[0]):
        xr = x[r]
        row = A[r]
        for i in range(out.shape[0]):
            out[i] += row[i] * xr


@njit(cache=True)
def _output_error(yn, Z, f, c):
    """``c = Z^T e`` with ``e = y_n - Z f`` for one sample (in place)."""
    K = f.shape[0]
    for k in range(K):
        c[k] = 0.0
    for o in range(Z.shape[0]):
        e = yn[o]
        for k in range(K):
            e -= Z[o, k] * f[k]
        for k in range(K):
            c[k] += Z[o, k] * e


@njit(cache=True)
def _forward(s, U, bn, yn, Z, code, z, f, fp, fpp, c, delta):
    """One sample: z, phi(z), phi', phi'', c = Z^T e and delta = c * phi'(z) (in place)."""
    K = s.shape[0]
    for k in range(K):
        acc = 0.0
        for i in range(K):
            acc += U[k, i] * s[i] * bn[i]
        z[k] = acc
        f[k], fp[k], fpp[k] = _act(acc, code)
    _output_error(yn, Z, f, c)
    for k in range(K):
        delta[k] = c[k] * fp[k]


@njit(cache=True, error_model="numpy")
def network_drift(s, U, b, y, Z, code, with_slope, Kt_out, kappa_out):
    """Drift ``Kt_ii = 2 s_i u_i^T gbar v_i`` and its slope ``dKt_ii/dx_i`` (x = s^2).

    Parameters
    ----------
    s : (K,) singular values; U : (K, K); b : (n, K) = a V; y : (n, d_out); Z : (d_out, K)
    code : activation code
    with_slope : bool
        Compute kappa (otherwise kappa_out is left untouched; about half the work).
    Kt_out, kappa_out : (K,) outputs

    Every per-sample product is a sum of scaled rows (``out[:] += A[r, :] * x_r``), never a
    reduction in the innermost loop, and tanh is the engine's vectorisable one
    (:func:`dysonsgd.sgd._kernels.tanh`, within 2 ulp of numpy's), so LLVM vectorises each
    loop without reassociating a sum and the result does not depend on the SIMD width.
    """
    K = s.shape[0]
    n = b.shape[0]
    d_out = Z.shape[0]
    z = np.empty(K)
    fpp = np.empty(K)
    delta = np.empty(K)
    cf = np.empty(K)
    fp = np.empty(K)  # phi'(z)
    q = np.empty(K)
    d = np.empty(K)  # U^T delta_n
    curv = np.empty(K)  # sum_k U_ki^2 c_k phi''_k
    M = np.empty(K)  # (Z diag(phi') U)_oi for one output o
    w = np.empty(K)
    zw2 = np.empty(K)
    G = np.zeros(K)  # u_i^T gbar v_i = -mean_n (U^T delta_n)_i b_n,i
    dG = np.zeros(K)  # d/ds_i of the same
    UT = np.ascontiguousarray(U.T)
    U2 = U * U
    for m in range(n):
        bm = b[m]
        for i in range(K):
            q[i] = s[i] * bm[i]
        _rows_times(UT, q, z)  # z = U q
        # phi(z) overwrites z; phi' goes to fp, phi'' to fpp
        if code == 0:
            for k in range(K):
                t = tanh(z[k])
                p = 1.0 - t * t
                z[k] = t
                fp[k] = p
                fpp[k] = -2.0 * t * p
        else:
            for k in range(K):
                z[k], fp[k], fpp[k] = _act(z[k], code)
        _output_error(y[m], Z, z, cf)  # c = Z^T e, e = y - Z phi(z)
        for k in range(K):  # delta = c phi', and cf <- c phi''
            ck = cf[k]
            delta[k] = ck * fp[k]
            cf[k] = ck * fpp[k]
        _rows_times(U, delta, d)  # d = U^T delta
        if not with_slope:
            for i in range(K):
                G[i] -= d[i] * bm[i]
            continue
        _rows_times(U2, cf, curv)  # curv_i = sum_k U_ki^2 c_k phi''_k
        for i in range(K):
            zw2[i] = 0.0
        for o in range(d_out):
            for k in range(K):
                w[k] = Z[o, k] * fp[k]
            _rows_times(U, w, M)  # M_i = (Z diag(phi') U)_oi
            for i in range(K):
                zw2[i] += M[i] * M[i]
        for i in range(K):
            bi = bm[i]
            G[i] -= d[i] * bi
            dG[i] -= bi * bi * (curv[i] - zw2[i])
    for i in range(K):
        G[i] /= n
        Kt_out[i] = 2.0 * s[i] * G[i]
        if with_slope:
            # dKt/dx = (dKt/ds) / (2 s) = G/s + dG/ds
            kappa_out[i] = G[i] / s[i] + dG[i] / n


@njit(cache=True)
def network_noise(s, U, b, a, y, Z, code, Vt_out, C_out):
    """Exact fluctuations ``Vt_ij = Var_n(u_i^T D_n u_j)`` and ``C_ii`` on the samples.

    Parameters
    ----------
    s : (K,); U : (K, K); b : (n, K) = a V; a : (n, L); y : (n, d_out); Z : (d_out, K)
    code : activation code
    Vt_out : (K, K) output; C_out : (K,) output
    """
    K = s.shape[0]
    n = b.shape[0]
    L = a.shape[1]
    z = np.empty(K)
    f = np.empty(K)
    fp = np.empty(K)
    fpp = np.empty(K)
    c = np.empty(K)
    delta = np.empty(K)
    d = np.empty((n, K))  # d_n = U^T delta_n
    for m in range(n):
        _forward(s, U, b[m], y[m], Z, code, z, f, fp, fpp, c, delta)
        for i in range(K):
            acc = 0.0
            for k in range(K):
                acc += U[k, i] * delta[k]
            d[m, i] = acc
    # Dt_n,ij = -(q_i d_j + d_i q_j) with q = s * b_n; two passes (mean, then variance).
    mean = np.zeros((K, K))
    for m in range(n):
        for i in range(K):
            qi = s[i] * b[m, i]
            for j in range(K):
                mean[i, j] -= qi * d[m, j] + d[m, i] * s[j] * b[m, j]
    for i in range(K):
        for j in range(K):
            mean[i, j] /= n
            Vt_out[i, j] = 0.0
    for m in range(n):
        for i in range(K):
            qi = s[i] * b[m, i]
            for j in range(K):
                dev = -(qi * d[m, j] + d[m, i] * s[j] * b[m, j]) - mean[i, j]
                Vt_out[i, j] += dev * dev
    for i in range(K):
        for j in range(K):
            Vt_out[i, j] /= n
    # C_ii = mean_n |d_n,i a_n - hbar_i|^2, hbar_i = mean_n d_n,i a_n (L columns).
    hbar = np.zeros((K, L))
    for m in range(n):
        for i in range(K):
            for col in range(L):
                hbar[i, col] += d[m, i] * a[m, col]
    for i in range(K):
        for col in range(L):
            hbar[i, col] /= n
        C_out[i] = 0.0
    for m in range(n):
        for i in range(K):
            acc = 0.0
            for col in range(L):
                dev = d[m, i] * a[m, col] - hbar[i, col]
                acc += dev * dev
            C_out[i] += acc
    for i in range(K):
        C_out[i] /= n


# --------------------------------------------------------------------------- rotating frame


@njit(cache=True)
def frame_forward(s, U, UT, b, a, y, Z, code, w, n_drift, do_noise, d_buf, q_buf, fp_out, G_out,
                  Kt_out, S1_out, Xi_out):  # fmt: skip
    """First pass over a sample set in the current frame of the rotating network model.

    The state is ``W = U diag(s) V^T`` with ``b_m = V^T a_m`` precomputed; the per-sample
    gradient is ``g_m = -delta_m a_m^T`` and ``d_m = U^T delta_m``, so ``U^T g_m = -d_m a_m^T``
    (rows in the frame, columns in the original L coordinates).

    Parameters
    ----------
    s : (K,); U, UT : (K, K), UT = U^T contiguous; b : (n, K) = a V; a : (n, L);
    y : (n, d_out); Z : (d_out, K); code : activation code
    w : (n,)
        Weights of the noise matrix (``z_m / sqrt(n)``, z_m iid N(0, 1)); unused unless
        ``do_noise``.
    n_drift : int
        The first ``n_drift`` samples (0 <= n_drift <= n) are the drift set.
    do_noise : bool
        Pass over all n samples and fill S1 and Xi (otherwise only the drift set).
    d_buf, q_buf, fp_out : (n, K) outputs
        ``d_m``, ``q_m = s * b_m`` and ``phi'(z_m)`` (z_m = W a_m, original coordinates).
    G_out : (K, L) output (if n_drift > 0)
        ``U^T gbar``, gbar the mean gradient over the drift set.
    Kt_out : (K,) output (if n_drift > 0)
        ``Kt_ii = 2 s_i u_i^T gbar v_i`` on the drift set.
    S1_out : (K, L) output
        ``sum_m d_m a_m^T`` over the noise set.
    Xi_out : (K, L) output
        ``U^T xi``, ``xi = sum_m w_m (g_m - gbar_noise)`` over the noise set.
    """
    K = s.shape[0]
    n = b.shape[0]
    L = a.shape[1]
    z = np.empty(K)
    f = np.empty(K)
    c = np.empty(K)
    Sw = np.zeros((K, L))  # sum_m w_m d_m a_m^T
    Gd = np.zeros(K)  # sum_m d_mi b_mi over the drift set
    for i in range(K):
        for col in range(L):
            S1_out[i, col] = 0.0
    n_end = n if do_noise else n_drift
    wsum = 0.0
    for m in range(n_end):
        for i in range(K):
            q_buf[m, i] = s[i] * b[m, i]
        # z = U q as axpys over the rows of U^T (contiguous)
        for k in range(K):
            z[k] = 0.0
        for i in range(K):
            qi = q_buf[m, i]
            for k in range(K):
                z[k] += UT[i, k] * qi
        for k in range(K):
            f[k], fp_out[m, k], _ = _act(z[k], code)
        _output_error(y[m], Z, f, c)
        for i in range(K):
            d_buf[m, i] = 0.0
        for k in range(K):
            dk = c[k] * fp_out[m, k]
            for i in range(K):
                d_buf[m, i] += U[k, i] * dk
        wm = w[m] if do_noise else 0.0
        wsum += wm
        for i in range(K):
            di = d_buf[m, i]
            dw = di * wm
            for col in range(L):
                S1_out[i, col] += di * a[m, col]
                Sw[i, col] += dw * a[m, col]
            if m < n_drift:
                Gd[i] += di * b[m, i]
        if m == n_drift - 1:
            for i in range(K):
                for col in range(L):
                    G_out[i, col] = -S1_out[i, col] / n_drift
                Kt_out[i] = -2.0 * s[i] * Gd[i] / n_drift
    if do_noise:
        for i in range(K):
            for col in range(L):
                Xi_out[i, col] = -(Sw[i, col] - wsum * S1_out[i, col] / n)


@njit(cache=True)
def frame_noise(s, d, q, bt, a_sq, Wt, omega, Pi, S1, Vt_out, C_out):
    """Second pass: Vt and C of the per-sample gradients as the implicit frame step sees them.

    The frame step applies ``B = 1 - sum_k omega_k w_k w_k^T`` (the implicit operator
    ``(1 + Delta H)^{-1}`` on the eigenvectors w_k of the stiff Gauss-Newton block that it
    treats implicitly, ``omega_k = Delta mu_k / (1 + Delta mu_k)``) to the stiff block
    ``g P`` of every increment; the levels' coefficients are those of the same increments:
    ``g~_m = g_m - (sum_k c_mk W_k) P^T`` with ``c_mk = omega_k <W_k, g_m P>``. In the frame,
    ``U^T g~_m = -d_m a_m^T + E_m P^T``, ``E_m = sum_k c_mk Wt_k``, ``Wt_k = U^T W_k``.

    Parameters
    ----------
    s : (K,); d, q : (n, K) from :func:`frame_forward`; bt : (n, r) = a P; a_sq : (n,)
    Wt : (nc, K, r)
        ``U^T W_k`` of the implicit eigenvectors (W_k: w_k as a K x r matrix).
    omega : (nc,); Pi : (r, K) = P^T V; S1 : (K, L) from :func:`frame_forward`
    Vt_out : (K, K) output
        ``Var_m(s_j G~_m,ij + s_i G~_m,ji)``, ``G~_m = U^T g~_m V`` (shifted one-pass sums).
    C_out : (K,) output
        ``E_m |row_i(U^T g~_m) - mean|^2`` (summed over the L columns).
    """
    n, K = d.shape
    r = bt.shape[1]
    nc = omega.shape[0]
    L = S1.shape[1]
    WtT = np.empty((nc, r, K))  # Wt with the K axis last (contiguous inner loops)
    for k in range(nc):
        for i in range(K):
            for p in range(r):
                WtT[k, p, i] = Wt[k, i, p]
    Pis = np.empty((r, K))  # Pi_pj s_j
    for p in range(r):
        for j in range(K):
            Pis[p, j] = Pi[p, j] * s[j]
    cm = np.empty(nc)
    tb = np.empty(K)
    ET = np.empty((r, K))  # E_m transposed
    A = np.empty((K, K))  # A_ij = s_j G~_ij; D_ij = A_ij + A_ji
    SE = np.zeros((r, K))  # sum_m E_m (transposed)
    SB = np.zeros((r, K))  # sum_m bt_m d_m^T = (S1 P)^T
    rowsq = np.zeros(K)
    shift = np.zeros((K, K))  # D of sample 0: one-pass sums of D - shift
    S = np.zeros((K, K))
    SS = np.zeros((K, K))
    for m in range(n):
        for k in range(nc):
            for i in range(K):
                tb[i] = 0.0
            for p in range(r):
                bp = bt[m, p]
                for i in range(K):
                    tb[i] += WtT[k, p, i] * bp
            acc = 0.0
            for i in range(K):
                acc += d[m, i] * tb[i]
            cm[k] = omega[k] * acc
        for p in range(r):
            for i in range(K):
                ET[p, i] = 0.0
        for k in range(nc):
            ck = cm[k]
            for p in range(r):
                for i in range(K):
                    ET[p, i] += ck * WtT[k, p, i]
        for i in range(K):
            mdi = -d[m, i]
            for j in range(K):
                A[i, j] = mdi * q[m, j]
            for p in range(r):
                eip = ET[p, i]
                for j in range(K):
                    A[i, j] += eip * Pis[p, j]
        for i in range(K):
            di = d[m, i]
            rowsq[i] += di * di * a_sq[m]
        for p in range(r):
            bp = bt[m, p]
            for i in range(K):
                e = ET[p, i]
                di = d[m, i]
                rowsq[i] += e * (e - 2.0 * di * bp)
                SE[p, i] += e
                SB[p, i] += di * bp
        if m == 0:
            for i in range(K):
                for j in range(i, K):
                    shift[i, j] = A[i, j] + A[j, i]
        for i in range(K):
            for j in range(i, K):
                v = A[i, j] + A[j, i] - shift[i, j]
                S[i, j] += v
                SS[i, j] += v * v
    for i in range(K):
        for j in range(i, K):
            mu = S[i, j] / n
            v = max(SS[i, j] / n - mu * mu, 0.0)
            Vt_out[i, j] = v
            Vt_out[j, i] = v
        # |mean row|^2 n^2 = |S1_i|^2 - 2 (S1_i P) . SE_i + |SE_i|^2, P orthonormal
        acc = 0.0
        for col in range(L):
            acc += S1[i, col] * S1[i, col]
        for p in range(r):
            acc += SE[p, i] * SE[p, i] - 2.0 * SB[p, i] * SE[p, i]
        C_out[i] = max((rowsq[i] - acc / n) / n, 0.0)


@njit(cache=True)
def stiff_gauss_newton(fp, bt, ZtZ, n, H_out):
    """Gauss-Newton Hessian of the loss on the stiff block ``dW = X P^T`` (X: K x r).

    ``H[(k, p), (l, q)] = (Z^T Z)_kl E_m[phi'_mk phi'_ml bt_mp bt_mq]`` over the first n
    samples, with ``bt_m = P^T a_m`` and ``phi'`` at ``z_m = W a_m``; index ``(k, p) -> k r + p``.

    Parameters
    ----------
    fp : (>= n, K); bt : (>= n, r); ZtZ : (K, K); n : int; H_out : (K r, K r) output
    """
    K = fp.shape[1]
    r = bt.shape[1]
    Kr = K * r
    J = np.empty(Kr)
    for i in range(Kr):
        for j in range(Kr):
            H_out[i, j] = 0.0
    for m in range(n):
        for k in range(K):
            for p in range(r):
                J[k * r + p] = fp[m, k] * bt[m, p]
        for i in range(Kr):
            Ji = J[i]
            for j in range(i, Kr):
                H_out[i, j] += Ji * J[j]
    for i in range(Kr):
        ki = i // r
        for j in range(i, Kr):
            v = H_out[i, j] * ZtZ[ki, j // r] / n
            H_out[i, j] = v
            H_out[j, i] = v


@njit(cache=True)
def project(a, V, out):
    """``out = a V`` (n x L times L x K) without BLAS: the frame's ``b_m = V^T a_m``."""
    n, L = a.shape
    K = V.shape[1]
    for m in range(n):
        for i in range(K):
            out[m, i] = 0.0
        for col in range(L):
            am = a[m, col]
            for i in range(K):
                out[m, i] += am * V[col, i]

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


@njit(cache=True)
def _forward(s, U, bn, yn, Z, code, z, f, fp, fpp, c, delta):
    """One sample: z, phi(z), phi', phi'', c = Z^T e and delta = c * phi'(z) (in place)."""
    K = s.shape[0]
    d_out = Z.shape[0]
    for k in range(K):
        acc = 0.0
        for i in range(K):
            acc += U[k, i] * s[i] * bn[i]
        z[k] = acc
        f[k], fp[k], fpp[k] = _act(acc, code)
    for k in range(K):
        c[k] = 0.0
    for o in range(d_out):
        e = yn[o]
        for k in range(K):
            e -= Z[o, k] * f[k]
        for k in range(K):
            c[k] += Z[o, k] * e
    for k in range(K):
        delta[k] = c[k] * fp[k]


@njit(cache=True)
def network_drift(s, U, b, y, Z, code, with_slope, Kt_out, kappa_out):
    """Drift ``Kt_ii = 2 s_i u_i^T gbar v_i`` and its slope ``dKt_ii/dx_i`` (x = s^2).

    Parameters
    ----------
    s : (K,) singular values; U : (K, K); b : (n, K) = a V; y : (n, d_out); Z : (d_out, K)
    code : activation code
    with_slope : bool
        Compute kappa (otherwise kappa_out is left untouched; about half the work).
    Kt_out, kappa_out : (K,) outputs
    """
    K = s.shape[0]
    n = b.shape[0]
    d_out = Z.shape[0]
    z = np.empty(K)
    f = np.empty(K)
    fp = np.empty(K)
    fpp = np.empty(K)
    c = np.empty(K)
    delta = np.empty(K)
    G = np.zeros(K)  # u_i^T gbar v_i = -mean_n (U^T delta_n)_i b_n,i
    dG = np.zeros(K)  # d/ds_i of the same
    UT = np.ascontiguousarray(U.T)
    cf = np.empty(K)
    zf = np.empty((d_out, K))
    for m in range(n):
        _forward(s, U, b[m], y[m], Z, code, z, f, fp, fpp, c, delta)
        if not with_slope:
            for i in range(K):
                di = 0.0
                for k in range(K):
                    di += UT[i, k] * delta[k]
                G[i] -= di * b[m, i]
            continue
        for k in range(K):
            cf[k] = c[k] * fpp[k]
        for o in range(d_out):
            for k in range(K):
                zf[o, k] = Z[o, k] * fp[k]
        for i in range(K):
            di = 0.0
            curv = 0.0
            for k in range(K):
                u = UT[i, k]
                di += u * delta[k]
                curv += u * u * cf[k]
            zw2 = 0.0
            for o in range(d_out):
                acc = 0.0
                for k in range(K):
                    acc += zf[o, k] * UT[i, k]
                zw2 += acc * acc
            bi = b[m, i]
            G[i] -= di * bi
            dG[i] -= bi * bi * (curv - zw2)
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

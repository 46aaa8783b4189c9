"""Plain-numpy reference of the two schemes, driven by supplied Brownian increments.

Readable and slow: the oracle the numba kernels are tested against (same formulas, same
Newton iteration), and the numpy baselines of benchmarks/bench_langevin.py. No step control:
a step the kernel would reject raises ``RuntimeError`` here, so tests use paths without
rejections.
"""

from __future__ import annotations

import numpy as np

from dysonsgd.langevin import _kernels as _k


def drift_diffusion(y, positive, T, kt0, kappa, V0, a, C, ad=None):
    """Drift f and diffusion g of the state y (shape (K,)); see ``_kernels.drift_diffusion``.

    ``ad`` (K,) is the per-level extra slope of the diagonal noise (default 0).
    """
    ad = np.zeros_like(C) if ad is None else ad
    x = y * y if positive else y.copy()
    d = x[:, None] - x[None, :]
    np.fill_diagonal(d, 1.0)
    V = V0 + a * (x[:, None] + x[None, :])
    pair = T * V / d
    np.fill_diagonal(pair, 0.0)
    b = T * C - kt0 - kappa * x + pair.sum(axis=1)
    vii = T * (np.diag(V0) + 4.0 * (a + ad) * x)
    if positive:
        q = 0.5 / y
        return b * q - vii * q**3, np.sqrt(vii) * q
    return b, np.sqrt(vii)


def _admissible(y, positive):
    y = y.copy()
    if positive and y[-1] < 0:
        y[-1] = -y[-1]
    ok = bool(np.all(np.isfinite(y)) and np.all(np.diff(y) < 0))
    if positive:
        ok = ok and y[-1] >= _k.TINY and bool(np.all(np.diff(y * y) < 0))
    return ok, y


def euler_step(y, h, dW, positive, T, kt0, kappa, V0, a, C, ad=None):
    """Explicit Euler-Maruyama step with the kernel's acceptance test; returns (ok, y_new)."""
    f, g = drift_diffusion(y, positive, T, kt0, kappa, V0, a, C, ad)
    ynew = y + h * f + g * dW
    gaps = y[:-1] - y[1:]
    if np.any(np.abs((ynew[:-1] - ynew[1:]) - gaps) > _k.GAP_FRACTION * gaps):
        return False, ynew
    if positive and _wall(positive, T, kt0, a, C, ad)[-1] > 0:
        if abs(ynew[-1] - y[-1]) > _k.GAP_FRACTION * y[-1]:
            return False, ynew
    return _admissible(ynew, positive)


def _weights(y, positive, T, V0, a):
    if positive:
        q = 1.0 / y
        W = 0.5 * T * a + 0.25 * T * V0 * q[:, None] * q[None, :]
    else:
        W = T * (V0 + a * (y[:, None] + y[None, :]))
    np.fill_diagonal(W, 0.0)
    return W


def _wall(positive, T, kt0, a, C, ad=None):
    if not positive:
        return np.zeros_like(C)
    ad = np.zeros_like(C) if ad is None else ad
    return np.maximum(0.0, 0.5 * (T * C - kt0 - T * (a * C.shape[0] + ad)))


def _implicit_force(yv, positive, W, om):
    d = yv[:, None] - yv[None, :]
    np.fill_diagonal(d, np.inf)
    phi = (W / d).sum(axis=1)
    if positive:
        p = yv[:, None] + yv[None, :]
        np.fill_diagonal(p, np.inf)
        phi += (W / p).sum(axis=1)
        pos = om > 0
        phi[pos] += om[pos] / yv[pos]
    return phi


def _feasible(yv, positive, om):
    if not (np.all(np.isfinite(yv)) and np.all(np.diff(yv) < 0)):
        return False
    if positive:
        if not yv[-2] + yv[-1] > 0:
            return False
        if np.any(yv[om > 0] <= 0):
            return False
    return True


def _grad_hess(yv, z, h, positive, W, om):
    K = yv.shape[0]
    d = yv[:, None] - yv[None, :]
    np.fill_diagonal(d, np.inf)
    hW = h * W
    grad = yv - z - (hW / d).sum(axis=1)
    H2 = hW / d**2
    dg = 1.0 + H2.sum(axis=1)
    od = -np.diagonal(H2, 1).copy()
    if positive:
        p = yv[:, None] + yv[None, :]
        np.fill_diagonal(p, np.inf)
        grad -= (hW / p).sum(axis=1)
        P2 = hW / p**2
        dg += P2.sum(axis=1)
        od += np.diagonal(P2, 1)
        pos = om > 0
        grad[pos] -= h * om[pos] / yv[pos]
        dg[pos] += h * om[pos] / yv[pos] ** 2
    e = np.zeros(K)
    e[:-1] = od
    return grad, dg, e, float(np.sqrt(grad @ grad))


def _thomas(dg, e, rhs):
    K = dg.shape[0]
    cp = np.empty(K)
    dp = np.empty(K)
    cp[0] = e[0] / dg[0]
    dp[0] = -rhs[0] / dg[0]
    for i in range(1, K):
        den = dg[i] - e[i - 1] * cp[i - 1]
        cp[i] = e[i] / den
        dp[i] = (-rhs[i] - e[i - 1] * dp[i - 1]) / den
    out = np.empty(K)
    out[-1] = dp[-1]
    for i in range(K - 2, -1, -1):
        out[i] = dp[i] - cp[i] * out[i + 1]
    return out


def _hessian_full(yv, h, positive, W, om):
    d = yv[:, None] - yv[None, :]
    np.fill_diagonal(d, np.inf)
    H2 = h * W / d**2
    H = -H2
    diag = 1.0 + H2.sum(axis=1)
    if positive:
        p = yv[:, None] + yv[None, :]
        np.fill_diagonal(p, np.inf)
        P2 = h * W / p**2
        H = H + P2
        diag = diag + P2.sum(axis=1)
        pos = om > 0
        diag[pos] += h * om[pos] / yv[pos] ** 2
    np.fill_diagonal(H, diag)
    return H


def implicit_solve(yold, z, h, positive, W, om):
    """Newton solve of ``y = z + h Phi(y)`` (same iteration as the kernel); (ok, y)."""
    yv = z.copy() if _feasible(z, positive, om) else yold.copy()
    grad, dg, e, gn = _grad_hess(yv, z, h, positive, W, om)
    dmax = 0.0
    for it in range(_k.NEWTON_MAX_ITER):
        dense = it >= _k.NEWTON_TRI_ITER
        if dense:
            delta = -np.linalg.solve(_hessian_full(yv, h, positive, W, om), grad)
        else:
            delta = _thomas(dg, e, grad)
        dmax = float(np.max(np.abs(delta)))
        scale = float(np.max(np.abs(yv)))
        if dmax <= _k.NEWTON_RTOL * scale:
            yt = yv + delta
            return True, (yt if _feasible(yt, positive, om) else yv)
        alpha = 1.0
        failed = False
        while True:
            yt = yv + alpha * delta
            if _feasible(yt, positive, om):
                gt, dgt, et, gnt = _grad_hess(yt, z, h, positive, W, om)
                if gnt < gn or alpha * dmax <= _k.NEWTON_FLOOR * scale:
                    break
            alpha *= 0.5
            if alpha < 1e-12:
                failed = True
                break
        if failed:
            if dense:
                return False, yv
            continue
        yv, grad, dg, e, gn = yt, gt, dgt, et, gnt
    return dmax <= _k.NEWTON_FLOOR * float(np.max(np.abs(yv))), yv


def semi_implicit_step(y, h, dW, positive, T, kt0, kappa, V0, a, C, ad=None):
    """Semi-implicit Euler-Maruyama step (see ``_kernels.semi_implicit_step``); (ok, y_new)."""
    f, g = drift_diffusion(y, positive, T, kt0, kappa, V0, a, C, ad)
    W = _weights(y, positive, T, V0, a)
    om = _wall(positive, T, kt0, a, C, ad)
    z = y + h * (f - _implicit_force(y, positive, W, om)) + g * dW
    ok, ynew = implicit_solve(y, z, h, positive, W, om)
    if not ok:
        return False, ynew
    return _admissible(ynew, positive)


STEPS = {"euler": euler_step, "semi_implicit": semi_implicit_step}


def path(y0, h, dB, positive, T, kt0, kappa, V0, a, C, scheme="euler", ad=None):
    """States after each of the steps ``h`` driven by ``dB`` (shape (n_steps, K)).

    Returns ndarray of float64, shape (n_steps + 1, K) (the state variable y: x or s).
    Raises RuntimeError when a step would be rejected (the kernel would bisect it).
    """
    step = STEPS[scheme]
    out = np.empty((dB.shape[0] + 1, y0.shape[0]))
    out[0] = y = np.array(y0, dtype=np.float64)
    for n in range(dB.shape[0]):
        ok, y = step(y, h, dB[n], positive, T, kt0, kappa, V0, a, C, ad)
        if not ok:
            raise RuntimeError(f"step {n} rejected; the reference has no step control")
        out[n + 1] = y
    return out


def euler_ensemble(y0, h, n_steps, positive, T, kt0, kappa, V0, a, C, rng):
    """Euler-Maruyama vectorised over the ensemble (benchmark baseline; no step control).

    y0 : (n, K); coefficients with a leading ensemble axis. Returns the final states and
    the number of steps whose result was not admissible (counted, not repaired).
    """
    y = np.array(y0, dtype=np.float64)
    bad = 0
    for _ in range(n_steps):
        x = y * y if positive else y
        d = x[:, :, None] - x[:, None, :]
        idx = np.arange(x.shape[1])
        d[:, idx, idx] = 1.0
        V = V0 + a[:, None, None] * (x[:, :, None] + x[:, None, :])
        pair = T * V / d
        pair[:, idx, idx] = 0.0
        b = T * C - kt0 - kappa * x + pair.sum(axis=2)
        vii = T * (V0[:, idx, idx] + 4.0 * a[:, None] * x)
        if positive:
            q = 0.5 / y
            f, g = b * q - vii * q**3, np.sqrt(vii) * q
        else:
            f, g = b, np.sqrt(vii)
        y = y + h * f + g * rng.standard_normal(y.shape) * np.sqrt(h)
        if positive:
            y[:, -1] = np.abs(y[:, -1])
        bad += int(np.count_nonzero(np.any(np.diff(y, axis=1) >= 0, axis=1)))
    return y, bad

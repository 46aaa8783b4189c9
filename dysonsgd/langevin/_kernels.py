"""Numba kernels of the eigenvalue Langevin integrator (private).

State of one system: ``y`` of shape (K,), strictly descending. For the ``real`` domain
``y = x`` (eigenvalues); for the ``positive`` domain ``y = s = sqrt(x)`` (singular values)
and the Ito form of docs/theory.md (section 1) is integrated. Coefficients are the affine family of
:class:`dysonsgd.langevin.models.Coefficients`, held fixed during one kernel call.

Every member of the ensemble runs independently in a ``prange`` loop with its own
xoshiro256** generator (state in a ``(n, 4)`` uint64 array that persists between calls) and
draws its normals with the ziggurat (:func:`_std_normal`), so member k never depends on
the ensemble size or on thread scheduling.

Kernels use ``error_model="numpy"``: a division by zero gives inf/nan (caught by the
admissibility test and turned into a rejected step) instead of raising inside ``prange``.

Step control (both schemes): an outer step of size h with Brownian increment dW is tried; if
it is rejected (crossing, leaving the domain, non-finite values, or, for the semi-implicit
scheme, an unconverged implicit solve) the interval is bisected and the midpoint value of the
Brownian path is drawn from the Brownian bridge, ``W(h/2) = dW/2 + sqrt(h/4) Z``, so the path
already drawn is kept and refined rather than redrawn.

References
----------
D. Blackman, S. Vigna, *Scrambled linear pseudorandom number generators*, ACM TOMS 47, 36
(2021) (xoshiro256**). G. Marsaglia, W. W. Tsang, *The ziggurat method for generating
random variables*, J. Stat. Softw. 5(8) (2000). G. Marsaglia, *Generating a variable from
the tail of the normal distribution*, Technometrics 6, 101 (1964).
"""

from __future__ import annotations

import math

import numpy as np

from dysonsgd._jit import njit, prange

# scheme codes
EULER = 0
SEMI_IMPLICIT = 1

# member status codes
OK = 0
NONFINITE = 1  # a step produced non-finite values and could not be refined further
OVERFLOW = 2  # |state| exceeded BIG
STEP_LIMIT = 3  # bisection depth exhausted: no admissible step down to h / 2**MAX_DEPTH
MAX_STEPS = 4  # the member's budget of step attempts ran out

BIG = 1e150  # state magnitude treated as overflow (x = s^2 stays below 1e300)
TINY = 1e-150  # positive domain: smallest admissible s_K (x = s^2 stays a normal double > 0)
MAX_DEPTH = 100  # bisection levels of one outer step (near-collisions need h ~ gap^2)
# Euler: from this bisection level on (sub-steps below dt / 2**48), a rejected explicit
# sub-step is retried with the semi-implicit step on the same increment before bisecting
# further (counted per system in ``fallback``). The gap of a close pair at beta = 1 is a
# critical (2-d) Bessel process: it comes within eps with probability ~ 1 / log(1 / eps)
# (Wishart test setting, K = 4: 37%, 22%, 12%, 6.5% of systems need sub-steps below
# dt / 2**12, 2**20, 2**32, 2**48), and explicit steps need h ~ gap^2. Without the fallback
# 0.85% of those systems bisected down to gaps at the rounding floor of the levels (no
# admissible step: STEP_LIMIT) or spent the step budget (MAX_STEPS). At 48 the fallback
# covers a negligible time (< 1e-14 dt per use), so the path is explicit Euler elsewhere.
FALLBACK_DEPTH = 48
GAP_FRACTION = 0.5  # Euler: largest relative change of a gap (or of a walled s_K) per step
NEWTON_MAX_ITER = 60
NEWTON_TRI_ITER = 8  # tridiagonal-Hessian iterations before switching to the full Hessian
NEWTON_RTOL = 1e-13  # converged when the Newton step is below this times max|y|
NEWTON_FLOOR = 1e-10  # ... or, at the iteration cap, below this (rounding floor reached)
_U53 = 1.0 / 9007199254740992.0  # 2**-53

# rows of the per-member scratch array
_X, _F, _G, _Z, _PHI, _GRAD, _DG, _E, _DELTA, _YT, _GT, _DGT, _ET, _CP, _DP, _QO, _XO, _OM = range(
    18
)
_NSCRATCH = 18


# --------------------------------------------------------------------------- random numbers


@njit(cache=True, inline="always", error_model="numpy")
def _rotl(v, k):
    return (v << np.uint64(k)) | (v >> np.uint64(64 - k))


@njit(cache=True, error_model="numpy")
def _next_u64(st):
    """xoshiro256** (Blackman & Vigna 2018); ``st`` is a uint64 array of length 4."""
    s0 = st[0]
    s1 = st[1]
    s2 = st[2]
    s3 = st[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    st[0] = s0
    st[1] = s1
    st[2] = s2
    st[3] = s3
    return result


@njit(cache=True, error_model="numpy")
def _uniform(st):
    """Uniform double in [0, 1) from the top 53 bits."""
    return float(_next_u64(st) >> np.uint64(11)) * _U53


def _ziggurat_tables(n: int = 256) -> tuple[float, np.ndarray, np.ndarray]:
    """Layer tables of the ziggurat for the half-normal density ``f(x) = exp(-x^2/2)``.

    ``n`` layers of equal area ``v``: the base layer is the rectangle ``[0, r] x [0, f(r)]``
    plus the tail beyond ``r``; layer ``k >= 1`` is ``[0, X_k] x [f(X_k), f(X_{k+1})]``
    with ``X_1 = r > X_2 > ... > X_n = 0``. ``r`` is solved (bisection to the last bit)
    so that the top layer ends exactly at ``f(0) = 1``; with equal areas the sampler below
    is exact rejection sampling. Returns ``r``, ``X`` (n + 1,) with ``X_0 = v / f(r)`` (the
    base layer's width as a rectangle of area v) and ``F = f(X)`` (n + 1,).
    """

    def f(x):
        return math.exp(-0.5 * x * x)

    def area(r):
        return r * f(r) + math.sqrt(0.5 * math.pi) * math.erfc(r / math.sqrt(2.0))

    def top_residual(r):
        v = area(r)
        x = r
        for _ in range(n - 2):
            y = v / x + f(x)
            if y >= 1.0:  # layers too thick: the top was reached early, r too small
                return 1.0
            x = math.sqrt(-2.0 * math.log(y))
        return v / x + f(x) - 1.0

    lo, hi = 3.0, 4.5  # residual > 0 at lo, < 0 at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if top_residual(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    r = hi
    v = area(r)
    X = np.empty(n + 1)
    X[0] = v / f(r)
    X[1] = r
    for k in range(1, n - 1):
        X[k + 1] = math.sqrt(-2.0 * math.log(v / X[k] + f(X[k])))
    X[n] = 0.0
    F = np.exp(-0.5 * X * X)
    F[n] = 1.0
    return r, X, F


_ZR, _ZX, _ZF = _ziggurat_tables()


@njit(cache=True, inline="always", error_model="numpy")
def _std_normal(st):
    """One N(0, 1) draw: the ziggurat of Marsaglia & Tsang (2000), 256 layers.

    One 64-bit output gives the layer (bits 0-7), the sign (bit 8) and the abscissa
    (bits 11-63); about 99% of draws are accepted on the first comparison. Wedges are
    resolved by rejection against ``exp(-x^2/2)``, the base layer's tail beyond ``r`` by
    Marsaglia's (1964) exponential method, so the draw is exactly normal (to the 53-bit
    resolution of the uniforms). About 2.9 ns per draw against 7.2 ns for Marsaglia's polar
    method, the kernel's generator before; inlined into the kernels, the ziggurat made the
    one-thread Euler kernel 1.38x faster at K = 16, 1.15x at K = 64 (A/B in one run,
    commit a5393ec, docs/performance.md).
    """
    while True:
        u = _next_u64(st)
        i = np.intp(u & np.uint64(0xFF))
        x = float(u >> np.uint64(11)) * _U53 * _ZX[i]
        if x < _ZX[i + 1]:
            break
        if i == 0:
            while True:
                e = -math.log(1.0 - _uniform(st)) / _ZR
                t = -math.log(1.0 - _uniform(st))
                if t + t > e * e:
                    break
            x = _ZR + e
            break
        if _ZF[i] + _uniform(st) * (_ZF[i + 1] - _ZF[i]) < math.exp(-0.5 * x * x):
            break
    if (u >> np.uint64(8)) & np.uint64(1):
        return -x
    return x


@njit(cache=True, error_model="numpy")
def fill_normals(st, out, scale):
    """Fill ``out`` with independent N(0, scale^2) draws (the ziggurat, :func:`_std_normal`)."""
    for i in range(out.shape[0]):
        out[i] = scale * _std_normal(st)


@njit(cache=True, error_model="numpy")
def normals(state, n):
    """``n`` standard normals from generator ``state`` (uint64, shape (4,)); for tests."""
    out = np.empty(n)
    fill_normals(state, out, 1.0)
    return out


# --------------------------------------------------------------------------- coefficients


SYM_RTOL = 1e-12  # V0 symmetric when |V0_ij - V0_ji| <= SYM_RTOL min(|V0_ij|, |V0_ji|)


@njit(cache=True, error_model="numpy")
def check_symmetrise_v0(V0, out, where):
    """Validate ``V0`` (n, K, K) in one pass over its pairs; write its symmetric part to ``out``.

    Checks every entry finite, >= 0, and every pair symmetric to ``SYM_RTOL`` relative to
    the smaller modulus (the test ``np.allclose(V0, V0^T, rtol, atol=0)`` applies in both
    orders). Returns 0 when all hold, else the first failed check in the order 1 non-finite,
    2 asymmetric, 3 negative, with ``where`` (int64, (3,)) = (system, i, j) of its first
    offending entry. ``out`` may be written partially on failure.
    """
    n, K = V0.shape[0], V0.shape[1]
    bad = 0  # lowest code found so far (0 = none)
    B = 32  # square tiles: the transposed reads V0[j, i] stay in cache (K = 256: 2 KiB rows)
    for m in range(n):
        for i in range(K):
            d = V0[m, i, i]
            if not math.isfinite(d):
                code = 1
            elif d < 0.0:
                code = 3
            else:
                code = 0
            if code != 0 and (bad == 0 or code < bad):
                bad = code
                where[0], where[1], where[2] = m, i, i
            out[m, i, i] = d
        for i0 in range(0, K, B):
            for j0 in range(i0, K, B):
                for i in range(i0, min(i0 + B, K)):
                    for j in range(max(j0, i + 1), min(j0 + B, K)):
                        u = V0[m, i, j]
                        lo = V0[m, j, i]
                        if not (math.isfinite(u) and math.isfinite(lo)):
                            code = 1
                        elif not (abs(u - lo) <= SYM_RTOL * min(abs(u), abs(lo))):
                            code = 2
                        elif u < 0.0 or lo < 0.0:
                            code = 3
                        else:
                            code = 0
                        if code != 0 and (bad == 0 or code < bad):
                            bad = code
                            where[0], where[1], where[2] = m, i, j
                        w = 0.5 * (u + lo)
                        out[m, i, j] = w
                        out[m, j, i] = w
        if bad == 1:
            return bad  # nothing outranks a non-finite entry
    return bad


@njit(cache=True, error_model="numpy")
def drift_diffusion(y, positive, T, kt0, kappa, V0, a, ad, C, x, f, g):
    """Drift ``f`` and diffusion ``g`` of the state ``y`` (docs/theory.md, sections 1 and 3).

    In x: ``b_i = -(kt0_i + kappa_i x_i) + T (C_i + sum_j Vt_ij / (x_i - x_j))`` and
    ``sqrt(T Vt_ii)``; for the positive domain (y = s) the Ito transform
    ``f_i = b_i / (2 s_i) - T Vt_ii / (8 s_i^3)``, ``g_i = sqrt(T Vt_ii) / (2 s_i)``.
    One division per pair. Writes x (= y or y^2), f, g.
    """
    K = y.shape[0]
    for i in range(K):
        xi = y[i] * y[i] if positive else y[i]
        x[i] = xi
        f[i] = T * C[i] - kt0[i] - kappa[i] * xi
    for i in range(K - 1):
        xi = x[i]
        fi = 0.0
        for j in range(i + 1, K):
            c = T * (V0[i, j] + a * (xi + x[j])) / (xi - x[j])
            fi += c
            f[j] -= c
        f[i] += fi
    for i in range(K):
        vii = T * (V0[i, i] + 4.0 * (a + ad[i]) * x[i])
        if positive:
            q = 0.5 / y[i]
            f[i] = f[i] * q - vii * q * q * q
            g[i] = math.sqrt(vii) * q
        else:
            g[i] = math.sqrt(vii)


@njit(cache=True, error_model="numpy")
def admissible(y, positive):
    """Reflect the lowest singular value at 0 (positive domain), then check the state.

    True when all entries are finite, strictly descending and (positive domain) y_K >= TINY
    and the x = y^2 strictly descending too: the models are handed x, and s^2 can underflow
    to 0 or round two distinct s to one x (gaps at the rounding floor).
    """
    K = y.shape[0]
    if positive and y[K - 1] < 0.0:
        y[K - 1] = -y[K - 1]
    for i in range(K):
        if not math.isfinite(y[i]):
            return False
    for i in range(K - 1):
        if not (y[i] > y[i + 1]):
            return False
    if positive:
        if not (y[K - 1] >= TINY):
            return False
        for i in range(K - 1):
            if not (y[i] * y[i] > y[i + 1] * y[i + 1]):
                return False
    return True


# --------------------------------------------------------------------------- semi-implicit


@njit(cache=True, error_model="numpy")
def pair_weights(y, positive, T, V0, a, Wm, q):
    """Frozen symmetric pair weights W_ij of the implicit Coulomb term, at the old state y.

    Real domain: ``T Vt_ij(x)``. Positive domain: ``T a / 2 + T V0_ij / (4 s_i s_j)``, the
    symmetric part of the s-space Coulomb term (the rest, regular at collisions, stays
    explicit). ``q`` is scratch of length K.
    """
    K = y.shape[0]
    if positive:
        for i in range(K):
            q[i] = 0.5 / y[i]
    for i in range(K):
        Wm[i, i] = 0.0
        for j in range(i + 1, K):
            if positive:
                w = 0.5 * T * a + T * V0[i, j] * q[i] * q[j]
            else:
                w = T * (V0[i, j] + a * (y[i] + y[j]))
            Wm[i, j] = w
            Wm[j, i] = w


@njit(cache=True, error_model="numpy")
def implicit_force(yv, positive, Wm, om, phi):
    """Implicit part ``Phi_i(y) = sum_j W_ij [1/(y_i-y_j) + m/(y_i+y_j)] + om_i / y_i``."""
    K = yv.shape[0]
    for i in range(K):
        phi[i] = 0.0
    for i in range(K - 1):
        for j in range(i + 1, K):
            w = Wm[i, j]
            c = w / (yv[i] - yv[j])
            phi[i] += c
            phi[j] -= c
            if positive:
                c2 = w / (yv[i] + yv[j])
                phi[i] += c2
                phi[j] += c2
    if positive:
        for i in range(K):
            if om[i] > 0.0:
                phi[i] += om[i] / yv[i]


@njit(cache=True, error_model="numpy")
def _feasible(yv, positive, om):
    K = yv.shape[0]
    for i in range(K):
        if not math.isfinite(yv[i]):
            return False
    for i in range(K - 1):
        if not (yv[i] > yv[i + 1]):
            return False
    if positive:
        if K >= 2 and not (yv[K - 2] + yv[K - 1] > 0.0):
            return False
        for i in range(K):
            if om[i] > 0.0 and not (yv[i] > 0.0):
                return False
    return True


@njit(cache=True, error_model="numpy")
def _grad_hess(yv, z, h, positive, Wm, om, grad, dg, e):
    # Gradient of F(y) = |y - z|^2/2 - h P(y) and the tridiagonal part of its Hessian
    # (full diagonal, nearest-neighbour off-diagonal). Returns |grad|_2.
    K = yv.shape[0]
    for i in range(K):
        grad[i] = yv[i] - z[i]
        dg[i] = 1.0
        e[i] = 0.0
    for i in range(K - 1):
        for j in range(i + 1, K):
            w = h * Wm[i, j]
            inv = 1.0 / (yv[i] - yv[j])
            t1 = w * inv
            grad[i] -= t1
            grad[j] += t1
            t2 = t1 * inv
            dg[i] += t2
            dg[j] += t2
            od = -t2
            if positive:
                invp = 1.0 / (yv[i] + yv[j])
                u1 = w * invp
                grad[i] -= u1
                grad[j] -= u1
                u2 = u1 * invp
                dg[i] += u2
                dg[j] += u2
                od += u2
            if j == i + 1:
                e[i] = od
    if positive:
        for i in range(K):
            if om[i] > 0.0:
                inv = 1.0 / yv[i]
                grad[i] -= h * om[i] * inv
                dg[i] += h * om[i] * inv * inv
    s = 0.0
    for i in range(K):
        s += grad[i] * grad[i]
    return math.sqrt(s)


@njit(cache=True, error_model="numpy")
def _thomas(dg, e, rhs, out, cp, dp):
    # Solve the symmetric tridiagonal system (diag dg, off-diagonal e) for -rhs.
    K = dg.shape[0]
    cp[0] = e[0] / dg[0]
    dp[0] = -rhs[0] / dg[0]
    for i in range(1, K):
        den = dg[i] - e[i - 1] * cp[i - 1]
        cp[i] = e[i] / den
        dp[i] = (-rhs[i] - e[i - 1] * dp[i - 1]) / den
    out[K - 1] = dp[K - 1]
    for i in range(K - 2, -1, -1):
        out[i] = dp[i] - cp[i] * out[i + 1]


@njit(cache=True, error_model="numpy")
def _hessian_full(yv, h, positive, Wm, om, H):
    # Full Hessian of F (symmetric, diagonally dominant, hence SPD).
    K = yv.shape[0]
    for i in range(K):
        H[i, i] = 1.0
    for i in range(K - 1):
        for j in range(i + 1, K):
            w = h * Wm[i, j]
            inv = 1.0 / (yv[i] - yv[j])
            t2 = w * inv * inv
            H[i, i] += t2
            H[j, j] += t2
            od = -t2
            if positive:
                invp = 1.0 / (yv[i] + yv[j])
                u2 = w * invp * invp
                H[i, i] += u2
                H[j, j] += u2
                od += u2
            H[i, j] = od
            H[j, i] = od
    if positive:
        for i in range(K):
            if om[i] > 0.0:
                H[i, i] += h * om[i] / (yv[i] * yv[i])


@njit(cache=True, error_model="numpy")
def _cholesky_solve(H, rhs, out):
    # Solve H out = -rhs by Cholesky, factorising H in place (lower triangle).
    K = H.shape[0]
    for j in range(K):
        d = H[j, j]
        for k in range(j):
            d -= H[j, k] * H[j, k]
        d = math.sqrt(d)
        H[j, j] = d
        for i in range(j + 1, K):
            v = H[i, j]
            for k in range(j):
                v -= H[i, k] * H[j, k]
            H[i, j] = v / d
    for i in range(K):
        v = -rhs[i]
        for k in range(i):
            v -= H[i, k] * out[k]
        out[i] = v / H[i, i]
    for i in range(K - 1, -1, -1):
        v = out[i]
        for k in range(i + 1, K):
            v -= H[k, i] * out[k]
        out[i] = v / H[i, i]


@njit(cache=True, error_model="numpy")
def implicit_solve(yold, z, h, positive, Wm, om, out, sc, H):
    """Solve ``y = z + h Phi(y)`` for the unique y in the chamber.

    The solution minimises the strictly convex ``F(y) = |y - z|^2 / 2 - h P(y)`` with the
    logarithmic barrier ``P = sum_{i<j} W_ij [log(y_i - y_j) + m log(y_i + y_j)] +
    sum_i om_i log y_i``. Newton iterations with the tridiagonal part of the Hessian
    (diagonally dominant, hence SPD; O(K^2) per iteration) for up to NEWTON_TRI_ITER
    iterations, then, if needed (stiff clusters couple all pairs), with the full Hessian
    (Cholesky, O(K^3)). Backtracking keeps every iterate in the chamber, so the result is
    ordered whatever happens. ``H`` is (K, K) scratch. Returns True when converged.
    """
    K = yold.shape[0]
    grad = sc[_GRAD]
    dg = sc[_DG]
    e = sc[_E]
    delta = sc[_DELTA]
    yt = sc[_YT]
    gt = sc[_GT]
    dgt = sc[_DGT]
    et = sc[_ET]
    cp = sc[_CP]
    dp = sc[_DP]
    if _feasible(z, positive, om):
        for i in range(K):
            out[i] = z[i]
    else:
        for i in range(K):
            out[i] = yold[i]
    gn = _grad_hess(out, z, h, positive, Wm, om, grad, dg, e)
    dmax = 0.0
    for it in range(NEWTON_MAX_ITER):
        dense = it >= NEWTON_TRI_ITER
        if dense:
            _hessian_full(out, h, positive, Wm, om, H)
            _cholesky_solve(H, grad, delta)
        else:
            _thomas(dg, e, grad, delta, cp, dp)
        dmax = 0.0
        scale = 0.0
        finite = True
        for i in range(K):
            if not math.isfinite(delta[i]):
                finite = False
            dmax = max(dmax, abs(delta[i]))
            scale = max(scale, abs(out[i]))
        if not finite:
            # The elimination broke down (a pair block ~1e24 cancels in the Thomas pivot when
            # two levels are ~1e-14 apart): never take that for convergence (max() would
            # drop the NaN and freeze the state); retry with the full Hessian, then reject
            # the step so the driver bisects it or stops the system with a flag.
            if dense:
                return False
            continue
        if dmax <= NEWTON_RTOL * scale:
            for i in range(K):
                yt[i] = out[i] + delta[i]
            if _feasible(yt, positive, om):
                for i in range(K):
                    out[i] = yt[i]
            return True
        alpha = 1.0
        failed = False
        while True:
            for i in range(K):
                yt[i] = out[i] + alpha * delta[i]
            if _feasible(yt, positive, om):
                gnt = _grad_hess(yt, z, h, positive, Wm, om, gt, dgt, et)
                if gnt < gn or alpha * dmax <= NEWTON_FLOOR * scale:
                    break
            alpha *= 0.5
            if alpha < 1e-12:
                failed = True
                break
        if failed:
            if dense:
                return False
            continue  # next iteration counts towards the switch to the full Hessian
        for i in range(K):
            out[i] = yt[i]
            grad[i] = gt[i]
            dg[i] = dgt[i]
            e[i] = et[i]
        gn = gnt
    scale = 0.0
    for i in range(K):
        scale = max(scale, abs(out[i]))
    return dmax <= NEWTON_FLOOR * scale


@njit(cache=True, error_model="numpy")
def wall_coefficients(positive, T, kt0, a, ad, C, om):
    """Implicit wall strength ``om_i = max(0, (T C_i - kt0_i - T a K - T ad_i) / 2)``.

    It is the coefficient of 1/s_i in the s-drift of the affine family; zero for the real
    domain and for the square (K = L) free model.
    """
    K = om.shape[0]
    for i in range(K):
        om[i] = max(0.0, 0.5 * (T * C[i] - kt0[i] - T * (a * K + ad[i]))) if positive else 0.0


@njit(cache=True, error_model="numpy")
def semi_implicit_step(y, h, dW, positive, T, kt0, kappa, V0, a, ad, C, ynew, sc, Wm, H):
    """One semi-implicit Euler-Maruyama step (Ngo & Taguchi 2020 type). True if accepted.

    ``y_new = y + h (f(y) - Phi(y)) + g(y) dW + h Phi(y_new)`` with Phi the Coulomb (and for
    the positive domain mirror-image and wall) part, its pair weights frozen at y.
    ``Wm`` and ``H`` are (K, K) scratch arrays (weights, Hessian). Order preserved by
    construction (unique minimiser of a convex barrier problem in the chamber). Strong order
    1/2 (1 for constant diffusion), weak order 1, as measured in
    tests/langevin/test_langevin_exact.py
    (Ngo & Taguchi prove such rates for their class of non-colliding systems).
    """
    K = y.shape[0]
    x = sc[_X]
    f = sc[_F]
    g = sc[_G]
    z = sc[_Z]
    phi = sc[_PHI]
    om = sc[_OM]
    drift_diffusion(y, positive, T, kt0, kappa, V0, a, ad, C, x, f, g)
    pair_weights(y, positive, T, V0, a, Wm, sc[_QO])
    wall_coefficients(positive, T, kt0, a, ad, C, om)
    implicit_force(y, positive, Wm, om, phi)
    for i in range(K):
        z[i] = y[i] + h * (f[i] - phi[i]) + g[i] * dW[i]
    ok = implicit_solve(y, z, h, positive, Wm, om, ynew, sc, H)
    if not ok:
        return False
    return admissible(ynew, positive)


@njit(cache=True, error_model="numpy")
def euler_step(y, h, dW, positive, T, kt0, kappa, V0, a, ad, C, ynew, sc):
    """One explicit Euler-Maruyama step; True if the result is admissible.

    Strong order 1/2 (1 for constant diffusion: harmonic model, free model in s), weak
    order 1 (Kloeden & Platen 1992). Rejected when levels cross, leave the domain, turn
    non-finite, or a gap changes by more than GAP_FRACTION of itself.
    """
    K = y.shape[0]
    x = sc[_X]
    f = sc[_F]
    g = sc[_G]
    drift_diffusion(y, positive, T, kt0, kappa, V0, a, ad, C, x, f, g)
    for i in range(K):
        ynew[i] = y[i] + h * f[i] + g[i] * dW[i]
    # accuracy control: no gap (nor a walled s_K, om_K > 0) may change by more than
    # GAP_FRACTION of itself in one step. Explicit steps overshoot near collisions by
    # ~ h / gap otherwise. On rejection the Brownian path is refined by the bridge, not
    # redrawn, so conditioning on dW here does not bias the path.
    for i in range(K - 1):
        gap = y[i] - y[i + 1]
        if abs((ynew[i] - ynew[i + 1]) - gap) > GAP_FRACTION * gap:
            return False
    if positive and 0.5 * (T * C[K - 1] - kt0[K - 1] - T * (a * K + ad[K - 1])) > 0.0:
        if abs(ynew[K - 1] - y[K - 1]) > GAP_FRACTION * y[K - 1]:
            return False
    return admissible(ynew, positive)


@njit(cache=True, error_model="numpy")
def euler_prepare(positive, T, kt0, V0, a, ad, C, Ws, ec):
    """Step-independent products of the Euler drift, computed once per kernel call.

    ``Ws[i, j] = T V0_ij`` (symmetric, built from the upper triangle, the only part the
    drift reads); rows of ``ec`` (3, K): ``T C_i - kt0_i``, ``T V0_ii``, ``4 T (a + ad_i)``.
    Returns True when the lowest singular value is walled (om_K > 0, see
    :func:`wall_coefficients`), i.e. when its relative change per step is limited.
    """
    K = kt0.shape[0]
    for i in range(K):
        Ws[i, i] = 0.0
        for j in range(i + 1, K):
            w = T * V0[i, j]
            Ws[i, j] = w
            Ws[j, i] = w
        ec[0, i] = T * C[i] - kt0[i]
        ec[1, i] = T * V0[i, i]
        ec[2, i] = 4.0 * T * (a + ad[i])
    return positive and 0.5 * (T * C[K - 1] - kt0[K - 1] - T * (a * K + ad[K - 1])) > 0.0


@njit(cache=True, error_model="numpy")
def euler_step_fast(y, h, dW, positive, Ta, kappa, Ws, ec, walled, ynew, sc):
    """:func:`euler_step` on the products of :func:`euler_prepare`; same step, same tests.

    The pair sum runs over full columns (both orders of every pair, the diagonal masked) so
    that it vectorises: twice the divisions of :func:`drift_diffusion`, but in SIMD lanes
    and without its serial accumulation. Agrees with it to rounding (summation order).
    """
    K = y.shape[0]
    x = sc[_X]
    f = sc[_F]
    g = sc[_G]
    if positive:
        for i in range(K):
            xi = y[i] * y[i]
            x[i] = xi
            f[i] = ec[0, i] - kappa[i] * xi
    else:
        for i in range(K):
            xi = y[i]
            x[i] = xi
            f[i] = ec[0, i] - kappa[i] * xi
    # f_i += sum_{j != i} T (V0_ij + a (x_i + x_j)) / (x_i - x_j), column by column
    for j in range(K):
        xj = x[j]
        for i in range(K):
            c = (Ws[j, i] + Ta * (x[i] + xj)) / (x[i] - xj if i != j else 1.0)
            f[i] += c if i != j else 0.0
    if positive:
        for i in range(K):
            vii = ec[1, i] + ec[2, i] * x[i]
            q = 0.5 / y[i]
            f[i] = f[i] * q - vii * q * q * q
            g[i] = math.sqrt(vii) * q
    else:
        for i in range(K):
            g[i] = math.sqrt(ec[1, i] + ec[2, i] * x[i])
    for i in range(K):
        ynew[i] = y[i] + h * f[i] + g[i] * dW[i]
    # the gap test of euler_step, negated so that a non-finite ynew fails it too; passing
    # it, ynew is finite and strictly descending (d >= gap / 2 > 0 in floating point)
    for i in range(K - 1):
        gap = y[i] - y[i + 1]
        if not (abs((ynew[i] - ynew[i + 1]) - gap) <= GAP_FRACTION * gap):
            return False
    if walled and abs(ynew[K - 1] - y[K - 1]) > GAP_FRACTION * y[K - 1]:
        return False
    return admissible(ynew, positive)


# --------------------------------------------------------------------------- driver


@njit(cache=True, error_model="numpy")
def _run_member(
    m, scheme, positive, y, T, kt0, kappa, V0, a, ad, C, seg_h, seg_m, seg_save, out,
    supplied, dB, step_offset, rng, status, steps, rejected, attempts, max_attempts,
    min_gap, min_x, fallback,
):  # fmt: skip
    K = y.shape[1]
    yv = y[m]
    st = rng[m]
    sc = np.empty((_NSCRATCH, K))
    Wm = np.empty((K, K))
    Hm = np.empty((K, K))
    Wf = np.empty((K, K))  # pair weights of Euler's semi-implicit fallback (Wm holds Ws)
    ynew = np.empty(K)
    dW = np.empty(K)
    stack_h = np.empty(MAX_DEPTH + 2)
    stack_lv = np.empty(MAX_DEPTH + 2, dtype=np.int64)
    stack_w = np.empty((MAX_DEPTH + 2, K))
    ec = np.empty((3, K))
    walled = False
    if scheme == EULER:
        walled = euler_prepare(positive, T, kt0, V0, a, ad, C, Wm, ec)
    Ta = T * a
    kstep = step_offset
    # counters live in locals and are written back once: neighbouring members run on
    # different threads, and per-step writes to shared arrays would bounce cache lines
    n_steps = steps[m]
    n_rej = rejected[m]
    n_att = attempts[m]
    n_fb = fallback[m]
    stat = status[m]
    mgap = min_gap[m]
    mx = min_x[m]
    for s in range(seg_h.shape[0]):
        h = seg_h[s]
        sqh = math.sqrt(h)
        for _k in range(seg_m[s]):
            if stat != OK:
                break
            # bisection stack of (sub-step, Brownian increment); top = next in time
            if supplied:
                for i in range(K):
                    stack_w[0, i] = dB[m, kstep, i]
            else:
                fill_normals(st, stack_w[0], sqh)
            kstep += 1
            sp = 1
            stack_h[0] = h
            stack_lv[0] = 0
            while sp > 0:
                sp -= 1
                hh = stack_h[sp]
                lv = stack_lv[sp]
                if n_att >= max_attempts:
                    stat = MAX_STEPS
                    break
                n_att += 1
                if scheme == EULER:
                    ok = euler_step_fast(
                        yv, hh, stack_w[sp], positive, Ta, kappa, Wm, ec, walled, ynew, sc
                    )
                    if not ok and lv >= FALLBACK_DEPTH:
                        # same sub-step and increment, the repulsion taken implicitly
                        ok = semi_implicit_step(
                            yv, hh, stack_w[sp], positive, T, kt0, kappa, V0, a, ad, C, ynew,
                            sc, Wf, Hm,
                        )  # fmt: skip
                        if ok:
                            n_fb += 1
                else:
                    ok = semi_implicit_step(
                        yv, hh, stack_w[sp], positive, T, kt0, kappa, V0, a, ad, C, ynew, sc, Wm, Hm
                    )
                if ok:
                    big = False
                    for i in range(K):
                        yv[i] = ynew[i]
                        if abs(ynew[i]) > BIG:
                            big = True
                    n_steps += 1
                    for i in range(K - 1):
                        gap = yv[i] - yv[i + 1]
                        if positive:
                            gap *= yv[i] + yv[i + 1]
                        if gap < mgap:
                            mgap = gap
                    if positive:
                        xk = yv[K - 1] * yv[K - 1]
                        if xk < mx:
                            mx = xk
                    if big:
                        stat = OVERFLOW
                        break
                    continue
                n_rej += 1
                if lv >= MAX_DEPTH:
                    nonfinite = False
                    for i in range(K):
                        if not math.isfinite(ynew[i]):
                            nonfinite = True
                    stat = NONFINITE if nonfinite else STEP_LIMIT
                    break
                # Brownian bridge midpoint: first half W1 = W/2 + sqrt(hh)/2 Z
                fill_normals(st, dW, 0.5 * math.sqrt(hh))
                for i in range(K):
                    w = stack_w[sp, i]
                    w1 = 0.5 * w + dW[i]
                    stack_w[sp + 1, i] = w1
                    stack_w[sp, i] = w - w1
                stack_h[sp] = 0.5 * hh
                stack_h[sp + 1] = 0.5 * hh
                stack_lv[sp] = lv + 1
                stack_lv[sp + 1] = lv + 1
                sp += 2
        k_out = seg_save[s]
        if k_out >= 0:
            for i in range(K):
                out[m, k_out, i] = yv[i] * yv[i] if positive else yv[i]
    steps[m] = n_steps
    rejected[m] = n_rej
    attempts[m] = n_att
    fallback[m] = n_fb
    status[m] = stat
    min_gap[m] = mgap
    min_x[m] = mx


@njit(cache=True, parallel=True, error_model="numpy")
def run(
    scheme, positive, y, T, kt0, kappa, V0, a_iso, a_diag, C, seg_h, seg_m, seg_save, out,
    supplied, dB, step_offset, rng, status, steps, rejected, attempts, max_attempts,
    min_gap, min_x, fallback,
):  # fmt: skip
    """Advance every member through the segments; write saves into ``out``.

    Parameters
    ----------
    scheme : int
        EULER or SEMI_IMPLICIT.
    positive : bool
        State is singular values (True) or eigenvalues on the real line (False).
    y : float64 (n, K)
        State, updated in place (the last accepted state of a stopped member stays).
    T : float
        Temperature.
    kt0, kappa, a_diag, C : float64 (n, K); V0 : float64 (n, K, K); a_iso : float64 (n,)
        Coefficients held fixed in this call.
    seg_h : float64 (n_seg,); seg_m : int64 (n_seg,); seg_save : int64 (n_seg,)
        Each segment is ``seg_m`` outer steps of size ``seg_h``; at its end the state is
        saved (as x) into ``out[:, seg_save]`` unless ``seg_save < 0``.
    out : float64 (n, n_saves, K)
    supplied : bool
        Take the outer-step Brownian increments from ``dB[:, step_offset + k]`` instead of
        drawing them (bisection midpoints are still drawn from ``rng``).
    dB : float64 (n, n_steps, K) (any shape if not supplied)
    rng : uint64 (n, 4)
        Generator states, advanced in place.
    status, steps, rejected, attempts : int64 (n,); min_gap, min_x : float64 (n,)
        Diagnostics, updated in place.
    max_attempts : int
        Budget of step attempts per member (cumulative over calls).
    fallback : int64 (n,)
        Euler only: accepted sub-steps taken with the semi-implicit step after the explicit
        one was rejected at bisection level >= FALLBACK_DEPTH; updated in place.
    """
    n = y.shape[0]
    for m in prange(n):
        _run_member(
            m, scheme, positive, y, T, kt0[m], kappa[m], V0[m], a_iso[m], a_diag[m], C[m],
            seg_h, seg_m, seg_save, out, supplied, dB, step_offset, rng, status, steps,
            rejected, attempts, max_attempts, min_gap, min_x, fallback,
        )  # fmt: skip

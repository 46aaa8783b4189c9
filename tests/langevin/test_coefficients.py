"""Langevin coefficients from a network state, and the network drift model's kernels.

Oracles: a brute-force loop over samples and index pairs (SPEC section 3 written literally)
on a tiny network; the numba kernels of the ``network`` model against the vectorised
measurement in the same fixed basis; the drift slope against central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from dysonsgd.langevin.coefficients import (
    LangevinCoefficients,
    eigen_basis,
    measure_coefficients,
    paper_basis,
)
from dysonsgd.langevin.network import NetworkModel
from dysonsgd.model import NetworkConfig, make_instances


def _tiny(activation="tanh", d_out=2, seed=7):
    # Seed 7: an arbitrary fixed draw; the checks are identities, true for any draw.
    rng = np.random.default_rng(seed)
    K, L, n = 3, 5, 9
    W = rng.standard_normal((K, L)) * 0.8
    a = np.tanh(rng.standard_normal((n, L)))
    y = rng.standard_normal((n, d_out)) * 0.5
    Z = rng.standard_normal((d_out, K)) / np.sqrt(K)
    return W, a, y, Z


def _phi_d(z, activation):
    if activation == "tanh":
        return np.tanh(z), 1.0 - np.tanh(z) ** 2
    if activation == "identity":
        return z, 1.0
    return max(z, 0.0), 1.0 if z > 0 else 0.0


def _brute(W, a, y, Z, activation, U):
    """SPEC section 3 literally: loops over samples, entries and index pairs."""
    K, L = W.shape
    n = a.shape[0]
    d_out = Z.shape[0]
    g = np.zeros((n, K, L))
    for m in range(n):
        z = [sum(W[k, c] * a[m, c] for c in range(L)) for k in range(K)]
        f = [_phi_d(zk, activation)[0] for zk in z]
        e = [y[m, o] - sum(Z[o, k] * f[k] for k in range(K)) for o in range(d_out)]
        for k in range(K):
            delta = sum(Z[o, k] * e[o] for o in range(d_out)) * _phi_d(z[k], activation)[1]
            for c in range(L):
                g[m, k, c] = -delta * a[m, c]
    D = np.array([W @ g[m].T + g[m] @ W.T for m in range(n)])
    Dt = np.array(
        [[[U[:, i] @ D[m] @ U[:, j] for j in range(K)] for i in range(K)] for m in range(n)]
    )
    Kt = np.array([sum(Dt[m, i, i] for m in range(n)) / n for i in range(K)])
    Vt = np.zeros((K, K))
    for i in range(K):
        for j in range(K):
            mu = sum(Dt[m, i, j] for m in range(n)) / n
            Vt[i, j] = sum((Dt[m, i, j] - mu) ** 2 for m in range(n)) / n
    gbar = g.mean(axis=0)
    C = np.array(
        [sum(np.sum((U[:, i] @ (g[m] - gbar)) ** 2) for m in range(n)) / n for i in range(K)]
    )
    # Paper estimator: variance of each entry of D_n, then rotated.
    Velem = np.zeros((K, K))
    for p in range(K):
        for q in range(K):
            mu = sum(D[m, p, q] for m in range(n)) / n
            Velem[p, q] = sum((D[m, p, q] - mu) ** 2 for m in range(n)) / n
    Vpaper = np.array([[U[:, i] @ Velem @ U[:, j] for j in range(K)] for i in range(K)])
    Kfull = np.array([[sum(Dt[m, i, j] for m in range(n)) / n for j in range(K)] for i in range(K)])
    gsq = np.array([np.sum((U[:, i] @ gbar) ** 2) for i in range(K)])
    return Kt, Vt, C, Vpaper, Kfull, gsq


@pytest.mark.parametrize("activation", ["tanh", "identity", "relu"])
def test_measure_matches_brute_force(activation):
    W, a, y, Z = _tiny(activation)
    c = measure_coefficients(W, a, y, Z, activation)
    x, U = eigen_basis(W)
    assert np.all(np.diff(c.x) <= 0)
    np.testing.assert_allclose(c.x, np.linalg.eigvalsh(W @ W.T)[::-1], rtol=1e-12)
    Kt, Vt, C, _, Kfull, gsq = _brute(W, a, y, Z, activation, c.U)
    # the published estimator rotates into U of numpy.linalg.svd(W W^T), as returned
    Usvd = np.linalg.svd(W @ W.T)[0]
    np.testing.assert_array_equal(c.U_paper, Usvd)
    Vpaper = _brute(W, a, y, Z, activation, Usvd)[3]
    # Same arithmetic up to summation order: rtol 1e-12 (atol covers entries that cancel
    # to ~1e-17 of the scale, e.g. Vt of a relu unit that is off on every sample).
    for got, want in (
        (c.Kt, Kt),
        (c.Vt, Vt),
        (c.C, C),
        (c.Vt_paper, Vpaper),
        (c.Kt_full, Kfull),
        (c.gbar_sq, gsq),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    # eigen-basis columns are eigenvectors of X
    np.testing.assert_allclose(W @ W.T @ c.U, c.U * c.x, atol=1e-12)


def test_measure_in_given_basis_matches_brute_force():
    W, a, y, Z = _tiny()
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))  # fixed rotation
    c = measure_coefficients(W, a, y, Z, "tanh", basis=Q)
    Kt, Vt, C, Vpaper, _, _ = _brute(W, a, y, Z, "tanh", Q)
    np.testing.assert_allclose(c.x, np.diag(Q.T @ W @ W.T @ Q), rtol=1e-12)
    for got, want in ((c.Kt, Kt), (c.Vt, Vt), (c.C, C), (c.Vt_paper, Vpaper)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_exact_and_paper_estimators_differ():
    W, a, y, Z = _tiny()
    c = measure_coefficients(W, a, y, Z, "tanh")
    assert c.vt("exact") is c.Vt and c.vt("paper") is c.Vt_paper
    # Var of a linear combination is not the combination of variances: they must differ.
    assert not np.allclose(c.Vt, c.Vt_paper)
    # Both symmetric; only the exact one is a matrix of variances (entry-wise >= 0). The
    # rotated element-wise variance is not a variance: on this draw its diagonal has
    # negative entries, which is why it is not the default.
    for V in (c.Vt, c.Vt_paper):
        np.testing.assert_allclose(V, V.T, atol=0)
    assert np.all(c.Vt >= 0)
    with pytest.raises(ValueError, match="estimator"):
        c.vt("bogus")


def test_drift_and_order_eps_terms():
    W, a, y, Z = _tiny()
    c = measure_coefficients(W, a, y, Z, "tanh")
    T, lr = 0.3, 1.2
    x = c.x
    want = np.array(
        [
            -c.Kt[i] + T * (c.C[i] + sum(c.Vt[i, j] / (x[i] - x[j]) for j in range(3) if j != i))
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(c.drift(T), want, rtol=1e-12)
    eps_term = np.array(
        [
            sum(c.Kt_full[i, j] ** 2 / (x[i] - x[j]) for j in range(3) if j != i) + c.gbar_sq[i]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(c.order_eps_drift(), eps_term, rtol=1e-12)
    np.testing.assert_allclose(c.drift(T, lr=lr), want + lr * eps_term, rtol=1e-12)


def test_identity_network_at_teacher_has_no_drift_or_noise():
    # A realisable teacher: at W = W* every per-sample gradient vanishes.
    W, a, _, Z = _tiny("identity")
    y = (a @ W.T) @ Z.T
    c = measure_coefficients(W, a, y, Z, "identity")
    for arr in (c.Kt, c.Vt, c.C, c.Vt_paper, c.gbar_sq):
        np.testing.assert_allclose(arr, 0.0, atol=1e-28)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(W=np.ones((3, 4))), "columns"),
        (dict(y=np.ones((4, 2))), "one row per sample"),
        (dict(Z=np.ones((2, 4))), "Z must have shape"),
        (dict(a=np.full((9, 5), np.nan)), "NaN"),
        (dict(W=np.ones(3)), "2-d"),
        (dict(activation="sigmoid"), "activation"),
        (dict(basis=np.ones((3, 3))), "orthonormal"),
        (dict(basis=np.eye(2)), "basis must have shape"),
        (dict(a=np.ones((1, 5)), y=np.ones((1, 2))), "at least 2 samples"),
    ],
)
def test_measure_bad_input(change, match):
    W, a, y, Z = _tiny()
    kw = dict(W=W, a=a, y=y, Z=Z, activation="tanh")
    kw.update(change)
    basis = kw.pop("basis", None)
    with pytest.raises(ValueError, match=match):
        measure_coefficients(**kw, basis=basis)


def test_result_is_a_dataclass_with_shapes():
    W, a, y, Z = _tiny()
    c = measure_coefficients(W, a, y, Z)
    assert isinstance(c, LangevinCoefficients)
    assert c.K == 3 and c.n_samples == 9
    assert c.U.shape == (3, 3) and c.Vt.shape == (3, 3) and c.C.shape == (3,)


# --------------------------------------------------------------------------- network model


@pytest.fixture(scope="module")
def small_model():
    # A reduced config keeps the kernels' oracle comparisons fast; seed 11 is arbitrary.
    cfg = NetworkConfig(K=4, L=8, n_batches=50, n_test=32, d_out=2)
    inst = make_instances(cfg, 0.7, 2, 11)
    return cfg, inst


@pytest.mark.parametrize("basis", ["teacher", "student"])
def test_network_kernels_match_measure_coefficients(small_model, basis):
    cfg, inst = small_model
    model = NetworkModel(inst, basis=basis, n_drift=120, n_probe=20)
    x = model.x0 * np.array([[1.3, 0.9, 1.1, 0.8]])  # off the initial state
    x = -np.sort(-x, axis=1)
    Kt, kappa, Vt, C = model.measure(x)
    W = model.weights(x)
    for m, i in enumerate(inst):
        U = model._systems[m]["U"]
        cd = measure_coefficients(W[m], i.a_train[:120], i.y_train[:120], i.Z, basis=U)
        cp = measure_coefficients(W[m], i.a_probe[:20], i.y_probe[:20], i.Z, basis=U)
        np.testing.assert_allclose(cd.x, x[m], rtol=1e-12)
        # Same sums in another order: 1e-12 relative to each array's scale.
        np.testing.assert_allclose(Kt[m], cd.Kt, rtol=1e-12, atol=1e-12 * abs(cd.Kt).max())
        np.testing.assert_allclose(Vt[m], cp.Vt, rtol=1e-12, atol=1e-12 * cp.Vt.max())
        np.testing.assert_allclose(C[m], cp.C, rtol=1e-12, atol=1e-12 * cp.C.max())
    # The contract: coefficients() hands over the drift through the origin (secant) and Vt
    # split into V0 + a (x_i + x_j), measured after any sign flip it made (so measure again).
    coeffs = model.coefficients(x, 0.0)
    Kt, _, Vt, C = model.measure(x)
    np.testing.assert_allclose(coeffs.kt0 + coeffs.kappa * x, Kt, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(coeffs.kt0, 0.0)
    w = x[:, :, None] + x[:, None, :]
    for m in range(2):
        np.fill_diagonal(w[m], 4 * x[m])
    slope = coeffs.a_iso[:, None, None] + np.zeros_like(w)
    idx = np.arange(x.shape[1])
    slope[:, idx, idx] += coeffs.a_diag
    np.testing.assert_allclose(coeffs.V0 + slope * w, Vt, rtol=1e-10,
                               atol=1e-14 * Vt.max())  # fmt: skip
    assert np.all(coeffs.V0 >= 0) and np.all(coeffs.a_iso >= 0)
    # the diagonal noise is exactly proportional to x_i (no constant part)
    assert np.all(coeffs.V0[:, idx, idx] == 0) and np.all(slope[:, idx, idx] >= 0)
    np.testing.assert_array_equal(coeffs.C, C)
    hess = NetworkModel(inst, basis=basis, n_drift=120, n_probe=20, slope="hessian")
    ch = hess.coefficients(x, 0.0)
    Kt, kappa, _, _ = hess.measure(x)
    np.testing.assert_array_equal(ch.kappa, kappa)
    np.testing.assert_allclose(ch.kt0 + ch.kappa * x, Kt, rtol=1e-12, atol=1e-15)


def test_sign_flip_of_a_level_heading_through_zero(small_model):
    _, inst = small_model
    model = NetworkModel(inst, flip_horizon=1e6)  # every level pushed down flips
    # Tiny singular values: flipping u_i moves W by 2 s_i u_i v_i^T ~ 1e-4, so the drift
    # after the flip is minus the one before to that order.
    x = model.x0 * 1e-8
    Kt, _, _, _ = model.measure(x)
    down = Kt > 0
    assert down.any()  # the draw has levels pushed towards zero at the start
    model.coefficients(x, 0.0)
    U = np.stack([sys["U"] for sys in model._systems])
    U0 = np.stack([sys["U0"] for sys in model._systems])
    flipped = np.all(np.isclose(U, -U0), axis=1)
    np.testing.assert_array_equal(flipped, down)
    # After the flip the level's s-drift points up: Kt_ii changed sign (W moved by 2 s u v^T).
    Kt2, _, _, _ = model.measure(x)
    np.testing.assert_allclose(Kt2[down], -Kt[down], rtol=1e-2)
    model.reset()
    np.testing.assert_array_equal(np.stack([sys["U"] for sys in model._systems]), U0)


def test_order_eps_drift_matches_measure_coefficients(small_model):
    _, inst = small_model
    model = NetworkModel(inst, n_drift=120, lr=0.5)
    x = model.x0
    W = model.weights(x)
    eps = model.order_eps_drift(x)
    for m, i in enumerate(inst):
        U = model._systems[m]["U"]
        cd = measure_coefficients(W[m], i.a_train[:120], i.y_train[:120], i.Z, basis=U)
        np.testing.assert_allclose(eps[m], cd.order_eps_drift(), rtol=1e-10)
    plain = NetworkModel(inst, n_drift=120)
    c1, c0 = model.coefficients(x, 1.0), plain.coefficients(x, 1.0)
    np.testing.assert_allclose(c0.kt0 - c1.kt0, 0.5 * eps, rtol=1e-10)


def test_network_drift_slope_matches_finite_differences(small_model):
    _, inst = small_model
    model = NetworkModel(inst, n_drift=120, n_probe=20)
    x = model.x0
    _, kappa, _, _ = model.measure(x)
    # Central differences with relative step h = 1e-5: truncation ~ h^2 |Kt'''| x^2 ~ 1e-10
    # and rounding ~ 1e-16 |Kt| / (h x) ~ 1e-11 relative to |kappa|; 1e-6 leaves margin for
    # the third derivative being larger than the first by 1e4.
    h = 1e-5
    fd = np.empty_like(x)
    for i in range(x.shape[1]):
        xp, xm = x.copy(), x.copy()
        xp[:, i] *= 1 + h
        xm[:, i] *= 1 - h
        fd[:, i] = (model.measure(xp)[0][:, i] - model.measure(xm)[0][:, i]) / (2 * h * x[:, i])
    np.testing.assert_allclose(kappa, fd, rtol=0, atol=1e-6 * np.abs(kappa).max())


def test_network_teacher_is_a_fixed_point(small_model):
    _, inst = small_model
    model = NetworkModel(inst)
    Kt, _, Vt, C = model.measure(model.teacher_eigenvalues)
    # The teacher is realisable: every per-sample gradient vanishes at W = W*.
    assert np.abs(Kt).max() < 1e-14 and Vt.max() < 1e-28 and C.max() < 1e-28
    np.testing.assert_allclose(
        model.weights(model.teacher_eigenvalues), np.stack([i.W_teacher for i in inst]), atol=1e-13
    )


def test_network_initial_state_is_students_spectrum(small_model):
    _, inst = small_model
    model = NetworkModel(inst, basis="student")
    want = np.stack([np.linalg.eigvalsh(i.W0 @ i.W0.T)[::-1] for i in inst])
    np.testing.assert_allclose(model.x0, want, rtol=1e-12)
    np.testing.assert_allclose(model.weights(model.x0), np.stack([i.W0 for i in inst]), atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(basis="random"), "basis"),
        (dict(n_drift=1), "n_drift"),
        (dict(n_drift=10**6), "n_drift"),
        (dict(n_probe=2.5), "n_probe"),
        (dict(refresh_interval=0), "refresh_interval"),
        (dict(refresh_interval=float("nan")), "refresh_interval"),
        (dict(slope="quadratic"), "slope"),
        (dict(flip_horizon=0.0), "flip_horizon"),
        (dict(lr=0), "lr"),
        (dict(lr=float("inf")), "lr"),
    ],
)
def test_network_model_bad_input(small_model, kwargs, match):
    _, inst = small_model
    with pytest.raises(ValueError, match=match):
        NetworkModel(inst, **kwargs)


def test_network_model_bad_state(small_model):
    _, inst = small_model
    model = NetworkModel(inst)
    with pytest.raises(ValueError, match="shape"):
        model.measure(np.ones((3, 4)))
    with pytest.raises(ValueError, match="positive"):
        model.measure(-np.ones((2, 4)))
    with pytest.raises(ValueError, match="Instance"):
        NetworkModel([])


# --------------------------------------------------------------------------- basis signs


def test_paper_estimator_is_the_hand_built_svd_rotation():
    # Published analysis by hand on the tiny case: X = W W^T, U from numpy.linalg.svd(X) as
    # returned, the variance of each entry of D_n = W g_n^T + g_n W^T over the 9 samples,
    # then U^T Var U -- one loop per index, no shared code with measure_coefficients.
    W, a, y, Z = _tiny()
    U = np.linalg.svd(W @ W.T)[0]
    K, n = W.shape[0], a.shape[0]
    g = np.zeros((n,) + W.shape)
    for m in range(n):
        f = np.tanh(W @ a[m])
        delta = (Z.T @ (y[m] - Z @ f)) * (1 - f**2)
        g[m] = -np.outer(delta, a[m])
    D = np.array([W @ g[m].T + g[m] @ W.T for m in range(n)])
    var = np.array(
        [[np.mean((D[:, p, q] - np.mean(D[:, p, q])) ** 2) for q in range(K)] for p in range(K)]
    )
    want = np.array([[U[:, i] @ var @ U[:, j] for j in range(K)] for i in range(K)])
    c = measure_coefficients(W, a, y, Z, "tanh")
    np.testing.assert_allclose(c.Vt_paper, want, rtol=1e-12)
    np.testing.assert_array_equal(paper_basis(W), U)
    # same lines as the eigh basis, in the same (descending) order
    np.testing.assert_allclose(np.abs(c.U_paper.T @ c.U), np.eye(K), atol=1e-12)


def test_exact_estimator_is_sign_invariant_paper_is_not():
    W, a, y, Z = _tiny()
    _, U = eigen_basis(W)
    signs = np.array([1.0, -1.0, 1.0])  # flip the middle vector: entries (1, j) flip
    c = measure_coefficients(W, a, y, Z, "tanh", basis=U)
    f = measure_coefficients(W, a, y, Z, "tanh", basis=U * signs)
    # exact quantities: Var_n(-u_i^T D_n u_j) = Var_n(u_i^T D_n u_j); the diagonals square
    for name in ("x", "Kt", "Vt", "C", "gbar_sq"):
        np.testing.assert_allclose(getattr(f, name), getattr(c, name), rtol=1e-12, atol=0)
    # the rotated element-wise variance flips entry (i, j) with sign(u_i) sign(u_j) ...
    flip = np.outer(signs, signs)
    np.testing.assert_allclose(f.Vt_paper, c.Vt_paper * flip, rtol=1e-12, atol=0)
    # ... and is not zero off the diagonal, so the flip changes it
    assert np.all(np.abs(c.Vt_paper[1, [0, 2]]) > 1e-3 * np.abs(c.Vt_paper).max())
    assert not np.allclose(f.Vt_paper, c.Vt_paper)

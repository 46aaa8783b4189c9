"""The network model with rotating singular vectors (NetworkModel(rotate=True)).

Oracles: the frame kernels against per-sample gradients in numpy (the implicit operator
applied sample by sample); the implicit increment against an exact linear solve; one frame
step against the SVD of the Euler step of W. Limits: with no stiff block the model measures
what the fixed-basis model in the student's basis measures; noiseless, its spectrum follows
gradient flow with an error that shrinks linearly with the refresh interval; at a small
temperature its spectrum has the law of the SDE of SGD (``dysonsgd.ladder.run_sde``).
Invariants: ordered positive levels for any configuration (hypothesis), an orthonormal frame,
determinism for a seed whatever the thread count or ensemble size, reset restarts the noise.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dysonsgd.langevin import AutoRefresh, NetworkModel, RunawayGuard, integrate
from dysonsgd.langevin.rotating import (
    STIFF_CUTOFF,
    implicit_components,
    implicit_increment,
    stiff_directions,
)
from dysonsgd.model import (
    NetworkConfig,
    loss_and_gradient,
    make_instances,
    per_sample_gradients,
    phi_prime,
)
from tests._strategies import draw_network_config, fixed_settings, log_uniform

T_SMALL = 2.0**-5


@pytest.fixture(scope="module")
def small():
    # K = 4, L = 8, 200 training and 32 probe samples, two outputs (Z^T Z of rank 2); seed
    # 11 as tests/langevin/test_coefficients.py (an arbitrary draw).
    cfg = NetworkConfig(K=4, L=8, n_batches=50, n_test=32, d_out=2)
    return make_instances(cfg, 0.7, 2, 11)


# --------------------------------------------------------------------------- oracles


def _oracle(inst, U, V, s, w, n_drift, noise_set, P, n_precond, interval):
    """The frame's measurement from per-sample gradients, written out in numpy."""
    act = inst.config.activation
    W = (U * s) @ V.T
    g = per_sample_gradients(W, inst.a_train, inst.y_train, inst.Z, act)
    G = U.T @ g[:n_drift].mean(axis=0)
    Kt = 2 * s * np.einsum("il,li->i", G, V)
    train = noise_set == "train"
    a_n, y_n = (inst.a_train, inst.y_train) if train else (inst.a_probe, inst.y_probe)
    gn = per_sample_gradients(W, a_n, y_n, inst.Z, act)
    gc = gn - gn.mean(axis=0)
    Xi = U.T @ np.einsum("m,mkl->kl", w, gc)
    # Gauss-Newton block on dW = X P^T over the first n_precond drift samples
    a_h = inst.a_train[:n_precond]
    fp = phi_prime(a_h @ W.T, act)
    bt = a_h @ P
    J = np.einsum("ok,mk,mp->mokp", inst.Z, fp, bt).reshape(len(a_h), inst.Z.shape[0], -1)
    H = np.einsum("moi,moj->ij", J, J) / len(a_h)
    mu, wv = np.linalg.eigh(H)
    Wk, omega = implicit_components(mu, wv, U.shape[0], interval)
    # every per-sample gradient as the implicit step sees it
    c = omega[:, None] * np.einsum("kip,mip->km", Wk, gn @ P)
    gt = gn - np.einsum("km,kip,lp->mil", c, Wk, P)
    h = np.matmul(U.T, gt)
    C = np.mean(np.sum((h - h.mean(axis=0)) ** 2, axis=2), axis=0)
    Gt = h @ V
    Dt = Gt * s[None, None, :] + np.swapaxes(Gt, 1, 2) * s[None, :, None]
    return dict(G=G, Kt=Kt, Xi=Xi, H=H, Vt=Dt.var(axis=0), C=C, nc=len(omega))


@pytest.mark.parametrize("activation", ["tanh", "identity", "relu"])
@pytest.mark.parametrize("noise_set", ["train", "probe"])
def test_frame_kernels_match_per_sample_gradients(activation, noise_set):
    cfg = NetworkConfig(K=4, L=8, n_batches=50, n_test=32, d_out=2, activation=activation)
    inst = make_instances(cfg, 0.7, 1, 11)
    interval = 8.0  # long enough for a stiff block (r > 0) and kept components
    model = NetworkModel(inst, rotate=True, temperature=T_SMALL, refresh_interval=interval,
                         noise_set=noise_set, n_drift=120, n_precond=60)  # fmt: skip
    frame = model._frame
    assert frame.stiff_rank[0] > 0
    U, V = frame.frame(0)
    rng = np.random.default_rng(5)
    s = np.sort(rng.uniform(0.3, 1.5, 4))[::-1]
    n_noise = 200 if noise_set == "train" else 32
    w = rng.standard_normal(n_noise) / math.sqrt(n_noise)
    meas = frame.forward(0, s, w)
    Vt, C = frame.noise(0, s, meas, interval)
    Kt, _ = frame.drift(0, s, meas, 1e-12)  # an interval this short: no implicit part
    want = _oracle(inst[0], U, V, s, w, 120, noise_set, frame._data[0]["P"], 60, interval)
    assert want["nc"] > 0  # the implicit correction is exercised
    # Same sums in another order: 1e-12 relative to each array's scale (Vt, C: one-pass
    # sums shifted by the first sample, 1e-10).
    for name, got, tol in [("G", meas["G"], 1e-12), ("Kt", Kt, 1e-12), ("Xi", meas["Xi"], 1e-12),
                           ("Vt", Vt, 1e-10), ("C", C, 1e-10)]:  # fmt: skip
        scale = np.abs(want[name]).max()
        np.testing.assert_allclose(got, want[name], rtol=tol, atol=tol * scale, err_msg=name)
    H = (meas["w"] * meas["mu"]) @ meas["w"].T
    np.testing.assert_allclose(H, want["H"], rtol=1e-12, atol=1e-12 * np.abs(want["H"]).max())


def test_implicit_increment_is_the_linear_solve_on_its_components():
    rng = np.random.default_rng(2)
    K, L, r, dt = 4, 8, 3, 0.5
    U = np.linalg.qr(rng.standard_normal((K, K)))[0]
    P = np.linalg.qr(rng.standard_normal((L, r)))[0]
    A = rng.standard_normal((K * r, K * r))
    H = A @ A.T + 1.0  # every dt mu_k >= 0.5 > STIFF_CUTOFF: all components implicit
    mu, w = np.linalg.eigh(H)
    assert np.all(dt * mu >= STIFF_CUTOFF)
    R = rng.standard_normal((K, L))
    got = implicit_increment(R, U, P, *implicit_components(mu, w, K, dt))
    X = U @ R @ P
    Y = np.linalg.solve(np.eye(K * r) + dt * H, X.reshape(-1)).reshape(K, r)
    np.testing.assert_allclose(got, R - U.T @ (X - Y) @ P.T, rtol=1e-12, atol=1e-12)
    # the directions off the stiff block are untouched
    Q = np.eye(L) - P @ P.T
    np.testing.assert_allclose(got @ Q, R @ Q, atol=1e-13)
    # components below the cutoff stay explicit
    Wk, omega = implicit_components(np.array([0.0, 1e-3, 10.0, 20.0]), np.eye(4), 2, 1.0)
    assert omega.shape == (2,) and Wk.shape == (2, 2, 2)


def test_stiff_directions_bound_the_explicit_curvature(small):
    inst = small[0]
    a, Z = inst.a_train, inst.Z
    beta = np.linalg.eigvalsh(a.T @ a / len(a))
    z2 = np.linalg.norm(Z, 2) ** 2
    for h in (0.01, 1.0, 8.0, 1e3):
        P = stiff_directions(a, Z, h)
        assert P.shape[1] == np.sum(beta * z2 * h >= 1)
        np.testing.assert_allclose(P.T @ P, np.eye(P.shape[1]), atol=1e-12)


# --------------------------------------------------------------------------- limits


def test_without_stiff_block_it_measures_what_the_student_basis_model_does(small):
    # refresh 0.01: no direction is stiff (beta |Z|^2 h < 1), the implicit operator is the
    # identity, and at t = 0 the frame is the student's SVD: the coefficients are those of
    # the fixed-basis model in the student's basis with the same sets (no sign flips).
    kw = dict(refresh_interval=0.01, n_drift=None, noise_set="train")
    rot = NetworkModel(small, rotate=True, temperature=T_SMALL, **kw)
    fixed = NetworkModel(small, basis="student", flip_horizon=math.inf, **kw)
    assert np.all(rot._frame.stiff_rank == 0)
    x = rot.x0
    a, b = rot.coefficients(x, 0.0), fixed.coefficients(x, 0.0)
    for name in ("kt0", "kappa", "V0", "a_iso", "C", "a_diag"):
        want = getattr(b, name)
        scale = max(np.abs(want).max(), 1e-300)
        np.testing.assert_allclose(getattr(a, name), want, rtol=1e-10, atol=1e-10 * scale,
                                   err_msg=name)  # fmt: skip


def test_rotate_false_keeps_todays_model(small):
    # rotate=False with every new option at its default is the fixed-basis model as before:
    # teacher's basis, 1000-sample drift (all 200 here), probe-set noise, refresh 1.
    kw = dict(temperature=0.1, dt=0.05, save_points=5, seed=3)
    plain = NetworkModel(small)
    explicit = NetworkModel(small, rotate=False, basis="teacher", n_drift=200,
                            noise_set="probe", refresh_interval=1.0)  # fmt: skip
    assert (plain.basis, plain.noise_set, plain.n_drift, plain._frame) == ("teacher", "probe",
                                                                          200, None)  # fmt: skip
    a = integrate(plain, plain.x0, 3.0, **kw)
    b = integrate(explicit, explicit.x0, 3.0, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.steps, b.steps)


def test_one_frame_step_is_the_svd_of_the_euler_step_of_W(small):
    # T ~ 0 and no stiff block: after one refresh interval the frame is the singular frame
    # of W0 - h gbar(W0) (the Euler step of gradient flow), signs continuing U0's.
    h = 0.01
    rot = NetworkModel(small, rotate=True, temperature=1e-30, refresh_interval=h, n_drift=None)
    x0 = rot.x0
    rot.coefficients(x0, 0.0)
    rot.coefficients(x0, h)
    for m, inst in enumerate(small):
        _, gbar = loss_and_gradient(inst.W0, inst.a_train, inst.y_train, inst.Z, "tanh")
        Ue, _, Vh = np.linalg.svd(inst.W0 - h * gbar, full_matrices=False)
        U0 = np.linalg.svd(inst.W0)[0]
        sign = np.sign(np.sum(U0 * Ue, axis=0))
        U, V = rot._frame.frame(m)
        np.testing.assert_allclose(U, Ue * sign, atol=1e-10)
        np.testing.assert_allclose(V, Vh.T * sign, atol=1e-10)


def _gradient_flow(inst, times, h):
    """Eigenvalues of W W^T along full-batch GD with a small step h (numpy)."""
    W = inst.W0.copy()
    out, t, k = [], 0.0, 0
    for target in times:
        while t < target - 1e-9:
            W -= h * loss_and_gradient(W, inst.a_train, inst.y_train, inst.Z, "tanh")[1]
            k += 1
            t = k * h
        out.append(np.linalg.svd(W, compute_uv=False) ** 2)
    return np.array(out)


def test_noiseless_spectrum_follows_gradient_flow_linearly_in_the_refresh(small):
    # T = 1e-14 (noise ~1e-7 of the drift); dt = refresh / 4. The reference's own error (GD,
    # h = 2.5e-4) is ~ h / refresh < 1 % of the model's. The levels start with rates ~5 (x_4
    # halves by t = 0.4), so the refreshes are short. Splitting the frame step from the
    # levels is first order: halving the refresh halves the error (measured 4.4 % and 2.2 %).
    time, save_points = 2.0, 5
    times = np.linspace(0, time, save_points)
    ref = np.stack([_gradient_flow(inst, times, 2.5e-4) for inst in small])
    errors = []
    for h in (0.04, 0.02):
        m = NetworkModel(small, rotate=True, temperature=1e-14, refresh_interval=h, n_drift=None)
        r = integrate(m, m.x0, time, temperature=1e-14, dt=h / 4, save_points=save_points)
        errors.append(np.max(np.abs(r.x - ref) / ref))
    assert errors[0] < 0.06
    assert 1.6 < errors[0] / errors[1] < 2.6, errors


def test_small_temperature_law_is_the_sde_of_sgd(small):
    # The spectrum at t = 2, T = 0.1, over 120 replicas of one network, against
    # dysonsgd.ladder's Euler-Maruyama SDE of SGD (dt = 0.01, its dt bias ~0.1 % of x).
    # Means: within 4 standard errors of the difference plus twice the model's measured
    # deterministic error at this refresh (noiseless model against GD at h = 2.5e-4).
    # Standard deviations: within 4 standard errors (sd / sqrt(2R) each) plus 30 %: at
    # refresh 0.0125 and 200 replicas the model's remained 15 % (x_1) and 25 % (x_3) above
    # the SDE's at T = 0.05; with the levels' noise drawn apart from the frame's they were
    # 3-7 times the SDE's. Seeds 1-3 are arbitrary; over three seed pairs the largest ratio
    # of a difference to its allowance was 0.84 (means) and 0.51 (deviations).
    run_sde = pytest.importorskip("dysonsgd.ladder.continuous").run_sde
    R, T, time, h = 120, 0.1, 2.0, 0.025
    reps = [small[0]] * R
    sde = run_sde(reps, temperature=T, lr=0.01, time=time, save_times=[0.0, time], seed=1)
    x_sde = np.linalg.svd(sde.W[:, -1], compute_uv=False) ** 2
    m = NetworkModel(reps, rotate=True, temperature=T, refresh_interval=h, n_drift=None, seed=2)
    x_rot = integrate(m, m.x0, time, temperature=T, dt=h / 4, save_points=2, seed=3).x[:, -1]
    det = NetworkModel(small[:1], rotate=True, temperature=1e-14, refresh_interval=h)
    x_det = integrate(det, det.x0, time, temperature=1e-14, dt=h / 4, save_points=2).x[0, -1]
    x_gf = _gradient_flow(small[0], [time], 2.5e-4)[0]
    bias = 2 * np.abs(x_det - x_gf)
    se = np.sqrt((x_sde.var(axis=0) + x_rot.var(axis=0)) / R)
    assert np.all(np.abs(x_rot.mean(axis=0) - x_sde.mean(axis=0)) < 4 * se + bias)
    sd_a, sd_b = x_rot.std(axis=0), x_sde.std(axis=0)
    se_sd = np.sqrt((sd_a**2 + sd_b**2) / (2 * R))
    assert np.all(4 * se_sd + 0.3 * sd_b < sd_b)  # twice the SDE's deviation would fail
    assert np.all(np.abs(sd_a - sd_b) < 4 * se_sd + 0.3 * sd_b), (sd_a, sd_b)


# --------------------------------------------------------------------------- invariants


def test_frame_stays_orthonormal_and_is_the_state(small):
    m = NetworkModel(small, rotate=True, temperature=0.5, refresh_interval=0.05)
    r = integrate(m, m.x0, 20.0, temperature=0.5, dt=0.025, save_points=3, seed=4)
    assert np.all(r.status == 0)
    for k in range(len(small)):
        U, V = m._frame.frame(k)
        np.testing.assert_allclose(U.T @ U, np.eye(4), rtol=0, atol=1e-12)
        np.testing.assert_allclose(V.T @ V, np.eye(4), rtol=0, atol=1e-12)
    W = m.weights(r.final)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False) ** 2, r.final, rtol=1e-12)


def test_deterministic_for_a_seed_whatever_threads_and_ensemble(small):
    kw = dict(temperature=0.3, dt=0.05, save_points=3, seed=7)
    m = NetworkModel(small, rotate=True, temperature=0.3, refresh_interval=0.5, seed=5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = integrate(m, m.x0, 5.0, **kw)
        numba.set_num_threads(max(before, 2) if numba.config.NUMBA_NUM_THREADS > 1 else 1)
        b = integrate(m, m.x0, 5.0, **kw)  # the same model again: reset() restarts it
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.x, b.x)
    one = NetworkModel(small[:1], rotate=True, temperature=0.3, refresh_interval=0.5, seed=5)
    c = integrate(one, one.x0, 5.0, **kw)
    np.testing.assert_array_equal(a.x[:1], c.x)  # system 0 does not see system 1
    other = NetworkModel(small, rotate=True, temperature=0.3, refresh_interval=0.5, seed=6)
    assert not np.array_equal(integrate(other, other.x0, 5.0, **kw).x, a.x)


@fixed_settings(12)
@given(data=st.data())
def test_levels_stay_ordered_and_positive(data):
    cfg = draw_network_config(data.draw, max_K=5, max_L=8, max_batches=8, max_batch_size=4)
    sigma_w = data.draw(log_uniform(0.05, 3.0))
    T = data.draw(log_uniform(1e-6, 10.0))
    refresh = data.draw(st.sampled_from([0.05, 0.5, "auto"]))
    noise_set = data.draw(st.sampled_from(["train", "probe"]))
    inst = make_instances(cfg, sigma_w, 2, data.draw(st.integers(0, 2**16)))
    m = NetworkModel(inst, rotate=True, temperature=T, refresh_interval=refresh,
                     noise_set=noise_set)  # fmt: skip
    r = integrate(m, m.x0, 2.0, temperature=T, dt=0.05, save_points=4, seed=0,
                  max_steps=50_000, guard=RunawayGuard())  # fmt: skip
    for k in range(2):
        if r.status[k] != 0 and not np.all(np.isfinite(r.x[k])):
            continue  # flagged (never a silent NaN)
        assert np.all(np.isfinite(r.x[k])) and np.all(r.x[k] > 0), r.x[k]
        assert np.all(np.diff(r.x[k], axis=1) < 0), r.x[k]


# --------------------------------------------------------------------------- options


def test_auto_refresh_chooses_intervals_within_its_bounds(small):
    auto = AutoRefresh(tolerance=0.1, min_interval=0.02, max_interval=2.0)
    m = NetworkModel(small, rotate=True, temperature=T_SMALL, refresh_interval=auto)
    calls = []
    r = integrate(m, m.x0, 20.0, temperature=T_SMALL, dt=0.05, save_points=3,
                  progress=lambda t, end: calls.append(t))  # fmt: skip
    steps = np.diff(calls)
    assert np.all(steps >= 0.02 - 1e-12) and np.all(steps <= 2.0 + 1e-12)
    assert np.all(steps[1:-1] <= 2.0 * steps[:-2] + 1e-12)  # growth at most 2x per refresh
    assert len(calls) < 20.0 / 0.02 and np.all(r.status == 0)
    fixed = NetworkModel(small, refresh_interval="auto")  # the fixed basis chooses too
    integrate(fixed, fixed.x0, 5.0, temperature=T_SMALL, dt=0.05, save_points=2)
    assert math.isfinite(fixed.next_refresh_interval(0.0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rotate=True), "temperature"),
        (dict(rotate=True, temperature=0.1, basis="teacher"), "basis"),
        (dict(rotate=True, temperature=0.1, slope="hessian"), "secant"),
        (dict(rotate=True, temperature=0.1, exchange=True), "secant"),
        (dict(rotate=True, temperature=0.1, lr=0.1), "secant"),
        (dict(rotate=True, temperature=0.1, n_precond=0), "n_precond"),
        (dict(rotate=True, temperature=-1.0), "temperature"),
        (dict(noise_set="test"), "noise_set"),
        (dict(n_drift="all"), "n_drift"),
        (dict(refresh_interval="often"), "refresh_interval"),
        (dict(refresh_interval="auto", exchange=True), "exchange"),
    ],
)
def test_bad_options(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetworkModel(small, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tolerance=0.0), "tolerance"),
        (dict(min_interval=2.0, max_interval=1.0), "min_interval"),
        (dict(growth=1.0), "growth"),
        (dict(max_interval=math.inf), "max_interval"),
    ],
)
def test_bad_auto_refresh(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutoRefresh(**kwargs)


def test_integrate_refuses_another_temperature(small):
    m = NetworkModel(small, rotate=True, temperature=0.1)
    with pytest.raises(ValueError, match="temperature"):
        integrate(m, m.x0, 1.0, temperature=0.2, dt=0.1)


def test_levels_take_the_diagonal_of_the_frames_noise(small):
    m = NetworkModel(small, rotate=True, temperature=0.2, refresh_interval=0.4)
    m.coefficients(m.x0, 0.0)
    zeta = m._frame._zeta.copy()
    # N(0, 1) per level in law: the diagonal of U^T xi V over its standard deviation
    assert np.all(np.abs(zeta) < 6) and np.any(zeta != 0)
    h, steps = np.array([0.1, 0.05]), np.array([3, 2])
    dB = m.block_increments(0.0, h, steps)
    assert dB.shape == (2, 5, 4)
    np.testing.assert_allclose(dB.sum(axis=1), math.sqrt(0.4) * zeta, rtol=1e-12, atol=1e-14)
    assert NetworkModel(small).block_increments(0.0, h, steps) is None  # the fixed basis
    with pytest.raises(ValueError, match="increments"):
        integrate(m, m.x0, 1.0, temperature=0.2, dt=0.1, increments=np.zeros((2, 10, 4)))

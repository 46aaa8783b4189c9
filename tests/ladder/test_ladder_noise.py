"""The SDE's noise: exact covariance (SGD's |B| Cov(g_B)) and weak order 1 in dt."""

from __future__ import annotations

import itertools
import math

import numpy as np

from dysonsgd.ladder import continuous as C
from dysonsgd.ladder import top_hessian_eigenvalue
from dysonsgd.model import NetworkConfig, make_instances, per_sample_gradients

TINY = NetworkConfig(n_batches=6, batch_size=2, K=3, L=4, d_in=2, n_test=8)


def _one_step(inst, zs, *, T, dt):
    """W_1 of one Euler-Maruyama step per row of zs (n_sys, n), all from inst.W0."""
    n_sys = zs.shape[0]
    res = C._run(
        "sde",
        [inst] * n_sys,
        dt=dt,
        steps=1,
        save_steps=np.array([0, 1]),
        temperature=T,
        lr=dt,
        order_eps=False,
        runaway_factor=np.inf,
        draw=lambda j, out: out.__setitem__(Ellipsis, zs[j]),
        on_progress=None,
        threads=None,
        settings={},
    )
    return res.W[:, 1]


def test_noise_covariance_is_sigma_and_sgds_batch_covariance():
    inst = make_instances(TINY, 1.0, 1, 7)[0]
    n, B = TINY.n_samples, TINY.batch_size
    W = inst.W0
    g = per_sample_gradients(W, inst.a_train, inst.y_train, inst.Z, TINY.activation)
    g = g.reshape(n, -1)
    gbar = g.mean(axis=0)
    sigma = (g - gbar).T @ (g - gbar) / n  # population covariance, (KL, KL)

    # The kernel's step is affine in z: W_1(z) = W_1(0) - sqrt(T dt) xi(z). Its columns for
    # z = e_j give the linear map z -> xi, hence Cov(xi) = M M^T for z ~ N(0, I) exactly.
    T = dt = 1.0
    zs = np.vstack([np.zeros(n), np.eye(n)])
    W1 = _one_step(inst, zs, T=T, dt=dt).reshape(n + 1, -1)
    M = -(W1[1:] - W1[0]).T / math.sqrt(T * dt)  # (KL, n)
    cov_xi = M @ M.T
    scale = np.abs(sigma).max()
    np.testing.assert_allclose(cov_xi, sigma, rtol=0, atol=1e-12 * scale)
    # z = 0 leaves the drift alone: W_1(0) = W_0 - dt gbar
    np.testing.assert_allclose(W1[0], W.ravel() - dt * gbar, rtol=0, atol=1e-14)

    # SGD with batches of |B| drawn iid with replacement: enumerate all n^|B| batches.
    means = np.array([g[list(b)].mean(axis=0) for b in itertools.product(range(n), repeat=B)])
    mu = means.mean(axis=0)
    cov_batch = (means - mu).T @ (means - mu) / len(means)
    np.testing.assert_allclose(B * cov_batch, sigma, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(mu, gbar, rtol=0, atol=1e-14)


def test_weak_order_one_on_nested_grids():
    """E f(W_t) at dt = h, h/2, h/4 on the same Brownian paths; f = the training loss.

    With E f^dt = E f + C1 dt + C2 dt^2 + ..., the differences D1 = E(f^h - f^{h/2}) and
    D2 = E(f^{h/2} - f^{h/4}) satisfy D1/D2 = 2 (1 + (3/4)(C2/C1) h + O(h^2)), so the
    estimated order p = log2(D1/D2) is 1 + b with b of order (C2/C1) h. For an Euler step
    of a drift whose Jacobian has spectral radius lambda, C2/C1 ~ lambda: h is set to
    0.05/lambda (lambda = the top Hessian eigenvalue at W0), so |b| <~ 0.05.

    Statistical error: each path gives (d1, d2) = (f^h - f^{h/2}, f^{h/2} - f^{h/4}); the
    delta method gives var(p) = (var(d1)/D1^2 + var(d2)/D2^2 - 2 cov(d1, d2)/(D1 D2)) /
    (N ln(2)^2). The test accepts |p - 1| <= 4 sd(p) + 0.05 (a 4-sigma two-sided band:
    false alarm 6e-5). Order 1/2 (p = 0.5) is rejected when 4 sd(p) < 0.45; a pilot on
    other normals gave sd(p) = 0.10 with 16000 paths, so N = 32000 (sd ~ 0.07), run as
    two batches of 16000 to halve the memory. Coarse normals are built from the fine ones,
    (z_1 + ... + z_m)/sqrt(m): the same Brownian path. Fixed seeds: instance 3, normals
    2024 (arbitrary; not chosen after looking at the outcome).
    """
    inst = make_instances(TINY, 1.0, 1, 3)[0]
    n = TINY.n_samples
    lam = top_hessian_eigenvalue(inst.W0, inst)
    h = 0.05 / lam
    N, coarse, T = 16000, 8, 0.5  # N paths per batch
    fine = 4 * coarse

    def final_loss(zf, m):  # m fine steps per step: dt = m h / 4
        z = zf.reshape(N, fine // m, m, n).sum(axis=2) / math.sqrt(m)
        pos = np.zeros(N, dtype=np.int64)

        def draw(j, out):
            s = pos[j]
            pos[j] += out.shape[0]
            out[...] = z[j, s : s + out.shape[0]]

        steps = fine // m
        res = C._run(
            "sde",
            [inst] * N,
            dt=m * h / 4,
            steps=steps,
            save_steps=np.array([steps]),
            temperature=T,
            lr=h,
            order_eps=False,
            runaway_factor=np.inf,
            draw=draw,
            on_progress=None,
            threads=None,
            settings={},
        )
        return res.loss[:, 0]

    d1, d2 = [], []
    for rng in np.random.default_rng(2024).spawn(2):
        zf = rng.standard_normal((N, fine, n))
        f_h, f_h2, f_h4 = final_loss(zf, 4), final_loss(zf, 2), final_loss(zf, 1)
        d1.append(f_h - f_h2)
        d2.append(f_h2 - f_h4)
    d1, d2 = np.concatenate(d1), np.concatenate(d2)
    N = d1.size
    D1, D2 = d1.mean(), d2.mean()
    c = np.cov(d1, d2)
    var_p = (c[0, 0] / D1**2 + c[1, 1] / D2**2 - 2 * c[0, 1] / (D1 * D2)) / (N * math.log(2) ** 2)
    p = math.log2(D1 / D2)
    sd = math.sqrt(var_p)
    assert abs(p - 1) <= 4 * sd + 0.05, (p, sd, D1, D2)
    assert 4 * sd < 0.45, sd  # the test can tell order 1 from order 1/2

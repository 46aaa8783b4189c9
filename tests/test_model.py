"""The teacher-student network: configuration, instances, analytic gradients."""

import numpy as np
import pytest

from dysonsgd import _seeding
from dysonsgd.model import (
    ACTIVATIONS,
    NetworkConfig,
    loss_and_gradient,
    make_instance,
    make_instances,
    per_sample_gradients,
    per_sample_loss,
)


def small_config(**kw):
    return NetworkConfig(d_in=3, K=4, L=6, d_out=2, n_batches=5, batch_size=3, n_test=7, **kw)


def test_paper_defaults():
    c = NetworkConfig()
    assert (c.d_in, c.K, c.L, c.d_out, c.activation) == (3, 16, 32, 1, "tanh")
    assert (c.n_batches, c.batch_size, c.n_samples, c.n_test) == (1000, 4, 4000, 128)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"K": 0}, "K must be a positive integer"),
        ({"K": 1}, "K must be at least 2"),
        ({"K": 8, "L": 4}, "K must not exceed L"),
        ({"activation": "sigmoid"}, "activation must be one of"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_batches": 2.5}, "n_batches"),
        ({"divergence_threshold": float("nan")}, "divergence_threshold"),
    ],
)
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        NetworkConfig(**kw)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("inf"), float("nan"), "abc"])
def test_instance_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma_w"):
        make_instance(small_config(), sigma, np.random.default_rng(0))


def test_instance_shapes_and_variances():
    # Entry variances follow SPEC section 1; with the paper's shapes and 400 seeds the
    # sample variance of N entries has relative standard error sqrt(2/N) < 1%, so 5% is safe.
    c = NetworkConfig(n_batches=1)
    insts = make_instances(c, 0.5, 400, entropy=12345)
    M = np.stack([i.M for i in insts])
    Wt = np.stack([i.W_teacher for i in insts])
    Z = np.stack([i.Z for i in insts])
    W0 = np.stack([i.W0 for i in insts])
    assert M.shape == (400, c.L, c.d_in) and Z.shape == (400, c.d_out, c.K)
    np.testing.assert_allclose(M.var(), 1 / c.d_in, rtol=0.05)
    np.testing.assert_allclose(Wt.var(), 1 / c.L, rtol=0.05)
    np.testing.assert_allclose(Z.var(), 1 / c.K, rtol=0.05)
    np.testing.assert_allclose(W0.var(), 0.5**2 / c.L, rtol=0.05)
    i = insts[0]
    np.testing.assert_allclose(i.a_train, np.tanh(i.x_train @ i.M.T))
    np.testing.assert_allclose(i.y_train, np.tanh(i.a_train @ i.W_teacher.T) @ i.Z.T)


def test_seed_streams_do_not_depend_on_ensemble_size():
    c = small_config()
    a = make_instances(c, 1.0, 2, entropy=7)
    b = make_instances(c, 1.0, 5, entropy=7)
    for x, y in zip(a, b[:2], strict=True):
        np.testing.assert_array_equal(x.W0, y.W0)
        np.testing.assert_array_equal(x.x_train, y.x_train)
    assert not np.array_equal(b[0].W0, b[1].W0)


def test_sigma_only_scales_the_student():
    # Cells of a sweep share the network and data of seed k; only W0's scale differs.
    c = small_config()
    a = make_instance(c, 0.5, _seeding.stream(3, 0, _seeding.NETWORK))
    b = make_instance(c, 2.0, _seeding.stream(3, 0, _seeding.NETWORK))
    np.testing.assert_array_equal(a.W_teacher, b.W_teacher)
    np.testing.assert_allclose(4 * a.W0, b.W0, rtol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation):
    # Central differences have error O(h^2 f''') ~ 1e-10 at h = 1e-5 plus rounding
    # O(eps_mach / h) ~ 1e-11: an absolute tolerance of 1e-7 is far from both.
    c = small_config(activation=activation)
    inst = make_instance(c, 1.3, np.random.default_rng(42))
    W = inst.W0 + 0.3 * np.random.default_rng(1).standard_normal(inst.W0.shape)
    a, y = inst.a_train, inst.y_train
    g = per_sample_gradients(W, a, y, inst.Z, activation)
    h = 1e-5
    fd = np.empty_like(g)
    for i in range(c.K):
        for j in range(c.L):
            E = np.zeros_like(W)
            E[i, j] = h
            fd[:, i, j] = (
                per_sample_loss(W + E, a, y, inst.Z, activation)
                - per_sample_loss(W - E, a, y, inst.Z, activation)
            ) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-7)
    loss, gbar = loss_and_gradient(W, a, y, inst.Z, activation)
    np.testing.assert_allclose(gbar, g.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loss, per_sample_loss(W, a, y, inst.Z, activation).mean())


def test_teacher_has_zero_loss():
    c = small_config()
    inst = make_instance(c, 1.0, np.random.default_rng(0))
    loss, grad = loss_and_gradient(inst.W_teacher, inst.a_train, inst.y_train, inst.Z, "tanh")
    assert loss == 0.0 and np.all(grad == 0.0)

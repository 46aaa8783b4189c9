"""Exact Hessian-vector products and the top Hessian eigenvalue of the training loss."""

from __future__ import annotations

import numpy as np
import pytest
from _ladder_oracle import hvp as hvp_oracle
from _ladder_oracle import loss_grad

from dysonsgd.ladder import hessian_vector_product, top_hessian_eigenvalue
from dysonsgd.model import NetworkConfig, make_instances

ODD = NetworkConfig(n_batches=37, batch_size=3, K=5, L=7, d_in=3, d_out=2, n_test=8)
SMALL = NetworkConfig(n_batches=50, batch_size=4, K=8, L=16, n_test=8)


@pytest.mark.parametrize(
    "config", [ODD, SMALL, SMALL.replace(activation="identity")], ids=["odd", "small", "identity"]
)
def test_oracle_hvp_matches_central_differences(config):
    """The numpy oracle against central differences of model.loss_and_gradient.

    For a direction of unit norm, central differences have truncation error
    eps^2 |D^3 g[V, V]| / 6 and rounding error ~ 1e-16 |g| / eps; eps = 1e-4 puts both
    near 1e-9 relative to |H V| = O(1), hence the bound 1e-7 max|H V|.
    """
    inst = make_instances(config, 1.0, 1, 5)[0]
    rng = np.random.default_rng(0)
    W = inst.W0 + 0.3 * rng.standard_normal(inst.W0.shape)
    V = rng.standard_normal(W.shape)
    V /= np.linalg.norm(V)
    eps = 1e-4
    fd = (loss_grad(W + eps * V, inst)[1] - loss_grad(W - eps * V, inst)[1]) / (2 * eps)
    ref = hvp_oracle(W, inst, V)
    np.testing.assert_allclose(ref, fd, rtol=0, atol=1e-7 * np.abs(fd).max())


@pytest.mark.parametrize(
    "config",
    [ODD, SMALL, SMALL.replace(activation="identity"), ODD.replace(activation="relu")],
    ids=["odd", "small", "identity", "relu"],
)
def test_kernel_hvp_matches_oracle(config):
    inst = make_instances(config, 1.0, 1, 6)[0]
    rng = np.random.default_rng(1)
    W = inst.W0 + 0.3 * rng.standard_normal(inst.W0.shape)
    V = rng.standard_normal(W.shape)
    got = hessian_vector_product(W, inst, V)
    np.testing.assert_allclose(got, hvp_oracle(W, inst, V), rtol=1e-12, atol=1e-14)


def test_hessian_from_hvps_is_symmetric_and_its_top_eigenvalue_is_found():
    inst = make_instances(ODD, 1.0, 1, 2)[0]
    W = inst.W0
    K, L = W.shape
    H = np.empty((K * L, K * L))
    for i in range(K * L):
        E = np.zeros(K * L)
        E[i] = 1.0
        H[:, i] = hessian_vector_product(W, inst, E.reshape(K, L)).ravel()
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-13 * np.abs(H).max())
    exact = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
    assert top_hessian_eigenvalue(W, inst, tol=1e-12) == pytest.approx(exact, rel=1e-9)


def test_curvature_refuses_bad_input():
    inst = make_instances(SMALL, 1.0, 1, 2)[0]
    W = inst.W0
    with pytest.raises(ValueError, match=r"V must have shape \(K, L\)"):
        hessian_vector_product(W, inst, W.T)
    with pytest.raises(ValueError, match="W must be finite"):
        hessian_vector_product(np.full_like(W, np.nan), inst, W)
    with pytest.raises(ValueError, match="must be a dysonsgd.model.Instance"):
        hessian_vector_product(W, "inst", W)
    with pytest.raises(ValueError, match="iters must be"):
        top_hessian_eigenvalue(W, inst, iters=0)
    with pytest.raises(ValueError, match="tol must be"):
        top_hessian_eigenvalue(W, inst, tol=-1.0)


def test_top_eigenvalue_of_a_saturated_network_is_that_of_the_dense_hessian():
    """Every tanh unit saturated: H v0 = 0 stops ARPACK ("starting vector is zero"); the
    dense Hessian from exact products gives the answer instead (here 0 to rounding)."""
    inst = make_instances(SMALL, 1.0, 1, 2)[0]
    W = 1e6 * inst.W0
    K, L = W.shape
    H = np.column_stack(
        [hessian_vector_product(W, inst, e.reshape(K, L)).ravel() for e in np.eye(K * L)]
    )
    exact = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
    assert top_hessian_eigenvalue(W, inst) == pytest.approx(exact, abs=1e-12)

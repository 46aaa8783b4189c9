"""Observables of SPEC section 2 against hand-computable cases."""

import numpy as np
import pytest

from dysonsgd import observables as obs
from dysonsgd.model import NetworkConfig, make_instances


@pytest.fixture(scope="module")
def batch():
    c = NetworkConfig(K=4, L=6, n_batches=2, n_test=32)
    inst = make_instances(c, 1.0, 3, entropy=5)
    return {
        "W0": np.stack([i.W0 for i in inst]),
        "Wt": np.stack([i.W_teacher for i in inst]),
        "a": np.stack([i.a_probe for i in inst]),
        "y": np.stack([i.y_probe for i in inst]),
        "Z": np.stack([i.Z for i in inst]),
    }


def test_eigenvalues_of_X_descending_and_exact(batch):
    x = obs.eigenvalues_of_X(batch["W0"])
    ref = np.linalg.eigvalsh(batch["W0"] @ np.swapaxes(batch["W0"], -1, -2))[..., ::-1]
    np.testing.assert_allclose(x, ref, rtol=1e-12)
    assert np.all(np.diff(x, axis=-1) <= 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        obs.eigenvalues_of_X(np.ones(3))


def test_test_loss_zero_for_teacher_and_positive_otherwise(batch):
    b = batch
    # einsum and matmul round differently: zero up to (1e-16)^2 per sample.
    assert np.all(obs.test_loss(b["Wt"], b["a"], b["y"], b["Z"], "tanh") < 1e-28)
    loss = obs.test_loss(b["W0"], b["a"], b["y"], b["Z"], "tanh")
    # Direct per-seed formula: mean over samples of |y_teacher - y_student|^2.
    for k in range(3):
        ys = np.tanh(b["a"][k] @ b["W0"][k].T) @ b["Z"][k].T
        np.testing.assert_allclose(loss[k], np.mean(np.sum((b["y"][k] - ys) ** 2, axis=1)))


def test_overlap_and_alignment(batch):
    b = batch
    G = obs.feature_overlap(b["W0"], b["W0"], b["a"], "tanh")
    f = np.tanh(np.einsum("snl,skl->snk", b["a"], b["W0"]))
    np.testing.assert_allclose(G, np.mean(f * f, axis=(1, 2)))
    cos = obs.alignment(b["W0"], b["a"], b["y"], b["Z"], "tanh")
    per = obs.alignment(b["W0"], b["a"], b["y"], b["Z"], "tanh", per_sample=True)
    h = np.einsum("sno,sok->snk", b["y"], b["Z"])
    ref = np.sum(f * h, axis=(1, 2)) / np.sqrt(np.sum(f * f, axis=(1, 2)) * np.sum(h * h, (1, 2)))
    np.testing.assert_allclose(cos, ref)
    np.testing.assert_allclose(per, ref / 32)
    assert np.all(np.abs(cos) <= 1 + 1e-12)


def test_spacing_growth_rate_of_a_doubling_spectrum():
    x0 = np.array([4.0, 2.0, 1.0, 0.5])
    flow = np.stack([x0, 2 * x0, 4 * x0])[None]  # (1 seed, 3 saves, K)
    rate = obs.spacing_growth_rate(flow, np.array([0, 5, 10]))
    np.testing.assert_allclose(rate, np.log(4) / 10)
    np.testing.assert_allclose(obs.mean_spacing(x0), 3.5 / 3)


def test_gradient_norm():
    g = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_allclose(obs.gradient_norm(g), [np.sqrt(np.sum(g**2))])


def test_summarize_returns_observables_read_by_field_or_key():
    """summarize gives a frozen Observables; obs["key"] (the old dict access), the field and
    to_dict() all hold the same arrays, and an unknown key is a KeyError."""
    import dataclasses

    from dysonsgd.sgd import train

    c = NetworkConfig(K=4, L=6, n_batches=3, n_test=16)
    res = train(c, sigma_w=1.0, temperature=2.0**-5, epochs=2, n_seeds=2, seed=1)
    s = obs.summarize(res)
    assert isinstance(s, obs.Observables)
    d = s.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(obs.Observables)]
    for key, value in d.items():
        assert s[key] is value is getattr(s, key)
    assert s["eigenvalues"].shape == (2, 3, 4)
    np.testing.assert_array_equal(s["eigenvalues"], obs.eigenvalues_of_X(res.W))
    np.testing.assert_array_equal(s["final_loss"], res.loss[:, -1])
    with pytest.raises(KeyError):
        s["nope"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.test_loss = None


def test_sharpness_is_the_top_hessian_eigenvalue_at_every_save():
    """sharpness(result)[k, s] is the largest eigenvalue of the dense Hessian (built column by
    column from exact Hessian-vector products) of seed k's training loss at save s, and NaN
    where W is not finite."""
    from dysonsgd.ladder import hessian_vector_product
    from dysonsgd.sgd import train

    cfg = NetworkConfig(K=3, L=4, n_batches=5, batch_size=2, n_test=8)
    r = train(cfg, sigma_w=0.5, temperature=0.25, epochs=2, n_seeds=2, seed=3)
    lam = obs.sharpness(r, tol=1e-12)
    assert lam.shape == (2, 3)
    for k, inst in enumerate(r.instances()):
        for s in range(3):
            W = r.W[k, s]
            n = W.size
            H = np.column_stack(
                [hessian_vector_product(W, inst, e.reshape(W.shape)).ravel() for e in np.eye(n)]
            )
            exact = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
            assert lam[k, s] == pytest.approx(exact, rel=1e-9)
    r.records.W[1, 2] = np.inf
    lam = obs.sharpness(r, tol=1e-12)
    assert np.isnan(lam[1, 2]) and np.all(np.isfinite(lam[0]))

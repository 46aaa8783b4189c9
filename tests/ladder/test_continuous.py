"""run_gd and run_sde: the kernels against the numpy oracle, determinism, stops, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _ladder_oracle import gd as gd_oracle
from _ladder_oracle import sde as sde_oracle

from dysonsgd.ladder import ContinuousResult, run_gd, run_sde, top_hessian_eigenvalue
from dysonsgd.ladder import continuous as C
from dysonsgd.langevin import _kernels as langevin_kernels
from dysonsgd.model import NetworkConfig, make_instances

# K, L not multiples of 4 and n = 111 not a multiple of the chunk or of 4: every remainder
# loop of the kernels runs; d_out = 2 takes the general output path.
ODD = NetworkConfig(n_batches=37, batch_size=3, K=5, L=7, d_in=3, d_out=2, n_test=8)
SMALL = NetworkConfig(n_batches=50, batch_size=4, K=8, L=16, n_test=8)
TINY = NetworkConfig(n_batches=6, batch_size=2, K=3, L=4, d_in=2, n_test=8)


def _draw_from(zs):
    """A ``draw`` for ``continuous._run`` that hands out the rows of zs[j] in order."""
    pos = [0] * len(zs)

    def draw(j, out):
        s = pos[j]
        pos[j] += out.shape[0]
        out[...] = zs[j, s : s + out.shape[0]]

    return draw


def _run_with(insts, zs, *, T, dt, lr, steps, order_eps=False, factor=np.inf):
    return C._run(
        "sde",
        list(insts),
        dt=dt,
        steps=steps,
        save_steps=np.arange(steps + 1, dtype=np.int64),
        temperature=T,
        lr=lr,
        order_eps=order_eps,
        runaway_factor=factor,
        draw=_draw_from(zs),
        on_progress=None,
        threads=None,
        settings={},
    )


@pytest.mark.parametrize(
    "config",
    [ODD, SMALL, SMALL.replace(activation="identity"), ODD.replace(activation="relu")],
    ids=["odd-tanh", "small-tanh", "identity", "odd-relu"],
)
def test_gd_matches_numpy_oracle(config):
    insts = make_instances(config, 1.0, 2, 11)
    # half GD's stability edge 2 / lambda_max, so that no seed diverges
    lr, steps = 1.0 / top_hessian_eigenvalue(insts[0].W0, insts[0]), 6
    res = run_gd(insts, lr=lr, time=lr * steps, save_times=lr * np.arange(steps + 1))
    assert not np.any(res.diverged)
    for j, inst in enumerate(insts):
        W_ref, loss_ref = gd_oracle(inst, lr, steps)
        np.testing.assert_allclose(res.W[j], W_ref, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(res.loss[j], loss_ref, rtol=1e-12)
    np.testing.assert_allclose(res.times, lr * np.arange(steps + 1), rtol=1e-15)


@pytest.mark.parametrize("order_eps", [False, True])
@pytest.mark.parametrize("config", [ODD, SMALL], ids=["odd", "small"])
def test_sde_matches_numpy_oracle_for_the_same_normals(config, order_eps):
    insts = make_instances(config, 1.0, 2, 12)
    T, lr, dt, steps = 0.05, 0.4, 0.2, 5
    zs = np.random.default_rng(5).standard_normal((2, steps, config.n_samples))
    res = _run_with(insts, zs, T=T, dt=dt, lr=lr, steps=steps, order_eps=order_eps)
    for j, inst in enumerate(insts):
        W_ref, loss_ref = sde_oracle(inst, T, dt, lr, zs[j], order_eps)
        np.testing.assert_allclose(res.W[j], W_ref, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(res.loss[j], loss_ref, rtol=1e-12)


def test_run_sde_draws_seed_k_from_its_own_stream():
    insts = make_instances(SMALL, 1.0, 3, 4)
    T, lr, steps = 0.02, 0.25, 4
    res = run_sde(insts, temperature=T, lr=lr, time=lr * steps, save_times=[0, lr * steps], seed=9)
    # the kernel's own draws: seed k's xoshiro256** stream, n normals per step in order
    zs = np.stack(
        [
            langevin_kernels.normals(
                np.random.SeedSequence(9, spawn_key=(k, C.NOISE)).generate_state(4, np.uint64),
                steps * SMALL.n_samples,
            ).reshape(steps, SMALL.n_samples)
            for k in range(3)
        ]
    )
    ref = _run_with(insts, zs, T=T, dt=lr, lr=lr, steps=steps)
    np.testing.assert_array_equal(res.W[:, -1], ref.W[:, -1])
    assert res.settings["seed"] == 9


def test_sde_independent_of_threads_blocks_and_ensemble(monkeypatch):
    insts = make_instances(SMALL, 1.0, 3, 4)
    kw = dict(temperature=0.03, lr=0.25, time=0.25 * 9, save_times=0.25 * np.array([0, 4, 9]))
    one = run_sde(insts, threads=1, **kw)
    two = run_sde(insts, threads=2, **kw)
    np.testing.assert_array_equal(one.W, two.W)
    np.testing.assert_array_equal(one.loss, two.loss)
    # blocks of 2 steps (for 3 systems) instead of one block
    monkeypatch.setattr(C, "_SAMPLES_PER_BLOCK", 2 * 3 * SMALL.n_samples)
    calls = []
    cut = run_sde(insts, on_progress=lambda d, t: calls.append((d, t)), **kw)
    np.testing.assert_array_equal(one.W, cut.W)
    assert calls == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    # the first seed of a 3-seed run equals a 1-seed run
    alone = run_sde(insts[:1], **kw)
    np.testing.assert_array_equal(one.W[:1], alone.W)


def test_sde_at_zero_temperature_is_gd_bitwise():
    insts = make_instances(ODD, 1.0, 2, 8)
    kw = dict(lr=0.3, time=0.3 * 7, save_times=0.3 * np.array([0, 3, 7]))
    gd = run_gd(insts, **kw)
    sde = run_sde(insts, temperature=0.0, seed=1, **kw)
    np.testing.assert_array_equal(gd.W, sde.W)
    np.testing.assert_array_equal(gd.loss, sde.loss)


def test_gd_at_sgds_learning_rate_lowers_the_loss():
    # the paper's network and SGD's lr at T = 2^-5 (lr = T |B|), 1/sigma_W = 8
    config = NetworkConfig()
    insts = make_instances(config, 0.125, 1, 0)
    lr = 2.0**-5 * config.batch_size
    res = run_gd(insts, lr=lr, time=lr * 40, save_times=lr * np.arange(0, 41, 8))
    assert np.all(np.diff(res.loss[0]) < 0), res.loss
    assert not res.diverged[0] and not res.runaway[0] and res.stop_time[0] == np.inf


def test_divergence_stops_and_freezes_the_state():
    # a linear network with a huge lr: GD overshoots, the loss grows past the threshold
    config = SMALL.replace(activation="identity", divergence_threshold=10.0)
    insts = make_instances(config, 1.0, 1, 2)
    lr = 50.0
    res = run_gd(insts, lr=lr, time=lr * 10, save_times=lr * np.arange(11), runaway_factor=np.inf)
    assert res.diverged[0] and not res.runaway[0]
    k = int(round(res.stop_time[0] / lr))
    assert 1 <= k <= 10
    assert not res.loss[0, k] <= config.divergence_threshold
    assert np.all(res.loss[0, :k] <= config.divergence_threshold)
    assert np.all(res.W[0, k:] == res.W[0, k]) and np.all(res.loss[0, k:] == res.loss[0, k])


def test_runaway_stops_when_x1_passes_the_bound():
    # a hot SDE on a tiny network: tanh keeps the loss bounded, the noise inflates W
    insts = make_instances(TINY, 1.0, 2, 3)
    factor, lr, steps = 4.0, 0.5, 400
    res = run_sde(insts, temperature=20.0, lr=lr, time=lr * steps,
                  save_times=lr * np.arange(steps + 1), runaway_factor=factor, seed=0)  # fmt: skip
    assert np.all(res.runaway) and not np.any(res.diverged)
    for j, inst in enumerate(insts):
        bound = factor * max(
            np.linalg.svd(inst.W_teacher, compute_uv=False)[0] ** 2,
            np.linalg.svd(inst.W0, compute_uv=False)[0] ** 2,
        )
        x1 = np.linalg.svd(res.W[j], compute_uv=False)[:, 0] ** 2  # per save = per step
        k = int(round(res.stop_time[j] / lr))
        assert 0 < k <= steps
        # stopped at the first state past the bound (the ||W||_F^2 pre-check skips none) ...
        assert x1[k] > bound and np.all(x1[:k] <= bound)
        # ... and frozen there
        assert np.all(res.W[j, k:] == res.W[j, k]) and np.all(res.loss[j, k:] == res.loss[j, k])


def test_result_fields_and_to_dict():
    insts = make_instances(TINY, 1.0, 2, 3)
    res = run_gd(insts, lr=0.5, time=1.5, save_times=[0.0, 0.5, 1.5])
    assert isinstance(res, ContinuousResult) and res.name == "gd" and res.n_seeds == 2
    assert res.W.shape == (2, 3, TINY.K, TINY.L) and res.loss.shape == (2, 3)
    assert res.steps == 3 and res.dt == 0.5
    d = res.to_dict()
    assert list(d) == [
        "name", "times", "W", "loss", "diverged", "runaway", "stop_time", "steps", "dt",
        "settings",
    ]  # fmt: skip
    assert d["settings"]["lr"] == 0.5 and res["loss"] is res.loss


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(time=1.25), "not a whole number of steps"),
        (dict(save_times=[0.0, 0.75]), "not a whole number of steps"),
        (dict(save_times=[0.5, 0.0]), "strictly increasing"),
        (dict(save_times=[0.0, 2.0]), r"in \[0, time"),
        (dict(save_times=[]), "non-empty"),
        (dict(save_times=[[0.0]]), "non-empty 1-d"),
        (dict(lr=0.0), "lr must be"),
        (dict(time=-1.0), "time must be"),
        (dict(runaway_factor=1.0), "runaway_factor must be > 1"),
        (dict(runaway_factor="x"), "runaway_factor"),
        (dict(threads=0), "threads must be"),
        (dict(instances=[]), "at least one Instance"),
        (dict(instances=[1, 2]), "Instance objects"),
    ],
)
def test_run_gd_refuses_bad_input(kwargs, match):
    insts = make_instances(TINY, 1.0, 1, 0)
    args = dict(instances=insts, lr=0.5, time=1.0, save_times=[0.0, 1.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_gd(**args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(temperature=-1.0), "temperature must be"),
        (dict(temperature=float("nan")), "temperature must be"),
        (dict(dt=0.75), "exceeds lr"),
        (dict(dt=0.3), "not a whole number of steps"),
        (dict(order_eps=1), "order_eps must be"),
        (dict(seed=-3), "seed must be"),
    ],
)
def test_run_sde_refuses_bad_input(kwargs, match):
    insts = make_instances(TINY, 1.0, 1, 0)
    args = dict(instances=insts, temperature=0.1, lr=0.5, time=1.0, save_times=[0.0, 1.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_sde(**args)


def test_mixed_configs_are_refused():
    insts = make_instances(TINY, 1.0, 1, 0) + make_instances(SMALL, 1.0, 1, 0)
    with pytest.raises(ValueError, match="share a NetworkConfig"):
        run_gd(insts, lr=0.5, time=1.0, save_times=[0.0, 1.0])

"""Full-batch gradient descent, ``train(engine="gd")`` (dysonsgd/sgd/engine.py,
``run_full_batch``), against a numpy loop over :func:`dysonsgd.model.loss_and_gradient` and
against the ladder's GD rung, :func:`dysonsgd.ladder.run_gd` (the same map).

Tolerances: the kernel and numpy sum the same terms in another order (chunks of 64 samples
against one BLAS product), a few ulp of |W| ~ 1 per step. Over the 15 steps compared here,
at lr * lambda_max(Hessian) < 1 (asserted where it matters), these errors grow at most
linearly: ~15 * 4 * 2.2e-16 ~ 1e-14, so 1e-12 leaves a margin of 100 and would still catch
a wrong factor of lr, a missing sample or a stale W (all >= 1e-4 here).
"""

from __future__ import annotations

import numpy as np
import pytest

from dysonsgd import observables
from dysonsgd.ladder import continuous
from dysonsgd.model import NetworkConfig, loss_and_gradient, make_instances
from dysonsgd.sgd import SGDResult, engine, save_schedule, train
from dysonsgd.sgd.api import checkpoint_key
from dysonsgd.sgd.engine import CheckpointError, read_checkpoint
from dysonsgd.sgd.reference import Records

ENTROPY = 20250901  # any value works; fixed so that every run of the suite sees one network
FIELDS = ("W", "grad", "loss", "epoch_loss", "diverged", "diverged_step")
RTOL = 1e-12  # module docstring


def _numpy_gd(inst, lr: float, epochs: int) -> Records:
    """Full-batch GD with SGD's records, saved every epoch: the oracle, written to be read.

    Epoch 0: loss and gradient at W0. Epoch e: ``n_batches`` steps ``W <- W - lr gbar(W)``
    over the whole training set; the record is W after them and the means of the step
    losses and gradients. A step loss not <= the threshold stops the seed before its update;
    later records repeat the diverging epoch's.
    """
    c = inst.config
    a, y, Z, act = inst.a_train, inst.y_train, inst.Z, c.activation
    W = inst.W0.copy()
    loss0, grad0 = loss_and_gradient(W, a, y, Z, act)
    Ws, grads, losses = [W.copy()], [grad0], [loss0]
    step = -1
    for epoch in range(1, epochs + 1):
        if step >= 0:  # diverged: the state repeats
            Ws.append(Ws[-1]), grads.append(grads[-1]), losses.append(losses[-1])
            continue
        loss_sum, grad_sum, n_done = 0.0, np.zeros_like(W), c.n_batches
        for b in range(c.n_batches):
            loss, grad = loss_and_gradient(W, a, y, Z, act)
            loss_sum += loss
            grad_sum += grad
            if not loss <= c.divergence_threshold:
                step, n_done = (epoch - 1) * c.n_batches + b, b + 1
                break
            W = W - lr * grad
        Ws.append(W.copy()), grads.append(grad_sum / n_done), losses.append(loss_sum / n_done)
    return Records(
        W=np.array(Ws)[None],
        grad=np.array(grads)[None],
        loss=np.array(losses)[None],
        epoch_loss=np.array(losses)[None],
        diverged=np.array([step >= 0]),
        diverged_step=np.array([step]),
    )


def _assert_close(got: Records, ref: Records, rtol: float = RTOL) -> None:
    """Flags and steps exactly; arrays to rtol with an absolute floor of rtol * max|ref|
    (an epoch-mean gradient's small entries are differences of large ones)."""
    np.testing.assert_array_equal(got.diverged, ref.diverged)
    np.testing.assert_array_equal(got.diverged_step, ref.diverged_step)
    for name in ("W", "grad", "loss", "epoch_loss"):
        g, r = getattr(got, name), getattr(ref, name)
        assert g.shape == r.shape, name
        atol = rtol * float(np.max(np.abs(r)))
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=name)


# n_samples = 20 (one chunk of the kernel's pass, |B| = 4: the paper's register path) and
# 150 (two chunks of 64 and a remainder, d_out = 2: the general paths).
@pytest.mark.parametrize(
    "config",
    [
        NetworkConfig(K=4, L=8, n_batches=5, n_test=8),
        NetworkConfig(K=5, L=9, n_batches=5, batch_size=30, d_out=2, n_test=8),
    ],
    ids=["n20", "n150"],
)
@pytest.mark.parametrize("activation", ["tanh", "identity", "relu"])
def test_matches_a_numpy_full_batch_loop(config, activation):
    """3 epochs of 5 full-batch steps, every record, against the numpy oracle (at lr = 0.1
    no seed diverges, asserted: the divergence test below covers that case)."""
    config = config.replace(activation=activation)
    lr = 0.1
    res = train(config, sigma_w=1.0, lr=lr, epochs=3, n_seeds=2, seed=ENTROPY, engine="gd")
    assert res.engine == "gd" and not res.diverged.any()
    np.testing.assert_array_equal(res.save_epochs, [0, 1, 2, 3])
    for k, inst in enumerate(res.instances()):
        ref = _numpy_gd(inst, lr, 3)
        got = Records(*(getattr(res.records, f)[k : k + 1] for f in FIELDS))
        _assert_close(got, ref)
        # the run moved: a bug that leaves W in place is far outside the tolerance
        assert np.max(np.abs(got.W[0, -1] - got.W[0, 0])) > 1e-3


def test_divergence_matches_the_numpy_loop():
    """identity network at lr = 3: the step loss passes 100 within the first epoch; the
    flags, the step and the repeated records agree with the oracle. The map expands here
    (that is why it diverges), but over at most 5 steps, too few to carry roundoff
    anywhere near 1e-12 (amplification |1 - lr lambda| per step, lambda bounded by the
    loss passing 100 only now)."""
    config = NetworkConfig(K=4, L=8, n_batches=5, activation="identity", n_test=8)
    res = train(config, sigma_w=1.0, lr=3.0, epochs=3, seed=ENTROPY, engine="gd")
    assert res.diverged[0], "the case must exercise the divergence guard"
    assert res.records.diverged_step[0] < config.n_batches
    ref = _numpy_gd(res.instances()[0], 3.0, 3)
    _assert_close(res.records, ref)
    epoch = int(res.records.diverged_step[0]) // config.n_batches + 1
    r = res.records
    assert np.all(r.epoch_loss[0, epoch:] == r.epoch_loss[0, epoch])
    assert np.all(r.W[0, epoch:] == r.W[0, epoch])


def test_equals_the_ladder_gd_rung():
    """run_gd's step ``W <- W - lr gbar(W)`` over the whole training set is this map: the
    same W at steps 5, 10, 15 (its runaway stop switched off)."""
    config = NetworkConfig(K=4, L=8, n_batches=5, n_test=8)
    lr = 0.3
    res = train(config, sigma_w=1.0, lr=lr, epochs=3, n_seeds=2, seed=ENTROPY, engine="gd")
    steps = np.arange(4) * config.n_batches
    rung = continuous.run_gd(
        res.instances(), lr=lr, time=lr * steps[-1], save_times=lr * steps, runaway_factor=np.inf
    )
    scale = float(np.max(np.abs(res.W)))
    np.testing.assert_allclose(res.W, rung.W, rtol=RTOL, atol=RTOL * scale)
    # its loss is at the saved W, ours the mean over the epoch's steps: equal only at epoch 0
    np.testing.assert_allclose(res.loss[:, 0], rung.loss[:, 0], rtol=RTOL)


def test_deterministic_per_seed_and_independent_of_threads_and_ensemble():
    config = NetworkConfig(K=4, L=8, n_batches=5, n_test=8)
    kw = dict(sigma_w=1.0, lr=0.3, epochs=4, seed=7, engine="gd")
    one = train(config, n_seeds=3, threads=1, **kw)
    two = train(config, n_seeds=3, threads=2, **kw)
    alone = train(config, n_seeds=1, **kw)  # seed 0 of a smaller ensemble
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(one.records, f), getattr(two.records, f), f)
        np.testing.assert_array_equal(getattr(one.records, f)[:1], getattr(alone.records, f), f)
    assert not np.array_equal(one.W[0, -1], one.W[1, -1])  # the seeds differ


def test_epoch_zero_and_instances_are_sgds():
    """Same seed and config: the same network, teacher and data, and the same epoch-0
    record bit for bit (one kernel pass); epoch 1 differs (GD is not SGD)."""
    config = NetworkConfig(K=4, L=8, n_batches=5, n_test=8)
    kw = dict(sigma_w=1.0, lr=0.3, epochs=2, n_seeds=2, seed=ENTROPY)
    gd = train(config, engine="gd", **kw)
    sgd = train(config, engine="numba", **kw)
    ref = train(config, engine="numpy", **kw)
    for name in ("W_teacher", "M", "Z", "save_epochs"):
        np.testing.assert_array_equal(getattr(gd, name), getattr(sgd, name), name)
    for f in ("W", "grad", "loss", "epoch_loss"):
        np.testing.assert_array_equal(getattr(gd.records, f)[:, 0], getattr(sgd.records, f)[:, 0])
        np.testing.assert_allclose(
            getattr(gd.records, f)[:, 0], getattr(ref.records, f)[:, 0], rtol=RTOL, atol=1e-15
        )
        assert getattr(gd.records, f).shape == getattr(sgd.records, f).shape
    assert not np.allclose(gd.W[:, 1], sgd.W[:, 1], rtol=1e-6)


def test_small_step_lowers_the_training_loss_at_every_step():
    """Noiseless descent: at T = 2^-5 (eps = 0.125 at |B| = 4), sigma_W = 0.125, 2 epochs of 8
    steps, every step lowers the full training loss.

    The records hold epoch means; every step's loss is read from the same training set cut
    into one step per epoch (n_batches = 1, |B| = 32: make_instance draws the data from
    n_samples alone, so the instance is the same), which must give the same trajectory, bit
    for bit (the kernel's step does not depend on |B|). Descent is guaranteed while lr <
    2 / lambda_max of the Hessian along the path; lambda_max at W0 and at the end is checked
    to be well below 1 / lr.
    """
    paper = NetworkConfig(n_batches=8)  # K = 16, L = 32, |B| = 4, tanh
    T = 2.0**-5
    lr = T * paper.batch_size
    grouped = train(paper, sigma_w=0.125, temperature=T, epochs=2, seed=ENTROPY, engine="gd")
    per_step = paper.replace(n_batches=1, batch_size=paper.n_samples)
    steps = train(per_step, sigma_w=0.125, lr=lr, epochs=16, seed=ENTROPY, engine="gd")
    np.testing.assert_array_equal(grouped.W[0, 1], steps.W[0, 8])
    np.testing.assert_array_equal(grouped.W[0, 2], steps.W[0, 16])
    inst = steps.instances()[0]
    for W in (steps.W[0, 0], steps.W[0, -1]):
        assert lr * continuous.top_hessian_eigenvalue(W, inst) < 1.0
    step_loss = steps.records.epoch_loss[0, 1:]  # loss at W_0 .. W_15, before each step
    assert np.all(np.diff(step_loss) < 0), step_loss
    # and the grouped records are the means of those steps
    np.testing.assert_allclose(
        grouped.records.epoch_loss[0, 1:], step_loss.reshape(2, 8).mean(axis=1), rtol=1e-14
    )
    assert grouped.loss[0, 2] < grouped.loss[0, 1] < grouped.loss[0, 0]


@pytest.mark.parametrize("kw", [{"sampling": "shuffle"}, {"sampling": "iid"}, {"shuffle": True}])
def test_random_sampling_is_refused(kw):
    with pytest.raises(ValueError, match="sampling='fixed'"):
        train(
            NetworkConfig(K=4, L=8, n_batches=5), sigma_w=1.0, lr=0.3, epochs=2, engine="gd", **kw
        )


def test_result_round_trips_and_feeds_the_analyses(tmp_path):
    config = NetworkConfig(K=4, L=8, n_batches=5, n_test=8)
    res = train(config, sigma_w=1.0, temperature=0.05, epochs=4, n_seeds=2, engine="gd")
    assert res.metadata()["engine"] == "gd"
    summary = res.summary()
    assert summary["engine"] == "gd" and summary["sampling"] == "fixed"
    assert np.shape(summary["final_eigenvalues"]) == (2, config.K)
    assert observables.summarize(res)["final_loss"].shape == (2,)
    path = tmp_path / "gd.npz"
    res.save(path)
    back = SGDResult.load(path)
    assert back.engine == "gd" and back.lr == res.lr and back.sampling == "fixed"
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(back.records, f), getattr(res.records, f), f)
    assert back.summary()["engine"] == "gd"


def test_checkpoints_resume_to_the_same_records_and_are_not_sgds(tmp_path):
    """engine="gd" writes and resumes checkpoints as the numba engine does; its key names
    the engine, so a GD checkpoint is never continued as SGD nor the reverse."""
    config = NetworkConfig(K=4, L=8, n_batches=5, n_test=8)
    inst = make_instances(config, 1.0, 2, ENTROPY)
    save = save_schedule(6, 4)  # 0, 2, 4, 6
    whole = engine.run_full_batch(inst, 0.3, 6, save)
    states = []

    def keep(state):
        states.append((state.epoch, read_back(state)))

    def read_back(state):
        path = tmp_path / f"s{state.epoch}.npz"
        engine.write_checkpoint(path, state, {"run": "gd"})
        return read_checkpoint(path, {"run": "gd"})

    again = engine.run_full_batch(inst, 0.3, 6, save, on_save=keep)
    assert [e for e, _ in states] == [2, 4, 6]
    for _, state in states[:2]:
        resumed = engine.run_full_batch(inst, 0.3, 6, save, start=state)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(resumed, f), getattr(whole, f), f)
            np.testing.assert_array_equal(getattr(again, f), getattr(whole, f), f)

    kw = dict(sigma_w=1.0, lr=0.3, epochs=6, save_points=4, seed=ENTROPY, checkpoint_interval=0)
    ck = tmp_path / "run.npz"
    gd = train(config, engine="gd", checkpoint=ck, **kw)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(gd.records, f)[:1], getattr(whole, f)[:1], f)
    key = read_checkpoint(ck).records  # the whole run's final state is in the file
    np.testing.assert_array_equal(key.W, whole.W[:1])
    with pytest.raises(CheckpointError, match="engine") as info:
        train(config, engine="numba", checkpoint=ck, **kw)
    assert info.value.reason == "other_run"
    sgd_key = checkpoint_key(config, 1.0, 0.3, 6, 1, ENTROPY, "fixed", save)
    assert "engine" not in sgd_key  # SGD checkpoints written before engine="gd" stay valid
    assert checkpoint_key(config, 1.0, 0.3, 6, 1, ENTROPY, "fixed", save, engine="gd") == {
        **sgd_key,
        "engine": "gd",
    }

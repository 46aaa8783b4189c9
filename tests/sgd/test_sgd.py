"""The numpy reference SGD simulator: protocol, records, divergence, determinism, regimes."""

import time

import numpy as np
import pytest

from dysonsgd import NetworkConfig, SGDResult
from dysonsgd import train as _train
from dysonsgd._validate import MAX_COUNT
from dysonsgd.model import loss_and_gradient
from dysonsgd.observables import eigenvalues_of_X
from dysonsgd.sgd import save_schedule


def train(*args, **kw):
    """This file tests the numpy reference; the engine is tested against it elsewhere."""
    return _train(*args, engine=kw.pop("engine", "numpy"), **kw)


TINY = NetworkConfig(K=4, L=6, n_batches=7, batch_size=3, n_test=8)


def naive_sgd(inst, lr, epochs, perms=None):
    """An independent loop over batches, the protocol of SPEC section 1 with no guard."""
    c = inst.config
    W = inst.W0.copy()
    Ws, losses = [W.copy()], []
    for e in range(epochs):
        order = np.arange(c.n_samples) if perms is None else perms[e]
        ls = []
        for b in range(c.n_batches):
            idx = order[b * c.batch_size : (b + 1) * c.batch_size]
            loss, g = loss_and_gradient(W, inst.a_train[idx], inst.y_train[idx], inst.Z, "tanh")
            ls.append(loss)
            W = W - lr * g
        Ws.append(W.copy())
        losses.append(np.mean(ls))
    return np.array(Ws), np.array(losses)


def test_records_follow_the_protocol():
    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=6, n_seeds=2, seed=3, save_points=4)
    np.testing.assert_array_equal(r.save_epochs, [0, 2, 4, 6])
    assert r.temperature == pytest.approx(0.1)
    for k, inst in enumerate(r.instances()):
        Ws, losses = naive_sgd(inst, 0.3, 6)
        np.testing.assert_allclose(r.W[k], Ws[[0, 2, 4, 6]], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(r.records.epoch_loss[k, 1:], losses, rtol=1e-12)
        loss0, g0 = loss_and_gradient(inst.W0, inst.a_train, inst.y_train, inst.Z, "tanh")
        np.testing.assert_allclose(r.records.grad[k, 0], g0, rtol=1e-12)
        assert r.loss[k, 0] == pytest.approx(loss0, rel=1e-12)
    assert not r.diverged.any() and np.all(r.records.diverged_step == -1)


def test_shuffle_uses_a_fresh_permutation_each_epoch():
    from dysonsgd import _seeding

    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=3, n_seeds=1, seed=9, shuffle=True, save_points=4)
    rng = _seeding.stream(r.seed, 0, _seeding.SHUFFLE)
    perms = [rng.permutation(TINY.n_samples) for _ in range(3)]
    Ws, _ = naive_sgd(r.instances()[0], 0.3, 3, perms)
    np.testing.assert_allclose(r.W[0], Ws, rtol=1e-12, atol=1e-15)
    unshuffled = train(TINY, sigma_w=1.0, lr=0.3, epochs=3, seed=9, save_points=4)
    assert not np.allclose(unshuffled.W[0, -1], r.W[0, -1])


def test_divergence_is_flagged_and_the_state_repeats():
    c = TINY.replace(activation="identity", divergence_threshold=100.0)
    r = train(c, sigma_w=3.0, lr=40.0, epochs=5, n_seeds=2, seed=0, save_points=6)
    assert r.diverged.all()
    for k in range(2):
        step = r.records.diverged_step[k]
        assert 0 <= step < 5 * c.n_batches
        epoch = step // c.n_batches + 1
        # Every record from the divergence epoch on repeats the state at divergence.
        for i in range(epoch, 6):
            np.testing.assert_array_equal(r.W[k, i], r.W[k, epoch])
        assert np.all(np.isfinite(r.W[k]))
        assert np.all(r.records.epoch_loss[k, epoch:] == r.records.epoch_loss[k, epoch])
        assert r.records.epoch_loss[k, epoch] > 100 / c.n_batches  # includes the bad batch


def test_determinism_and_ensemble_independence():
    a = train(TINY, sigma_w=0.7, temperature=0.05, epochs=3, n_seeds=3, seed=11, save_points=4)
    b = train(TINY, sigma_w=0.7, temperature=0.05, epochs=3, n_seeds=3, seed=11, save_points=4)
    c = train(TINY, sigma_w=0.7, temperature=0.05, epochs=3, n_seeds=1, seed=11, save_points=4)
    d = train(TINY, sigma_w=0.7, temperature=0.05, epochs=3, n_seeds=1, seed=12, save_points=4)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.W[:1], c.W)
    assert not np.array_equal(c.W, d.W)


def test_seed_accepts_generator_and_none():
    r = train(TINY, sigma_w=1.0, lr=0.1, epochs=2, seed=np.random.default_rng(5), save_points=3)
    again = train(TINY, sigma_w=1.0, lr=0.1, epochs=2, seed=r.seed, save_points=3)
    np.testing.assert_array_equal(r.W, again.W)
    fresh = train(TINY, sigma_w=1.0, lr=0.1, epochs=2, seed=None, save_points=3)
    assert isinstance(fresh.seed, int)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"temperature": 0.1, "lr": 0.4}, "exactly one"),
        ({}, "exactly one"),
        ({"temperature": -1.0}, "temperature"),
        ({"lr": float("nan")}, "lr"),
        ({"temperature": 0.1, "epochs": 0}, "epochs"),
        ({"temperature": 0.1, "n_seeds": 0}, "n_seeds"),
        ({"temperature": 0.1, "sigma_w": 0.0}, "sigma_w"),
        ({"temperature": 0.1, "engine": "torch"}, "engine"),
        ({"temperature": 0.1, "save_points": 50}, "save_points"),
        ({"temperature": 0.1, "seed": -3}, "seed"),
    ],
)
def test_bad_input(kw, match):
    args = {"sigma_w": 1.0, "epochs": 3, "save_points": 4} | kw
    with pytest.raises(ValueError, match=match):
        train(TINY, **args)


def test_save_schedule():
    np.testing.assert_array_equal(save_schedule(100, 21), np.arange(0, 101, 5))
    np.testing.assert_array_equal(save_schedule(20, 21), np.arange(21))
    s = save_schedule(37, 21)
    assert s[0] == 0 and s[-1] == 37 and np.all(np.diff(s) > 0)


def test_save_and_load_roundtrip(tmp_path):
    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=4, n_seeds=2, seed=2, save_points=3)
    path = tmp_path / "run.npz"
    r.save(path)
    back = SGDResult.load(path)
    np.testing.assert_array_equal(back.W, r.W)
    np.testing.assert_array_equal(back.W_teacher, r.W_teacher)
    assert back.config == r.config and back.lr == r.lr and back.seed == r.seed
    np.testing.assert_array_equal(back.instances()[1].W0, r.instances()[1].W0)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


# --- the three regimes of the paper at small scale (SPEC section 5 reference points) -------
SMALL = NetworkConfig(n_batches=100)


def test_ordered_regime_learns():
    # T = 2^-5, 1/sigma_W = 8: the loss falls by orders of magnitude (measured ~500-2000x
    # after 200 epochs of 100 batches; the bar is 100x).
    r = train(SMALL, sigma_w=0.125, temperature=2**-5, epochs=200, n_seeds=2, seed=1)
    assert np.all(r.loss[:, 0] / r.loss[:, -1] > 100)


def test_high_temperature_regime_inflates_the_spectrum():
    # T = 4, 1/sigma_W = 8: repulsion and noise win; the top eigenvalue of X grows past 100x
    # the teacher's (measured ~1000x after 20 epochs of 100 batches).
    r = train(SMALL, sigma_w=0.125, temperature=4.0, epochs=20, n_seeds=2, seed=1)
    x = eigenvalues_of_X(r.W[:, -1])
    xt = eigenvalues_of_X(r.W_teacher)
    assert np.all(x[:, 0] > 100 * xt[:, 0])


def test_disordered_regime_is_frozen():
    # T = 2^-5, sigma_W = 256: tanh saturates and gradients vanish; the spectrum moves by
    # less than 1% (measured ~0.3%).
    r = train(SMALL, sigma_w=256.0, temperature=2**-5, epochs=20, n_seeds=2, seed=1)
    x = eigenvalues_of_X(r.W)
    change = np.abs(x[:, -1] - x[:, 0]).max(axis=1) / x[:, 0, 0]
    assert np.all(change < 0.01)


# --------------------------------------------------------------------------- API limits


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"epochs": 10**30}, "epochs"),
        ({"epochs": 2**63}, "epochs"),  # numpy took it and returned a negative epoch
        ({"epochs": MAX_COUNT + 1}, "epochs"),
        ({"n_seeds": 10**30}, "n_seeds"),  # built networks for hours before
        ({"n_seeds": MAX_COUNT + 1}, "n_seeds"),
    ],
)
def test_train_refuses_counts_beyond_the_int_range(kw, name):
    args = {"sigma_w": 1.0, "lr": 0.1, "epochs": 2, "save_points": 2} | kw
    value = next(iter(kw.values()))
    with pytest.raises(ValueError, match=rf"{name} must be an integer from 1 to {MAX_COUNT}, "):
        train(TINY, **args)
    with pytest.raises(ValueError, match=str(value)):
        train(TINY, **args)


def test_save_points_beyond_range_name_the_range():
    with pytest.raises(ValueError, match=r"save_points=10{30} .* from 2 to epochs \+ 1 = 3"):
        train(TINY, sigma_w=1.0, lr=0.1, epochs=2, save_points=10**30)


@pytest.mark.parametrize(
    "epochs, save_points, match",
    [
        (10**30, 21, f"epochs must be an integer from 1 to {MAX_COUNT}, got 10{{30}}"),
        (2**63, 2, f"epochs must be an integer from 1 to {MAX_COUNT}, got {2**63}"),
        (100, 10**30, r"save_points=10{30} .* from 2 to epochs \+ 1 = 101"),
        (100, 1, "at least 2"),
    ],
)
def test_save_schedule_refuses_counts_out_of_range(epochs, save_points, match):
    with pytest.raises(ValueError, match=match):
        save_schedule(epochs, save_points)


def test_largest_epochs_still_schedules_exactly():
    """At the bound the schedule is exact (float64 holds every integer below 2**53)."""
    s = save_schedule(MAX_COUNT, 3)
    assert s.dtype == np.int64
    np.testing.assert_array_equal(s, [0, round(MAX_COUNT / 2), MAX_COUNT])


def test_records_too_large_fail_at_once():
    """n_seeds in range but records beyond any memory: MemoryError before any network.

    2**31 - 1 seeds x 21 saves x 2 x K L doubles is ~8e12 bytes even for K = 4, L = 6; the
    probe allocation is refused at once (it used to build networks first, for hours).
    """
    t0 = time.monotonic()
    with pytest.raises(MemoryError):
        train(TINY, sigma_w=1.0, lr=0.1, epochs=20, n_seeds=MAX_COUNT, save_points=21)
    assert time.monotonic() - t0 < 60  # a hang guard, not a speed claim


# --------------------------------------------------------------------------- paper save schedule


def test_paper_save_schedule_by_hand():
    # slot 0 = epoch 0, slot k = 1..20 after epoch (k-1) E/20 + 1
    want = [0] + [(k - 1) * 5000 + 1 for k in range(1, 21)]
    assert want[:4] == [0, 1, 5001, 10001] and want[-1] == 95001
    np.testing.assert_array_equal(save_schedule(100_000, schedule="paper"), want)
    np.testing.assert_array_equal(save_schedule(100_000, 21, "paper"), want)
    # E = 20: (k-1) + 1 = k, so every epoch 0..20, the same as the even schedule
    np.testing.assert_array_equal(save_schedule(20, schedule="paper"), np.arange(21))
    # E = 40: 0, then 1, 3, 5, ..., 39 (the end epoch 40 is never saved)
    np.testing.assert_array_equal(save_schedule(40, 21, "paper"), [0, *range(1, 40, 2)])
    # P = 3, E = 6: 0, 1, 4; short runs default to every epoch here too
    np.testing.assert_array_equal(save_schedule(6, 3, "paper"), [0, 1, 4])
    np.testing.assert_array_equal(save_schedule(5, schedule="paper"), np.arange(6))
    assert save_schedule(100_000, schedule="paper").dtype == np.int64
    # the default is still the even one
    np.testing.assert_array_equal(save_schedule(40, 21), np.arange(0, 41, 2))


@pytest.mark.parametrize(
    "epochs, save_points, schedule, match",
    [
        (30, 21, "paper", r"multiple of save_points - 1 = 20 .* epochs=30; use epochs=20 or 40"),
        (100_001, None, "paper", r"multiple of save_points - 1 = 20 .* epochs=100000 or 100020"),
        (7, 3, "paper", r"multiple of save_points - 1 = 2 .* epochs=6 or 8"),
        (10, 21, "paper", r"save_points=21 needs at least 20 epochs"),
        (20, 21, "Paper", "save schedule must be one of even, paper, got 'Paper'"),
        (20, 21, None, "save schedule must be one of even, paper, got None"),
    ],
)
def test_save_schedule_refuses_bad_schedules(epochs, save_points, schedule, match):
    with pytest.raises(ValueError, match=match):
        save_schedule(epochs, save_points, schedule)
    with pytest.raises(ValueError, match=match):
        train(TINY, sigma_w=1.0, lr=0.1, epochs=epochs, save_points=save_points,
              save_schedule=schedule)  # fmt: skip


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("activation, lr", [("tanh", 0.3), ("identity", 3.0)])
def test_paper_schedule_records_are_those_of_every_epoch(engine, activation, lr):
    # identity at lr = 3 diverges in the first epoch (test_sgd_engine.py): the records
    # after it repeat the state at divergence under either schedule.
    config = TINY.replace(activation=activation)
    kw = dict(sigma_w=1.0, lr=lr, epochs=12, n_seeds=2, seed=5, engine=engine)
    paper = train(config, save_points=5, save_schedule="paper", **kw)
    every = train(config, save_points=13, **kw)
    assert paper.save_epochs.tolist() == [0, 1, 4, 7, 10]
    assert every.save_epochs.tolist() == list(range(13))
    idx = paper.save_epochs
    for name in ("W", "grad", "loss"):
        np.testing.assert_array_equal(
            getattr(paper.records, name), getattr(every.records, name)[:, idx], err_msg=name
        )
    for name in ("epoch_loss", "diverged", "diverged_step"):
        np.testing.assert_array_equal(getattr(paper.records, name), getattr(every.records, name))
    assert paper.diverged.any() == (activation == "identity")


def test_paper_schedule_engines_agree():
    # the oracle of tests/sgd/test_sgd_engine.py on the paper schedule: same arithmetic up to
    # summation order, rtol 1e-9 as there
    kw = dict(sigma_w=1.0, lr=0.3, epochs=12, n_seeds=2, seed=5, save_points=5,
              save_schedule="paper")  # fmt: skip
    ref, got = train(TINY, engine="numpy", **kw), train(TINY, engine="numba", **kw)
    np.testing.assert_array_equal(ref.save_epochs, got.save_epochs)
    for name in ("W", "grad", "loss", "epoch_loss"):
        r, g = getattr(ref.records, name), getattr(got.records, name)
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-9 * np.abs(r).max(), err_msg=name)

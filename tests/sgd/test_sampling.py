"""SGD's sampling modes fixed | shuffle | iid (dysonsgd/sgd/sampling.py).

The index draws are checked on their own (uniform, with replacement, independent; the
tolerances are quantiles of the statistics' null distributions), then through the engines:
numba == numpy reference for each mode, the reference == an independent loop fed the
documented draws, and a run resumed at an epoch boundary == the uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats
from test_sgd import TINY, naive_sgd  # the independent loop of the reference's tests
from test_sgd_engine import _assert_records_close  # the engines' agreement, rtol 1e-9

from dysonsgd import _seeding
from dysonsgd.model import make_instances
from dysonsgd.sgd import SAMPLINGS, SGDResult, engine, reference, save_schedule, train
from dysonsgd.sgd.sampling import check_sampling, epoch_order, sample_streams

# Fixed base entropy: the same networks and draws every run, so the statistical checks
# below have a deterministic outcome (any value works; none was chosen by its outcome).
ENTROPY = 20250901
N = TINY.n_samples  # 21 samples: 7 batches of 3
EPOCHS = 4000  # draws for the statistics: 84,000 indices, 4000 per index expected


@pytest.fixture(scope="module")
def iid_draws():
    rng = sample_streams(ENTROPY, 1, "iid", N)[0]
    return np.stack([epoch_order(rng, "iid", N) for _ in range(EPOCHS)])


# --------------------------------------------------------------------------- the draws


def test_iid_indices_are_uniform(iid_draws):
    """Pearson's chi-square on the counts of the 21 indices over 4000 epochs.

    Under uniform independent draws the statistic follows chi2(20) (84,000 draws, 4000
    expected per cell: the asymptotic law is exact to far better than the level). Two-sided
    at alpha = 2e-4: above the 1 - 1e-4 quantile is non-uniform, below the 1e-4 quantile is
    too even (a permutation per epoch gives exactly 0).
    """
    counts = np.bincount(iid_draws.ravel(), minlength=N)
    assert counts.size == N and iid_draws.min() >= 0
    chi2 = stats.chisquare(counts).statistic
    lo, hi = stats.chi2.ppf([1e-4, 1 - 1e-4], df=N - 1)
    assert lo < chi2 < hi, (chi2, lo, hi)


def test_iid_draws_are_with_replacement(iid_draws):
    """Distinct indices per epoch: n (1 - (1 - 1/n)^n) = 13.5 of 21 on average.

    With D the number of distinct values among n uniform draws from n,
    E[D] = n (1 - q1) and Var[D] = n q1 + n (n - 1) q2 - n^2 q1^2 with q1 = (1 - 1/n)^n,
    q2 = (1 - 2/n)^n. The mean over 4000 independent epochs is within 4 standard errors
    (two-sided probability 6e-5 under the normal law of the mean). A permutation would
    give exactly 21 every epoch.
    """
    n = N
    q1, q2 = (1 - 1 / n) ** n, (1 - 2 / n) ** n
    mean = n * (1 - q1)
    var = n * q1 + n * (n - 1) * q2 - n**2 * q1**2
    distinct = np.array([np.unique(row).size for row in iid_draws])
    assert np.all(distinct < n)  # every epoch repeats an index (P(no repeat) = n!/n^n = 1e-8)
    assert abs(distinct.mean() - mean) < 4 * np.sqrt(var / EPOCHS), (distinct.mean(), mean)


def test_iid_draws_within_a_batch_are_independent(iid_draws):
    """Chi-square on the pairs (first, second index) of every batch: uniform on 21 x 21.

    Independent uniform draws make every ordered pair equally likely, 1/441 (a permutation
    never repeats an index within a batch: its 21 diagonal cells would be empty). 28,000
    batches, 63 expected per cell; chi2(440) at the same two-sided alpha = 2e-4.
    """
    batches = iid_draws.reshape(-1, TINY.batch_size)
    pairs = np.bincount(batches[:, 0] * N + batches[:, 1], minlength=N * N)
    chi2 = stats.chisquare(pairs).statistic
    lo, hi = stats.chi2.ppf([1e-4, 1 - 1e-4], df=N * N - 1)
    assert lo < chi2 < hi, (chi2, lo, hi)


def test_shuffle_draws_are_permutations():
    rng = sample_streams(ENTROPY, 1, "shuffle", N)[0]
    for _ in range(20):
        np.testing.assert_array_equal(np.sort(epoch_order(rng, "shuffle", N)), np.arange(N))
    assert sample_streams(ENTROPY, 3, "fixed", N) is None


@pytest.mark.parametrize("sampling", ["shuffle", "iid"])
def test_streams_resume_at_any_epoch_boundary(sampling):
    """The stream after E1 epochs, rebuilt from (seed, E1), continues the unbroken stream."""
    whole = sample_streams(ENTROPY, 2, sampling, N)
    draws = [np.stack([epoch_order(r, sampling, N) for _ in range(30)]) for r in whole]
    for e1 in (0, 1, 17):
        resumed = sample_streams(ENTROPY, 2, sampling, N, epochs_done=e1)
        for k, r in enumerate(resumed):
            tail = np.stack([epoch_order(r, sampling, N) for _ in range(30 - e1)])
            np.testing.assert_array_equal(tail, draws[k][e1:], err_msg=f"seed {k}, E1={e1}")


def test_shuffle_stream_is_unchanged():
    """shuffle reads rng.permutation of the batch-order stream, as before sampling modes."""
    rng = _seeding.stream(ENTROPY, 1, _seeding.SHUFFLE)
    ours = sample_streams(ENTROPY, 2, "shuffle", N)[1]
    for _ in range(5):
        np.testing.assert_array_equal(epoch_order(ours, "shuffle", N), rng.permutation(N))


# --------------------------------------------------------------------------- the engines


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("activation, lr", [("tanh", 0.3), ("identity", 3.0)])
def test_numba_matches_numpy_for_each_mode(sampling, activation, lr):
    """Same tolerance as tests/sgd/test_sgd_engine.py; lr = 3 makes identity diverge."""
    config = TINY.replace(activation=activation)
    kw = dict(sigma_w=1.0, lr=lr, epochs=30, n_seeds=3, seed=ENTROPY, save_points=7)
    ref = train(config, engine="numpy", sampling=sampling, **kw)
    got = train(config, engine="numba", sampling=sampling, **kw)
    assert ref.sampling == got.sampling == sampling
    _assert_records_close(ref.records, got.records)
    if activation == "identity":
        assert ref.diverged.any()


def test_iid_run_is_sgd_on_the_documented_draws():
    """train(sampling="iid") == an independent loop fed epoch_order's draws."""
    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=3, seed=9, sampling="iid", engine="numpy")
    rng = sample_streams(r.seed, 1, "iid", N)[0]
    orders = [epoch_order(rng, "iid", N) for _ in range(3)]
    Ws, losses = naive_sgd(r.instances()[0], 0.3, 3, orders)
    np.testing.assert_allclose(r.W[0], Ws, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r.records.epoch_loss[0, 1:], losses, rtol=1e-12)


def test_iid_differs_from_shuffle_and_fixed():
    kw = dict(sigma_w=1.0, lr=0.3, epochs=3, n_seeds=2, seed=9, save_points=4)
    runs = {s: train(TINY, sampling=s, **kw) for s in SAMPLINGS}
    for a, b in (("iid", "shuffle"), ("iid", "fixed"), ("shuffle", "fixed")):
        assert not np.allclose(runs[a].W[:, -1], runs[b].W[:, -1]), (a, b)


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("eng", [engine, reference])
def test_resumed_run_equals_the_uninterrupted_run(sampling, eng):
    """E1 = 8 epochs, then a new run from the network saved there with the streams rebuilt
    at epoch 8, to E2 = 20: bit-identical W and per-epoch losses (the same arithmetic)."""
    e1, e2 = 8, 20
    inst = make_instances(TINY, 1.0, 2, ENTROPY)
    streams = sample_streams(ENTROPY, 2, sampling, N)
    whole = eng.run(inst, 0.3, e2, np.array([0, e1, e2]), streams, sampling=sampling)
    restart = [dataclasses.replace(x, W0=whole.W[k, 1]) for k, x in enumerate(inst)]
    streams = sample_streams(ENTROPY, 2, sampling, N, epochs_done=e1)
    rest = eng.run(restart, 0.3, e2 - e1, np.array([0, e2 - e1]), streams, sampling=sampling)
    np.testing.assert_array_equal(rest.W[:, -1], whole.W[:, -1])
    np.testing.assert_array_equal(rest.epoch_loss[:, 1:], whole.epoch_loss[:, e1 + 1 :])


def test_iid_records_do_not_depend_on_the_engines_blocks(monkeypatch):
    """Blocks of 1 and 3 epochs (indices drawn ahead per block) == one block of all 12."""
    inst = make_instances(TINY, 1.0, 2, ENTROPY)
    save = save_schedule(12, 5)

    def run():
        streams = sample_streams(ENTROPY, 2, "iid", N)
        return engine.run(inst, 0.3, 12, save, streams, sampling="iid")

    whole = run()
    for steps, entries in ((1, 1), (3 * 2 * TINY.n_batches, 3 * 2 * N)):
        monkeypatch.setattr(engine, "_STEPS_PER_BLOCK", steps)
        monkeypatch.setattr(engine, "_PERM_ENTRIES", entries)
        cut = run()
        for name in ("W", "grad", "loss", "epoch_loss"):
            np.testing.assert_array_equal(getattr(cut, name), getattr(whole, name), name)


# --------------------------------------------------------------------------- the API


def test_shuffle_true_is_sampling_shuffle():
    kw = dict(sigma_w=1.0, lr=0.3, epochs=3, seed=9, save_points=4)
    a, b = train(TINY, shuffle=True, **kw), train(TINY, sampling="shuffle", **kw)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.sampling == "shuffle" and a.shuffle
    c = train(TINY, shuffle=False, sampling="iid", **kw)  # False: "not shuffled", no clash
    assert c.sampling == "iid" and not c.shuffle


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(shuffle=True, sampling="iid"), "shuffle=True.*conflicts with sampling='iid'"),
        (
            dict(shuffle=False, sampling="shuffle"),
            "shuffle=False conflicts with sampling='shuffle'",
        ),
        (dict(sampling="random"), "sampling must be one of fixed, shuffle, iid, got 'random'"),
        (dict(sampling=None), "sampling must be one of"),
        (dict(shuffle="yes"), "shuffle must be True, False or None"),
    ],
)
def test_bad_sampling_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        train(TINY, sigma_w=1.0, lr=0.3, epochs=2, **kw)


def test_engines_refuse_streams_that_do_not_fit_the_mode():
    inst = make_instances(TINY, 1.0, 2, ENTROPY)
    save = save_schedule(2, 2)
    rngs = sample_streams(ENTROPY, 2, "iid", N)
    for eng in (engine, reference):
        with pytest.raises(ValueError, match="sampling='iid' needs one generator per seed"):
            eng.run(inst, 0.3, 2, save, None, sampling="iid")
        with pytest.raises(ValueError, match="sampling='fixed' needs no generators"):
            eng.run(inst, 0.3, 2, save, rngs, sampling="fixed")
        with pytest.raises(ValueError, match="sampling must be one of"):
            eng.run(inst, 0.3, 2, save, rngs, sampling="perm")
    with pytest.raises(ValueError, match="epochs_done"):
        sample_streams(ENTROPY, 2, "iid", N, epochs_done=-1)
    assert check_sampling("fixed", shuffle=True) == "shuffle"


def test_sampling_is_recorded_saved_and_loaded(tmp_path):
    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=2, n_seeds=2, seed=2, sampling="iid")
    assert r.metadata()["sampling"] == "iid" and r.summary()["sampling"] == "iid"
    path = tmp_path / "iid.npz"
    r.save(path)
    back = SGDResult.load(path)
    assert back.sampling == "iid" and not back.shuffle
    np.testing.assert_array_equal(back.W, r.W)


@pytest.mark.parametrize("shuffle, sampling", [(True, "shuffle"), (False, "fixed")])
def test_files_from_before_sampling_modes_load(tmp_path, shuffle, sampling):
    """A file whose metadata has only "shuffle" (as written before) loads with its mode."""
    r = train(TINY, sigma_w=1.0, lr=0.3, epochs=2, seed=2, shuffle=shuffle)
    path = tmp_path / "old.npz"
    r.save(path)
    with np.load(path) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["config"]))
    del meta["sampling"]
    arrays["config"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    back = SGDResult.load(path)
    assert back.sampling == sampling and back.shuffle is shuffle

"""The numba SGD engine against the numpy reference (dysonsgd/sgd/reference.py defines it).

Short runs in a stable regime must agree to rtol 1e-9 (the two differ only in summation
order and libm, a few ulp per step); long runs at high temperature are chaotic, so there
the test is agreement in distribution across seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dysonsgd import _seeding
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.sgd import engine, reference, save_schedule, train

SMALL = NetworkConfig(K=4, L=8, n_batches=50)
# Fixed base entropy so that every run of the suite sees the same networks; any value
# works for the exact checks, and the distribution check's p-value is then deterministic.
ENTROPY = 20250901


def _assert_records_close(ref, got, rtol=1e-9):
    """W, grad, losses to ``rtol``; divergence flags and steps exactly.

    The epoch-mean gradient is a sum over the epoch of terms as large as the largest
    batch gradient, with cancellations: its small elements carry an absolute rounding
    error ~ n_steps * 1e-16 * max|g|, so an absolute floor of ``rtol`` times the array's
    largest element is added (1e-9 >> 2500 * 1e-16).
    """
    np.testing.assert_array_equal(got.diverged, ref.diverged)
    np.testing.assert_array_equal(got.diverged_step, ref.diverged_step)
    for name in ("W", "grad", "loss", "epoch_loss"):
        r, g = getattr(ref, name), getattr(got, name)
        assert g.shape == r.shape, name
        atol = rtol * float(np.max(np.abs(r)))
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=name)


def _both(config, lr, epochs, n_seeds, shuffle, save_points=5, sigma_w=1.0):
    inst = make_instances(config, sigma_w, n_seeds, ENTROPY)
    save = save_schedule(epochs, save_points)

    def rngs():
        if not shuffle:
            return None
        return [_seeding.stream(ENTROPY, k, _seeding.SHUFFLE) for k in range(n_seeds)]

    ref = reference.run(inst, lr, epochs, save, rngs())
    got = engine.run(inst, lr, epochs, save, rngs())
    return ref, got


# lr = 0.3 (T = 0.075) is stable for all three activations on SMALL; lr = 3 (T = 0.75)
# drives the identity network to divergence within the first epoch (checked below); tanh's
# bounded outputs and relu's dead units keep those finite (the next test covers them).
@pytest.mark.parametrize("activation", ["tanh", "identity", "relu"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("lr", [0.3, 3.0])
def test_matches_reference_small(activation, shuffle, lr):
    config = SMALL.replace(activation=activation)
    ref, got = _both(config, lr, epochs=40, n_seeds=3, shuffle=shuffle)  # 2000 steps
    _assert_records_close(ref, got)
    if lr == 3.0 and activation == "identity":
        assert ref.diverged.any(), "the large-lr case must exercise the divergence guard"
        # After divergence every record repeats the state at divergence.
        k = int(np.argmax(ref.diverged))
        epoch = int(ref.diverged_step[k]) // config.n_batches + 1
        assert np.all(got.epoch_loss[k, epoch:] == got.epoch_loss[k, epoch])


@pytest.mark.parametrize("batch_size", [1, 3, 6, 9])
def test_matches_reference_other_batch_sizes(batch_size):
    """|B| != 4 takes the general paths of the kernels (groups of four plus a remainder)."""
    config = SMALL.replace(batch_size=batch_size, n_batches=20, d_out=2)
    ref, got = _both(config, 0.2 * batch_size, epochs=30, n_seeds=2, shuffle=True)
    _assert_records_close(ref, got)


def test_divergence_guard_edge_cases():
    """A lowered threshold trips the guard on relu: at step 0, mid-epoch, and not at all.

    With threshold 0.5, lr = 3, sigma_w = 1 the seeds of ENTROPY diverge at steps
    [3, -1, 0, 0] (found once by scanning; the test only needs the mix to be present).
    """
    config = SMALL.replace(activation="relu", divergence_threshold=0.5)
    ref, got = _both(config, 3.0, epochs=10, n_seeds=4, shuffle=False, save_points=4)
    _assert_records_close(ref, got)
    steps = set(ref.diverged_step.tolist())
    assert 0 in steps and -1 in steps and len(steps) >= 3


def test_matches_reference_paper_size():
    """The paper's architecture (K=16, L=32, |B|=4, 1000 batches), low temperature."""
    config = NetworkConfig()
    # T = 2^-5 (lr = 1/8), sigma_w = 1/8: the ordered corner of paper Fig 6, not chaotic.
    ref, got = _both(
        config, 0.125, epochs=2, n_seeds=2, shuffle=False, save_points=3, sigma_w=0.125
    )
    _assert_records_close(ref, got)


def test_thread_count_and_cells_do_not_change_results():
    config = SMALL
    inst = make_instances(config, 0.5, 4, ENTROPY)
    save = save_schedule(30, 4)
    one = engine.run(inst, 1.0, 30, save, None, threads=1)
    two = engine.run(inst, 1.0, 30, save, None, threads=2)
    for name in ("W", "grad", "loss", "epoch_loss", "diverged", "diverged_step"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    # Two cells in one call == each cell alone (the seeds share data across cells).
    inst2 = make_instances(config, 2.0, 4, ENTROPY)
    cells = engine.run_cells([inst, inst2], [1.0, 0.1], 30, save, threads=2)
    alone = engine.run(inst2, 0.1, 30, save, None, threads=1)
    for name in ("W", "grad", "loss", "epoch_loss", "diverged", "diverged_step"):
        np.testing.assert_array_equal(getattr(cells[0], name), getattr(one, name))
        np.testing.assert_array_equal(getattr(cells[1], name), getattr(alone, name))


def test_on_epoch_called_once_per_seed_epoch():
    calls = []
    inst = make_instances(SMALL.replace(activation="identity"), 1.0, 3, ENTROPY)
    rec = engine.run(inst, 3.0, 12, save_schedule(12, 4), None, on_epoch=lambda: calls.append(1))
    assert rec.diverged.any()  # diverged seeds still count all their epochs, as in reference
    assert len(calls) == 3 * 12


def test_train_dispatches_to_numba():
    kw = dict(sigma_w=1.0, lr=0.3, epochs=6, n_seeds=2, seed=3, save_points=4, shuffle=True)
    a = train(SMALL, engine="numpy", **kw)
    b = train(SMALL, engine="numba", **kw)
    _assert_records_close(a.records, b.records)


def _log_top_eigenvalue(W):
    return np.log(np.linalg.eigvalsh(W @ np.swapaxes(W, -1, -2))[..., -1])


@pytest.mark.parametrize(
    "n_seeds",
    [pytest.param(40, id="40-seeds"), pytest.param(120, id="120-seeds", marks=pytest.mark.slow)],
)
def test_high_temperature_agrees_in_distribution(n_seeds):
    """T = 4, sigma_w = 1/8 (paper Fig 6's high-temperature point): chaotic.

    Rounding differences of 1e-16 grow to O(1) within one epoch here, so the two engines'
    trajectories become different samples of the same process. Two-sample KS test on the
    log top eigenvalue of W W^T after 2 epochs across seeds, at alpha = 1e-3: the
    critical distance for n = m = 40 is c(alpha) sqrt(2/n) = 1.95 * 0.224 = 0.44 (0.25 for
    120). Residual pairing (same data per seed) only makes the samples more alike, so the
    test stays conservative. The fixed entropy makes the p-value deterministic.
    """
    config = NetworkConfig()
    inst = make_instances(config, 0.125, n_seeds, ENTROPY)
    save = save_schedule(2, 2)
    ref = reference.run(inst, 16.0, 2, save, None)
    got = engine.run(inst, 16.0, 2, save, None)
    x, y = _log_top_eigenvalue(ref.W[:, -1]), _log_top_eigenvalue(got.W[:, -1])
    # The check is only meaningful if chaos has decorrelated most pairs.
    assert np.median(np.abs(x - y)) > 1e-3
    assert stats.ks_2samp(x, y).pvalue > 1e-3


# --------------------------------------------------------------------------- bad input


def test_bad_input():
    inst = make_instances(SMALL, 1.0, 2, ENTROPY)
    save = save_schedule(4, 3)
    with pytest.raises(ValueError, match="lr"):
        engine.run(inst, -1.0, 4, save, None)
    with pytest.raises(ValueError, match="epochs"):
        engine.run(inst, 0.1, 0, save, None)
    with pytest.raises(ValueError, match="save_epochs"):
        engine.run(inst, 0.1, 2, save, None)  # save point 4 > epochs
    with pytest.raises(ValueError, match="threads"):
        engine.run(inst, 0.1, 4, save, None, threads=0)
    with pytest.raises(ValueError, match="threads"):
        engine.run(inst, 0.1, 4, save, None, threads=10_000)
    with pytest.raises(ValueError, match="sample_rngs"):
        engine.run(inst, 0.1, 4, save, [np.random.default_rng(0)])
    with pytest.raises(ValueError, match="at least one"):
        engine.run([], 0.1, 4, save, None)
    other = make_instances(SMALL.replace(K=3), 1.0, 1, ENTROPY)
    with pytest.raises(ValueError, match="NetworkConfig"):
        engine.run(inst + other, 0.1, 4, save, None)
    with pytest.raises(ValueError, match="one learning rate per cell"):
        engine.run_cells([inst, inst], [0.1], 4, save)
    with pytest.raises(ValueError, match="engine"):
        train(SMALL, sigma_w=1.0, lr=0.1, epochs=2, save_points=2, engine="jax")


def test_compile_failure_names_the_fallback(monkeypatch):
    from numba.core.errors import TypingError

    class Broken:
        def initial_items(self, *args):
            raise TypingError("simulated")

        train_items = initial_items

    monkeypatch.setattr(engine, "_kernels", lambda: Broken())
    inst = make_instances(SMALL, 1.0, 1, ENTROPY)
    with pytest.raises(engine.EngineUnavailable, match="engine numpy"):
        engine.run(inst, 0.1, 2, save_schedule(2, 2), None)


def test_missing_numba_names_the_fallback(monkeypatch):
    import builtins
    import sys

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if (
            name == "numba"
            or name.startswith("numba.")
            or name.endswith("_kernels")
            or (args and len(args) >= 3 and args[2] and "_kernels" in args[2])
        ):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "dysonsgd.sgd._kernels", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    inst = make_instances(SMALL, 1.0, 1, ENTROPY)
    with pytest.raises(engine.EngineUnavailable, match="engine numpy"):
        engine.run(inst, 0.1, 2, save_schedule(2, 2), None)


def test_vectorisable_tanh_matches_numpy():
    """The engine's tanh against numpy's on a dense grid, the tails, tiny values and specials.

    Both branches (rational below 0.625, exp-based above) are accurate to ~2e-16 relative
    (see the kernel's docstring) and numpy's tanh is within ~1 ulp of the true value, so
    4 ulp bounds the difference with margin; libm's tanh differs from numpy's by up to 3.
    """
    from dysonsgd.sgd import _kernels

    rng = np.random.default_rng(5)  # any seed: a random sample on top of the fixed grid
    tiny = np.logspace(-300, 1.5, 20_001)
    x = np.concatenate(
        [np.linspace(-25, 25, 200_001), rng.standard_normal(100_000) * 2, tiny, -tiny]
        + [[0.0, -0.0, 0.625, np.nextafter(0.625, 0), 19.1, 400.0, -400.0]]
    )
    out = np.empty_like(x)
    _kernels.tanh_array(x, out)
    ref = np.tanh(x)
    ulp = np.spacing(np.abs(ref))
    assert np.max(np.abs(out - ref) / ulp) <= 4
    np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))
    special = np.array([np.inf, -np.inf, np.nan])
    out = np.empty(3)
    _kernels.tanh_array(special, out)
    np.testing.assert_array_equal(out, [1.0, -1.0, np.nan])


# --------------------------------------------------------------------------- the CLI


def test_bench_cli_lists_and_rejects_unknown_names():
    from click.testing import CliRunner

    from dysonsgd.cli.main import cli

    runner = CliRunner()
    listed = runner.invoke(cli, ["bench", "--list"])
    assert listed.exit_code == 0 and "sgd" in listed.output.split()
    bad = runner.invoke(cli, ["bench", "--only", "nope"])
    assert bad.exit_code == 2
    assert "unknown benchmark nope" in bad.output

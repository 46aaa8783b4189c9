"""``train --checkpoint`` and ``phase-diagram --save-schedule`` (click's CliRunner).

Tiny runs (20 batches, tens of epochs, 2 seeds): plumbing, not statistics (seed 0, any).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import one_line_error
from click.testing import CliRunner

from dysonsgd import sweep
from dysonsgd.cli.main import cli
from dysonsgd.model import NetworkConfig
from dysonsgd.sgd import engine, save_schedule
from dysonsgd.sgd.api import checkpoint_key
from dysonsgd.sgd.engine import read_checkpoint, write_checkpoint

RUN = ["--T", "0.5", "--sigma", "1", "--epochs", "40", "--seeds", "2", "--n-batches", "20",
       "--sampling", "iid"]  # fmt: skip


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _interrupted_checkpoint(path, stop_at: int) -> None:
    """The checkpoint a `train RUN --checkpoint path` killed after epoch stop_at leaves."""
    from dysonsgd.model import make_instances
    from dysonsgd.sgd.sampling import sample_streams

    net = NetworkConfig(n_batches=20)
    save = save_schedule(40)
    key = checkpoint_key(net, 1.0, 0.5 * 4, 40, 2, 0, "iid", save)

    class Stop(Exception):
        pass

    def save_state(state):
        write_checkpoint(path, state, key)
        if state.epoch == stop_at:
            raise Stop

    with pytest.raises(Stop):
        engine.run(make_instances(net, 1.0, 2, 0), 2.0, 40, save,
                   sample_streams(0, 2, "iid", net.n_samples), sampling="iid",
                   on_save=save_state)  # fmt: skip


def test_train_continues_from_a_checkpoint_to_the_same_result(tmp_path):
    ref = tmp_path / "ref.npz"
    assert run(["train", *RUN, "--out", ref, "--json"]).exit_code == 0
    ck, out = tmp_path / "run.ckpt.npz", tmp_path / "out.npz"
    _interrupted_checkpoint(ck, 22)
    assert read_checkpoint(ck).epoch == 22
    res = run(["train", *RUN, "--checkpoint", ck, "--out", out])
    assert res.exit_code == 0, res.output
    assert f"continued from epoch 22 of checkpoint {ck}" in res.output
    assert not ck.exists()  # removed once the results are written
    with np.load(ref) as a, np.load(out) as b:
        assert a.files == b.files
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name
    # a fresh run with --checkpoint: the same result, and no checkpoint left either
    res = run(["train", *RUN, "--checkpoint", ck, "--out", out, "--json"])
    assert res.exit_code == 0 and not ck.exists()


def test_train_checkpoint_bad_input(tmp_path):
    ref = tmp_path / "ref.npz"
    assert run(["train", *RUN, "--out", ref, "--json"]).exit_code == 0
    before = ref.read_bytes()
    # a training result is not a checkpoint: refused, never overwritten
    one_line_error(run(["train", *RUN, "--checkpoint", ref]), "not a dysonsgd checkpoint")
    assert ref.read_bytes() == before
    ck = tmp_path / "c.npz"
    _interrupted_checkpoint(ck, 10)
    other = list(RUN)
    other[other.index("--epochs") + 1] = "60"
    one_line_error(run(["train", *other, "--checkpoint", ck]), "belongs to another run", "epochs")
    assert read_checkpoint(ck).epoch == 10  # kept for its own run
    one_line_error(
        run(["train", *RUN, "--engine", "numpy", "--checkpoint", ck]), "needs the numba engine"
    )
    one_line_error(run(["train", *RUN, "--checkpoint", tmp_path / "no" / "c.npz"]), "--checkpoint")


SWEEP = ["--T-values", "0.03125,4", "--sigma-values", "0.125", "--epochs", "40", "--seeds", "2",
         "--n-batches", "20", "--scheduler", "inprocess"]  # fmt: skip


def test_phase_diagram_save_schedule_is_recorded_and_kept(tmp_path):
    path = tmp_path / "p.zarr"
    res = run(["phase-diagram", *SWEEP, "--save-schedule", "paper", "--store", path, "--json"])
    assert res.exit_code == 0, res.output
    summ = json.loads(res.output)
    assert summ["config"]["save_schedule"] == "paper"
    ds = sweep.load(path)
    assert list(ds["epoch"].values) == [0, *range(1, 40, 2)]  # after epoch (k-1) 40/20 + 1
    assert sweep.read_store_config(path).save_schedule == "paper"
    assert not sweep.checkpoint_dir(path).exists()
    res = run(["phase-diagram", "--resume", "--store", path, "--scheduler", "inprocess", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["cells_already_done"] == 2
    one_line_error(
        run(["phase-diagram", "--resume", "--store", path, "--save-schedule", "even"]),
        "--save-schedule differ",
    )
    # the even schedule's cells differ from the paper one's (other save epochs)
    even = tmp_path / "e.zarr"
    assert run(["phase-diagram", *SWEEP, "--store", even, "--json"]).exit_code == 0
    assert sweep.read_store_config(even).save_schedule == "even"
    assert not np.array_equal(sweep.load(even)["W_final"], ds["W_final"])


def test_phase_diagram_save_schedule_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = [a if a != "40" else "30" for a in SWEEP]
    one_line_error(
        run(["phase-diagram", *bad, "--save-schedule", "paper"]),
        "--save-schedule",
        "multiple of save_points - 1 = 20",
    )
    res = run(["phase-diagram", *SWEEP, "--save-schedule", "odd"])
    assert res.exit_code == 2 and "'odd' is not one of" in res.output
    assert list(tmp_path.iterdir()) == []

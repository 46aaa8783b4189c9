"""Tests of the sweep's batch-size axis: SweepConfig.batch_sizes, the store over batch sizes
(a Zarr group of ordinary stores b<|B|>/), resume, onset_T and the phase-diagram CLI.

Sizes are tiny (2 T x 1 sigma_W, 2 seeds, 5 epochs, a training set of 32 samples) so each
test runs in a few seconds. Seed 0 throughout: the tests compare runs with each other, not
with statistics.
"""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest
import xarray as xr
from _cli import one_line_error
from click.testing import CliRunner

from dysonsgd import boundaries, sweep
from dysonsgd.cli.main import cli
from dysonsgd.model import NetworkConfig

# A training set of 8 x 4 = 32 samples: |B| = 1 runs 32 batches per epoch, |B| = 4 runs 8.
NET = NetworkConfig(n_batches=8)
BASE = {
    "T_values": (0.25, 4.0),
    "sigma_values": (0.125,),
    "epochs": 5,
    "n_seeds": 2,
    "seed": 0,
    "network": NET,
}
TWO = sweep.SweepConfig(**BASE, batch_sizes=(1, 4))


def _equal_stores(a, b) -> None:
    da, db = sweep.load(a), sweep.load(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)
    for name in da.coords:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)


@pytest.fixture(scope="module")
def two_store(tmp_path_factory):
    """An uninterrupted in-process sweep of TWO (|B| = 1 and 4), with its progress calls."""
    path = tmp_path_factory.mktemp("batch") / "two.zarr"
    cells, steps = [], []
    report = sweep.run_sweep(
        TWO,
        path,
        client="inprocess",
        progress=lambda d, t: cells.append((d, t)),
        on_steps=lambda d, t: steps.append((d, t)),
    )
    return path, report, cells, steps


# --------------------------------------------------------------------------- the configuration


@pytest.mark.parametrize(
    "batch_sizes, match",
    [
        ((0, 4), "positive integers, got 0"),
        ((-4,), "positive integers"),
        ((2.0,), "positive integers, got 2.0"),
        ((True,), "positive integers, got True"),
        ((4, 4), "twice"),
        ((), "empty"),
        ((3,), "batch size 3 does not divide the training set of 32 samples"),
        ((1, 64), "batch size 64 does not divide"),
        ("4", "list of positive integers"),
    ],
)
def test_config_refuses_bad_batch_sizes(batch_sizes, match):
    with pytest.raises(ValueError, match=match):
        sweep.SweepConfig(**BASE, batch_sizes=batch_sizes)


def test_config_roundtrip_with_and_without_batch_sizes():
    c = sweep.SweepConfig(**BASE, batch_sizes=[16, 1, 4])
    assert c.batch_sizes == (1, 4, 16)  # sorted, like the temperatures
    d = c.to_dict()
    assert d["batch_sizes"] == [1, 4, 16]
    assert sweep.SweepConfig.from_dict(json.loads(json.dumps(d))) == c
    plain = sweep.SweepConfig(**BASE)
    assert plain.batch_sizes is None and "batch_sizes" not in plain.to_dict()
    assert sweep.SweepConfig.from_dict(plain.to_dict()) == plain
    # each batch size's ordinary sweep: the same training set, n_samples / |B| batches
    children = c.batch_size_configs()
    assert list(children) == [1, 4, 16]
    for b, child in children.items():
        assert child.batch_sizes is None
        assert child.network.batch_size == b and child.network.n_samples == NET.n_samples
        assert child.network.n_batches == NET.n_samples // b
        assert child.T_values == c.T_values and child.seed == c.seed
    assert plain.batch_size_configs() == {NET.batch_size: plain}
    # SGD steps: every batch size's, n_samples / |B| per epoch
    assert c.sgd_steps == plain.sgd_steps // NET.n_batches * (32 + 8 + 2)
    assert c.default_store_name() != plain.default_store_name()
    assert "-b1-4-16-" in c.default_store_name()


def test_a_default_store_records_and_names_as_before():
    """A config without batch sizes records exactly the dict, and gets exactly the store name,
    that it did before the field existed (so existing stores compare equal and are found)."""
    c = sweep.SweepConfig.from_grid("small", epochs=20, n_seeds=2)
    before = {
        "T_values": [2.0**-5, 2.0**-1, 2.0**2],
        "sigma_values": [2.0**-3, 2.0**-1, 2.0**1, 2.0**8],
        "epochs": 20,
        "n_seeds": 2,
        "seed": 0,
        "network": {
            "d_in": 3,
            "K": 16,
            "L": 32,
            "d_out": 1,
            "activation": "tanh",
            "n_batches": 1000,
            "batch_size": 4,
            "n_test": 128,
            "divergence_threshold": 100.0,
        },  # fmt: skip
        "save_points": 21,
        "engine": "numba",
        "sampling": "fixed",
        "save_schedule": "even",
    }
    assert c.to_dict() == before
    assert list(c.to_dict()) == list(before)  # the recorded JSON is sorted, but keep the order
    # the name hashed the dict without the default sampling and save schedule
    named = {k: v for k, v in before.items() if k not in ("sampling", "save_schedule")}
    h = hashlib.blake2b(json.dumps(named, sort_keys=True).encode(), digest_size=4).hexdigest()
    assert c.default_store_name() == f"sweep-small-e20-s2-{h}.zarr"
    # a stored record (no batch_sizes key) reads back as None
    assert sweep.SweepConfig.from_dict(before).batch_sizes is None
    # and a config pickled before the field existed unpickles with it, None
    state = {k: v for k, v in c.__dict__.items() if k != "batch_sizes"}
    old = pickle.loads(pickle.dumps(c))
    old.__dict__.clear()
    old.__dict__.update(state)
    assert old.batch_sizes is None and old == c


# --------------------------------------------------------------------------- the store


def test_each_batch_size_is_the_ordinary_sweep_of_that_batch_size(two_store, tmp_path):
    path, report, cells, steps = two_store
    assert report.complete and report.n_cells == 4 and report.already_done == 0
    assert sorted(report.computed) == [(1, 0, 0), (1, 1, 0), (4, 0, 0), (4, 1, 0)]
    # one progress count and one step count over every batch size's cells
    assert cells[0] == (0, 4) and cells[-1] == (4, 4)
    assert steps[0] == (0, TWO.sgd_steps) and steps[-1] == (TWO.sgd_steps, TWO.sgd_steps)
    children = sweep.batch_stores(path)
    assert children == {1: path / "b1", 4: path / "b4"}
    assert sweep.check_store(path, TWO) == TWO
    assert sweep.pending_cells(path) == []
    assert sweep.completed_cells(path).shape == (2, 2, 1)
    # the child of |B| = 1 equals, array by array, an ordinary sweep at |B| = 1
    ordinary = sweep.SweepConfig(**{**BASE, "network": NET.replace(batch_size=1, n_batches=32)})
    sweep.run_sweep(ordinary, tmp_path / "b1.zarr", client="inprocess")
    _equal_stores(children[1], tmp_path / "b1.zarr")
    assert sweep.read_store_config(children[1]) == ordinary
    ds = xr.open_zarr(children[4])  # readable without dysonsgd
    np.testing.assert_array_equal(ds["lr"].values, np.array([0.25, 4.0]) * 4)  # eps = T |B|
    # the same training set at every batch size: the same a_rms and teacher per seed
    d1, d4 = sweep.load(children[1]), sweep.load(children[4])
    np.testing.assert_array_equal(d1["a_rms"].values, d4["a_rms"].values)
    np.testing.assert_array_equal(
        d1["teacher_eigenvalues"].values, d4["teacher_eigenvalues"].values
    )
    # no checkpoint directory is left beside the parent
    assert not (path.parent / f"{path.name}.checkpoints").exists()


def test_interrupted_sweep_resumes_only_the_missing_cells(two_store, tmp_path):
    ref, *_ = two_store
    path = tmp_path / "s.zarr"

    class Stop(Exception):
        pass

    seen = []

    def stop_after_one(i, j, result):
        seen.append((result["batch_size"], i, j))
        raise Stop

    with pytest.raises(Stop):
        sweep.run_sweep(TWO, path, client="inprocess", on_cell=stop_after_one)
    assert seen == [(1, 0, 0)]
    assert sweep.pending_cells(path) == [(1, 1, 0), (4, 0, 0), (4, 1, 0)]
    report = sweep.run_sweep(TWO, path, client="inprocess")
    assert report.already_done == 1
    assert sorted(report.computed) == [(1, 1, 0), (4, 0, 0), (4, 1, 0)]
    for b in TWO.batch_sizes:
        _equal_stores(path / f"b{b}", ref / f"b{b}")
    assert sweep.run_sweep(TWO, path, client="inprocess").computed == []


def test_a_batch_sizes_checkpoint_is_continued(two_store, tmp_path):
    """A checkpoint in <store>.checkpoints/b4/ is read by the rerun (its steps counted as done,
    the cell continued from it to the same data) and removed once the cell is stored."""
    ref, *_ = two_store
    path = tmp_path / "s.zarr"
    sweep.open_store(path, TWO)
    child = sweep.batch_stores(path)[4]
    ckpt = sweep.checkpoint_dir(child) / "cell-1-0.npz"
    assert ckpt.parent == tmp_path / "s.zarr.checkpoints" / "b4"
    ckpt.parent.mkdir(parents=True)
    # a cell killed after its last save point leaves its checkpoint of every epoch
    sweep.compute_cell(TWO.batch_size_configs()[4], 1, 0, checkpoint=ckpt, checkpoint_interval=0)
    assert ckpt.is_file()
    steps = []
    sweep.run_sweep(TWO, path, client="inprocess", on_steps=lambda d, t: steps.append(d))
    b4 = TWO.batch_size_configs()[4]
    assert steps[0] == b4.n_seeds * b4.epochs * b4.network.n_batches  # that cell, all done
    for b in TWO.batch_sizes:
        _equal_stores(path / f"b{b}", ref / f"b{b}")
    assert not (tmp_path / "s.zarr.checkpoints").exists()


def test_other_configurations_and_parent_reads_refused(two_store, tmp_path):
    path, *_ = two_store
    other = sweep.SweepConfig(**BASE, batch_sizes=(1, 2))
    with pytest.raises(
        sweep.StoreError, match=r"batch_sizes: \[1, 4\] in the store, \[1, 2\] requested"
    ):
        sweep.check_store(path, other)
    with pytest.raises(sweep.StoreError, match=r"batch_sizes: \[1, 4\] in the store, None"):
        sweep.run_sweep(sweep.SweepConfig(**BASE), path, client="inprocess")
    with pytest.raises(sweep.StoreError, match="sweep over batch sizes 1, 4"):
        sweep.load(path)
    # a child missing: a damaged store, named
    import shutil

    copy = tmp_path / "c.zarr"
    shutil.copytree(path, copy)
    shutil.rmtree(copy / "b4")
    with pytest.raises(sweep.StoreError, match="damaged sweep store.*b4 of batch size 4"):
        sweep.check_store(copy, TWO)
    # an ordinary store is its own only batch size
    plain = tmp_path / "p.zarr"
    sweep.open_store(plain, sweep.SweepConfig(**BASE))
    assert sweep.batch_stores(plain) == {4: plain}
    # the checkpoints of a batch size's cells: beside the parent, one directory per |B|
    assert sweep.checkpoint_dir(path / "b4") == path.parent / f"{path.name}.checkpoints" / "b4"
    assert sweep.checkpoint_dir(plain) == tmp_path / "p.zarr.checkpoints"


def test_gd_engine_cell(tmp_path):
    from dysonsgd import sgd

    cfg = sweep.SweepConfig(**{**BASE, "T_values": (0.25,)}, engine="gd", batch_sizes=(1, 4))
    child = cfg.batch_size_configs()[4]
    res = sweep.compute_cell(child, 0, 0)
    ref = sgd.train(
        child.network, sigma_w=0.125, lr=0.25 * 4, epochs=5, n_seeds=2, seed=0, engine="gd"
    )
    np.testing.assert_array_equal(res["W_final"], ref.records.W[:, -1])
    np.testing.assert_array_equal(res["loss"], ref.records.loss)
    assert np.all(np.isfinite(res["eigenvalues"]))
    # a gd sweep over batch sizes, checkpointing at every save point, stores the same cell
    path = tmp_path / "gd.zarr"
    report = sweep.run_sweep(cfg, path, client="inprocess", checkpoint_interval=0)
    assert report.complete and sorted(report.computed) == [(1, 0, 0), (4, 0, 0)]
    ds = sweep.load(sweep.batch_stores(path)[4])
    np.testing.assert_array_equal(ds["W_final"].values[0, 0], res["W_final"])
    assert not (tmp_path / "gd.zarr.checkpoints").exists()


# --------------------------------------------------------------------------- onset_T


def test_onset_T_on_a_hand_made_phase_table():
    T = [0.125, 0.5, 2.0, 8.0]
    sig = [0.125, 1.0, 256.0]
    table = np.array(
        [
            ["ordered", "ordered", "disordered"],
            ["ordered", "high-temperature", "disordered"],
            ["high-temperature", "", "disordered"],  # a cell not done
            ["high-temperature", "high-temperature", "disordered"],
        ]
    )
    phases = xr.DataArray(table, dims=("T", "sigma_w"), coords={"T": T, "sigma_w": sig})
    onset = boundaries.onset_temperatures(phases)
    np.testing.assert_array_equal(onset[:2], [2.0, 0.5])
    assert np.isnan(onset[2])  # never high-temperature on the grid
    # the dims' order does not matter
    np.testing.assert_array_equal(boundaries.onset_temperatures(phases.T)[:2], [2.0, 0.5])
    np.testing.assert_array_equal(
        boundaries.onset_temperatures(phases, "disordered"), [np.nan, np.nan, 0.125]
    )
    with pytest.raises(ValueError, match="label must be one of"):
        boundaries.onset_temperatures(phases, "hot")
    with pytest.raises(ValueError, match="dims"):
        boundaries.onset_temperatures(table)


# --------------------------------------------------------------------------- the CLI

CLI = [
    "phase-diagram", "--T-values", "0.25,4", "--sigma-values", "0.125", "--epochs", "5",
    "--seeds", "2", "--n-batches", "8", "--scheduler", "inprocess",
]  # fmt: skip


def _run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_cli_json_and_text_over_batch_sizes(two_store, tmp_path):
    ref, *_ = two_store
    store = tmp_path / "cli.zarr"
    res = _run([*CLI, "--batch-sizes", "4,1", "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["config"]["batch_sizes"] == [1, 4]
    assert out["cells"] == out["cells_done"] == out["cells_computed"] == 4
    blocks = out["batch_sizes"]
    assert [b["batch_size"] for b in blocks] == [1, 4]
    for b in blocks:
        assert {"batch_size", "phases", "boundary_T", "onset_T"} <= set(b)
        assert len(b["phases"]) == 2 and len(b["onset_T"]) == 1
        ds = sweep.load(store / f"b{b['batch_size']}")
        want = boundaries.onset_temperatures(boundaries.cell_phases(ds))
        assert b["onset_T"] == [None if np.isnan(t) else t for t in want]
    for b in TWO.batch_sizes:  # the CLI's store is the API's
        _equal_stores(store / f"b{b}", ref / f"b{b}")
    # the text output: one block per batch size; --resume needs only the store
    res = _run(["phase-diagram", "--resume", "--store", str(store), "--scheduler", "inprocess"])
    assert res.exit_code == 0, res.output
    assert "4/4 cells" in res.output
    for b in (1, 4):
        assert f"|B| = {b} (eps = {b} T): onset of the high-temperature phase at T = " in (
            res.output
        )
    assert "for 1/sigma_W = 8" in res.output
    # without --batch-sizes there is no batch_sizes key (today's output)
    res = _run([*CLI, "--store", str(tmp_path / "plain.zarr"), "--json"])
    assert res.exit_code == 0 and "batch_sizes" not in json.loads(res.output)


@pytest.mark.parametrize(
    "value, fragments",
    [
        ("0", ["--batch-sizes", "must be a positive integer"]),
        ("1,0", ["--batch-sizes", "must be a positive integer"]),
        ("4,4", ["--batch-sizes", "twice"]),
        ("3", ["--batch-sizes", "batch size 3 does not divide the training set of 32"]),
        ("2.5", ["--batch-sizes", "not an integer"]),
        ("", ["--batch-sizes"]),
    ],
)
def test_cli_bad_batch_sizes(value, fragments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(_run([*CLI, "--batch-sizes", value, "--store", "s.zarr"]), *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_resume_with_other_batch_sizes_refused(two_store, tmp_path):
    path, *_ = two_store
    res = _run(["phase-diagram", "--resume", "--store", str(path), "--batch-sizes", "1,2"])
    one_line_error(res, "--batch-sizes differ from the settings of")
    res = _run([*CLI, "--batch-sizes", "1,2", "--store", str(path)])
    one_line_error(res, "different configuration", "batch_sizes: [1, 4] in the store")
    res = _run([*CLI, "--store", str(path)])  # the plain sweep on a store over batch sizes
    one_line_error(res, "different configuration", "batch_sizes")

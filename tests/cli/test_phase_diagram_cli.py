"""Tests of the dysonsgd phase-diagram, plot and advise commands (click's CliRunner)."""

from __future__ import annotations

import json

import pytest
from _cli import one_line_error
from click.testing import CliRunner

from dysonsgd.cli.main import cli

# Tiny sweep options: 2 x 2 cells at the reference points, 2 seeds, 20 batches, 20 epochs.
# Seed 0 (the default): any fixed seed; the CLI tests check plumbing, not statistics.
TINY = [
    "--T-values", "0.03125,4", "--sigma-values", "0.125,256",
    "--epochs", "20", "--seeds", "2", "--n-batches", "20", "--scheduler", "inprocess",
]  # fmt: skip


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.zarr"
    res = run(["phase-diagram", *TINY, "--store", str(path), "--json"])
    assert res.exit_code == 0, res.output
    return path, json.loads(res.output)


def test_phase_diagram_json_summary(tiny_store):
    path, summ = tiny_store
    assert summ["cells_done"] == summ["cells"] == 4
    assert summ["cells_computed"] == 4 and summ["cells_already_done"] == 0
    assert {p["phase"] for p in summ["phases"]} <= {"ordered", "disordered", "high-temperature"}
    assert set(summ["boundary_T"]["exact"]) == {"0.68", "0.95", "0.997"}
    assert summ["disorder_line_inv_sigma"]["paper"] == pytest.approx(2**0.5)
    # rerunning the same command computes nothing; --resume needs only the store
    again = json.loads(run(["phase-diagram", *TINY, "--store", str(path), "--json"]).output)
    assert again["cells_computed"] == 0 and again["cells_already_done"] == 4
    res = run(["phase-diagram", "--resume", "--store", str(path), "--scheduler", "inprocess"])
    assert res.exit_code == 0 and "4/4 cells" in res.output


def test_plot_writes_every_figure(tiny_store, tmp_path):
    path, _ = tiny_store
    res = run(["plot", str(path), "--out", str(tmp_path / "figs"), "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.output)["figures"]
    assert len(files) == 18  # 9 figures x (png, pdf)
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(8)
        assert head.startswith(b"\x89PNG") or head.startswith(b"%PDF")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--scheduler", "tcp://127.0.0.1:9"], ["tcp://127.0.0.1:9"]),
        (["--T-values", ""], ["--T-values"]),
        (["--T-values", "0,1", "--sigma-values", "1"], ["must be a positive"]),
        (["--T-values", "1", "--sigma-values", "-2"], ["--sigma-values"]),
        (["--T-values", "1"], ["give both --T-values and --sigma-values"]),
        (["--grid", "small", "--T-values", "1"], ["either --grid"]),
        (["--store", "/proc/dysonsgd-test.zarr"], ["not writable"]),
        (["--resume"], ["--resume needs --store"]),
    ],
)
def test_phase_diagram_bad_input(args, fragments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run(["phase-diagram", *args])
    one_line_error(res, *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_store_that_is_a_file_or_other_config(tiny_store, tmp_path):
    f = tmp_path / "x.zarr"
    f.write_text("not a store")
    one_line_error(run(["phase-diagram", *TINY, "--store", str(f)]), "is a file")
    path, _ = tiny_store
    res = run(["phase-diagram", *TINY[:-2], "--epochs", "40", "--store", str(path)])
    one_line_error(res, "different configuration", "epochs")


def test_cluster_without_jobqueue_names_the_extra(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    try:
        import dask_jobqueue  # noqa: F401

        pytest.skip("dask-jobqueue is installed here")
    except ImportError:
        pass
    monkeypatch.chdir(tmp_path)
    one_line_error(run(["phase-diagram", "--cluster", "slurm"]), "dysonsgd[cluster]")
    assert list(tmp_path.iterdir()) == []


def test_plot_bad_input(tmp_path):
    one_line_error(run(["plot", str(tmp_path / "none.zarr"), "--out", str(tmp_path)]), "no store")
    f = tmp_path / "f"
    f.write_text("x")
    one_line_error(run(["plot", str(tmp_path), "--out", str(f)]), "is a file")


def test_advise_json_and_jammed_side(tmp_path):
    ck = tmp_path / "ck.npz"
    res = run(
        ["train", "--T", "0.03125", "--sigma", "256", "--epochs", "20", "--n-batches", "20",
         "--seeds", "2", "--out", str(ck)]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = run(["advise", "--checkpoint", str(ck), "--batch-sizes", "4,8", "--json"])
    assert res.exit_code == 0, res.output
    adv = json.loads(res.output)
    assert adv["sigma_w"] == 256 and adv["jammed"] is True
    assert len(adv["Tc"]) == 2
    for lv, t in adv["T_max"].items():
        assert adv["lr"][lv]["8"] == pytest.approx(8 * t)
    res = run(["advise", "--sigma", "0.125", "--seeds", "2", "--epochs", "20", "--n-batches", "20"])
    assert res.exit_code == 0, res.output
    assert "not on the jammed side" in res.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        ([], "give --sigma"),
        (["--sigma", "1", "--batch-sizes", "0,4"], "positive integer"),
        (["--sigma", "-1"], "--sigma"),
        (["--checkpoint", "/nonexistent.npz"], "no such file"),
    ],
)
def test_advise_bad_input(args, fragment):
    one_line_error(run(["advise", *args]), fragment)


def test_short_runs_are_not_refused(tmp_path, monkeypatch):
    # Issue 14: no default may refuse a run its other options make meaningful. A sweep or an
    # advice probe of 5 epochs saves every epoch (6 records) instead of exiting 2 on the
    # paper's 21 save points.
    monkeypatch.chdir(tmp_path)
    args = ["phase-diagram", "--T-values", "0.25", "--sigma-values", "1", "--epochs", "5",
            "--seeds", "2", "--n-batches", "10", "--scheduler", "inprocess", "--store",
            "s.zarr", "--json"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["config"]["save_points"] == 6
    res = CliRunner().invoke(cli, ["advise", "--sigma", "1", "--epochs", "5", "--seeds", "2",
                                   "--n-batches", "10", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_json_is_the_run_the_config_and_the_sweep_summarys_to_dict(tiny_store):
    """--json holds the run's keys, the config, boundaries.summary(store).to_dict() (through
    to_jsonable) and the figures, and nothing else."""
    import dataclasses

    from dysonsgd import boundaries, sweep
    from dysonsgd.cli._common import to_jsonable

    path, out = tiny_store
    summ = boundaries.summary(sweep.load(path))
    assert isinstance(summ, boundaries.SweepSummary)
    assert summ["cells_done"] is summ.cells_done == 4
    with pytest.raises(KeyError):
        summ["nope"]
    run_keys = ["store", "cells_computed", "cells_already_done", "seconds", "compute_seconds",
                "config"]  # fmt: skip
    fields = [f.name for f in dataclasses.fields(boundaries.SweepSummary)]
    assert list(out) == [*run_keys, *fields, "figures"]
    assert {k: out[k] for k in fields} == to_jsonable(summ.to_dict())
    assert out["boundary_T_seeds"] == 2 and out["figures"] == []


def test_option_defaults_are_the_sweep_and_network_configs():
    """Unset options take SweepConfig's and NetworkConfig's defaults (shown in --help)."""
    from dysonsgd.cli.phase_diagram import _config_from_options
    from dysonsgd.model import NetworkConfig
    from dysonsgd.sweep import SweepConfig

    got = _config_from_options(None, [0.5], [1.0], None, None, None, None, None, None)
    want = SweepConfig(T_values=(0.5,), sigma_values=(1.0,))
    assert got == want and got.network == NetworkConfig()
    res = run(["phase-diagram", "--help"])
    assert f"[{NetworkConfig().n_batches}]" in res.output and f"[{want.epochs}]" in res.output

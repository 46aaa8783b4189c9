"""`--sampling fixed|shuffle|iid` of `dysonsgd train` and `dysonsgd phase-diagram`."""

from __future__ import annotations

import json

import pytest
from _cli import one_line_error
from click.testing import CliRunner

from dysonsgd.cli.main import cli

# A tiny network run: 3 epochs of 10 batches; seed 0 (any fixed seed: plumbing only).
TRAIN = ["train", "--T", "0.05", "--sigma", "1", "--epochs", "3", "--n-batches", "10"]
# A one-cell sweep, in process.
SWEEP = ["phase-diagram", "--T-values", "0.03125", "--sigma-values", "0.125", "--epochs", "4",
         "--seeds", "2", "--n-batches", "5", "--scheduler", "inprocess"]  # fmt: skip


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_train_json_and_header_show_the_sampling():
    res = run(*TRAIN, "--sampling", "iid", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["sampling"] == "iid" and out["shuffle"] is False
    res = run(*TRAIN)
    assert res.exit_code == 0, res.output
    assert "sampling=fixed" in res.output.splitlines()[0]


def test_train_shuffle_flag_is_sampling_shuffle():
    a = json.loads(run(*TRAIN, "--shuffle", "--json").stdout)
    b = json.loads(run(*TRAIN, "--sampling", "shuffle", "--json").stdout)
    c = json.loads(run(*TRAIN, "--shuffle", "--sampling", "shuffle", "--json").stdout)
    assert a["sampling"] == b["sampling"] == c["sampling"] == "shuffle"
    assert a["final_eigenvalues"] == b["final_eigenvalues"] == c["final_eigenvalues"]
    iid = json.loads(run(*TRAIN, "--sampling", "iid", "--json").stdout)
    assert iid["final_eigenvalues"] != a["final_eigenvalues"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--shuffle", "--sampling", "iid"], ["--shuffle", "--sampling iid"]),
        (["--sampling", "fixed", "--shuffle"], ["--shuffle", "--sampling fixed"]),
        (["--sampling", "random"], ["--sampling", "'random'"]),
    ],
)
def test_train_bad_sampling_is_one_line_exit_2_and_writes_nothing(args, fragments, tmp_path):
    out = tmp_path / "run.npz"
    one_line_error(run(*TRAIN, *args, "--out", str(out)), *fragments)
    assert not out.exists()


def test_phase_diagram_sampling_is_recorded_and_kept_on_resume(tmp_path):
    store = tmp_path / "iid.zarr"
    res = run(*SWEEP, "--sampling", "iid", "--store", str(store), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["config"]["sampling"] == "iid"
    # --resume takes the stored sampling; an explicit other one is refused
    res = run("phase-diagram", "--resume", "--store", str(store), "--scheduler", "inprocess",
              "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["config"]["sampling"] == "iid"
    res = run("phase-diagram", "--resume", "--store", str(store), "--sampling", "fixed")
    one_line_error(res, "--sampling differ from the settings")
    # the same options without --sampling are another (fixed) sweep: refused for this store
    one_line_error(run(*SWEEP, "--store", str(store)), "sampling: 'iid' in the store")


def test_phase_diagram_bad_sampling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(run(*SWEEP, "--sampling", "perm"), "--sampling", "'perm'")
    assert list(tmp_path.iterdir()) == []
    res = run("phase-diagram", "--help")
    assert "--sampling [fixed|shuffle|iid]" in res.output and "[fixed]" in res.output

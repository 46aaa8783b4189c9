"""`dysonsgd train --engine gd`: full-batch gradient descent from the command line."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd.cli.main import cli
from dysonsgd.sgd import SGDResult

# 3 epochs of 100 full-batch steps over 400 samples: a fraction of a second.
FAST = ["--T", "2", "--sigma", "0.125", "--epochs", "3", "--n-batches", "100"]


def run(*args):
    return CliRunner().invoke(cli, ["train", *map(str, args)])


def test_json_is_sgds_with_engine_gd():
    gd = run(*FAST, "--engine", "gd", "--json")
    sgd = run(*FAST, "--json")
    assert gd.exit_code == 0 and sgd.exit_code == 0, gd.output + sgd.output
    out, ref = json.loads(gd.stdout), json.loads(sgd.stdout)
    assert out.keys() == ref.keys()
    assert out["engine"] == "gd" and out["sampling"] == "fixed"
    assert out["lr"] == 8.0 and out["T"] == 2.0  # the step is the SGD run's, eps = T |B|
    assert out["epochs_saved"] == ref["epochs_saved"] == [0, 1, 2, 3]
    assert out["initial_loss"] == ref["initial_loss"]  # same network and data
    assert out["final_loss"] != ref["final_loss"]
    assert np.shape(out["final_eigenvalues"]) == (1, 16)


def test_the_paper_size_command_of_the_brief():
    """The paper's 1000 batches: 3 epochs are 3000 passes over 4000 samples (~2 s)."""
    res = run("--engine", "gd", "--T", 2, "--sigma", 0.125, "--epochs", 3, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["engine"] == "gd" and np.all(np.isfinite(out["final_loss"]))


def test_human_output_says_full_batch_gradient_descent(tmp_path):
    path = tmp_path / "gd.npz"
    res = run(*FAST, "--engine", "gd", "--seeds", 2, "--out", path)
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith("full-batch gradient descent at step eps=8 "), first
    assert "100 steps per epoch" in first and "sampling" not in first
    assert SGDResult.load(path).engine == "gd"


def test_checkpoint_is_accepted_and_removed(tmp_path):
    ck = tmp_path / "ck.npz"
    res = run(*FAST, "--engine", "gd", "--checkpoint", ck, "--json")
    assert res.exit_code == 0, res.output
    assert not ck.exists()
    plain = run(*FAST, "--engine", "gd", "--json")
    assert json.loads(res.stdout)["final_loss"] == json.loads(plain.stdout)["final_loss"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sampling", "shuffle"], "--sampling shuffle has no meaning"),
        (["--sampling", "iid"], "--sampling iid has no meaning"),
        (["--shuffle"], "--sampling shuffle has no meaning"),
        (["--engine", "sgd"], "Invalid value for '--engine'"),
    ],
)
def test_bad_combinations_exit_2_with_one_message(extra, message):
    args = [*FAST, *extra] if "--engine" in extra else [*FAST, "--engine", "gd", *extra]
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output

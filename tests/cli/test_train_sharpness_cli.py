"""``dysonsgd train --sharpness``: the top Hessian eigenvalue at every save, from the CLI.

A tiny run (2 epochs of 4 batches, 2 seeds, seed 0: any fixed seed, the tests compare the
command with the API on the same run, not with statistics); the command only calls
:func:`dysonsgd.observables.sharpness` and formats it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import dysonsgd
from dysonsgd import observables
from dysonsgd.cli.main import cli
from dysonsgd.cli.train import EDGE_OF_STABILITY
from dysonsgd.sgd import SGDResult

T, SIGMA, EPOCHS, SEEDS, N_BATCHES = 0.03125, 0.125, 2, 2, 4
TINY = ["--T", T, "--sigma", SIGMA, "--epochs", EPOCHS, "--seeds", SEEDS, "--n-batches", N_BATCHES]


def run(*args):
    return CliRunner().invoke(cli, ["train", *map(str, TINY), *map(str, args)])


@pytest.fixture(scope="module")
def api_sharpness():
    """observables.sharpness of the same run, trained through the API with the same seed."""
    result = dysonsgd.train(
        dysonsgd.NetworkConfig(n_batches=N_BATCHES),
        sigma_w=SIGMA,
        temperature=T,
        epochs=EPOCHS,
        n_seeds=SEEDS,
        seed=0,
    )
    return result, observables.sharpness(result)


def test_json_has_lambda_max_per_seed_and_save(api_sharpness, tmp_path):
    result, want = api_sharpness
    path = tmp_path / "run.npz"
    res = run("--sharpness", "--json", "--out", path)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    sharp = out["sharpness"]
    assert set(sharp) == {"lambda_max", "eps", "edge"}
    assert np.shape(sharp["lambda_max"]) == (SEEDS, EPOCHS + 1) == want.shape
    assert out["epochs_saved"] == [0, 1, 2]
    assert sharp["eps"] == out["lr"] == result.lr == T * 4
    assert sharp["edge"] == 2 / result.lr
    # the same numbers as the API's run, and as the saved run reloaded
    np.testing.assert_allclose(sharp["lambda_max"], want, rtol=1e-12)
    np.testing.assert_allclose(observables.sharpness(SGDResult.load(path)), want, rtol=1e-12)
    assert np.all(want > 0)


def test_table_gives_the_median_over_seeds_and_the_edge(api_sharpness):
    result, want = api_sharpness
    res = run("--sharpness")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("sharpness:"))
    assert "median over 2 seeds" in lines[start]
    assert lines[start + 1].split() == ["epoch", "lambda_max", "eps*lambda_max"]
    rows = [ln.split() for ln in lines[start + 2 : start + 2 + EPOCHS + 1]]
    assert [int(r[0]) for r in rows] == [0, 1, 2]
    med = np.median(want, axis=0)
    np.testing.assert_allclose([float(r[1]) for r in rows], med, rtol=1e-3)  # 4 digits
    np.testing.assert_allclose([float(r[2]) for r in rows], result.lr * med, rtol=1e-3)
    assert lines[start + 2 + EPOCHS + 1] == EDGE_OF_STABILITY
    assert "eps * lambda_max < 2 (edge of stability, Cohen et al. 2021)" in EDGE_OF_STABILITY


def test_without_the_flag_nothing_changes(monkeypatch):
    def refuse(result):
        raise AssertionError("sharpness computed without --sharpness")

    monkeypatch.setattr(observables, "sharpness", refuse)
    res = run("--json")
    assert res.exit_code == 0, res.output
    assert "sharpness" not in json.loads(res.stdout)
    res = run()
    assert res.exit_code == 0, res.output
    assert "sharpness" not in res.stdout and EDGE_OF_STABILITY not in res.stdout


def test_nan_is_null_in_json_and_left_out_of_the_median(monkeypatch):
    """A seed whose W is not finite has NaN (observables.sharpness replaced by a stub)."""
    lam = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])
    monkeypatch.setattr(observables, "sharpness", lambda result: lam)
    out = json.loads(run("--sharpness", "--json").stdout)
    assert out["sharpness"]["lambda_max"] == [[1.0, 2.0, None], [3.0, 4.0, 5.0]]
    res = run("--sharpness")
    assert res.exit_code == 0, res.output
    assert "seeds whose W is not finite left out" in res.stdout
    rows = res.stdout.split("eps*lambda_max\n", 1)[1].splitlines()[:3]
    assert [float(r.split()[1]) for r in rows] == [2.0, 3.0, 5.0]

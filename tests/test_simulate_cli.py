"""`dysonsgd simulate`: JSON output, files, the three models and every bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd.cli.main import cli

# Small systems keep each run well under a second once numba's cache is warm.
SMALL = ["--K", "4", "--L", "8", "--seeds", "2", "--save-points", "5"]


def run(*args):
    return CliRunner().invoke(cli, ["simulate", *map(str, args)])


def run_json(*args):
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


KEYS = {
    "T", "sigma", "model", "scheme", "seeds", "time", "final_singular_values",
    "final_eigenvalues", "initial_eigenvalues", "phase", "steps", "rejected_steps",
    "fallback_steps", "min_gap", "status", "stopped", "blown_up",
}  # fmt: skip


def test_free_model_json():
    out = run_json("--T", 1, "--model", "free", "--time", 1, *SMALL)
    assert KEYS <= set(out)
    assert out["model"] == "free" and out["phase"] is None and out["seeds"] == 2
    x = np.array(out["final_eigenvalues"])
    s = np.array(out["final_singular_values"])
    assert x.shape == (2, 4) and np.all(np.diff(x, axis=1) < 0) and np.all(x > 0)
    np.testing.assert_allclose(s**2, x, rtol=1e-12)
    assert out["status"] == ["ok", "ok"] and out["stopped"] == [False, False]
    # Isotropic noise from a width-1 start only spreads the spectrum outward in mean.
    assert np.array(out["initial_eigenvalues"]).shape == (2, 4)


def test_harmonic_model_relaxes_to_its_targets():
    # T = 1e-4, A = 1, kappa = 1: stationary width sqrt(T A / kappa) = 0.01 around each
    # target; after t = 10 = 10 relaxation times the start is forgotten to e^-10.
    out = run_json("--T", 1e-4, "--model", "harmonic", "--targets", "4,3,2,1", "--time", 10,
                   *SMALL)  # fmt: skip
    x = np.array(out["final_eigenvalues"])
    np.testing.assert_allclose(x, [[4, 3, 2, 1]] * 2, atol=0.1)
    assert out["phase"] == "ordered"


def test_network_model_json_files_and_plot(tmp_path):
    out_path = tmp_path / "run.npz"
    fig = tmp_path / "flow.png"
    out = run_json("--T", 0.03125, "--sigma", 0.125, "--time", 20, "--out", out_path,
                   "--plot", fig, *SMALL)  # fmt: skip
    assert out["model"] == "network" and out["phase"] in ("ordered", "disordered",
                                                          "high-temperature")  # fmt: skip
    assert out["paper_epochs"] == pytest.approx(20 / (0.03125 * 4 * 1000))
    with np.load(out_path, allow_pickle=False) as f:
        assert f["x"].shape == (2, 5, 4)
        np.testing.assert_allclose(f["x"][:, -1], out["final_eigenvalues"], rtol=1e-12)
        assert json.loads(str(f["meta"]))["model"] == "network"
        assert f["teacher"].shape == (2, 4)
    assert fig.stat().st_size > 1000


def test_text_output_names_the_phase():
    res = run("--T", 1e-4, "--model", "harmonic", "--targets", "4,3,2,1", "--time", 5, *SMALL)
    assert res.exit_code == 0, res.output
    assert "phase: ordered" in res.stdout


def test_same_seed_same_result():
    a = run_json("--T", 1, "--model", "free", "--time", 1, "--seed", 5, *SMALL)
    b = run_json("--T", 1, "--model", "free", "--time", 1, "--seed", 5, *SMALL)
    assert a["final_eigenvalues"] == b["final_eigenvalues"]


BASE = ["--T", "1", "--sigma", "1"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--T", "0", "--sigma", "1"], "'--T'"),
        (["--T", "-1", "--sigma", "1"], "'--T'"),
        (["--T", "nan", "--sigma", "1"], "'--T'"),
        (["--T", "inf", "--sigma", "1"], "'--T'"),
        (["--sigma", "1"], "--T"),
        (["--T", "1", "--sigma", "0"], "'--sigma'"),
        (["--T", "1", "--sigma", "-0.5"], "'--sigma'"),
        (["--T", "1", "--sigma", "nan"], "'--sigma'"),
        (["--T", "1"], "--sigma"),
        ([*BASE, "--K", "40"], "K=40 exceeds L=32"),
        ([*BASE, "--K", "1"], "K >= 2"),
        ([*BASE, "--model", "harmonic", "--targets", "1,2"], "need K = 16"),
        ([*BASE, "--model", "harmonic", "--K", "3", "--L", "4", "--targets", "1,0,2"],
         "'--targets'"),
        ([*BASE, "--model", "harmonic", "--K", "3", "--L", "4", "--targets", "1,-2,2"],
         "'--targets'"),
        ([*BASE, "--model", "harmonic", "--K", "3", "--L", "4", "--targets", "1,nan,2"],
         "'--targets'"),
        ([*BASE, "--model", "free", "--targets", "1,2"], "only --model harmonic"),
        ([*BASE, "--time", "0"], "'--time'"),
        ([*BASE, "--time", "-3"], "'--time'"),
        ([*BASE, "--time", "inf"], "'--time'"),
        ([*BASE, "--dt", "0"], "'--dt'"),
        ([*BASE, "--dt", "-0.1"], "'--dt'"),
        ([*BASE, "--dt", "nan"], "'--dt'"),
        ([*BASE, "--time", "1", "--dt", "1"], "smaller than --time"),
        ([*BASE, "--time", "1", "--dt", "2"], "smaller than --time"),
        ([*BASE, "--model", "quantum"], "'--model'"),
        ([*BASE, "--scheme", "rk4"], "'--scheme'"),
        ([*BASE, "--kappa", "0"], "'--kappa'"),
        ([*BASE, "--noise", "-1"], "'--noise'"),
        ([*BASE, "--noise", "inf"], "'--noise'"),
        ([*BASE, "--seeds", "0"], "'--seeds'"),
        ([*BASE, "--save-points", "1"], "'--save-points'"),
        ([*BASE, "--refresh", "0"], "'--refresh'"),
        ([*BASE, "--out", "/nonexistent/dir/x.npz"], "does not exist"),
        ([*BASE, "--plot", "figure.gif"], "'--plot'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, needle, tmp_path):
    os.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["simulate", *args, "--out", str(tmp_path / "o.npz")]
                             if "--out" not in args else ["simulate", *args])  # fmt: skip
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []

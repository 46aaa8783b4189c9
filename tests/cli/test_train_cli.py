"""`dysonsgd train`: JSON output, files, regimes and every bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd import NetworkConfig, train
from dysonsgd.cli.main import cli
from dysonsgd.sgd.api import save_schedule

FAST = ["--n-batches", "100"]


def run(*args):
    return CliRunner().invoke(cli, ["train", *map(str, args)])


def run_json(*args):
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_json_has_the_documented_keys():
    out = run_json(
        "--T", 0.03125, "--sigma", 0.125, "--epochs", 4, "--seeds", 2, "--save-points", 5, *FAST
    )
    for key in (
        "T", "lr", "batch_size", "sigma", "epochs", "seeds", "final_loss", "test_loss",
        "grad_norm", "overlap_G", "alignment", "final_eigenvalues", "teacher_eigenvalues",
        "diverged",
    ):  # fmt: skip
        assert key in out, key
    assert out["lr"] == pytest.approx(0.125) and out["batch_size"] == 4
    ev = np.array(out["final_eigenvalues"])
    assert ev.shape == (2, 16) and np.all(np.diff(ev, axis=1) <= 0)
    assert np.array(out["teacher_eigenvalues"]).shape == (2, 16)


def test_lr_and_T_are_the_same_run():
    a = run_json("--T", 0.05, "--sigma", 1, "--epochs", 2, "--save-points", 3, *FAST)
    b = run_json("--lr", 0.2, "--sigma", 1, "--epochs", 2, "--save-points", 3, *FAST)
    assert a["final_eigenvalues"] == b["final_eigenvalues"]


def test_the_three_regimes_from_the_command_line():
    ordered = run_json("--T", 0.03125, "--sigma", 0.125, "--epochs", 200, "--seeds", 2, *FAST)
    ratio = np.array(ordered["initial_loss"]) / np.array(ordered["final_loss"])
    assert np.all(ratio > 100)
    hot = run_json("--T", 4, "--sigma", 0.125, "--epochs", 20, "--seeds", 2, *FAST)
    top = np.array(hot["final_eigenvalues"])[:, 0]
    assert np.all(top > 100 * np.array(hot["teacher_eigenvalues"])[:, 0])
    cold = run_json("--T", 0.03125, "--sigma", 256, "--epochs", 20, "--seeds", 2, *FAST)
    x0, x1 = np.array(cold["initial_eigenvalues"]), np.array(cold["final_eigenvalues"])
    assert np.all(np.abs(x1 - x0).max(axis=1) < 0.01 * x0[:, 0])


def test_out_and_plot_files(tmp_path):
    out, fig = tmp_path / "run.npz", tmp_path / "flow.png"
    res = run("--T", 0.1, "--sigma", 0.5, "--epochs", 3, "--seeds", 2, "--save-points", 4,
              "--out", out, "--plot", fig, *FAST)  # fmt: skip
    assert res.exit_code == 0, res.output
    with np.load(out, allow_pickle=False) as f:
        assert f["W"].shape == (2, 4, 16, 32)
        for key in ("W_teacher", "M", "Z", "loss", "grad_norm", "diverged", "epochs_saved"):
            assert key in f.files
        config = json.loads(str(f["config"]))
        assert config["temperature"] == pytest.approx(0.1)
    assert fig.stat().st_size > 10_000
    assert "seed" in res.output and "x_1*" in res.output  # the human table


def test_same_seed_same_numbers():
    a = run_json("--T", 0.5, "--sigma", 1, "--epochs", 3, "--save-points", 4, "--seed", 3, *FAST)
    b = run_json("--T", 0.5, "--sigma", 1, "--epochs", 3, "--save-points", 4, "--seed", 3, *FAST)
    assert a == b


def test_short_runs_save_every_epoch_by_default():
    """issue 14: --epochs 5 alone exited 2 (the default of 21 save points needs 20 epochs)."""
    res = run("--T", 0.25, "--sigma", 0.5, "--epochs", 5)
    assert res.exit_code == 0, res.output
    out = run_json("--T", 0.25, "--sigma", 0.5, "--epochs", 5, *FAST)
    assert out["save_points"] == 6 and out["epochs_saved"] == [0, 1, 2, 3, 4, 5]
    # from 20 epochs on, the paper's 21 points
    assert run_json("--T", 0.25, "--sigma", 0.5, "--epochs", 40, *FAST)["save_points"] == 21


def test_api_default_save_points_adapt_and_explicit_bad_ones_are_refused():
    config = NetworkConfig(n_batches=20)
    r = train(config, sigma_w=0.5, temperature=0.25, epochs=5)
    assert r.save_epochs.tolist() == [0, 1, 2, 3, 4, 5] and r.W.shape[1] == 6
    assert len(save_schedule(1)) == 2 and len(save_schedule(20)) == 21
    assert len(save_schedule(10**6)) == 21
    with pytest.raises(ValueError, match="save_points=21 needs at least 20 epochs"):
        train(config, sigma_w=0.5, temperature=0.25, epochs=5, save_points=21)
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="save_points"):
            save_schedule(5, bad)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--sigma", "1"], "exactly one of --T and --lr"),
        (["--T", "1", "--lr", "1", "--sigma", "1"], "exactly one of --T and --lr"),
        (["--T", "0", "--sigma", "1"], "'--T'"),
        (["--T", "-1", "--sigma", "1"], "'--T'"),
        (["--lr", "-0.5", "--sigma", "1"], "'--lr'"),
        (["--T", "nan", "--sigma", "1"], "not finite"),
        (["--T", "inf", "--sigma", "1"], "not finite"),
        (["--T", "abc", "--sigma", "1"], "not a number"),
        (["--T", "1", "--sigma", "0"], "'--sigma'"),
        (["--T", "1", "--sigma", "-2"], "'--sigma'"),
        (["--T", "1"], "--sigma"),
        (["--T", "1", "--sigma", "1", "--batch-size", "0"], "'--batch-size'"),
        (["--T", "1", "--sigma", "1", "--epochs", "0"], "'--epochs'"),
        (["--T", "1", "--sigma", "1", "--epochs", "-5"], "'--epochs'"),
        (["--T", "1", "--sigma", "1", "--seeds", "0"], "'--seeds'"),
        (["--T", "1", "--sigma", "1", "--seeds", "1.5"], "'--seeds'"),
        (["--T", "1", "--sigma", "1", "--epochs", "5", "--save-points", "7"], "--save-points"),
        (["--T", "1", "--sigma", "1", "--epochs", "5", "--save-points", "21"], "epochs + 1 = 6"),
        (["--T", "1", "--sigma", "1", "--save-points", "1"], "2 <= save points"),
        (["--T", "1", "--sigma", "1", "--save-points", "0"], "'--save-points'"),
        (["--T", "1", "--sigma", "1", "--engine", "torch"], "'--engine'"),
        (["--T", "1", "--sigma", "1", "--K", "40"], "K must not exceed L"),
        (["--T", "1", "--sigma", "1", "--out", "/nonexistent/dir/x.npz"], "does not exist"),
        (["--T", "1", "--sigma", "1", "--plot", "figure.gif"], "'--plot'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, needle, tmp_path):
    os.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["train", *args])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_directory(tmp_path):
    # /proc refuses new files even for root; the chmod case covers ordinary users.
    res = run("--T", 1, "--sigma", 1, "--out", "/proc/x.npz")
    assert res.exit_code == 2 and "cannot write to /proc" in res.stderr
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user that can write anywhere")
        res = run("--T", 1, "--sigma", 1, "--out", ro / "x.npz")
        assert res.exit_code == 2 and "cannot write" in res.stderr
    finally:
        ro.chmod(0o700)


def test_ctrl_c_exits_cleanly_and_leaves_no_file(tmp_path):
    out = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dysonsgd.cli", "train", "--T", "0.1", "--sigma", "1",
         "--epochs", "100000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3.0)  # well past start-up, inside the SGD loop
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_save_schedule_paper_from_the_command_line():
    args = ("--T", 0.25, "--sigma", 0.5, "--seeds", 2, "--seed", 4, "--n-batches", 20)
    paper = run_json(*args, "--epochs", 40, "--save-schedule", "paper")
    # slot 0 = epoch 0, slot k after epoch (k-1) 40/20 + 1: 1, 3, ..., 39
    assert paper["save_schedule"] == "paper" and paper["save_points"] == 21
    assert paper["epochs_saved"] == [0, *range(1, 40, 2)]
    # its last record is the network after epoch 39: that of a run of 39 epochs
    short = run_json(*args, "--epochs", 39, "--save-points", 2)
    assert paper["final_eigenvalues"] == short["final_eigenvalues"]
    assert paper["final_loss"] == short["final_loss"]
    even = run_json(*args, "--epochs", 40)
    assert even["save_schedule"] == "even" and even["epochs_saved"] == list(range(0, 41, 2))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "30", "--save-schedule", "paper"],
         "'--save-schedule': the paper save schedule needs epochs to be a multiple of "
         "save_points - 1 = 20"),
        (["--epochs", "12", "--save-points", "6", "--save-schedule", "paper"],
         "use epochs=10 or 15"),
        (["--save-schedule", "even-ish"], "'--save-schedule'"),
    ],
)  # fmt: skip
def test_bad_save_schedule_is_one_line_exit_2_and_writes_nothing(args, needle, tmp_path):
    os.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["train", "--T", "1", "--sigma", "1", *args])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_json_is_the_summary_of_the_result_plus_the_file_paths(tmp_path):
    """--json prints SGDResult.summary (the API's one dict) and the CLI's out/plot keys, and
    nothing else; the summary infers the schedule when not told it."""
    args = ("--T", 0.03125, "--sigma", 0.5, "--epochs", 4, "--seeds", 2, "--save-points", 3)
    out = run_json(*args, *FAST, "--out", tmp_path / "r.npz")
    res = train(
        NetworkConfig(n_batches=100), sigma_w=0.5, temperature=0.03125, epochs=4, n_seeds=2,
        save_points=3,
    )  # fmt: skip
    from dysonsgd.cli._common import to_jsonable

    summary = to_jsonable(res.summary())
    assert summary["save_schedule"] == "even"
    assert out == {**summary, "out": str(tmp_path / "r.npz"), "plot": None}
    paper = train(
        NetworkConfig(n_batches=10), sigma_w=0.5, temperature=0.03125, epochs=4,
        save_points=3, save_schedule="paper",
    )  # fmt: skip
    assert paper.summary()["save_schedule"] == "paper"


def test_network_option_defaults_are_the_network_configs():
    """The defaults of --n-batches, --batch-size, --K, --L, --d-in and --activation are read
    from NetworkConfig, not copied."""
    params = {p.name: p for p in cli.get_command(None, "train").params}
    config = NetworkConfig()
    for name in ("n_batches", "batch_size", "K", "L", "d_in", "activation"):
        assert params[name].default == getattr(config, name), name

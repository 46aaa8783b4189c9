"""Files the commands write (--out, --plot, --store) get the umask's mode, like ``open()``'s.

An atomic write goes through :func:`tempfile.mkstemp`, whose file is 0600 whatever the umask
(Python docs, tempfile.mkstemp: "readable and writable only by the creating user ID"); a
result file must instead be as private as the user's umask says: 0644 at umask 0022, 0600 at
0077 (POSIX open(2): mode & ~umask).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dysonsgd.cli.main import cli

TRAIN = ["--T", "0.05", "--sigma", "1", "--epochs", "2", "--seeds", "2", "--save-points", "2",
         "--n-batches", "20"]  # fmt: skip
SIMULATE = ["--T", "0.03125", "--sigma", "0.125", "--time", "2", "--K", "4", "--L", "8",
            "--seeds", "2", "--save-points", "3"]  # fmt: skip
COMPARE = ["--T", "0.03125", "--sigma", "0.125", "--epochs", "4", "--seeds", "2",
           "--n-batches", "10", "--refresh", "2"]  # fmt: skip
SWEEP = ["--T-values", "0.03125,4", "--sigma-values", "0.125,256", "--epochs", "20",
         "--seeds", "2", "--n-batches", "20", "--scheduler", "inprocess"]  # fmt: skip


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _invoke(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def _modes(root):
    """{relative path: permission bits} of every file and directory under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def _check(root, umask, at_least):
    modes = _modes(root)
    assert len(modes) >= at_least, modes
    for rel, mode in modes.items():
        want = (0o777 if os.path.isdir(os.path.join(root, rel)) else 0o666) & ~umask
        assert mode == want, f"{rel}: {oct(mode)}, expected {oct(want)} at umask {oct(umask)}"


def test_out_and_plot_files_follow_the_umask(tmp_path, umask):
    _invoke("train", *TRAIN, "--out", tmp_path / "train.npz", "--plot", tmp_path / "train.png")
    _invoke("simulate", *SIMULATE, "--out", tmp_path / "sim.npz", "--plot", tmp_path / "sim.svg")
    _invoke("compare", *COMPARE, "--out", tmp_path / "cmp.npz", "--plot", tmp_path / "cmp.pdf")
    _invoke("spectrum", tmp_path / "train.npz", "--plot", tmp_path / "spec.png")
    _check(tmp_path, umask, at_least=7)


def test_sweep_store_and_figures_follow_the_umask(tmp_path, umask):
    # (``dysonsgd plot --out`` draws the same figures with the same code: not run again)
    store, figs = tmp_path / "s.zarr", tmp_path / "figs"
    _invoke("phase-diagram", *SWEEP, "--store", store, "--plot", figs, "--json")
    assert any(p.suffix == ".png" for p in figs.iterdir())
    _check(tmp_path, umask, at_least=20)


def test_bench_tables_follow_the_umask(tmp_path, umask):
    # ``dysonsgd bench`` runs the benchmarks in a child process: it inherits the umask
    proc = subprocess.run(
        [sys.executable, "-m", "dysonsgd.cli", "bench", "--only", "checks", "--out",
         str(tmp_path / "tables")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _check(tmp_path, umask, at_least=3)

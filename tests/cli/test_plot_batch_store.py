"""Tests of ``dysonsgd plot`` on a store over batch sizes (phase-diagram --batch-sizes).

Such a store is a Zarr group holding one ordinary store per batch size, ``b<|B|>/``; the
command writes each child's figures into ``OUT/b<|B|>/``, the same files as for an ordinary
store. Sizes are tiny (2 T x 1 sigma_W, 2 seeds, 20 epochs, 16 x 4 = 64 samples, |B| = 1, 4)
and PNG only, so the module runs in a few seconds. Seed 0: the tests check plumbing, not
statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dysonsgd import sweep
from dysonsgd.cli.main import cli
from dysonsgd.model import NetworkConfig

BATCH_SIZES = (1, 4)
CONFIG = sweep.SweepConfig(
    T_values=(0.25, 4.0),
    sigma_values=(0.125,),
    epochs=20,
    n_seeds=2,
    seed=0,
    network=NetworkConfig(n_batches=16),
    batch_sizes=BATCH_SIZES,
)


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def batch_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "batch.zarr"
    sweep.run_sweep(CONFIG, path, client="inprocess")
    return path


def _names(out, paths):
    """The file names of ``paths`` relative to ``out``."""
    return sorted(str(Path(f).relative_to(out)) for f in paths)


def test_each_batch_size_gets_its_figures(batch_store, tmp_path):
    out = tmp_path / "figs"
    res = run(["plot", str(batch_store), "--out", str(out), "--format", "png"])
    assert res.exit_code == 0, res.output
    head, *listed = res.output.splitlines()
    written = _names(out, [f for f in out.rglob("*") if f.is_file()])
    assert head == f"{len(written)} files written to {out}"
    assert _names(out, [ln.strip() for ln in listed]) == written  # every path printed
    assert sorted(p.name for p in out.iterdir()) == [f"b{b}" for b in BATCH_SIZES]
    b1, b4 = ([n.split("/", 1)[1] for n in written if n.startswith(f"b{b}/")] for b in (1, 4))
    assert b1 == b4 and len(b1) > 1  # the same figures for every batch size
    for f in out.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                assert fh.read(8).startswith(b"\x89PNG"), f


def test_each_child_is_plotted_as_an_ordinary_store(batch_store, tmp_path, monkeypatch):
    """plot of the parent makes, per child, the call plot of that child alone makes, into
    OUT/b<|B|>/ (plot_store replaced by a recorder); --json lists what it returned."""
    from dysonsgd.plot import phase as _plot_phase

    calls = []

    def record(ds, out_dir, formats):
        calls.append((ds, Path(out_dir), tuple(formats)))
        return [Path(out_dir) / "fig.svg"]

    monkeypatch.setattr(_plot_phase, "plot_store", record)
    out = tmp_path / "figs"
    res = run(["plot", str(batch_store), "--out", str(out), "--format", "svg", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {
        "store": str(batch_store),
        "figures": [str(out / f"b{b}" / "fig.svg") for b in BATCH_SIZES],
    }
    parent_calls = calls[:]
    assert [d for _, d, _ in parent_calls] == [out / f"b{b}" for b in BATCH_SIZES]
    for (ds, _, formats), (b, child) in zip(
        parent_calls, sweep.batch_stores(batch_store).items(), strict=True
    ):
        calls.clear()
        res = run(["plot", str(child), "--out", str(tmp_path / "alone"), "--format", "svg"])
        assert res.exit_code == 0, res.output
        [(alone, _, alone_formats)] = calls
        assert ds.identical(alone) and formats == alone_formats == ("svg",), b
        assert json.loads(ds.attrs["dysonsgd_sweep"])["network"]["batch_size"] == b

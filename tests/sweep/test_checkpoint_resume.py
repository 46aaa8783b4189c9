"""A sweep killed with SIGKILL at any moment continues each cell from its last checkpoint,
to a store equal, array by array, to that of an uninterrupted run (dysonsgd/sweep/checkpoint.py).

The sweeps run in a subprocess that kills itself (SIGKILL: nothing after it runs, no
``finally``) at a chosen moment: right after a checkpoint is written (mid-cell), in the
middle of a checkpoint write (the temporary file written, not yet renamed), after a cell's
mark but before its checkpoint is removed (between cells), and at timed moments. Tiny
sizes: 3 cells x 2 seeds x 200 epochs of 20 batches, 21 save points (a checkpoint every 10
epochs, written at every save point: ``checkpoint_interval=0``); the file runs in about 20 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from dysonsgd import sweep
from dysonsgd.model import NetworkConfig
from dysonsgd.sgd.engine import read_checkpoint
from dysonsgd.sweep import checkpoint

# Seed 0, any: the tests compare runs of one configuration with each other. Shuffled
# batches, so that a resumed cell must also continue its seeds' sample streams.
CONFIG = sweep.SweepConfig(
    T_values=[2.0**-5, 1.0, 4.0],
    sigma_values=[0.125],
    epochs=200,
    n_seeds=2,
    seed=0,
    network=NetworkConfig(n_batches=20),
    sampling="shuffle",
)
CELL_STEPS = 2 * 200 * 20  # seeds x epochs x batches
CHECKPOINT_STEPS = 2 * 10 * 20  # a save point every 10 epochs

_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, tempfile
    from pathlib import Path
    from dysonsgd import _io, sweep
    from dysonsgd.sgd import engine
    from dysonsgd.sweep import checkpoint

    config = sweep.SweepConfig.from_dict(json.loads(sys.argv[1]))
    store, mode, n = sys.argv[2], sys.argv[3], float(sys.argv[4])
    count = [0]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "after-checkpoint":  # right after the n-th checkpoint written (mid-cell)
        write = engine.write_checkpoint

        def patched(*args, **kw):
            write(*args, **kw)
            count[0] += 1
            if count[0] == n:
                die()

        engine.write_checkpoint = patched
    elif mode == "mid-write":  # during the n-th write: temporary file there, not renamed
        atomic = _io.atomic_write_bytes

        def patched(path, writer):
            count[0] += 1
            if count[0] < n:
                return atomic(path, writer)
            p = Path(path)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
            die()

        engine._io.atomic_write_bytes = patched
    elif mode == "between-cells":  # the n-th cell marked, its checkpoint not yet removed
        remove = checkpoint.remove

        def patched(*args):
            count[0] += 1
            if count[0] == n:
                die()
            remove(*args)

        checkpoint.remove = patched
    sweep.run_sweep(config, store, client="inprocess", threads=1, checkpoint_interval=0)
    print("finished")
    """
)


def _killed_run(store, mode: str, n: float) -> bool:
    """Run the sweep in a subprocess that kills itself; True if it finished instead."""
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(CONFIG.to_dict()), str(store), mode, str(n)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 0:
        assert "finished" in proc.stdout
        return True
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return False


def _watched_run(store, delay: float) -> bool:
    """Run the sweep in a subprocess and SIGKILL it ``delay`` s after it writes its first
    checkpoint; True if it finished first."""

    def written():
        d = checkpoint.checkpoint_dir(store)
        try:
            return {f: os.stat(d / f).st_mtime_ns for f in os.listdir(d) if f.endswith(".npz")}
        except FileNotFoundError:  # no directory, or a file renamed away meanwhile
            return {}

    before = written()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, json.dumps(CONFIG.to_dict()), str(store), "none", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while proc.poll() is None:
            now = written()
            if now and now != before:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert rc in (0, -signal.SIGKILL), stderr
    return rc == 0


def _assert_equal_stores(a, b) -> None:
    da, db = sweep.load(a), sweep.load(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        assert np.array_equal(da[name].values, db[name].values, equal_nan=True), name


def _checkpoints(store) -> list[str]:
    d = checkpoint.checkpoint_dir(store)
    return sorted(os.listdir(d)) if d.exists() else []


def _resume(store):
    """Continue in this process; returns the report and the steps counted as done at start."""
    steps = []
    report = sweep.run_sweep(
        CONFIG,
        store,
        client="inprocess",
        threads=1,
        on_steps=lambda d, t: steps.append((d, t)),
        checkpoint_interval=0,
    )
    assert steps[-1] == (CONFIG.sgd_steps, CONFIG.sgd_steps)
    assert all(a[0] <= b[0] for a, b in zip(steps, steps[1:], strict=False))  # monotone
    return report, steps[0][0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    steps = []
    sweep.run_sweep(
        CONFIG, path, client="inprocess", threads=1, on_steps=lambda d, t: steps.append(d)
    )
    assert steps[0] == 0 and steps[-1] == CONFIG.sgd_steps
    assert not checkpoint.checkpoint_dir(path).exists()  # removed with the last cell
    return path


def test_sigkill_mid_cell_mid_write_and_between_cells(reference, tmp_path):
    store = tmp_path / "s.zarr"
    # 1. killed right after the 3rd checkpoint of the first cell (epoch 30 of 200)
    assert not _killed_run(store, "after-checkpoint", 3)
    assert _checkpoints(store) == ["cell-0-0.npz"]
    state = read_checkpoint(
        checkpoint.cell_checkpoint(store, 0, 0), checkpoint.cell_key(CONFIG, 0, 0)
    )
    assert state.epoch == 30
    # 2. resumed there, killed while writing the 25th checkpoint of this run: the first cell
    # (17 more) is done, the second at its 8th save; the temporary file is left behind
    assert not _killed_run(store, "mid-write", 25)
    left = _checkpoints(store)
    assert "cell-1-0.npz" in left and any(f.startswith(".cell-1-0.npz.") for f in left), left
    assert sweep.pending_cells(store) == [(1, 0), (2, 0)]
    assert read_checkpoint(checkpoint.cell_checkpoint(store, 1, 0)).epoch == 70
    # 3. resumed, killed between the second cell's mark and the removal of its checkpoint
    assert not _killed_run(store, "between-cells", 1)
    assert sweep.pending_cells(store) == [(2, 0)] and "cell-1-0.npz" in _checkpoints(store)
    # 4. resumed here: the stale checkpoint and the temporary file are cleared, the last
    # cell runs from zero, the store equals the uninterrupted one and the directory goes
    report, start = _resume(store)
    assert report.computed == [(2, 0)] and start == 2 * CELL_STEPS
    assert not checkpoint.checkpoint_dir(store).exists()
    _assert_equal_stores(store, reference)


def test_sigkill_at_timed_moments_then_a_rerun_resumes(reference, tmp_path):
    """Kills from outside at moments not chosen by the code (0, 0.1, 0.2 s after the first
    checkpoint file appears: in a cell's training, observables or store write): the rerun
    counts the cells done and the checkpointed epochs as done work, and the store equals
    the uninterrupted one."""
    store = tmp_path / "s.zarr"
    for delay in (0.0, 0.1, 0.2):
        if _watched_run(store, delay):
            break
    done = CONFIG.n_cells - len(sweep.pending_cells(store))
    ckpt = sum(
        read_checkpoint(checkpoint.checkpoint_dir(store) / f).epoch * 2 * 20
        for f in _checkpoints(store)
        if f.endswith(".npz") and not f.startswith(".")
    )
    print(f"\ntimed kills: {done} cells done, {ckpt} steps checkpointed, {_checkpoints(store)}")
    _, start = _resume(store)
    assert start == done * CELL_STEPS + ckpt
    _assert_equal_stores(store, reference)


def test_damaged_checkpoints_are_ignored(reference, tmp_path):
    """A checkpoint cut short, one with flipped bits, and one of another configuration: each
    cell recomputes from zero (no steps counted as done) and the store is still equal."""
    store = tmp_path / "s.zarr"
    assert not _killed_run(store, "after-checkpoint", 25)  # cell 0 done, cell 1 at epoch 50
    path = checkpoint.cell_checkpoint(store, 1, 0)
    raw = path.read_bytes()
    assert read_checkpoint(path).epoch == 50
    path.write_bytes(raw[: len(raw) // 2])
    # a flipped bit in the records, and a file of another run, for the last cell
    flipped = bytearray(raw)
    flipped[raw.index(b"rec_W.npy") + 600] ^= 0x10
    checkpoint.cell_checkpoint(store, 2, 0).write_bytes(bytes(flipped))
    (checkpoint.checkpoint_dir(store) / "cell-7-7.npz").write_bytes(raw)  # not of this grid
    report, start = _resume(store)
    assert start == CELL_STEPS and report.computed == [(1, 0), (2, 0)]
    assert not checkpoint.checkpoint_dir(store).exists()
    _assert_equal_stores(store, reference)

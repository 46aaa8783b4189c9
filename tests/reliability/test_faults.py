"""Fault injection: Ctrl-C and SIGKILL at random moments, and a full disk (issue 7, item 3).

What must hold after any fault: the output file is complete and valid (it loads, with the
right shapes) or absent, never partial; an interrupted sweep resumes to the same store as
an uninterrupted one; a full disk gives a one-line ``Error:`` with exit status 1 and leaves
no file behind.

The kill moments are drawn from fixed-seed generators (seed = a per-test constant, so a
failure names a moment that can be replayed) uniformly over the measured length of an
uninterrupted run, which covers start-up, computing and writing. The exact moment a signal
lands depends on the machine's load, so the tests assert the invariant for every outcome,
and count the outcomes (docs/reliability.md).

tests/sweep/test_sweep.py already kills one sweep once after two cells; here the sweep is killed
at random moments and then finished by a rerun.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd import _io, sweep
from dysonsgd.cli.main import cli
from dysonsgd.sgd import SGDResult

N_MOMENTS = 5

TRAIN = ["train", "--T", "0.03125", "--sigma", "1", "--epochs", "30", "--n-batches", "1000",
         "--seeds", "2", "--save-points", "11"]  # fmt: skip
SIMULATE = ["simulate", "--T", "0.03125", "--sigma", "1", "--time", "0.5", "--dt", "0.001",
            "--seeds", "2", "--save-points", "11"]  # fmt: skip


def _cmd(args):
    return [sys.executable, "-m", "dysonsgd.cli", *args]


def _run_to_end(args, cwd):
    t0 = time.monotonic()
    proc = subprocess.run(_cmd(args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - t0


def _sigint_default() -> None:
    """In the child: SIGINT to its default action. A test run started as a background job
    of a non-interactive shell ignores SIGINT, and an ignored signal is inherited across
    exec, so the CLI would never see the Ctrl-C under test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(args, cwd, delay, sig):
    """Start ``dysonsgd args``, send ``sig`` after ``delay`` s; (returncode, stderr)."""
    proc = subprocess.Popen(
        _cmd(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_sigint_default,
    )  # fmt: skip
    time.sleep(delay)
    if proc.poll() is None:
        try:  # the whole group: the CLI and any worker processes it started
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"{args} did not stop within 120 s of signal {sig}")
    return proc.returncode, err


CLI_DIR = str(Path(__file__).resolve().parents[2] / "cli")


def _startup_interrupt(code, err) -> bool:
    """Ctrl-C before the ``dysonsgd.cli`` package starts importing.

    cli/__init__.py installs the CLI's handler on its first lines; before that (interpreter
    start-up, ``site``, the light ``import dysonsgd``: tens of ms) Python ends with its own
    traceback (exit 1 inside ``site``, -2 after) or, before Python's handler exists, a bare
    -2. Nothing can have been written then. Recognised by the absence of any frame of the
    cli package in the traceback but the package's own first lines (before its handler is
    installed): a traceback through the rest of cli/ is a failure.
    """
    cli_frames = [ln for ln in err.splitlines() if CLI_DIR in ln]
    before_handler = all(  # no cli/ frame, or only the package's first lines
        ln.strip().startswith(f'File "{CLI_DIR}/__init__.py"') and ln.endswith("in <module>")
        for ln in cli_frames
    )
    return (
        code in (1, -signal.SIGINT)
        and before_handler
        and (err == "" or err.rstrip().endswith("KeyboardInterrupt"))
    )


def _check_train_file(path: Path) -> None:
    r = SGDResult.load(path)
    assert r.records.W.shape == (2, 11, 16, 32)
    assert r.records.loss.shape == (2, 11)


def _check_simulate_file(path: Path) -> None:
    with np.load(path, allow_pickle=False) as f:
        assert f["x"].shape == (2, 11, 16)
        assert f["times"].shape == (11,)
        json.loads(str(f["meta"]))


def _moments(seed, length, n=N_MOMENTS):
    # uniform over [0.05, 1.2] x the run's length: from interpreter start-up to past the end
    return np.random.default_rng(seed).uniform(0.05, 1.2, n) * length


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, check, seed",
    [(TRAIN, _check_train_file, 11), (SIMULATE, _check_simulate_file, 12)],
    ids=["train", "simulate"],
)
def test_signals_leave_complete_output_or_none(tmp_path, args, check, seed):
    length = _run_to_end([*args, "--out", "ref.npz"], tmp_path)
    check(tmp_path / "ref.npz")
    outcomes = {"complete": 0, "absent": 0, "start-up": 0}
    leftovers = 0
    for sig in (signal.SIGINT, signal.SIGKILL):
        for k, delay in enumerate(_moments(seed + sig, length)):
            d = tmp_path / f"{sig.name}-{k}"
            d.mkdir()
            code, err = _interrupt([*args, "--out", "r.npz"], d, delay, sig)
            where = f"{sig.name} after {delay:.2f} s (run {length:.2f} s): exit {code}\n{err}"
            if _startup_interrupt(code, err):
                outcomes["start-up"] += 1
                assert not (d / "r.npz").exists(), where
                continue
            assert "Traceback" not in err, where
            if sig == signal.SIGINT:
                # 130: our handler; 0: it had finished (a Ctrl-C after that is ignored)
                assert code in (0, 130), where
            else:
                assert code in (0, -signal.SIGKILL), where
            out = d / "r.npz"
            if out.exists():
                check(out)
                outcomes["complete"] += 1
            else:
                assert code != 0, where
                outcomes["absent"] += 1
            temps = [p for p in d.iterdir() if p.name.startswith(".r.npz.")]
            if sig == signal.SIGINT and code == 130:
                assert not temps, f"{where}: temporary file left: {temps}"
            leftovers += len(temps)
    print(f"\n{args[0]}: {2 * N_MOMENTS} signals, outcomes {outcomes}, "
          f"temporary files left by SIGKILL: {leftovers}")  # fmt: skip


# --------------------------------------------------------------------------- the sweep


def _sweep_config(n_batches: int = 300, n_seeds: int = 1):
    """4 cells (T = 2^-5, 4; sigma_W = 1/8, 2) of 20 epochs. With the default 300 batches:
    about a second of compute in all, so the random moments land in start-up, cells and
    writes alike."""
    from dysonsgd.model import NetworkConfig

    return sweep.SweepConfig(
        T_values=[2.0**-5, 4.0],
        sigma_values=[0.125, 2.0],
        epochs=20,
        n_seeds=n_seeds,
        network=NetworkConfig(n_batches=n_batches),
    )


def _sweep_args(cfg, store):
    return [
        "phase-diagram",
        "--T-values", ",".join(map(repr, cfg.T_values)),
        "--sigma-values", ",".join(map(repr, cfg.sigma_values)),
        "--epochs", str(cfg.epochs), "--seeds", str(cfg.n_seeds),
        "--n-batches", str(cfg.network.n_batches), "--scheduler", "inprocess",
        "--store", str(store),
    ]  # fmt: skip


def _equal_stores(a, b) -> None:
    da, db = sweep.load(a), sweep.load(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)


@pytest.mark.slow
def test_sweep_interrupted_at_random_moments_resumes_to_the_same_store(tmp_path):
    cfg = _sweep_config()
    ref = tmp_path / "ref.zarr"
    length = _run_to_end(_sweep_args(cfg, ref), tmp_path)
    counts = []
    for sig in (signal.SIGINT, signal.SIGKILL):
        # 3 moments a signal: each costs an interrupted run and a rerun (~2 s each)
        for k, delay in enumerate(_moments(21 + sig, length, 3)):
            store = tmp_path / f"{sig.name}-{k}.zarr"
            code, err = _interrupt(_sweep_args(cfg, store), tmp_path, delay, sig)
            assert _startup_interrupt(code, err) or "Traceback" not in err, err
            done = int(sweep.completed_cells(store).sum()) if (store / "zarr.json").exists() else 0
            counts.append((sig.name, round(delay, 2), code, done))
            proc = subprocess.run(
                _cmd([*_sweep_args(cfg, store), "--json"]), cwd=tmp_path, capture_output=True,
                text=True, timeout=300,
            )  # fmt: skip
            assert proc.returncode == 0, f"{sig.name} after {delay:.2f} s, rerun:\n{proc.stderr}"
            summary = json.loads(proc.stdout)
            assert summary["cells_computed"] + summary["cells_already_done"] == cfg.n_cells
            _equal_stores(store, ref)
            shutil.rmtree(store)
    print(f"\nsweep ({length:.2f} s): (signal, delay, exit, cells done) {counts}")


# --------------------------------------------------------------------------- disk full


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs (root only); skipped where mounting is not permitted."""
    d = tmp_path / "tiny"
    d.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


def _one_error_line(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr


def test_disk_full_tmpfs(tiny_fs):
    """train --out onto a full 64 KiB file system: exit 1, one line, nothing left there."""
    # two seeds x 21 saves x 16 x 32 doubles of W alone is 172 kB, past the 64 KiB
    args = ["train", "--T", "0.03125", "--sigma", "1", "--epochs", "20", "--n-batches", "2",
            "--seeds", "2", "--engine", "numpy", "--out", str(tiny_fs / "r.npz")]  # fmt: skip
    proc = subprocess.run(_cmd(args), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc.stderr)
    assert "No space left" in proc.stderr
    assert list(tiny_fs.iterdir()) == []


def test_disk_full_midway_monkeypatched(tmp_path, monkeypatch):
    """The writer fails with ENOSPC after writing part of the file: same outcome."""
    real = _io.np.savez_compressed

    def half_then_enospc(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.np, "savez_compressed", half_then_enospc)
    runner = CliRunner()
    for args in (
        ["train", "--T", "0.03125", "--sigma", "1", "--epochs", "2", "--save-points", "2",
         "--n-batches", "2", "--K", "2", "--L", "3", "--engine", "numpy"],
        ["simulate", "--T", "0.1", "--model", "free", "--K", "2", "--L", "3", "--time", "0.01",
         "--seeds", "1", "--save-points", "2"],
    ):  # fmt: skip
        out = tmp_path / f"{args[0]}.npz"
        result = runner.invoke(cli, [*args, "--out", str(out)])
        assert result.exit_code == 1, result.stderr
        _one_error_line(result.stderr)
        assert "No space left" in result.stderr
        assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
    monkeypatch.setattr(_io.np, "savez_compressed", real)


def test_ctrl_c_inside_a_ctypes_callback_ends_the_command():
    """Ctrl-C while numba's compiler is in a Python callback: exit 130, no traceback.

    Python reports an exception raised in a ctypes callback as "Exception ignored" and goes
    on; the group hands a KeyboardInterrupt from there back to the main thread. Simulated
    with a ctypes callback that raises, inside a throwaway command.
    """
    import ctypes

    import click

    @cli.command("_fault_callback", hidden=True)
    def _fault_callback():
        callback = ctypes.CFUNCTYPE(None)(lambda: (_ for _ in ()).throw(KeyboardInterrupt))
        callback()
        for _ in range(1000):  # the interrupt lands at the next bytecode boundaries
            time.sleep(0.001)
        click.echo("ran on")

    # interrupt_main does nothing while SIGINT is ignored, as it is in a test run started as
    # a background job of a non-interactive shell: give the test Python's own handler
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = CliRunner().invoke(cli, ["_fault_callback"])
    finally:
        cli.commands.pop("_fault_callback", None)
        signal.signal(signal.SIGINT, inherited)
    assert result.exit_code == 130, (result.stdout, result.stderr)
    assert "ran on" not in result.stdout
    assert "Traceback" not in result.stderr and "ignored" not in result.stderr, result.stderr
    assert result.stderr.strip() == "Interrupted: nothing was written."


# --------------------------------------------------------------------------- disk full, sweep


def _tiny_sweep_config():
    # 20 batches, 1 seed: milliseconds of compute per cell, so the tests time the writes;
    # every chunk file of a cell (24 arrays) is under 4 KiB
    return _sweep_config(n_batches=20)


def _tiny_sweep_args(cfg, store):
    return [*_sweep_args(cfg, store), "--json"]


@pytest.fixture(scope="module")
def tiny_sweep_reference(tmp_path_factory):
    """An uninterrupted run of the tiny sweep; the keys it writes, skeleton first."""
    import zarr

    cfg = _tiny_sweep_config()
    ref = tmp_path_factory.mktemp("sweep-ref") / "ref.zarr"
    keys = []
    real = zarr.storage.LocalStore.set

    async def counting_set(self, key, value):
        keys.append(key)
        return await real(self, key, value)

    zarr.storage.LocalStore.set = counting_set
    try:
        sweep.open_store(ref, cfg)
        n_skeleton = len(keys)
        sweep.run_sweep(cfg, ref, client="inprocess")
    finally:
        zarr.storage.LocalStore.set = real
    return cfg, ref, keys, n_skeleton


def _leftovers(d: Path) -> list[Path]:
    """Temporary files and directories of a write that failed (Zarr's and ours)."""
    return [p for p in d.rglob("*") if ".partial" in p.name or ".creating-" in p.name]


def _check_marked_cells(store: Path, ref: Path) -> int:
    """Every marked cell verifies and holds the reference's data; returns how many."""
    import zarr

    if not (store / "zarr.json").exists():
        return 0
    group = zarr.open_group(str(store), mode="r")
    refg = zarr.open_group(str(ref), mode="r")
    done = sweep.completed_cells(store)
    for i, j in np.ndindex(done.shape):
        try:
            marked = float(group["cell_done"][i, j]) == 1.0
        except Exception:  # a mark chunk cut short: not marked
            marked = False
        # the mark is written last: a marked cell must verify (it would be recomputed
        # otherwise, but it must not happen) and hold exactly the uninterrupted run's data
        assert marked == done[i, j], (i, j)
        if marked:
            for name in (*sweep.SEED_VARS, "loss", "eigenvalues", "W_final"):
                np.testing.assert_array_equal(group[name][i, j], refg[name][i, j], name)
    return int(done.sum())


def _enospc_after(monkeypatch, n: int, partial: bool) -> list:
    """Make Zarr's n-th file write (0-based) fail with ENOSPC, after writing half of it if
    ``partial`` (a file system without Zarr's atomic rename, or a torn page)."""
    import zarr

    real = zarr.storage.LocalStore.set
    seen = []

    async def failing_set(self, key, value):
        seen.append(key)
        if len(seen) - 1 == n:
            if partial:
                raw = value.to_bytes()
                await real(self, key, type(value).from_bytes(raw[: len(raw) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return await real(self, key, value)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", failing_set)
    return seen


def test_sweep_disk_full_at_seeded_writes(tmp_path, monkeypatch, tiny_sweep_reference):
    """ENOSPC at chosen Zarr writes of phase-diagram: exit 1, one line naming the store's
    disk, every marked cell whole, nothing temporary left; a rerun completes the store.

    The writes are the skeleton's (store creation), then per cell its 22 data chunks, its
    checksum and its mark. A failed write is clean (nothing written) or torn (half the file
    written: a file system without Zarr's atomic rename). Chosen: the first skeleton write
    (clean), the last (torn), the first write of the first cell (torn), its checksum (clean)
    and its mark (torn), and two more drawn by a fixed-seed generator (seed 31, any would
    do; the slow test tries every write of a cell).
    """
    cfg, ref, keys, n_skel = tiny_sweep_reference
    per_cell = (len(keys) - n_skel) // cfg.n_cells
    rng = np.random.default_rng(31)
    cases = [(0, False), (n_skel - 1, True), (n_skel, True), (n_skel + per_cell - 2, False),
             (n_skel + per_cell - 1, True),
             *((int(n), bool(t)) for n, t in zip(rng.integers(0, len(keys), 2),
                                                 rng.integers(0, 2, 2), strict=True))]  # fmt: skip
    outcomes = _disk_full_runs(tmp_path, monkeypatch, cfg, ref, keys, n_skel, cases)
    print(f"\nsweep ENOSPC, {len(keys)} writes ({n_skel} skeleton, {per_cell} per cell): "
          f"(write, torn, cells kept) {outcomes}")  # fmt: skip


@pytest.mark.slow
def test_sweep_disk_full_at_every_write_of_a_cell(tmp_path, monkeypatch, tiny_sweep_reference):
    """ENOSPC, torn (half the file written), at each of the 24 writes of a cell (through the
    library: the command's message and clean failures are checked above): StoreFullError,
    every marked cell whole, and a second run_sweep completes the store equal to the
    reference.

    Each case starts from a copy of a store with its first cell done; the cells' results
    are computed once and replayed (compute_cell is deterministic, bit for bit, see
    test_sweep.py::test_store_contents), so the test spends its time in the writes.
    """
    cfg, ref, keys, n_skel = tiny_sweep_reference
    per_cell = (len(keys) - n_skel) // cfg.n_cells
    results = {c: sweep.compute_cell(cfg, *c) for c in np.ndindex(cfg.shape)}
    monkeypatch.setattr(sweep, "compute_cell", lambda config, i, j, threads=None: results[i, j])
    start = tmp_path / "start.zarr"
    sweep.open_store(start, cfg)
    sweep.write_cell(start, cfg, 0, 0, results[0, 0])
    outcomes = {}
    for n in range(per_cell):
        for torn in (True,):
            store = tmp_path / f"w{n}-{int(torn)}.zarr"
            shutil.copytree(start, store)
            with monkeypatch.context() as m:
                seen = _enospc_after(m, n, torn)
                with pytest.raises(sweep.StoreFullError, match="the 1 of 4 cells marked") as e:
                    sweep.run_sweep(cfg, store, client="inprocess")
            where = f"ENOSPC at write {n} of cell (0, 1) ({seen[n]}, torn={torn})"
            assert e.value.errno == errno.ENOSPC and e.value.store == store, where
            assert not _leftovers(store), where
            kept = _check_marked_cells(store, ref)
            assert kept == 1, where
            report = sweep.run_sweep(cfg, store, client="inprocess")
            assert report.already_done == 1 and len(report.computed) == 3, where
            _equal_stores(store, ref)
            shutil.rmtree(store)
            outcomes[seen[n].split("/")[0]] = outcomes.get(seen[n].split("/")[0], 0) + 1
    print(
        f"\nsweep ENOSPC, torn, at each of the {per_cell} writes of a cell: {per_cell} "
        f"faults, all resumed; arrays hit {outcomes}"
    )


def _disk_full_runs(tmp_path, monkeypatch, cfg, ref, keys, n_skel, cases):
    runner = CliRunner()
    outcomes = []
    for n, partial in cases:
        d = tmp_path / f"w{n}-{int(partial)}"
        d.mkdir()
        store = d / "s.zarr"
        where = f"ENOSPC at write {n} ({keys[n]}, torn={partial})"
        with monkeypatch.context() as m:
            _enospc_after(m, n, partial)
            result = runner.invoke(cli, _tiny_sweep_args(cfg, store))
        assert result.exit_code == 1, f"{where}: {result.stderr}"
        _one_error_line(result.stderr)
        assert f"no space left on the disk holding store {store}" in result.stderr, where
        assert not _leftovers(d), f"{where}: {_leftovers(d)}"
        if n < n_skel:  # creating the store: nothing at its path
            assert not store.exists(), where
            assert "nothing was left behind" in result.stderr, where
        kept = _check_marked_cells(store, ref)
        if n >= n_skel:
            assert kept == (n - n_skel) // ((len(keys) - n_skel) // cfg.n_cells), where
            assert f"the {kept} of {cfg.n_cells} cells marked complete" in result.stderr
        outcomes.append((n, partial, kept))
        result = runner.invoke(cli, _tiny_sweep_args(cfg, store))
        assert result.exit_code == 0, f"{where}, rerun: {result.stderr}"
        summary = json.loads(result.stdout)
        assert summary["cells_already_done"] == kept, where
        assert summary["cells_computed"] == cfg.n_cells - kept, where
        _equal_stores(store, ref)
        shutil.rmtree(d)
    return outcomes


@pytest.fixture
def sized_tmpfs(tmp_path):
    """mount(kib) mounts (or resizes) a tmpfs at tmp_path / "fs"; root only, else skipped."""
    d = tmp_path / "fs"
    d.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = []

    def mount(kib: int) -> Path:
        opts = f"size={kib}k" + (",remount" if mounted else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(kib)
        return d

    try:
        yield mount
    finally:
        if mounted:
            subprocess.run(["umount", str(d)], capture_output=True)


def test_sweep_disk_full_tmpfs(sized_tmpfs, tmp_path, tiny_sweep_reference):
    """phase-diagram --store on a real full tmpfs, then resized: resumes to the same store.

    tmpfs charges each file whole pages, so the sizes are counted in pages (most files of
    this store fit in one; the consolidated root metadata takes several): a file system of
    half the skeleton's pages cannot hold the store's creation; one of the skeleton plus 1.5
    cells' pages fills up in the second cell. After each failure the file system is resized
    (as if space were freed) and the same command rerun (after the creation) or --resume run
    (after the cells).
    """
    cfg, ref, _, _ = tiny_sweep_reference
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024

    def pages(root):
        sizes = (p.stat().st_size for p in root.rglob("*") if p.is_file())
        return sum(max(1, -(-size // (1024 * page_kib))) for size in sizes)

    n_files = pages(ref)
    sweep.open_store(tmp_path / "skeleton.zarr", cfg)
    n_skel = pages(tmp_path / "skeleton.zarr")
    n_cell = (n_files - n_skel) // cfg.n_cells
    runner = CliRunner()
    outcomes = []
    for label, pages in (("creation", n_skel // 2), ("cells", n_skel + n_cell * 3 // 2)):
        fs = sized_tmpfs(pages * page_kib)
        store = fs / f"{label}.zarr"
        result = runner.invoke(cli, _tiny_sweep_args(cfg, store))
        assert result.exit_code == 1, result.stderr
        _one_error_line(result.stderr)
        assert f"no space left on the disk holding store {store} (file system {fs}" in (
            result.stderr
        )
        assert not _leftovers(fs), _leftovers(fs)
        if label == "creation":
            assert "nothing was left behind" in result.stderr
            assert not store.exists()
        else:
            assert (store / "zarr.json").exists()
        kept = _check_marked_cells(store, ref)
        if label == "cells":
            assert 0 < kept < cfg.n_cells, kept
        outcomes.append((label, pages, kept, result.stderr.strip()))
        sized_tmpfs(4 * n_files * page_kib)  # space freed
        again = (
            _tiny_sweep_args(cfg, store)
            if label == "creation"
            else ["phase-diagram", "--resume", "--store", str(store), "--scheduler",
                  "inprocess", "--json"]
        )  # fmt: skip
        result = runner.invoke(cli, again)
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["cells_already_done"], summary["cells_computed"]) == (
            kept,
            cfg.n_cells - kept,
        )
        _equal_stores(store, ref)
        shutil.rmtree(store)
    print(f"\ntmpfs: {n_skel} skeleton pages, {n_cell} per cell; (case, pages, cells kept, "
          f"message) {outcomes}")  # fmt: skip


# --------------------------------------------------------------------------- killed workers


def _cell_killer(marker_dir: Path, cell: tuple[int, int], every_time: bool, delay: float):
    """A Dask worker plugin that SIGKILLs its worker ``delay`` s after ``cell`` starts running
    on it, if the cell is still running then: once in all (the first time, claimed with an
    O_EXCL marker file) or every time. Each kill leaves a file ``killed-<n>``."""
    from distributed import WorkerPlugin

    class CellKiller(WorkerPlugin):
        def setup(self, worker):
            self.running = None

        def transition(self, key, start, finish, **kwargs):
            name = key if isinstance(key, str) else str(key)
            if not (name.startswith("cell-") and name.endswith(f"-{cell[0]}-{cell[1]}")):
                return
            if finish == "executing":
                self.running = name
                import threading

                threading.Timer(delay, self._kill, (name,)).start()
            elif start == "executing":
                self.running = None

        def _kill(self, name):
            if self.running != name:
                return  # the cell finished first: no kill, and the test will say so
            for n in range(100):
                try:
                    fd = os.open(marker_dir / f"killed-{n}", os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    if not every_time:
                        return
                    continue
                os.close(fd)
                break
            os.kill(os.getpid(), signal.SIGKILL)

    return CellKiller()


@pytest.mark.slow
def test_sweep_survives_a_worker_killed_mid_cell_and_reports_a_poison_cell(tmp_path):
    """A LocalCluster on 127.0.0.1 (2 worker processes, restarted by their nannies when
    killed; allowed-failures = 1, so a task may kill one worker but not two).

    1. A worker is SIGKILLed 0.02 s into cell (0, 1): the cell is rerun on another worker,
       the sweep completes, and the store equals an in-process run.
    2. Every worker that runs cell (1, 0) is killed 0.02 s into it (a crash or an out-of-memory
       kill): ``phase-diagram --scheduler ADDRESS`` writes the other 3 cells, then exits 1
       with one line naming the cell; the rerun, with the fault gone, computes only that
       cell, to the same store.
    """
    import dask
    from distributed import Client, LocalCluster

    # 1000 batches, 3 seeds: ~0.1 s of compute a cell on an idle machine with numba warm,
    # longer than the 0.02 s before the kill (the plugin checks that the cell still runs,
    # and the test that a kill happened)
    cfg = _sweep_config(n_batches=1000, n_seeds=3)
    ref = tmp_path / "ref.zarr"
    sweep.run_sweep(cfg, ref, client="inprocess")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        )  # fmt: skip
    client = Client(cluster)
    try:
        client.wait_for_workers(2, timeout=120)
        once = tmp_path / "once"
        once.mkdir()
        client.register_plugin(_cell_killer(once, (0, 1), False, 0.02), name="kill-once")
        store = tmp_path / "s.zarr"
        report = sweep.run_sweep(cfg, store, client=client)
        client.unregister_worker_plugin("kill-once")
        kills_once = len(list(once.iterdir()))
        assert kills_once == 1, "the worker was not killed while the cell ran"
        assert report.complete and sorted(report.computed) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        _equal_stores(store, ref)

        client.wait_for_workers(2, timeout=120)
        poison = tmp_path / "poison"
        poison.mkdir()
        client.register_plugin(_cell_killer(poison, (1, 0), True, 0.02), name="kill-always")
        store = tmp_path / "p.zarr"
        args = _sweep_args(cfg, store)
        args[args.index("--scheduler") + 1] = cluster.scheduler_address
        result = CliRunner().invoke(cli, [*args, "--json"])
        client.unregister_worker_plugin("kill-always")
        kills_poison = len(list(poison.iterdir()))
        assert result.exit_code == 1, result.stderr
        _one_error_line(result.stderr)
        assert "1 cell of the sweep in" in result.stderr, result.stderr
        assert "T=4, sigma_W=0.125: KilledWorker" in result.stderr, result.stderr
        assert "3 of 4 cells are complete and kept" in result.stderr, result.stderr
        message = result.stderr.strip()
        assert kills_poison == 2  # allowed-failures + 1 workers died
        assert sweep.pending_cells(store) == [(1, 0)]
        client.wait_for_workers(2, timeout=120)
        result = CliRunner().invoke(cli, [*args, "--json"])
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["cells_already_done"], summary["cells_computed"]) == (3, 1)
        _equal_stores(store, ref)
    finally:
        client.close()
        cluster.close()
    print(
        f"\nkilled workers: {kills_once} mid-cell (sweep completed), {kills_poison} by the "
        f"poison cell; then: {message}"
    )

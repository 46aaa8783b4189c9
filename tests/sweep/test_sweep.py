"""Tests of dysonsgd.sweep (grids, cell task, the Zarr store, resume, Dask) and boundaries.

Sizes are tiny (n_batches 20-100, tens of epochs, 2-3 seeds) so the whole file runs in
seconds; the Dask-process test starts a real scheduler and workers on 127.0.0.1.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dysonsgd import boundaries, sweep
from dysonsgd.model import NetworkConfig

# Seed 0 throughout: any fixed seed works; the phase thresholds have an order of magnitude
# to spare on either side (boundaries.seed_phases), and determinism is what the resume
# tests compare.
TINY = sweep.SweepConfig(
    T_values=[2.0**-5, 4.0],
    sigma_values=[0.125, 256.0],
    epochs=20,
    n_seeds=2,
    seed=0,
    network=NetworkConfig(n_batches=20),
)


def _equal_stores(a, b) -> None:
    da, db = sweep.load(a), sweep.load(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory):
    """An uninterrupted in-process run of TINY."""
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    report = sweep.run_sweep(TINY, path, client="inprocess")
    assert report.complete and len(report.computed) == TINY.n_cells
    return path


# --------------------------------------------------------------------------- grids, config


def test_named_grids():
    T, s = sweep.GRIDS["paper"]
    assert len(T) == 12 and len(s) == 12
    assert T[0] == 2.0**-5 and T[-1] == 2.0**6  # eps 2^-3..2^8 with |B| = 4
    assert s[0] == 2.0**-3 and s[-1] == 2.0**8  # 1/sigma_W 2^3 .. 2^-8
    T, s = sweep.GRIDS["small"]
    inv = {1 / v for v in s}
    # the three reference points of SPEC section 5 are cells of the small grid
    assert {2.0**-5, 4.0} <= set(T) and {8.0, 2.0**-8} <= inv
    # and it has columns on both sides of the disorder line 1/sigma_W = sqrt 2
    assert min(inv) < math.sqrt(2) < max(inv)
    cfg = sweep.SweepConfig.from_grid("paper", epochs=1000)
    assert cfg.sgd_steps == 144 * 10 * 1000 * 1000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"T_values": []}, "T values is empty"),
        ({"sigma_values": [0.5, -1.0]}, "positive finite"),
        ({"T_values": [1.0, 1.0]}, "twice"),
        ({"T_values": [float("nan")]}, "positive finite"),
        ({"epochs": 19, "save_points": 21}, "too few for 21 save points"),
        ({"n_seeds": 0}, "n_seeds must be a positive integer"),
        ({"engine": "gpu"}, "engine must be"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    base = {"T_values": [1.0], "sigma_values": [1.0], "epochs": 20}
    with pytest.raises(ValueError, match=match):
        sweep.SweepConfig(**{**base, **kwargs})


def test_config_roundtrip_and_store_name():
    d = TINY.to_dict()
    assert sweep.SweepConfig.from_dict(d) == TINY
    assert re.fullmatch(r"sweep-2x2-e20-s2-[0-9a-f]{8}\.zarr", TINY.default_store_name())
    assert sweep.SweepConfig.from_grid("small").default_store_name().startswith("sweep-small")


# --------------------------------------------------------------------------- the store


def test_store_contents(reference_store):
    ds = sweep.load(reference_store)
    assert dict(ds.sizes) == {"T": 2, "sigma_w": 2, "seed": 2, "save": 21, "level": 16, "col": 32}
    assert ds["eigenvalues"].dims == ("T", "sigma_w", "seed", "save", "level")
    assert np.all(ds["cell_done"].values == 1.0)
    for name in sweep._CELL_VARS:
        assert not np.any(np.isnan(ds[name].values)), name
    assert list(ds["epoch"].values) == list(range(0, 21))
    # seed k has the same network and data in every cell: the teacher's spectra agree
    te = ds["teacher_eigenvalues"].values
    np.testing.assert_array_equal(te[0, 0], te[1, 1])
    assert sweep.SweepConfig.from_dict(__import__("json").loads(ds.attrs["dysonsgd_sweep"])) == TINY
    assert "dysonsgd_version" in ds.attrs
    # the cell task reproduces what the store holds, bit for bit
    res = sweep.compute_cell(TINY, 1, 0)
    np.testing.assert_array_equal(res["eigenvalues"], ds["eigenvalues"].values[1, 0])
    np.testing.assert_array_equal(res["Tc_exact"], ds["Tc_exact"].values[1, 0])


def test_reference_points_classified(tmp_path):
    """SPEC section 5 reference points at tiny epochs: ordered (T=2^-5, 1/sigma_W=8),
    high-temperature (T=4, 1/sigma_W=8), disordered (T=2^-5, 1/sigma_W=2^-8)."""
    cfg = sweep.SweepConfig(
        T_values=[2.0**-5, 4.0],
        sigma_values=[0.125, 256.0],
        epochs=100,
        n_seeds=3,
        network=NetworkConfig(n_batches=100),
    )
    sweep.run_sweep(cfg, tmp_path / "ref.zarr", client="inprocess")
    ds = sweep.load(tmp_path / "ref.zarr")
    ph = boundaries.cell_phases(ds)
    assert ph.sel(T=2.0**-5, sigma_w=0.125).item() == "ordered"
    assert ph.sel(T=4.0, sigma_w=0.125).item() == "high-temperature"
    assert ph.sel(T=2.0**-5, sigma_w=256.0).item() == "disordered"
    summ = boundaries.summary(ds)
    assert summ["cells_done"] == 4 and summ["phase_counts"]["ordered"] >= 1
    assert set(summ["boundary_T"]) == {"exact", "paper"}
    assert set(summ["boundary_T"]["exact"]) == {"0.68", "0.95", "0.997"}


def test_boundary_crossing_interpolates_in_log2_T():
    T = np.array([0.25, 0.5, 1.0, 2.0])
    # fraction 1, 1, 0.5, 0: the 0.95 level is crossed between 0.5 and 1 at w = 0.1
    f = np.array([1.0, 1.0, 0.5, 0.0])
    assert boundaries._crossing(T, f, 0.95) == pytest.approx(2 ** (-1 + 0.1))
    assert boundaries._crossing(T, np.ones(4), 0.95) == math.inf
    assert boundaries._crossing(T, np.zeros(4), 0.95) == -math.inf
    lines = boundaries.disorder_lines()
    assert lines["paper"] == pytest.approx(math.sqrt(2))


def test_other_configuration_refused(reference_store, tmp_path):
    path = tmp_path / "s.zarr"
    shutil.copytree(reference_store, path)
    other = sweep.SweepConfig.from_dict({**TINY.to_dict(), "epochs": 40})
    with pytest.raises(ValueError, match=r"different configuration \(epochs: 20 in the store"):
        sweep.run_sweep(other, path, client="inprocess")
    with pytest.raises(ValueError, match="is a file"):
        sweep.run_sweep(TINY, reference_store / "zarr.json", client="inprocess")


def test_interrupted_sweep_resumes(reference_store, tmp_path):
    path = tmp_path / "s.zarr"

    class Stop(Exception):
        pass

    def stop_after_two(i, j, result):
        if len(done) == 1:
            raise Stop
        done.append((i, j))

    done = []
    with pytest.raises(Stop):
        sweep.run_sweep(TINY, path, client="inprocess", on_cell=stop_after_two)
    assert int(sweep.completed_cells(path).sum()) == 2
    report = sweep.run_sweep(TINY, path, client="inprocess")
    assert report.already_done == 2 and len(report.computed) == TINY.n_cells - 2
    _equal_stores(path, reference_store)
    # a complete store: rerunning computes nothing
    assert sweep.run_sweep(TINY, path, client="inprocess").computed == []


@pytest.mark.parametrize("damage", ["garbage", "truncate", "remove", "valid-but-wrong", "mark"])
def test_damaged_cell_is_recomputed(reference_store, tmp_path, damage):
    path = tmp_path / "s.zarr"
    shutil.copytree(reference_store, path)
    # cell (T index 0, sigma index 1): Zarr v3 and v2 chunk keys
    chunk = path / "test_loss" / "c" / "0" / "1" / "0"
    if not chunk.is_file():
        chunk = path / "test_loss" / "0.1.0"
    assert chunk.is_file()
    if damage == "garbage":
        chunk.write_bytes(b"\x00not a zstd frame" * 3)
    elif damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:5])
    elif damage == "remove":
        chunk.unlink()  # reads back as the fill value NaN
    elif damage == "valid-but-wrong":
        import zarr

        arr = zarr.open_array(str(path / "test_loss"), mode="r+")
        arr[0, 1, 0] = 123.0  # a well-formed chunk with other data: the checksum catches it
    else:
        import zarr

        arr = zarr.open_array(str(path / "cell_done"), mode="r+")
        arr[0, 1] = np.nan  # the mark was never written
    assert sweep.pending_cells(path) == [(0, 1)]
    report = sweep.run_sweep(TINY, path, client="inprocess")
    assert report.computed == [(0, 1)]
    _equal_stores(path, reference_store)


def _replace_array(path, name, shape, dtype, dims):
    """Replace an array by a well-formed one of another shape or dtype (dims consistent
    with the dataset's, so xarray opens the store without noticing)."""
    import zarr

    group = zarr.open_group(str(path), mode="r+")
    attrs = {k: v for k, v in group[name].attrs.items() if k != "_FillValue"}
    del group[name]
    arr = group.create_array(name, shape=shape, dtype=dtype, fill_value=0, dimension_names=dims)
    arr.attrs.update(attrs)


@pytest.mark.parametrize(
    "damage, match",
    [
        ("array removed", r"damaged sweep store \(arrays N_exact are missing\)"),
        ("two removed", r"arrays W_final, loss are missing"),
        ("wrong shape", r"array test_loss has shape \(2, 2, 21\) and dtype float64, expected"),
        ("wrong dtype", r"array cell_done has shape \(2, 2\) and dtype int32, expected"),
        ("config not JSON", r"configuration attribute is unreadable: JSONDecodeError"),
        ("config invalid", r"configuration attribute is unreadable: ValueError"),
        ("array metadata garbage", r"is not a dysonsgd sweep store"),
    ],
)
def test_check_store_refuses_damaged_stores(reference_store, tmp_path, damage, match):
    """check_store / open_store / run_sweep refuse a damaged store with StoreError (a
    ValueError) naming the store and the fix; the store is left untouched."""
    import json

    path = tmp_path / "s.zarr"
    shutil.copytree(reference_store, path)
    assert sweep.check_store(path) == TINY
    if damage == "array removed":
        shutil.rmtree(path / "N_exact")
    elif damage == "two removed":
        shutil.rmtree(path / "W_final")
        shutil.rmtree(path / "loss")
    elif damage == "wrong shape":
        _replace_array(path, "test_loss", (2, 2, 21), "float64", ("T", "sigma_w", "save"))
    elif damage == "wrong dtype":
        _replace_array(path, "cell_done", (2, 2), "int32", ("T", "sigma_w"))
    elif damage.startswith("config"):
        meta = json.loads((path / "zarr.json").read_text())
        bad = (
            "{not json"
            if damage == "config not JSON"
            else json.dumps({**TINY.to_dict(), "epochs": -3})
        )
        meta["attributes"]["dysonsgd_sweep"] = bad
        (path / "zarr.json").write_text(json.dumps(meta))
    else:
        (path / "test_loss" / "zarr.json").write_bytes(b"\x00garbage")
    before = sorted((str(p), p.stat().st_mtime_ns) for p in path.rglob("*"))
    for call in (
        lambda: sweep.check_store(path),
        lambda: sweep.check_store(path, TINY),
        lambda: sweep.open_store(path, TINY),
        lambda: sweep.run_sweep(TINY, path, client="inprocess"),
    ):
        with pytest.raises(sweep.StoreError, match=match) as info:
            call()
        assert isinstance(info.value, ValueError)
        assert str(path) in str(info.value)
        assert "move it away" in str(info.value) or "not a dysonsgd" in str(info.value)
    assert sorted((str(p), p.stat().st_mtime_ns) for p in path.rglob("*")) == before


def test_check_store_other_configuration_and_no_store(reference_store, tmp_path):
    other = sweep.SweepConfig.from_dict({**TINY.to_dict(), "n_seeds": 3})
    with pytest.raises(sweep.StoreError, match=r"n_seeds: 2 in the store, 3 requested"):
        sweep.check_store(reference_store, other)
    (tmp_path / "empty.zarr").mkdir()
    for p in (tmp_path / "empty.zarr", tmp_path / "missing.zarr"):
        with pytest.raises(sweep.StoreError, match="no sweep store at"):
            sweep.check_store(p)
    with pytest.raises(ValueError, match="is a file"):
        sweep.check_store(reference_store / "zarr.json")


def test_store_creation_cut_short_leaves_nothing(tmp_path, monkeypatch):
    """A store whose creation fails midway (here the 10th file write raises) is not left
    half-made; the same call afterwards creates it whole."""
    import zarr

    real = zarr.storage.LocalStore.set
    calls = []

    async def failing(self, key, value):
        calls.append(key)
        if len(calls) == 10:
            raise RuntimeError("injected")
        return await real(self, key, value)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", failing)
    (tmp_path / "s.zarr").mkdir()  # an empty directory is a valid place for a new store
    with pytest.raises(RuntimeError, match="injected"):
        sweep.open_store(tmp_path / "s.zarr", TINY)
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]
    assert list((tmp_path / "s.zarr").iterdir()) == []
    monkeypatch.setattr(zarr.storage.LocalStore, "set", real)
    sweep.open_store(tmp_path / "s.zarr", TINY)
    assert sweep.check_store(tmp_path / "s.zarr") == TINY
    assert sweep.pending_cells(tmp_path / "s.zarr") == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_ctrl_c_during_store_creation_leaves_nothing_or_a_whole_store(tmp_path):
    """KeyboardInterrupt in the main thread at moments spread over a store's creation (Zarr
    writes from its own event-loop thread meanwhile): afterwards there is either no store
    or a whole one, and no temporary directory."""
    import _thread
    import threading

    sweep.open_store(tmp_path / "warm.zarr", TINY)  # imports, first template
    t0 = time.perf_counter()
    sweep.open_store(tmp_path / "timed.zarr", TINY)
    length = time.perf_counter() - t0
    outcomes = []
    for k, frac in enumerate((0.1, 0.4, 0.7, 0.95)):
        path = tmp_path / f"s{k}.zarr"
        timer = threading.Timer(frac * length, _thread.interrupt_main)
        timer.start()
        try:
            sweep.open_store(path, TINY)
            time.sleep(length)  # the interrupt lands here if creation was quicker
        except KeyboardInterrupt:
            pass
        timer.join()
        time.sleep(0.2)  # a write the loop thread had in flight
        assert not [p for p in tmp_path.iterdir() if ".creating-" in p.name]
        if path.exists():
            assert sweep.check_store(path) == TINY
        outcomes.append(path.exists())
    print(f"\nCtrl-C during creation ({length:.2f} s): store whole / absent {outcomes}")


def test_failed_cell_does_not_discard_the_others(reference_store, tmp_path, monkeypatch):
    """A cell whose task raises: every other cell is written, then CellsFailedError names it;
    the rerun computes only that cell."""
    real = sweep.compute_cell

    def flaky(config, i, j, threads=None):
        if (i, j) == (0, 1):
            raise FloatingPointError("injected")
        return real(config, i, j, threads)

    monkeypatch.setattr(sweep, "compute_cell", flaky)
    path = tmp_path / "s.zarr"
    with pytest.raises(sweep.CellsFailedError) as info:
        sweep.run_sweep(TINY, path, client="inprocess")
    msg = str(info.value)
    assert "1 cell of the sweep" in msg and "T=0.03125, sigma_W=256" in msg, msg
    assert "FloatingPointError: injected" in msg and "3 of 4 cells are complete" in msg, msg
    assert list(info.value.failures) == [(0, 1)]
    assert sweep.pending_cells(path) == [(0, 1)]
    monkeypatch.setattr(sweep, "compute_cell", real)
    report = sweep.run_sweep(TINY, path, client="inprocess")
    assert report.already_done == 3 and report.computed == [(0, 1)]
    _equal_stores(path, reference_store)


def test_store_path_checks(tmp_path):
    f = tmp_path / "file.zarr"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        sweep.check_store_path(f)
    with pytest.raises(ValueError, match="does not exist"):
        sweep.check_store_path(tmp_path / "missing" / "s.zarr")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a Zarr store"):
        sweep.check_store_path(tmp_path / "other")
    with pytest.raises(ValueError, match="not writable"):
        sweep.check_store_path("/proc/s.zarr")


def test_unreachable_scheduler_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(
        ValueError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        sweep.connect("tcp://127.0.0.1:9", timeout=2.0)
    assert time.monotonic() - t0 < 30  # generous: it must not hang


def test_jobqueue_missing_names_the_extra():
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"dysonsgd\[cluster\]"):
            sweep.make_cluster("slurm")
    else:  # installed: construction works without submitting anything
        cluster = sweep.make_cluster("slurm", cores=1, memory="1GB")
        cluster.close()
    with pytest.raises(ValueError, match="cluster must be one of"):
        sweep.make_cluster("lsf")


# --------------------------------------------------------------------------- real processes


def _spawn(args, **kw):
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, **kw,
    )  # fmt: skip


def _kill_group(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


@pytest.fixture
def dask_cluster():
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, killed afterwards."""
    procs = []
    sched = _spawn(["dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard"])  # fmt: skip
    procs.append(sched)
    address, lines = None, []
    deadline = time.monotonic() + 60
    while address is None and time.monotonic() < deadline:
        line = sched.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", line)
        if m:
            address = m.group(1)
    if address is None:
        for p in procs:
            _kill_group(p)
        pytest.fail("dask scheduler did not start:\n" + "".join(lines))
    workers = [
        _spawn(
            [
                "dask",
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--name",
                f"w{k}",
            ]
        )  # fmt: skip
        for k in range(2)
    ]
    procs += workers
    try:
        yield address, workers
    finally:
        for p in reversed(procs):
            _kill_group(p)


@pytest.mark.slow
def test_sweep_through_dask_processes_survives_a_killed_worker(dask_cluster, tmp_path):
    from distributed import Client

    # 6 cells of 8e4 steps (~0.25 s each): the kill after the first result lands while
    # the other cells are running or queued on the two workers.
    cfg = sweep.SweepConfig(
        T_values=[2.0**-5, 2.0**-1, 4.0],
        sigma_values=[0.125, 256.0],
        epochs=40,
        n_seeds=2,
        network=NetworkConfig(n_batches=1000),
    )
    sweep.run_sweep(cfg, tmp_path / "ref.zarr", client="inprocess")
    address, workers = dask_cluster
    client = Client(address, timeout="30s")
    try:
        client.wait_for_workers(2, timeout=60)
        killed = []

        def kill_one_worker(i, j, result):
            if not killed:
                os.killpg(workers[0].pid, signal.SIGKILL)
                killed.append((i, j))

        report = sweep.run_sweep(cfg, tmp_path / "s.zarr", client=client, on_cell=kill_one_worker)
        assert workers[0].wait(timeout=10) is not None  # the worker is really gone
    finally:
        client.close()
    assert killed and report.complete
    assert sorted(report.computed) == [(i, j) for i in range(3) for j in range(2)]
    _equal_stores(tmp_path / "s.zarr", tmp_path / "ref.zarr")


@pytest.mark.slow
def test_sigkill_then_rerun_computes_only_missing_cells(tmp_path):
    # 9 cells of 8e4 steps each (~0.25 s): slow enough that the kill lands mid-sweep
    cfg = sweep.SweepConfig(
        T_values=[2.0**-5, 2.0**-1, 4.0],
        sigma_values=[0.125, 2.0, 256.0],
        epochs=40,
        n_seeds=2,
        network=NetworkConfig(n_batches=1000),
    )
    path = tmp_path / "s.zarr"
    args = [
        sys.executable, "-m", "dysonsgd.cli", "phase-diagram",
        "--T-values", ",".join(map(str, cfg.T_values)),
        "--sigma-values", ",".join(map(str, cfg.sigma_values)),
        "--epochs", "40", "--seeds", "2", "--n-batches", "1000", "--workers", "1",
        "--store", str(path),
    ]  # fmt: skip
    proc = _spawn(args)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (path / "cell_done" / "zarr.json").exists():
                if int(sweep.completed_cells(path).sum()) >= 2:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
    finally:
        _kill_group(proc)  # SIGKILL to the CLI and its LocalCluster workers
    k = int(sweep.completed_cells(path).sum())
    assert 2 <= k < cfg.n_cells
    out = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = __import__("json").loads(out.stdout)
    assert summary["cells_already_done"] == k
    assert summary["cells_computed"] == cfg.n_cells - k
    ref = tmp_path / "ref.zarr"
    sweep.run_sweep(cfg, ref, client="inprocess")
    _equal_stores(path, ref)


# --------------------------------------------------------------------------- consolidation


def _open_zarr_warnings(path) -> list[str]:
    """The warnings of ``xr.open_zarr(path)`` with its defaults (as a user opens a store)."""
    import warnings

    import xarray as xr

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xr.open_zarr(path).close()
    return [str(w.message) for w in caught]


def test_store_metadata_are_consolidated(reference_store, tmp_path):
    """A new store (empty or complete) opens with xr.open_zarr(path) without a warning, and
    the consolidated view holds the same data as the arrays' own metadata."""
    import xarray as xr

    assert _open_zarr_warnings(reference_store) == []
    fresh = sweep.open_store(tmp_path / "fresh.zarr", TINY)
    assert _open_zarr_warnings(fresh) == []
    with xr.open_zarr(reference_store, consolidated=True, chunks=None) as ds:
        ref = sweep.load(reference_store)
        assert set(ds.data_vars) == set(ref.data_vars)
        for name in ref.data_vars:
            np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)


def test_resume_consolidates_a_store_written_without(reference_store, tmp_path):
    """A store made before consolidation (xr.open_zarr warns) is consolidated when it is
    resumed; its data are untouched, and a consolidated store is not rewritten on resume."""
    import json

    path = tmp_path / "old.zarr"
    shutil.copytree(reference_store, path)
    meta = json.loads((path / "zarr.json").read_text())
    meta.pop("consolidated_metadata")
    (path / "zarr.json").write_text(json.dumps(meta))
    assert any("consolidated metadata" in w for w in _open_zarr_warnings(path))
    report = sweep.run_sweep(TINY, path, client="inprocess")
    assert report.already_done == TINY.n_cells and report.computed == []
    assert _open_zarr_warnings(path) == []
    _equal_stores(path, reference_store)
    before = (path / "zarr.json").stat().st_mtime_ns
    sweep.open_store(path, TINY)
    assert (path / "zarr.json").stat().st_mtime_ns == before

"""Phase-diagram sweep speed: Dask overhead per cell, and projections for the paper's grid.

Measured side by side in one run, on a 3 x 3 subset of the paper grid (T in 2^-5, 2^-1,
2^3; sigma_W in 2^-3, 2^2, 2^7: ordered, disordered and high-temperature cells, with their
early divergences) at the paper's network (1000 batches, 10 seeds) and reduced epochs:

1. in-process, one cell after another, one numba thread (compute + store writes);
2. the same cells through a ``LocalCluster`` with one single-threaded worker: the ratio to
   (1) is the Dask overhead per cell (cluster start-up, a one-off, reported apart);
3. a ``LocalCluster`` with one worker per core: the sweep throughput, from which the paper
   grid at 1,000 epochs x 10 seeds (1.44e9 steps) is projected, and the CPU-hours of the full
   100,000-epoch grid (against the original's ~8,000);
4. (full mode only) the ``small`` grid at the default 1,000 epochs, run for real.

Run: ``dysonsgd bench --only sweep`` (``--full`` for the long run).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from dysonsgd import sweep
from dysonsgd.bench._tables import Table, load_text
from dysonsgd.model import NetworkConfig

NAME = "sweep"

SUBSET_T = (2.0**-5, 2.0**-1, 2.0**3)
SUBSET_SIGMA = (2.0**-3, 2.0**2, 2.0**7)
PAPER_GRID_STEPS_1000 = 144 * 10 * 1000 * 1000
PAPER_GRID_STEPS_FULL = 144 * 10 * 100_000 * 1000
ORIGINAL_CPU_HOURS = 8000.0


def _warm(config: sweep.SweepConfig) -> None:
    # Load numba's cached kernels (or compile them) outside the timings.
    tiny = sweep.SweepConfig(
        T_values=config.T_values[:1],
        sigma_values=config.sigma_values[:1],
        epochs=20,
        n_seeds=1,
        network=NetworkConfig(n_batches=5),
    )
    sweep.compute_cell(tiny, 0, 0, 1)


def _timed_cluster(config, store, workers: int) -> tuple[float, float, float]:
    """(start-up seconds, sweep wall seconds, summed in-task compute seconds)."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    lc = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(lc)
    client.run(_warm, config)
    startup = time.perf_counter() - t0
    try:
        rep = sweep.run_sweep(config, store, client=client)
    finally:
        client.close()
        lc.close()
    return startup, rep.seconds, rep.compute_seconds


def run(quick: bool = False) -> Table:
    """Measure; return the table."""
    epochs = 20 if quick else 60
    config = sweep.SweepConfig(
        T_values=SUBSET_T, sigma_values=SUBSET_SIGMA, epochs=epochs, n_seeds=10
    )
    steps = config.sgd_steps
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        _warm(config)
        rep = sweep.run_sweep(config, tmp / "a.zarr", client="inprocess", threads=1)
        wall_in, compute_in = rep.seconds, rep.compute_seconds
        start1, wall1, compute1 = _timed_cluster(config, tmp / "b.zarr", 1)
        ncores = os.cpu_count() or 1
        start2, wall2, compute2 = _timed_cluster(config, tmp / "c.zarr", ncores)
        rows = [
            ["in-process, serial, 1 thread", config.n_cells, wall_in, compute_in,
             wall_in / config.n_cells, 1.0, steps / wall_in],
            ["LocalCluster, 1 worker", config.n_cells, wall1, compute1,
             wall1 / config.n_cells, wall1 / wall_in, steps / wall1],
            [f"LocalCluster, {ncores} workers", config.n_cells, wall2, compute2,
             wall2 / config.n_cells, wall2 / wall_in, steps / wall2],
        ]  # fmt: skip
        n = config.n_cells
        # Time per cell outside the cell's own computation: store writes and bookkeeping
        # in-process; plus scheduling, serialisation and transfer through Dask.
        extra_in = (wall_in - compute_in) / n
        extra_1 = (wall1 - compute1) / n
        overhead = extra_1 / (compute1 / n)
        rate_cluster = steps / wall2  # steps per second, whole machine
        cpu_per_step = compute2 / steps  # core-seconds per step inside the tasks
        cell_1000 = cpu_per_step * 10 * 1000 * 1000  # a paper cell at 1,000 epochs
        proj_1000_min = PAPER_GRID_STEPS_1000 / rate_cluster / 60
        proj_full_cpu_h = PAPER_GRID_STEPS_FULL * cpu_per_step / 3600
        load = load_text()  # at the end of the timed runs the projections come from
        notes = [
            f"subset: T in {SUBSET_T}, sigma_W in {SUBSET_SIGMA}; paper network "
            f"(1000 batches of 4), 10 seeds, {epochs} epochs: {steps:.3g} SGD steps",
            f"time per cell outside the task's compute: {extra_in:.3f} s in-process (store "
            f"writes), {extra_1:.3f} s through the 1-worker LocalCluster = "
            f"{100 * overhead:.2f}% of that run's mean cell compute ({compute1 / n:.2f} s); "
            f"for a paper cell at 1,000 epochs (~{cell_1000:.0f} s of compute) that is "
            f"{100 * extra_1 / cell_1000:.3f}% (target < 2%)",
            f"cluster start-up {start1:.1f} s (1 worker), {start2:.1f} s ({ncores} workers), "
            "once per sweep",
            f"paper grid at 1,000 epochs x 10 seeds (1.44e9 steps), projected from the "
            f"{ncores}-worker rate {rate_cluster:.3g} steps/s: {proj_1000_min:.1f} min "
            f"(target <= 30 min), measured at {load}",
            f"full paper grid (100,000 epochs, 1.44e11 steps) at {1e9 * cpu_per_step:.0f} "
            f"core-ns per step: {proj_full_cpu_h:.0f} CPU-hours vs the original's "
            f"~{ORIGINAL_CPU_HOURS:.0f} ({ORIGINAL_CPU_HOURS / proj_full_cpu_h:.0f}x fewer), "
            f"measured at {load}",
            "the machine is shared with other jobs: rates are lower bounds of what it can do, "
            "and the core-ns per step (CPU time inside the tasks) grow with the load too: "
            "busy cores share caches and memory bandwidth",
        ]
        if not quick:
            small = sweep.SweepConfig.from_grid("small", epochs=1000, n_seeds=10)
            s0, s_wall, s_comp = _timed_cluster(small, tmp / "small.zarr", ncores)
            rows.append(
                [f"small grid, 1000 epochs, {ncores} workers", small.n_cells, s_wall,
                 s_comp, s_wall / small.n_cells, float("nan"), small.sgd_steps / s_wall]
            )  # fmt: skip
            notes.append(
                f"small grid (12 cells, 10 seeds, 1,000 epochs, {small.sgd_steps:.3g} steps) "
                f"measured: {s_wall / 60:.2f} min + {s0:.1f} s start-up (target <= 5 min), "
                f"at {load_text()}"
            )
            # The paper's long job (docs/reproduction.md): the 1/sigma_W = 8 column, 12
            # temperatures x 10 seeds, at 1,000 epochs here and projected to 100,000.
            column = sweep.SweepConfig(
                T_values=sweep.GRIDS["paper"][0], sigma_values=(0.125,), epochs=1000, n_seeds=10
            )
            c0, c_wall, c_comp = _timed_cluster(column, tmp / "column.zarr", ncores)
            rate = column.sgd_steps / c_wall
            rows.append(
                [f"1/sigma_W = 8 column, 1000 epochs, {ncores} workers", column.n_cells,
                 c_wall, c_comp, c_wall / column.n_cells, float("nan"), rate]
            )  # fmt: skip
            full = column.sgd_steps * 100  # 100,000 epochs: 1.2e10 steps
            notes.append(
                f"the 1/sigma_W = 8 column at 100,000 epochs x 10 seeds ({full:.2g} steps, the "
                f"paper's long job) projected from the measured {rate:.3g} steps/s of the "
                f"whole sweep at 1,000 epochs (store and Dask included; {c0:.1f} s start-up "
                f"apart): {(full / rate + c0) / 60:.0f} min (target <= 70 min), at {load_text()}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Table(
        NAME,
        "Phase-diagram sweep: in-process vs Dask LocalCluster",
        ["run", "cells", "wall s", "in-task compute s", "s per cell", "ratio to in-process",
         "steps/s"],
        rows,
        notes,
    )  # fmt: skip

"""Phase-diagram sweeps over (T, sigma_W) cells on Dask, with a resumable Zarr result store.

A sweep trains every cell of a grid of temperatures ``T = lr / |B|`` and initial widths
``sigma_W`` (paper section 2), computes the observables of the paper's Figs 2-9 and the Langevin
criterion of its section 5 for every seed, and writes each finished cell into an xarray
Dataset kept in a Zarr store.

The pieces:

- :class:`SweepConfig` -- the grid, the network, epochs, seeds: everything that determines
  the numbers. It is written into the store and a store made with another configuration is
  refused.
- :func:`compute_cell` -- the task: one cell's seeds, trained with the configured engine, and
  their observables. Pure: the same configuration and cell give bit-identical arrays on any
  worker.
- :func:`open_store` / :func:`check_store` / :func:`pending_cells` -- the store, laid out by
  one table of stored variables; how it is created whole, checked and marked cell by cell is
  described in :mod:`dysonsgd.sweep.store`.
- :func:`run_sweep` -- the driver: submits the pending cells to a Dask cluster (an
  in-process ``LocalCluster`` by default, an existing scheduler, or a SLURM/PBS cluster through
  ``dask-jobqueue``), and writes each result as it arrives. The driver process is the store's only
  writer; a cell's chunks are written first (each chunk file atomically, by Zarr) and only
  then its checksum and mark, so a run killed at any moment leaves a store that resumes
  correctly. A full disk stops the run with :class:`StoreFullError` (the cells already
  marked are complete and kept); cells whose task failed (an exception, or workers killed
  while running it) are reported together by :class:`CellsFailedError` after every other
  cell is written.
- :func:`batch_stores` -- a sweep with ``SweepConfig(batch_sizes=(1, 4, 16, ...))`` runs the
  same grid at every batch size |B| on the same training set (``n_samples / |B|`` batches,
  learning rate ``T |B|``) into one store: a Zarr group recording the whole configuration,
  holding one ordinary store per batch size, ``b<|B|>/``. ``open_store``, ``check_store``,
  ``pending_cells``, ``completed_cells`` and ``run_sweep`` take the parent; every other
  function takes a child.
- :mod:`~dysonsgd.sweep.checkpoint` -- while a cell trains, its seeds' state is written
  after every save point beside the store (``<store>.checkpoints/cell-<i>-<j>.npz``,
  atomically, verified when read), so a sweep killed at any moment continues each cell
  from its last save point to a store equal, bit for bit, to that of an uninterrupted run.

The modules: :mod:`~dysonsgd.sweep.config` (the configuration and grids),
:mod:`~dysonsgd.sweep.store` (the store's layout, one table of stored variables, and its
reads and writes), :mod:`~dysonsgd.sweep.run` (the cell task and the driver),
:mod:`~dysonsgd.sweep.checkpoint` (the cells' checkpoints), :mod:`~dysonsgd.sweep.cluster`
(Dask clients) and :mod:`~dysonsgd.sweep.errors`.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), Figs 1-9.
"""

from dysonsgd.sweep.checkpoint import checkpoint_dir
from dysonsgd.sweep.cluster import CLUSTER_EXTRA, CLUSTERS, connect, make_cluster
from dysonsgd.sweep.config import ENGINES, ESTIMATORS, GRIDS, SAVE_POINTS, SweepConfig
from dysonsgd.sweep.errors import CellsFailedError, StoreError, StoreFullError
from dysonsgd.sweep.run import SweepReport, compute_cell, run_sweep
from dysonsgd.sweep.store import (
    _CELL_VARS,  # noqa: F401  (tests/sweep/test_sweep.py reads it)
    SEED_VARS,
    batch_stores,
    check_store,
    check_store_path,
    completed_cells,
    criterion_delta,
    load,
    open_store,
    pending_cells,
    read_store_config,
    write_cell,
)

__all__ = [
    "CLUSTERS",
    "CLUSTER_EXTRA",
    "ENGINES",
    "ESTIMATORS",
    "GRIDS",
    "SAVE_POINTS",
    "SEED_VARS",
    "CellsFailedError",
    "StoreError",
    "StoreFullError",
    "SweepConfig",
    "SweepReport",
    "batch_stores",
    "check_store",
    "check_store_path",
    "checkpoint_dir",
    "completed_cells",
    "compute_cell",
    "connect",
    "criterion_delta",
    "load",
    "make_cluster",
    "open_store",
    "pending_cells",
    "read_store_config",
    "run_sweep",
    "write_cell",
]

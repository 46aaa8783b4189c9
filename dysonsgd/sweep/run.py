"""The sweep's cell task and its driver.

- :func:`compute_cell` -- one cell's seeds, trained with the configured engine, and their
  observables. Pure: the same configuration and cell give bit-identical arrays on any worker,
  whether the cell ran in one go or was continued from its checkpoints
  (:mod:`dysonsgd.sweep.checkpoint`).
- :func:`run_sweep` -- submits the pending cells to a Dask cluster (an in-process
  ``LocalCluster`` by default, an existing scheduler, or a SLURM/PBS cluster through
  ``dask-jobqueue``), and writes each result as it arrives. The driver process is the store's only
  writer. A full disk stops the run with :class:`StoreFullError` (the cells already marked
  are complete and kept); cells whose task failed (an exception, or workers killed while
  running it) are reported together by :class:`CellsFailedError` after every other cell is
  written. Each cell checkpoints its seeds at its save points, so a killed sweep continues
  every unfinished cell from its last save point; progress is reported in SGD steps over
  the whole sweep, the work already done counted as such.

References
----------
Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 2 (protocol), Figs 1-9.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dysonsgd.sgd.api import CHECKPOINT_ENGINES, CHECKPOINT_INTERVAL
from dysonsgd.sweep import checkpoint as _checkpoint
from dysonsgd.sweep.checkpoint import cell_lr
from dysonsgd.sweep.cluster import connect
from dysonsgd.sweep.config import ESTIMATORS, SweepConfig
from dysonsgd.sweep.errors import _DISK_FULL, CellsFailedError, _disk_full
from dysonsgd.sweep.store import (
    CELL_DATA,
    _children,
    check_store_path,
    open_store,
    pending_cells,
    write_cell,
)


def compute_cell(
    config: SweepConfig,
    i: int,
    j: int,
    threads: int | None = None,
    *,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_interval: float = CHECKPOINT_INTERVAL,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Train one cell's seeds and measure everything the store holds for it.

    Parameters
    ----------
    config : SweepConfig
    i, j : int
        Indices of the cell's temperature and width in ``config.T_values`` and
        ``config.sigma_values``.
    threads : int, optional
        numba threads for the engine (1 on Dask workers that run one cell each).
    checkpoint : path, optional
        The cell's checkpoint file (:mod:`dysonsgd.sweep.checkpoint`; engines ``numba``
        and ``gd``, ignored with ``engine="numpy"``): continued from if it holds this cell's state,
        written after save points (at most every ``checkpoint_interval`` s). The result is
        the same, bit for bit, whether the cell ran in one go or was killed and continued
        any number of times. The file is left in place (the driver removes it once the
        cell is in the store).
    checkpoint_interval : float
        Least wall seconds between two checkpoint writes (:func:`dysonsgd.sgd.train`);
        0 writes at every save point.
    progress : callable(steps), optional
        Called with the number of SGD steps done since its last call, as the seeds train
        (about once per epoch); the steps of a checkpoint continued from are not counted.

    Returns
    -------
    dict of ndarrays
        One float64 array per cell variable of :data:`dysonsgd.sweep.store.VARIABLES`
        (those with a ``source``), keyed by its name and shaped by its dims after (T,
        sigma_w): per seed (n_seeds,) -- the names of :data:`SEED_VARS`; ``loss`` (n_seeds,
        n_saves), ``eigenvalues`` (n_seeds, n_saves, K), ``teacher_eigenvalues`` (n_seeds,
        K), ``W_final`` (n_seeds, K, L); ``spacing_growth_rate`` (0-d, per epoch). And
        ``compute_seconds`` (a float, not stored).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2 (protocol), section 3 (observables),
    section 4 and Fig 8 (the criterion).
    """
    from dysonsgd.observables import summarize
    from dysonsgd.phases import langevin_criterion
    from dysonsgd.sgd import train

    t0 = time.perf_counter()
    net = config.network
    T = config.T_values[i]
    sigma_w = config.sigma_values[j]
    lr = cell_lr(config, i)
    on_epoch = None
    seed_epochs = 0
    if progress is not None:
        # one call per epoch of all seeds (the engine calls on_epoch per seed and epoch)

        def on_epoch():
            nonlocal seed_epochs
            seed_epochs += 1
            if seed_epochs == config.n_seeds:
                progress(seed_epochs * net.n_batches)
                seed_epochs = 0

    result = train(
        net,
        sigma_w=sigma_w,
        lr=lr,
        epochs=config.epochs,
        n_seeds=config.n_seeds,
        seed=config.seed,
        engine=config.engine,
        save_points=config.save_points,
        save_schedule=config.save_schedule,
        sampling=config.sampling,
        threads=threads,
        on_epoch=on_epoch,
        checkpoint=checkpoint if config.engine in CHECKPOINT_ENGINES else None,
        checkpoint_interval=checkpoint_interval,
    )
    if progress is not None and seed_epochs:
        progress(seed_epochs * net.n_batches)
    records = result.records
    instances = result.instances()
    parts = {
        "observables": summarize(result),
        "records": records,
        "cell": {
            "a_rms": np.array([np.sqrt(np.mean(x.a_train**2)) for x in instances]),
            "W_final": records.W[:, -1],
        },
    }
    for e in ESTIMATORS:
        parts[f"criterion_{e}"] = langevin_criterion(
            records.W[:, -1], instances, temperature=T, estimator=e
        )
    out: dict = {v.name: np.array(v.take(parts), dtype=v.dtype, order="C") for v in CELL_DATA}
    out["compute_seconds"] = time.perf_counter() - t0
    return out


def _cell_task() -> Callable:
    """The cell task as the package exports it, ``dysonsgd.sweep.compute_cell``.

    Looked up when a sweep starts, so that a substitute set on the package is the one run
    (tests/sweep/test_sweep.py and tests/reliability/test_faults.py inject failing or
    precomputed cells).
    """
    from dysonsgd import sweep

    return sweep.compute_cell


def _task_options(task: Callable, **options) -> dict:
    """The keyword options ``task`` takes among ``options``.

    A substitute cell task that takes only ``(config, i, j, threads)`` (tests inject
    failing or precomputed cells) runs without checkpoints or progress within the cell.
    """
    import inspect

    try:
        params = inspect.signature(task).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return options
    return {k: v for k, v in options.items() if k in params}


@dataclass
class SweepReport:
    """What a call of :func:`run_sweep` did.

    Attributes
    ----------
    store : Path
    n_cells : int
        Cells of the grid (of every batch size, for a sweep over batch sizes).
    already_done : int
        Cells found complete (verified) at the start.
    computed : list of (i, j), or of (batch_size, i, j)
        Cells computed by this call, in completion order; ``(batch_size, i, j)`` for a sweep
        over batch sizes.
    seconds : float
        Wall time of the call.
    compute_seconds : float
        Sum of the cells' compute time inside their tasks.
    """

    store: Path
    n_cells: int
    already_done: int
    computed: list[tuple[int, ...]]
    seconds: float
    compute_seconds: float

    @property
    def complete(self) -> bool:
        """True when every cell is done."""
        return self.already_done + len(self.computed) == self.n_cells


def run_sweep(
    config: SweepConfig,
    store: str | os.PathLike,
    *,
    client=None,
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    cluster_options: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_cell: Callable[[int, int, dict], None] | None = None,
    threads: int | None = None,
    on_steps: Callable[[int, int], None] | None = None,
    checkpoints: bool = True,
    checkpoint_interval: float = CHECKPOINT_INTERVAL,
) -> SweepReport:
    """Run (or continue) a sweep, writing every finished cell into ``store``.

    Parameters
    ----------
    config : SweepConfig
        With ``batch_sizes`` set, the sweep of every batch size into one store over batch
        sizes (:func:`~dysonsgd.sweep.batch_stores`): the cells of all batch sizes are
        scheduled together (one progress count, one step count), and a rerun computes the
        missing cells of every batch size.
    store : path
        Zarr store directory; created if missing, continued if it holds the same
        configuration, refused otherwise.
    client : distributed.Client or "inprocess", optional
        Use this client (not closed afterwards), or ``"inprocess"`` to compute the cells one
        after another in this process without Dask (tests, profiling). By default a client is
        made by :func:`connect` from ``scheduler``, ``cluster``, ``workers``.
    progress : callable(done, total), optional
        Called after each written cell (and once at the start) with the number of done cells.
    on_cell : callable(i, j, result), optional
        Called after cell (i, j) is written and marked; over batch sizes,
        ``result["batch_size"]`` says of which batch size.
    threads : int, optional
        numba threads per cell with ``client="inprocess"`` (default: all); Dask workers
        always run one thread per cell.
    on_steps : callable(done, total), optional
        Progress over the whole sweep in SGD steps (``total = config.sgd_steps``, every batch
        size's): called at
        the start, with the steps of the cells already in the store and of the pending
        cells' checkpoints counted as done, then as the cells train (about once per epoch
        with ``client="inprocess"``, once per cell on Dask).
    checkpoints : bool
        Checkpoint every cell at its save points (:mod:`dysonsgd.sweep.checkpoint`; engines
        ``numba`` and ``gd``), so that a killed sweep continues each unfinished cell from its last
        save point, to a store equal, bit for bit, to that of an uninterrupted run.
    checkpoint_interval : float
        Least wall seconds between two checkpoint writes of a cell (default 5 s: a save
        point sooner after the previous write is skipped); 0 writes every save point.

    Returns
    -------
    SweepReport

    Raises
    ------
    ValueError
        A store of another configuration or a bad path (before anything is written).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, Fig 1 (the grid).
    """
    t0 = time.perf_counter()
    task = _cell_task()
    path = check_store_path(store)
    close = None
    if client is None:
        client, close = connect(
            scheduler, cluster=cluster, workers=workers, cluster_options=cluster_options
        )
    try:
        path = open_store(path, config)
        # One part per batch size (the store itself for one): (key, store, config). Cells are
        # keyed (i, j) for one batch size, (|B|, i, j) over several, and scheduled together.
        many = config.batch_sizes is not None
        parts = {
            b: (batch_path, config.batch_size_configs()[b])
            for b, batch_path in _children(path, config).items()
        }

        def cell_key(b, i, j):
            return (b, i, j) if many else (i, j)

        todo = [(b, i, j) for b, (p, _) in parts.items() for i, j in pending_cells(p)]
        n_cells = sum(cfg.n_cells for _, cfg in parts.values())
        n_done = n_cells - len(todo)
        if progress is not None:
            progress(n_done, n_cells)
        resumed: dict[tuple, int] = {}
        use_checkpoints = checkpoints and config.engine in CHECKPOINT_ENGINES and bool(todo)
        if use_checkpoints:
            try:
                for b, (p, cfg) in parts.items():
                    mine = [(i, j) for bb, i, j in todo if bb == b]
                    got = _checkpoint.prepare(p, cfg, mine)  # also tidies a finished part's
                    resumed.update({(b, *c): e for c, e in got.items()})
            except OSError as exc:
                import warnings

                from dysonsgd.sgd.engine import CheckpointWarning

                use_checkpoints = False
                resumed = {}
                warnings.warn(
                    f"cannot use checkpoint directory {_checkpoint.checkpoint_dir(p)} "
                    f"({exc.strerror or exc}); the cells run without checkpoints",
                    CheckpointWarning,
                    stacklevel=2,
                )

        # Progress in SGD steps: per cell, the steps counted so far (checkpoints as done).
        def cell_steps(b):
            cfg = parts[b][1]
            return cfg.n_seeds * cfg.epochs * cfg.network.n_batches

        total_steps = config.sgd_steps
        counted = {
            c: e * parts[c[0]][1].n_seeds * parts[c[0]][1].network.n_batches
            for c, e in resumed.items()
        }
        steps_done = sum(
            (cfg.n_cells - sum(1 for bb, _, _ in todo if bb == b)) * cell_steps(b)
            for b, (_, cfg) in parts.items()
        ) + sum(counted.values())
        if on_steps is not None:
            on_steps(steps_done, total_steps)

        def advance(cell, steps):
            nonlocal steps_done
            steps = min(steps, cell_steps(cell[0]) - counted.get(cell, 0))
            counted[cell] = counted.get(cell, 0) + steps
            steps_done += steps
            if on_steps is not None and steps:
                on_steps(steps_done, total_steps)

        def options(b, i, j, in_process):
            opts = {}
            if use_checkpoints:
                opts["checkpoint"] = str(_checkpoint.cell_checkpoint(parts[b][0], i, j))
                opts["checkpoint_interval"] = checkpoint_interval
            if in_process and on_steps is not None:
                opts["progress"] = lambda steps: advance((b, i, j), steps)
            return _task_options(task, **opts)

        computed: list[tuple] = []
        failures: dict[tuple, BaseException] = {}
        compute_seconds = 0.0

        def finish(b, i, j, result):
            nonlocal n_done, compute_seconds
            p, cfg = parts[b]
            try:
                write_cell(p, cfg, i, j, result)
            except OSError as exc:
                if exc.errno not in _DISK_FULL:
                    raise
                where = f"|B|={b}, " if many else ""
                raise _disk_full(
                    path,
                    exc,
                    f"writing cell {where}T={cfg.T_values[i]:g}, sigma_W={cfg.sigma_values[j]:g}",
                    f"the {n_done} of {n_cells} cells marked complete are whole and "
                    "kept; free space and run the sweep again (dysonsgd phase-diagram --resume "
                    f"--store {path}) to compute the other {n_cells - n_done}",
                ) from None
            if use_checkpoints:
                _checkpoint.remove(p, i, j)  # after the mark: the cell is safe
            computed.append(cell_key(b, i, j))
            compute_seconds += float(result["compute_seconds"])
            n_done += 1
            advance((b, i, j), cell_steps(b))  # the rest of the cell (all of it, on Dask)
            if on_cell is not None:
                if many:
                    result["batch_size"] = b
                on_cell(i, j, result)
            if progress is not None:
                progress(n_done, n_cells)

        if isinstance(client, str):
            if client != "inprocess":
                raise ValueError(
                    f"client must be a distributed.Client or 'inprocess', got {client!r}"
                )
            for b, i, j in todo:
                try:
                    result = task(parts[b][1], i, j, threads, **options(b, i, j, True))
                except Exception as exc:  # the other cells still run; reported at the end
                    failures[cell_key(b, i, j)] = exc
                    continue
                finish(b, i, j, result)
        elif todo:
            from distributed import as_completed

            tokens = {
                b: hashlib.blake2b(
                    json.dumps(cfg.to_dict(), sort_keys=True).encode(), digest_size=6
                ).hexdigest()
                for b, (_, cfg) in parts.items()
            }
            cells, futures = {}, []
            for b, i, j in todo:
                fut = client.submit(
                    task,
                    parts[b][1],
                    i,
                    j,
                    1,
                    key=f"cell-{tokens[b]}-{i}-{j}",
                    pure=False,
                    **options(b, i, j, False),
                )
                cells[fut.key] = (b, i, j)
                futures.append(fut)
            try:
                for fut in as_completed(futures):
                    b, i, j = cells[fut.key]
                    try:
                        # an exception of the task, or KilledWorker: the workers running it
                        # died (allowed-failures times) -- a crash or memory exhausted
                        result = fut.result()
                    except Exception as exc:
                        failures[cell_key(b, i, j)] = exc
                        continue
                    finally:
                        fut.release()
                    finish(b, i, j, result)
            except BaseException:
                client.cancel(futures)  # the client may be the caller's: leave it idle
                raise
        if use_checkpoints:
            for p, _ in parts.values():
                _checkpoint.remove_dir_if_empty(p)
        if failures:
            first = next(iter(failures.values()))
            raise CellsFailedError(path, failures, n_done, n_cells, config) from first
    finally:
        if close is not None:
            close()
    return SweepReport(
        store=path,
        n_cells=n_cells,
        already_done=n_cells - len(todo),
        computed=computed,
        seconds=time.perf_counter() - t0,
        compute_seconds=compute_seconds,
    )

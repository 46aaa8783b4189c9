"""Checkpoints of the cells being computed: a killed cell continues from its last save point.

While a cell trains (:func:`~dysonsgd.sweep.compute_cell` with ``checkpoint=``), the state of
its seeds after every save epoch (:class:`dysonsgd.sgd.engine.EngineState`: every seed's W,
the records so far, the divergence flags, the sample streams) is written to one file per
cell, atomically (a temporary file in the same directory, fsync, ``os.replace``), and
verified when read (a checksum, the shapes, and the run's identity,
:func:`dysonsgd.sgd.api.checkpoint_key`): a damaged file is ignored, never trusted. The
driver removes a cell's file once the cell's data and mark are in the store.

Layout: beside the store ``PATH.zarr`` a directory ``PATH.zarr.checkpoints/`` holding
``cell-<i>-<j>.npz`` for the cells (i, j) in progress (``i`` indexes T, ``j`` sigma_W); it is
removed when empty at the end of a sweep. A store over batch sizes keeps its children's
checkpoints in ``PATH.zarr.checkpoints/b<|B|>/``. Outside the store, so that the store stays a
plain Zarr hierarchy (Zarr warns about foreign entries in a group's directory). Deleting
the directory only costs the work since the cells' starts. docs/phase-diagram.md,
"Checkpoints".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dysonsgd.sweep.config import SweepConfig

_NAME = re.compile(r"cell-(\d+)-(\d+)\.npz")
_CHILD = re.compile(r"b\d+")


def checkpoint_dir(store: str | os.PathLike) -> Path:
    """The directory of a store's cell checkpoints, ``<store>.checkpoints`` beside it.

    For the store of one batch size in a store over batch sizes, ``PATH.zarr/b<|B|>``
    (:func:`dysonsgd.sweep.batch_stores`): ``PATH.zarr.checkpoints/b<|B|>``, beside the
    parent, so that the parent stays a plain Zarr hierarchy too.
    """
    p = Path(os.path.abspath(store))
    if _CHILD.fullmatch(p.name) and _in_batch_store(p):
        return checkpoint_dir(p.parent) / p.name
    return p.parent / f"{p.name}.checkpoints"


def _in_batch_store(p: Path) -> bool:
    """True if ``p`` is the store of one of the batch sizes of the store over batch sizes
    that holds it."""
    from dysonsgd.sweep.store import _batch_config, _child_name

    parent = _batch_config(p.parent)
    return parent is not None and p.name in {_child_name(b) for b in parent.batch_sizes}


def cell_checkpoint(store: str | os.PathLike, i: int, j: int) -> Path:
    """The checkpoint file of cell (i, j) of ``store`` (absolute: Dask workers write it)."""
    return checkpoint_dir(store) / f"cell-{int(i)}-{int(j)}.npz"


def cell_key(config: SweepConfig, i: int, j: int) -> dict:
    """The identity of cell (i, j)'s run, as :func:`dysonsgd.sgd.train` records it."""
    from dysonsgd.sgd.api import checkpoint_key

    net = config.network
    return checkpoint_key(
        net,
        config.sigma_values[j],
        cell_lr(config, i),
        config.epochs,
        config.n_seeds,
        config.seed,
        config.sampling,
        config.save_epochs,
        engine=config.engine,
    )


def cell_lr(config: SweepConfig, i: int) -> float:
    """Learning rate of row i: ``lr = T * batch_size`` (paper section 2)."""
    return config.T_values[i] * config.network.batch_size


def prepare(
    store: str | os.PathLike, config: SweepConfig, pending: list[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Tidy a store's checkpoints before a run and read how far each pending cell got.

    Removes the files of cells that are not pending (done, or not of this grid), damaged
    files, checkpoints of another run and temporary files left by a kill during a write;
    creates the directory.

    Returns
    -------
    dict (i, j) -> int
        Epochs done by every pending cell with a valid checkpoint.

    Raises
    ------
    OSError
        The directory cannot be created (the caller runs without checkpoints).
    """
    from dysonsgd.sgd.engine import CheckpointError, read_checkpoint

    d = checkpoint_dir(store)
    d.mkdir(parents=True, exist_ok=True)
    want = set(pending)
    resumed: dict[tuple[int, int], int] = {}
    for entry in os.listdir(d):
        m = _NAME.fullmatch(entry)
        if m is None:
            if entry.startswith(".cell-"):  # a temporary file of an interrupted write
                _unlink(d / entry)
            continue  # not ours: left alone
        cell = (int(m.group(1)), int(m.group(2)))
        if cell in want:
            try:
                resumed[cell] = read_checkpoint(d / entry, cell_key(config, *cell)).epoch
                continue
            except (CheckpointError, OSError):
                pass
        _unlink(d / entry)
    return resumed


def remove(store: str | os.PathLike, i: int, j: int) -> None:
    """Remove cell (i, j)'s checkpoint (its data and mark are in the store)."""
    _unlink(cell_checkpoint(store, i, j))


def remove_dir_if_empty(store: str | os.PathLike) -> None:
    """Remove the checkpoint directory if nothing is left in it."""
    d = checkpoint_dir(store)
    try:
        d.rmdir()
    except OSError:  # missing, or checkpoints of failed cells (kept for the rerun)
        return
    if d.name != f"{Path(os.path.abspath(store)).name}.checkpoints":  # a batch size's
        try:
            d.parent.rmdir()  # the parent's directory, once its last batch size's is gone
        except OSError:
            pass


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass

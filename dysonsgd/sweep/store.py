"""The sweep's Zarr store: its layout, creation, checks, cell writes and reads.

- :data:`VARIABLES` -- the layout: one :class:`StoredVariable` per array (name, dims,
  where the cell task takes it from, description, dtype). Creating, checking, writing and
  verifying a store all iterate over it.
- :func:`open_store` / :func:`check_store` / :func:`pending_cells` -- create a store (whole
  or not at all: it is built beside its path and renamed into place), or check that an
  existing one holds every array of its configuration; list the cells still to run. A cell
  counts as done only when its completion mark is set *and* a checksum of its data, written
  with the mark after the data, matches what is read back, so a cell whose chunks were cut
  short or damaged is recomputed.
- :func:`write_cell` -- a cell's chunks first (each chunk file atomically, by Zarr), then
  its checksum and mark, so a run killed at any moment leaves a store that resumes
  correctly.

The layout is documented in docs/phase-diagram.md.

References
----------
Park, Lucini & Aarts, arXiv:2509.01349 (2025), Figs 2-9 (the observables stored).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dysonsgd.model import NetworkConfig
from dysonsgd.sweep.config import ESTIMATORS, SweepConfig
from dysonsgd.sweep.errors import _DISK_FULL, StoreError, _disk_full

_ATTR = "dysonsgd_sweep"
_FORMAT = 1


# --------------------------------------------------------------------------- the layout

#: Dimensions of a store's arrays with one value per cell, and per cell and seed.
CELL_DIMS: tuple[str, ...] = ("T", "sigma_w")
SEED_DIMS: tuple[str, ...] = (*CELL_DIMS, "seed")


@dataclass(frozen=True)
class StoredVariable:
    """One array of a sweep store: its name, dimensions, origin, description and dtype.

    Attributes
    ----------
    name : str
        The array's name in the store, and its key in :func:`~dysonsgd.sweep.compute_cell`'s
        result.
    dims : tuple of str
        Named dimensions; an array whose dims start with ``("T", "sigma_w")`` is stored one
        chunk per cell.
    source : str or None
        Where :func:`~dysonsgd.sweep.compute_cell` takes the cell's value from, as
        ``"<part>.<field>"``: ``observables`` (:func:`dysonsgd.observables.summarize`),
        ``records`` (the SGD records), ``criterion_<estimator>``
        (:func:`dysonsgd.phases.langevin_criterion`) or ``cell`` (computed by the task
        itself). ``None`` for the arrays the store fills itself: the completion marks, written
        by :func:`write_cell`, and the grid's ``criterion_delta``, written at creation.
    description : str
        The array's ``description`` attribute.
    dtype : numpy.dtype
        float64 throughout (flags and counts too: a cell not yet computed is NaN).
    """

    name: str
    dims: tuple[str, ...]
    source: str | None
    description: str
    dtype: np.dtype = np.dtype(np.float64)

    @property
    def per_cell(self) -> bool:
        """True if the array holds one chunk per (T, sigma_w) cell."""
        return self.dims[: len(CELL_DIMS)] == CELL_DIMS

    def take(self, parts: dict):
        """This variable's value among the named parts of a cell's computation (``source``)."""
        part, key = self.source.split(".")
        obj = parts[part]
        return obj[key] if isinstance(obj, dict) else getattr(obj, key)


def _criterion_variables(e: str) -> tuple[StoredVariable, ...]:
    """The Langevin criterion's per-seed arrays for estimator ``e`` (paper section 5)."""
    c = f"criterion_{e}"
    # fmt: off
    return (
        StoredVariable(
            f"S_{e}", SEED_DIMS, f"{c}.signal",
            f"signal |Kt_11| - |Kt_KK| ({e} estimator)",
        ),
        StoredVariable(
            f"N_{e}", SEED_DIMS, f"{c}.noise",
            f"Coulomb noise on the extreme pair ({e} estimator)",
        ),
        StoredVariable(
            f"ordered_{e}", SEED_DIMS, f"{c}.ordered",
            f"1 if S >= T N / Delta ({e} estimator)",
        ),
        StoredVariable(
            # T_c = S Delta / N; +inf where N <= 0 and S >= 0, -inf where N <= 0 and S < 0.
            f"Tc_{e}", SEED_DIMS, f"{c}.critical_temperature",
            f"T_c = S Delta / N ({e} estimator)",
        ),
    )
    # fmt: on


#: Every array of a sweep store (the coordinates aside), in the order they are created. The
#: cell data (``source`` set) are checksummed in this order: reordering them would make the
#: cells of existing stores fail verification and be recomputed. Observables: paper Figs 2-9
#: and docs/model.md; the criterion: paper section 5 and docs/theory-network.md.
# fmt: off
VARIABLES: tuple[StoredVariable, ...] = (
    StoredVariable(
        "final_loss", SEED_DIMS, "observables.final_loss",
        "epoch-mean training loss at the last save point",
    ),
    StoredVariable(
        "test_loss", SEED_DIMS, "observables.test_loss",
        "mean_n |y_teacher - y_student|^2 on the probe set (docs/model.md)",
    ),
    StoredVariable(
        "grad_norm", SEED_DIMS, "observables.grad_norm",
        "Frobenius norm of the epoch-mean gradient at the last save point",
    ),
    StoredVariable(
        "overlap_G", SEED_DIMS, "observables.overlap_G",
        "G(t_f, 0) = (1/(n_test K)) sum f_init f_final",
    ),
    StoredVariable(
        "alignment", SEED_DIMS, "observables.alignment",
        "cosine of h = Z^T y_teacher and f (flattened)",
    ),
    StoredVariable(
        "alignment_per_sample", SEED_DIMS, "observables.alignment_per_sample",
        "alignment / n_test (the paper's figures)",
    ),
    StoredVariable(
        "diverged", SEED_DIMS, "records.diverged",
        "1 if a batch loss exceeded the threshold",
    ),
    StoredVariable(
        "diverged_step", SEED_DIMS, "records.diverged_step",
        "SGD step of divergence, -1 if none",
    ),
    StoredVariable(
        "a_rms", SEED_DIMS, "cell.a_rms",
        "rms of the first-layer features a = phi(M x) (actual width of z is sigma_W a_rms)",
    ),
    *(v for e in ESTIMATORS for v in _criterion_variables(e)),
    StoredVariable(
        "loss", (*SEED_DIMS, "save"), "records.loss",
        "epoch-mean training loss at the save points",
    ),
    StoredVariable(
        "eigenvalues", (*SEED_DIMS, "save", "level"), "observables.eigenvalues",
        "eigenvalues of X = W W^T, descending, at the save points",
    ),
    StoredVariable(
        "teacher_eigenvalues", (*SEED_DIMS, "level"), "observables.teacher_eigenvalues",
        "eigenvalues of X* = W* W*^T, descending",
    ),
    StoredVariable(
        "W_final", (*SEED_DIMS, "level", "col"), "cell.W_final",
        "the student's matrix at the last save point",
    ),
    StoredVariable(
        "spacing_growth_rate", CELL_DIMS, "observables.spacing_growth_rate",
        "lambda = log(ubar(t_f)/ubar(0)) / t_f per epoch, seed-averaged ubar",
    ),
    StoredVariable(
        "cell_done", CELL_DIMS, None,
        "1 once the cell's data and checksum are written",
    ),
    StoredVariable(
        "cell_checksum", CELL_DIMS, None,
        "48-bit checksum of the cell's data (verified on resume)",
    ),
    StoredVariable(
        "criterion_delta", ("sigma_w",), None,
        "Delta = 4 sigma_W^2 / (sqrt(r) (K-1)) (paper section 5)",
    ),
)
# fmt: on

#: The cell data: the arrays of :func:`~dysonsgd.sweep.compute_cell`'s result, checksummed.
CELL_DATA: tuple[StoredVariable, ...] = tuple(v for v in VARIABLES if v.source is not None)
_CELL_VARS: tuple[str, ...] = tuple(v.name for v in CELL_DATA)
#: Per-seed scalar variables of a cell (dims T, sigma_w, seed).
SEED_VARS: tuple[str, ...] = tuple(v.name for v in CELL_DATA if v.dims == SEED_DIMS)


def criterion_delta(sigma_w: float, config: NetworkConfig) -> float:
    """Spacing of an initial Marchenko-Pastur spectrum, ``4 sigma_W^2 / (sqrt(r) (K - 1))``.

    See :func:`dysonsgd.phases.mp_spacing` (paper section 5).
    """
    from dysonsgd.phases import mp_spacing

    return mp_spacing(sigma_w, config.K, config.L)


def _grid_values(config: SweepConfig) -> dict[str, list]:
    """Values of the arrays that depend on the grid only (``source`` None, not per cell)."""
    return {"criterion_delta": [criterion_delta(s, config.network) for s in config.sigma_values]}


def _shape(var: StoredVariable, config: SweepConfig) -> tuple[int, ...]:
    n = config.network
    sizes = {
        "T": len(config.T_values),
        "sigma_w": len(config.sigma_values),
        "seed": config.n_seeds,
        "save": config.save_points,
        "level": n.K,
        "col": n.L,
    }
    return tuple(sizes[d] for d in var.dims)


def _template(config: SweepConfig):
    import dask.array as da
    import xarray as xr

    from dysonsgd import __version__

    data_vars = {}
    encoding = {}
    grid = _grid_values(config)
    for v in VARIABLES:
        attrs = {"description": v.description}
        if v.per_cell:
            shape = _shape(v, config)
            chunks = (1, 1, *shape[2:])
            data = da.full(shape, np.nan, chunks=chunks, dtype=v.dtype)
            data_vars[v.name] = xr.Variable(v.dims, data, attrs=attrs)
            encoding[v.name] = {"chunks": chunks, "fill_value": np.nan}
        else:
            values = np.asarray(grid[v.name], dtype=v.dtype)
            data_vars[v.name] = xr.Variable(v.dims, values, attrs=attrs)
    coords = {
        "T": ("T", np.array(config.T_values)),
        "sigma_w": ("sigma_w", np.array(config.sigma_values)),
        "inv_sigma_w": ("sigma_w", 1.0 / np.array(config.sigma_values)),
        "lr": ("T", np.array(config.T_values) * config.network.batch_size),
        "seed": ("seed", np.arange(config.n_seeds)),
        "epoch": ("save", config.save_epochs),
        "level": ("level", np.arange(1, config.network.K + 1)),
    }
    attrs = {
        _ATTR: json.dumps(config.to_dict(), sort_keys=True),
        "dysonsgd_format": _FORMAT,
        "dysonsgd_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": f"base entropy {config.seed}; seed k uses streams (k, purpose)",
        "references": "Park, Lucini & Aarts, arXiv:2509.01349 (2025)",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding


def check_store_path(path: str | os.PathLike) -> Path:
    """Raise ``ValueError`` unless ``path`` can be (or already is) a sweep store directory.

    Refuses a path that is a file, a directory that exists and is neither empty nor a Zarr
    store, and a parent directory that is missing or not writable. Creates nothing.

    Raises
    ------
    ValueError
        As above.
    StoreFullError
        The parent's file system is full (trying to create a directory there failed).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"store {p} is a file, not a Zarr store directory; choose another path")
    if p.is_dir():
        entries = os.listdir(p)
        if entries and "zarr.json" not in entries and ".zgroup" not in entries:
            raise ValueError(
                f"store {p} exists and is not a Zarr store (it holds other files); "
                "choose another path"
            )
        if not os.access(p, os.W_OK):
            raise ValueError(f"store {p} is not writable")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot create store {p}: directory {parent} does not exist")
    try:  # os.access says yes to root on read-only file systems: try it
        tempfile.TemporaryDirectory(dir=parent, prefix=".dysonsgd-check-").cleanup()
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise _disk_full(p, exc, "creating it", "nothing was written") from None
        raise ValueError(
            f"cannot create store {p}: {parent} is not writable ({exc.strerror})"
        ) from None
    return p


def read_store_config(path: str | os.PathLike) -> SweepConfig:
    """The configuration recorded in an existing store.

    Raises
    ------
    StoreError
        No store at ``path``, or one without a readable dysonsgd configuration.
    """
    import xarray as xr

    p = check_store_path(path)
    if not p.is_dir() or not os.listdir(p):
        raise StoreError(f"no sweep store at {p}; start one without --resume")
    try:
        ds = xr.open_zarr(p, consolidated=False)
        raw = ds.attrs[_ATTR]
    except Exception as exc:  # not zarr, or zarr without our attributes
        raise StoreError(f"{p} is not a dysonsgd sweep store ({type(exc).__name__})") from None
    try:
        return SweepConfig.from_dict(json.loads(raw))
    except Exception as exc:  # damaged attribute: not JSON, wrong keys or values
        raise StoreError(
            f"{p} is a damaged sweep store (its configuration attribute is unreadable: "
            f"{type(exc).__name__}); move it away and rerun the sweep"
        ) from None


def check_store(path: str | os.PathLike, config: SweepConfig | None = None) -> SweepConfig:
    """Check that ``path`` holds a whole sweep store (of ``config``, if given).

    Every array of the store's configuration must be present, with readable metadata, the
    right shape and dtype; the cells' data are not read (:func:`pending_cells` verifies them
    against their checksums, and a bad cell is recomputed, not refused). A store over batch
    sizes (:func:`batch_stores`) is checked child by child, each against its batch size's
    configuration.

    Parameters
    ----------
    path : path
        An existing store directory.
    config : SweepConfig, optional
        Refuse a store made with another configuration (the message lists the differences).

    Returns
    -------
    SweepConfig
        The configuration recorded in the store.

    Raises
    ------
    StoreError
        No store at ``path``; not a dysonsgd sweep store; another configuration; an array
        missing, unreadable or of the wrong shape or dtype (a damaged store: move it away).
    ValueError
        ``path`` is a file or another kind of directory.
    """
    p = Path(path)
    stored = read_store_config(p)
    if config is not None and stored != config:
        a, b = stored.to_dict(), config.to_dict()
        a = {**{k: v for k, v in a.items() if k != "network"}, **a["network"]}
        b = {**{k: v for k, v in b.items() if k != "network"}, **b["network"]}
        keys = [*a, *(k for k in b if k not in a)]  # batch_sizes is recorded only when set
        diffs = [
            f"{k}: {a.get(k)!r} in the store, {b.get(k)!r} requested"
            for k in keys
            if a.get(k) != b.get(k)
        ]
        raise StoreError(
            f"store {p} was made with a different configuration ("
            + "; ".join(diffs)
            + "); use another --store, or --resume to continue it with its own settings"
        )
    if stored.batch_sizes is not None:
        _check_children(p, stored)
        return stored
    want, _ = _template(stored)
    problems = []
    try:
        group = _open_group(p, "r")
        have = set(group.array_keys())
    except Exception as exc:
        raise StoreError(
            f"{p} is a damaged sweep store ({type(exc).__name__}); move it away and rerun the sweep"
        ) from None
    missing = sorted(set(want.variables) - have)
    if missing:
        problems.append(f"arrays {', '.join(missing)} are missing")
    for name in sorted(set(want.variables) & have):
        v = want.variables[name]
        try:
            arr = group[name]
            shape, dtype = arr.shape, arr.dtype
        except Exception as exc:
            problems.append(f"array {name} is unreadable ({type(exc).__name__})")
            continue
        if shape != v.shape or dtype != v.dtype:
            problems.append(
                f"array {name} has shape {shape} and dtype {dtype}, expected {v.shape} and "
                f"{v.dtype}"
            )
    if problems:
        raise StoreError(
            f"{p} is a damaged sweep store ({'; '.join(problems)}); move it away and rerun "
            "the sweep"
        )
    return stored


def open_store(path: str | os.PathLike, config: SweepConfig) -> Path:
    """Create the store for ``config`` at ``path``, or check that an existing one matches it.

    A new store is written into a hidden directory beside ``path`` and renamed into place
    when whole, so a failed creation (a full disk) leaves nothing at ``path``. An existing
    store is checked by :func:`check_store`. Either way the store's metadata end up
    consolidated (:func:`_consolidate`), so ``xarray.open_zarr(path)`` opens it without a
    warning.

    Raises
    ------
    StoreError
        The existing store was made with another configuration (the message lists the
        differences) or is damaged.
    ValueError
        The path is a file or unwritable.
    StoreFullError
        The disk filled up while the store was created (nothing is left behind).

    Notes
    -----
    With ``config.batch_sizes`` set, the store is a Zarr group recording ``config`` whose
    children ``b<|B|>/`` are ordinary stores, one per batch size, each of
    ``config.batch_size_configs()[|B|]`` (:func:`batch_stores`); the parent and all its
    children are created together, whole or not at all.
    """
    p = check_store_path(path)
    if p.is_dir() and os.listdir(p):
        check_store(p, config)
        for child in _children(p, config).values():
            if not _is_consolidated(child):  # a store made before its metadata were consolidated
                try:
                    _consolidate(child)
                except OSError as exc:
                    if exc.errno not in _DISK_FULL:
                        raise
                    raise _disk_full(
                        p, exc, "consolidating its metadata", "the store is unchanged"
                    ) from None
        return p
    tmp = p.parent / f".{p.name}.creating-{uuid.uuid4().hex[:12]}"
    try:
        tmp.mkdir()
        if config.batch_sizes is None:
            _create(tmp, config)
        else:  # the parent group, then one ordinary store per batch size inside it
            _create_parent(tmp, config)
            for b, child in config.batch_size_configs().items():
                _create(tmp / _child_name(b), child)
        os.replace(tmp, p)  # onto a missing or an empty directory: atomic
    except OSError as exc:
        full = exc.errno in _DISK_FULL and _disk_full(
            p, exc, "creating it", "nothing was left behind"
        )  # measured before the clean-up frees the space
        _remove_partial(tmp)
        if full:
            raise full from None
        raise
    except BaseException:
        _remove_partial(tmp)
        raise
    return p


def _create(path: Path, config: SweepConfig) -> None:
    """Write an ordinary store's arrays (not yet computed: NaN) and metadata at ``path``."""
    ds, encoding = _template(config)
    ds.to_zarr(path, mode="w", compute=False, encoding=encoding, consolidated=False)
    _consolidate(path)


# --------------------------------------------------------------------------- batch sizes


def _child_name(batch_size: int) -> str:
    """Name of the child store of batch size ``batch_size`` in a store over batch sizes."""
    return f"b{int(batch_size)}"


def _children(path: Path, config: SweepConfig) -> dict[int, Path]:
    """``{|B|: path}`` of the ordinary stores of ``config`` at ``path`` (itself, for one |B|)."""
    if config.batch_sizes is None:
        return {config.network.batch_size: Path(path)}
    return {b: Path(path) / _child_name(b) for b in config.batch_sizes}


def _create_parent(path: Path, config: SweepConfig) -> None:
    """The group of a store over batch sizes: its attributes record the whole configuration."""
    import zarr

    from dysonsgd import __version__

    group = zarr.open_group(str(path), mode="w")
    group.attrs.update(
        {
            _ATTR: json.dumps(config.to_dict(), sort_keys=True),
            "dysonsgd_format": _FORMAT,
            "dysonsgd_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "batch_sizes": list(config.batch_sizes),
            "children": {str(b): _child_name(b) for b in config.batch_sizes},
            "description": "one sweep store per batch size |B| (children b<|B|>), the same "
            "training set of n_samples inputs cut into n_samples/|B| batches, lr = T |B|",
            "references": "Park, Lucini & Aarts, arXiv:2509.01349 (2025)",
        }
    )


def _check_children(p: Path, config: SweepConfig) -> None:
    """Check every child of a store over batch sizes against its batch size's configuration."""
    for b, child in config.batch_size_configs().items():
        c = p / _child_name(b)
        if not c.is_dir():
            raise StoreError(
                f"{p} is a damaged sweep store (its store {c.name} of batch size {b} is "
                "missing); move it away and rerun the sweep"
            )
        try:
            check_store(c, child)
        except StoreError as exc:
            raise StoreError(
                f"{p} is a damaged sweep store (batch size {b}: {exc}); move it away and "
                "rerun the sweep"
            ) from None


def _batch_config(path) -> SweepConfig | None:
    """The configuration of the store over batch sizes at ``path``; None for anything else."""
    try:
        group = _open_group(path, "r")
        d = json.loads(group.attrs[_ATTR])
        if d.get("batch_sizes") is None:
            return None
        return SweepConfig.from_dict(d)
    except Exception:  # no store, an ordinary one, or damaged: the callers' own checks say
        return None


def batch_stores(path: str | os.PathLike) -> dict[int, Path]:
    """The ordinary sweep store of every batch size of a store over batch sizes.

    A sweep with :attr:`SweepConfig.batch_sizes` writes one Zarr group at ``path`` that
    records the whole configuration and holds one ordinary sweep store per batch size,
    ``path/b<|B|>`` (made with ``config.batch_size_configs()[|B|]``). Every function of
    this package that takes a store (:func:`load`, :func:`completed_cells`,
    :func:`write_cell`, ...) works on a child as on any store, and ``xarray.open_zarr`` opens
    it without dysonsgd.

    Parameters
    ----------
    path : path
        A store over batch sizes, or an ordinary store.

    Returns
    -------
    dict of int to Path
        ``{|B|: child store}`` in ascending |B|; for an ordinary store ``{batch_size: path}``
        (the network's batch size), so callers can iterate over both kinds alike.

    Raises
    ------
    StoreError
        No sweep store at ``path``, or a damaged one.
    """
    p = Path(path)
    return _children(p, read_store_config(p))


def _remove_partial(tmp: Path, timeout: float = 10.0) -> None:
    """Remove a store that was being created, after Zarr's writes into it have stopped.

    An interrupt (Ctrl-C) stops the main thread's wait, not the writes Zarr 3 has already
    handed to its I/O event loop: they go on, and a write recreates the directories a plain
    ``rmtree`` had just removed. So first wait (up to ``timeout``) for the loop's tasks, then
    remove the directory until it stays gone.
    """
    _drain_zarr_io(timeout)
    deadline = time.monotonic() + timeout
    while True:
        shutil.rmtree(tmp, ignore_errors=True)
        time.sleep(0.05)  # a write the loop's executor had already started
        if not tmp.exists() or time.monotonic() > deadline:
            return


def _drain_zarr_io(timeout: float) -> None:
    # Zarr 3 runs its I/O on one event loop in a thread of its own (zarr.core.sync); with
    # Zarr 2 or no loop yet there is nothing to wait for.
    try:
        import asyncio

        from zarr.core import sync as zsync
    except ImportError:
        return
    loop = zsync.loop[0] if isinstance(getattr(zsync, "loop", None), list) else None
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def others():
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    try:
        asyncio.run_coroutine_threadsafe(others(), loop).result(timeout + 1.0)
    except Exception:  # noqa: BLE001 - best effort: the removal loop still runs
        pass


def _checksum(arrays: dict) -> float:
    # The cell data in table order, as float64 bytes: the store's format (``_FORMAT``).
    h = hashlib.blake2b(digest_size=8)
    for v in CELL_DATA:
        h.update(v.name.encode())
        h.update(np.ascontiguousarray(arrays[v.name], dtype=np.float64).tobytes())
    # 48 bits: exactly representable in the float64 store.
    return float(int.from_bytes(h.digest()[:6], "little"))


def _open_group(path, mode: str):
    """The store's root group, its arrays' metadata read from their own files.

    Not from the consolidated copy in the root's metadata: a damaged or missing array must
    be seen as such (:func:`check_store`), and the cells are written through the arrays'
    own metadata.
    """
    import zarr

    if int(zarr.__version__.split(".")[0]) >= 3:
        return zarr.open_group(str(path), mode=mode, use_consolidated=False)
    return zarr.open_group(str(path), mode=mode)  # zarr 2 reads consolidated data only if asked


def _is_consolidated(path: Path) -> bool:
    """True if the store at ``path`` holds consolidated metadata (Zarr format 3 or 2)."""
    try:
        if (path / "zarr.json").is_file():
            meta = json.loads((path / "zarr.json").read_text())
            return meta.get("consolidated_metadata") is not None
        return (path / ".zmetadata").is_file()
    except (OSError, ValueError):
        return False


def _consolidate(path) -> None:
    """Copy every array's metadata into the store's root metadata (consolidated metadata).

    xarray and zarr then open the store with one metadata read, and ``xr.open_zarr(path)``
    without its "Failed to open Zarr store with consolidated metadata" warning. The arrays'
    metadata are fixed when the store is created (writing a cell writes chunks only), so
    the copy stays true for the store's life. Zarr writes the root metadata file atomically
    (a temporary file renamed into place).

    References
    ----------
    xarray docs, "Reading and writing files", section "Consolidated Metadata";
    zarr-python docs, user guide, "Consolidated metadata".
    """
    import warnings

    import zarr

    with warnings.catch_warnings():
        # zarr-python's note that consolidated metadata is not (yet) in the Zarr v3
        # specification; xarray writes and reads them by default all the same.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        zarr.consolidate_metadata(str(path))


def write_cell(path: str | os.PathLike, config: SweepConfig, i: int, j: int, result: dict) -> None:
    """Write cell (i, j): first its data region, then its checksum, then its completion mark.

    Each variable's cell is one chunk (chunks are 1 x 1 in (T, sigma_w)), written whole;
    the mark comes last, so a cell whose mark is set had all its chunks written before.
    """
    group = _open_group(path, "r+")
    for v in CELL_DATA:
        value = np.asarray(result[v.name], dtype=v.dtype)
        expected = _shape(v, config)[2:]
        if value.shape != expected:
            raise ValueError(f"cell result {v.name} has shape {value.shape}, expected {expected}")
        group[v.name][i, j] = value
    group["cell_checksum"][i, j] = _checksum(result)
    group["cell_done"][i, j] = 1.0


def _cell_ok(group, i: int, j: int) -> bool:
    try:
        if float(group["cell_done"][i, j]) != 1.0:
            return False
        stored = float(group["cell_checksum"][i, j])
        arrays = {v.name: np.asarray(group[v.name][i, j]) for v in CELL_DATA}
    except Exception:  # an unreadable (cut short, overwritten) chunk: recompute the cell
        return False
    if any(np.isnan(a).any() for a in arrays.values()):
        return False
    return stored == _checksum(arrays)


def completed_cells(path: str | os.PathLike) -> np.ndarray:
    """Boolean map (n_T, n_sigma) of the cells whose data are complete and verified.

    For a store over batch sizes (:func:`batch_stores`): shape (n_batch_sizes, n_T,
    n_sigma), the maps of its children in ascending |B|.
    """
    parent = _batch_config(path)
    if parent is not None:
        return np.stack([completed_cells(c) for c in _children(Path(path), parent).values()])
    group = _open_group(path, "r")
    try:
        done = np.asarray(group["cell_done"][...])
    except Exception:  # a damaged mark chunk: check cell by cell
        done = np.ones(group["cell_done"].shape)
    out = np.zeros(done.shape, dtype=bool)
    for i, j in zip(*np.nonzero(done == 1.0), strict=True):
        out[i, j] = _cell_ok(group, int(i), int(j))
    return out


def pending_cells(path: str | os.PathLike) -> list[tuple[int, int]] | list[tuple[int, int, int]]:
    """Cells (i, j) still to compute: no mark, or data that fail verification.

    For a store over batch sizes (:func:`batch_stores`): ``(batch_size, i, j)`` of every
    child's pending cells, in ascending |B|.
    """
    parent = _batch_config(path)
    if parent is not None:
        return [
            (b, i, j) for b, c in _children(Path(path), parent).items() for i, j in pending_cells(c)
        ]
    done = completed_cells(path)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(~done), strict=True)]


def load(path: str | os.PathLike):
    """Open a sweep store as an xarray Dataset (loaded into memory; cells not yet done are NaN).

    Raises
    ------
    ValueError
        If ``path`` is not a dysonsgd sweep store, or is a store over batch sizes (load
        each of its :func:`batch_stores`).
    """
    import xarray as xr

    config = read_store_config(path)
    if config.batch_sizes is not None:
        raise StoreError(
            f"{path} is a sweep over batch sizes {', '.join(map(str, config.batch_sizes))}: "
            "open each batch size's store, "
            + ", ".join(str(c) for c in _children(Path(path), config).values())
            + " (dysonsgd.sweep.batch_stores)"
        )
    return xr.open_zarr(path, consolidated=False, chunks=None).load()

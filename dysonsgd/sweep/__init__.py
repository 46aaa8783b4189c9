"""Phase-diagram sweeps over (T, sigma_W) cells on Dask, with a resumable Zarr result store.

A sweep trains every cell of a grid of temperatures ``T = lr / |B|`` and initial widths
``sigma_W`` (paper section 2), computes the observables of the paper's Figs 2-9 and the Langevin
criterion of its section 5 for every seed, and writes each finished cell into an xarray
Dataset kept in a Zarr store.

The pieces:

- :class:`SweepConfig` -- the grid, the network, epochs, seeds: everything that determines
  the numbers. It is written into the store and a store made with another configuration is
  refused.
- :func:`compute_cell` -- the task: one cell's seeds, trained with the numba engine, and
  their observables. Pure: the same configuration and cell give bit-identical arrays on any
  worker.
- :func:`open_store` / :func:`check_store` / :func:`pending_cells` -- create a store (whole
  or not at all: it is built beside its path and renamed into place), or check that an
  existing one holds every array of its configuration; list the cells still to run. A cell
  counts as done only when its completion mark is set *and* a checksum of its data, written
  with the mark after the data, matches what is read back, so a cell whose chunks were cut
  short or damaged is recomputed.
- :func:`run_sweep` -- the driver: submits the pending cells to a Dask cluster (an
  in-process ``LocalCluster`` by default, an existing scheduler, or a SLURM/PBS cluster through
  ``dask-jobqueue``), and writes each result as it arrives. The driver process is the only
  writer; a cell's chunks are written first (each chunk file atomically, by Zarr) and only
  then its checksum and mark, so a run killed at any moment leaves a store that resumes
  correctly. A full disk stops the run with :class:`StoreFullError` (the cells already
  marked are complete and kept); cells whose task failed (an exception, or workers killed
  while running it) are reported together by :class:`CellsFailedError` after every other
  cell is written.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), Figs 1-9.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import positive_int as _positive_int
from dysonsgd.model import NetworkConfig

#: Named grids. ``paper``: the paper's grid, eps in 2^-3..2^8 with |B| = 4 and sigma_W in
#: 2^-3..2^8. ``small``: three temperatures x four widths that hold the three reference
#: points of paper Fig 6 and a column on each side of the disorder line 1/sigma_W = sqrt 2.
GRIDS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "paper": (
        tuple(2.0**k for k in range(-5, 7)),
        tuple(2.0**k for k in range(-3, 9)),
    ),
    "small": (
        (2.0**-5, 2.0**-1, 2.0**2),
        (2.0**-3, 2.0**-1, 2.0**1, 2.0**8),
    ),
}

#: Save points of the paper's records (epoch 0 and every epochs/20).
SAVE_POINTS = 21

#: Estimators of the criterion's fluctuation matrix (docs/theory-network.md).
ESTIMATORS: tuple[str, ...] = ("exact", "paper")

_ATTR = "dysonsgd_sweep"
_FORMAT = 1


def _positive_values(name: str, values) -> tuple[float, ...]:
    try:
        arr = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of positive numbers, got {values!r}") from None
    if len(arr) == 0:
        raise ValueError(f"{name} is empty; give at least one positive value")
    bad = [v for v in arr if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"{name} must hold positive finite numbers, got {bad[0]!r}")
    if len(set(arr)) != len(arr):
        raise ValueError(f"{name} holds a value twice ({values!r}); list each value once")
    return tuple(sorted(arr))


@dataclass(frozen=True)
class SweepConfig:
    """Everything that determines a sweep's numbers.

    Parameters
    ----------
    T_values : sequence of float
        Temperatures ``T = lr / batch_size`` (sorted ascending; each > 0).
    sigma_values : sequence of float
        Initial widths sigma_W (sorted ascending; each > 0). Disorder is 1/sigma_W.
    epochs : int
        Epochs per seed; at least ``save_points - 1``.
    n_seeds : int
        Seeds per cell (the paper: 10). Seed k draws the same network and data in every cell;
        cells differ only in (T, sigma_W).
    seed : int
        Base entropy of the sweep (:func:`dysonsgd._seeding.base_entropy`).
    network : NetworkConfig
        Architecture and data protocol (paper values by default; ``n_batches`` can be cut
        for quick sweeps).
    save_points : int, optional
        Evenly spaced records from epoch 0 to ``epochs``. Default: the paper's 21, or every
        epoch for runs shorter than 20 epochs (:func:`dysonsgd.sgd.api.default_save_points`).
    engine : {"numba", "numpy"}
        SGD backend; both follow the reference protocol.
    """

    T_values: tuple[float, ...]
    sigma_values: tuple[float, ...]
    epochs: int = 1000
    n_seeds: int = 10
    seed: int = 0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    save_points: int | None = None
    engine: str = "numba"

    def __post_init__(self) -> None:
        if self.save_points is None:
            from dysonsgd.sgd.api import default_save_points

            object.__setattr__(self, "save_points", default_save_points(self.epochs))
        object.__setattr__(self, "T_values", _positive_values("T values", self.T_values))
        object.__setattr__(
            self, "sigma_values", _positive_values("sigma_W values", self.sigma_values)
        )
        _positive_int("epochs", self.epochs)
        _positive_int("n_seeds", self.n_seeds)
        _positive_int("save_points", self.save_points)
        if self.save_points < 2:
            raise ValueError(f"save_points must be at least 2, got {self.save_points}")
        if self.epochs < self.save_points - 1:
            raise ValueError(
                f"epochs={self.epochs} is too few for {self.save_points} save points (epoch 0 "
                f"and every epochs/{self.save_points - 1}): use at least "
                f"{self.save_points - 1} epochs"
            )
        object.__setattr__(self, "seed", _seeding.base_entropy(self.seed))
        if not isinstance(self.network, NetworkConfig):
            raise ValueError(f"network must be a NetworkConfig, got {type(self.network).__name__}")
        if self.engine not in ("numba", "numpy"):
            raise ValueError(f"engine must be 'numba' or 'numpy', got {self.engine!r}")

    @classmethod
    def from_grid(cls, grid: str, **kwargs) -> SweepConfig:
        """A sweep over a named grid of :data:`GRIDS` (``paper`` or ``small``)."""
        if grid not in GRIDS:
            raise ValueError(f"grid must be one of {', '.join(GRIDS)}, got {grid!r}")
        T_values, sigma_values = GRIDS[grid]
        return cls(T_values=T_values, sigma_values=sigma_values, **kwargs)

    @property
    def shape(self) -> tuple[int, int]:
        """(number of temperatures, number of widths)."""
        return len(self.T_values), len(self.sigma_values)

    @property
    def n_cells(self) -> int:
        """Number of (T, sigma_W) cells."""
        return len(self.T_values) * len(self.sigma_values)

    @property
    def save_epochs(self) -> np.ndarray:
        """Save epochs, shape (save_points,)."""
        from dysonsgd.sgd import save_schedule

        return save_schedule(self.epochs, self.save_points)

    @property
    def sgd_steps(self) -> int:
        """SGD steps of the whole sweep (cells x seeds x epochs x batches)."""
        return self.n_cells * self.n_seeds * self.epochs * self.network.n_batches

    def to_dict(self) -> dict:
        """JSON-serialisable form (what the store records and compares)."""
        return {
            "T_values": list(self.T_values),
            "sigma_values": list(self.sigma_values),
            "epochs": self.epochs,
            "n_seeds": self.n_seeds,
            "seed": self.seed,
            "network": self.network.to_dict(),
            "save_points": self.save_points,
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["network"] = NetworkConfig(**d["network"])
        return cls(**d)

    def default_store_name(self) -> str:
        """A store name derived from the grid: ``sweep-<grid>-e<epochs>-s<seeds>-<hash>.zarr``."""
        for name, (tv, sv) in GRIDS.items():
            if self.T_values == tv and self.sigma_values == sv:
                grid = name
                break
        else:
            grid = f"{len(self.T_values)}x{len(self.sigma_values)}"
        h = hashlib.blake2b(json.dumps(self.to_dict(), sort_keys=True).encode(), digest_size=4)
        return f"sweep-{grid}-e{self.epochs}-s{self.n_seeds}-{h.hexdigest()}.zarr"


# --------------------------------------------------------------------------- the criterion


def criterion_delta(sigma_w: float, config: NetworkConfig) -> float:
    """Spacing of an initial Marchenko-Pastur spectrum, ``4 sigma_W^2 / (sqrt(r) (K - 1))``.

    See :func:`dysonsgd.phases.mp_spacing` (paper section 5).
    """
    from dysonsgd.phases import mp_spacing

    return mp_spacing(sigma_w, config.K, config.L)


# --------------------------------------------------------------------------- the cell task

#: Per-seed scalar variables of a cell (dims T, sigma_w, seed).
SEED_VARS: tuple[str, ...] = (
    "final_loss",
    "test_loss",
    "grad_norm",
    "overlap_G",
    "alignment",
    "alignment_per_sample",
    "diverged",
    "diverged_step",
    "a_rms",
    *(f"{q}_{e}" for e in ESTIMATORS for q in ("S", "N", "ordered", "Tc")),
)


def compute_cell(config: SweepConfig, i: int, j: int, threads: int | None = None) -> dict:
    """Train one cell's seeds and measure everything the store holds for it.

    Parameters
    ----------
    config : SweepConfig
    i, j : int
        Indices of the cell's temperature and width in ``config.T_values`` and
        ``config.sigma_values``.
    threads : int, optional
        numba threads for the engine (1 on Dask workers that run one cell each).

    Returns
    -------
    dict of ndarrays
        Per seed (shape (n_seeds,)): the names of :data:`SEED_VARS`; ``loss`` (n_seeds,
        n_saves), ``eigenvalues`` (n_seeds, n_saves, K), ``teacher_eigenvalues`` (n_seeds,
        K), ``W_final`` (n_seeds, K, L); ``spacing_growth_rate`` (a float, per epoch); and
        ``compute_seconds``.

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
    lr = T * net.batch_size
    result = train(
        net,
        sigma_w=sigma_w,
        lr=lr,
        epochs=config.epochs,
        n_seeds=config.n_seeds,
        seed=config.seed,
        engine=config.engine,
        save_points=config.save_points,
        threads=threads,
    )
    records = result.records
    instances = result.instances()
    obs = summarize(result)
    out: dict = {name: obs[name] for name in SEED_VARS[:6]}
    out["diverged"] = records.diverged.astype(np.float64)
    out["diverged_step"] = records.diverged_step.astype(np.float64)
    out["a_rms"] = np.array([np.sqrt(np.mean(x.a_train**2)) for x in instances])
    for e in ESTIMATORS:
        crit = langevin_criterion(records.W[:, -1], instances, temperature=T, estimator=e)
        out[f"S_{e}"] = crit.signal
        out[f"N_{e}"] = crit.noise
        out[f"ordered_{e}"] = crit.ordered.astype(np.float64)
        # T_c = S Delta / N; +inf where N <= 0 and S >= 0, -inf where N <= 0 and S < 0.
        out[f"Tc_{e}"] = crit.critical_temperature
    out["loss"] = records.loss
    out["eigenvalues"] = obs["eigenvalues"]
    out["teacher_eigenvalues"] = obs["teacher_eigenvalues"]
    out["W_final"] = records.W[:, -1]
    out["spacing_growth_rate"] = float(obs["spacing_growth_rate"])
    out = {k: np.array(v, dtype=np.float64, order="C") for k, v in out.items()}
    out["compute_seconds"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- the store

_DIMS = {
    "seed": ("T", "sigma_w", "seed"),
    "loss": ("T", "sigma_w", "seed", "save"),
    "eigenvalues": ("T", "sigma_w", "seed", "save", "level"),
    "teacher_eigenvalues": ("T", "sigma_w", "seed", "level"),
    "W_final": ("T", "sigma_w", "seed", "level", "col"),
    "cell": ("T", "sigma_w"),
}


def _var_dims(name: str) -> tuple[str, ...]:
    if name in SEED_VARS:
        return _DIMS["seed"]
    if name in ("spacing_growth_rate", "compute_seconds", "cell_done", "cell_checksum"):
        return _DIMS["cell"]
    return _DIMS[name]


_CELL_VARS = (
    *SEED_VARS,
    "loss",
    "eigenvalues",
    "teacher_eigenvalues",
    "W_final",
    "spacing_growth_rate",
)
_MARKS = ("cell_done", "cell_checksum")

_ATTRS = {
    "final_loss": "epoch-mean training loss at the last save point",
    "test_loss": "mean_n |y_teacher - y_student|^2 on the probe set (docs/model.md)",
    "grad_norm": "Frobenius norm of the epoch-mean gradient at the last save point",
    "overlap_G": "G(t_f, 0) = (1/(n_test K)) sum f_init f_final",
    "alignment": "cosine of h = Z^T y_teacher and f (flattened)",
    "alignment_per_sample": "alignment / n_test (the paper's figures)",
    "diverged": "1 if a batch loss exceeded the threshold",
    "diverged_step": "SGD step of divergence, -1 if none",
    "a_rms": "rms of the first-layer features a = phi(M x) (actual width of z is sigma_W a_rms)",
    "loss": "epoch-mean training loss at the save points",
    "eigenvalues": "eigenvalues of X = W W^T, descending, at the save points",
    "teacher_eigenvalues": "eigenvalues of X* = W* W*^T, descending",
    "W_final": "the student's matrix at the last save point",
    "spacing_growth_rate": "lambda = log(ubar(t_f)/ubar(0)) / t_f per epoch, seed-averaged ubar",
    "cell_done": "1 once the cell's data and checksum are written",
    "cell_checksum": "48-bit checksum of the cell's data (verified on resume)",
    "criterion_delta": "Delta = 4 sigma_W^2 / (sqrt(r) (K-1)) (paper section 5)",
}
for _e in ESTIMATORS:
    _ATTRS[f"S_{_e}"] = f"signal |Kt_11| - |Kt_KK| ({_e} estimator)"
    _ATTRS[f"N_{_e}"] = f"Coulomb noise on the extreme pair ({_e} estimator)"
    _ATTRS[f"ordered_{_e}"] = f"1 if S >= T N / Delta ({_e} estimator)"
    _ATTRS[f"Tc_{_e}"] = f"T_c = S Delta / N ({_e} estimator)"


def _shape_of(name: str, config: SweepConfig) -> tuple[int, ...]:
    n = config.network
    sizes = {
        "T": len(config.T_values),
        "sigma_w": len(config.sigma_values),
        "seed": config.n_seeds,
        "save": config.save_points,
        "level": n.K,
        "col": n.L,
    }
    return tuple(sizes[d] for d in _var_dims(name))


def _template(config: SweepConfig):
    import dask.array as da
    import xarray as xr

    from dysonsgd import __version__

    data_vars = {}
    encoding = {}
    for name in (*_CELL_VARS, *_MARKS):
        shape = _shape_of(name, config)
        chunks = (1, 1, *shape[2:])
        data_vars[name] = xr.Variable(
            _var_dims(name),
            da.full(shape, np.nan, chunks=chunks, dtype=np.float64),
            attrs={"description": _ATTRS[name]},
        )
        encoding[name] = {"chunks": chunks, "fill_value": np.nan}
    delta = [criterion_delta(s, config.network) for s in config.sigma_values]
    data_vars["criterion_delta"] = xr.Variable(
        ("sigma_w",), np.array(delta), attrs={"description": _ATTRS["criterion_delta"]}
    )
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


class StoreError(ValueError):
    """A sweep store that cannot be used: not a sweep store, damaged, or incomplete.

    A ``ValueError``: the fix is the caller's (another path, or moving the store away). The
    message names the store and the fix.
    """


class StoreFullError(OSError):
    """The disk holding a store ran out of space (or quota) while the sweep wrote to it.

    ``errno`` is the original ``ENOSPC``/``EDQUOT``; ``store`` the store's path. The cells
    marked complete before the failure are complete and kept; a store whose creation failed
    is removed. Free space and run the sweep again to continue.
    """

    def __init__(self, store: Path, code: int, message: str) -> None:
        super().__init__(code, message)
        self.store = store
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return type(self), (self.store, self.errno, self.message)


class CellsFailedError(RuntimeError):
    """Some cells' tasks failed (an exception in the task, or workers killed while running it).

    Raised by :func:`run_sweep` after every other cell has been written. ``failures`` maps
    each failed cell (i, j) to its exception. The failed cells stay pending: running the
    sweep again retries them.
    """

    def __init__(self, store: Path, failures: dict, n_done: int, n_cells: int, config) -> None:
        self.store = store
        self.failures = failures
        (i, j), exc = next(iter(failures.items()))
        first = str(exc).splitlines()[0].rstrip(".") if str(exc) else ""
        n = len(failures)
        super().__init__(
            f"{n} cell{'s' if n > 1 else ''} of the sweep in {store} failed, first "
            f"T={config.T_values[i]:g}, sigma_W={config.sigma_values[j]:g}: "
            f"{type(exc).__name__}: {first}; {n_done} of {n_cells} cells are complete and "
            "kept; run the sweep again to retry the failed cells"
        )


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _mount_point(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def _disk_full(p: Path, exc: OSError, doing: str, kept: str) -> StoreFullError:
    """A StoreFullError naming the store, its file system and its free space."""
    mount = _mount_point(p)
    try:
        free = shutil.disk_usage(mount).free
        free_s = f"{free / 2**20:.3g} MiB free"
    except OSError:
        free_s = "free space unknown"
    what = "no space left" if exc.errno == errno.ENOSPC else "disk quota exceeded"
    return StoreFullError(
        p,
        exc.errno,
        f"{what} on the disk holding store {p} (file system {mount}, {free_s}) while "
        f"{doing}; {kept}",
    )


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
    against their checksums, and a bad cell is recomputed, not refused).

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
        diffs = [f"{k}: {a[k]!r} in the store, {b[k]!r} requested" for k in a if a[k] != b[k]]
        raise StoreError(
            f"store {p} was made with a different configuration ("
            + "; ".join(diffs)
            + "); use another --store, or --resume to continue it with its own settings"
        )
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
    """
    p = check_store_path(path)
    if p.is_dir() and os.listdir(p):
        check_store(p, config)
        if not _is_consolidated(p):  # a store made before its metadata were consolidated
            try:
                _consolidate(p)
            except OSError as exc:
                if exc.errno not in _DISK_FULL:
                    raise
                raise _disk_full(
                    p, exc, "consolidating its metadata", "the store is unchanged"
                ) from None
        return p
    ds, encoding = _template(config)
    tmp = p.parent / f".{p.name}.creating-{uuid.uuid4().hex[:12]}"
    try:
        tmp.mkdir()
        ds.to_zarr(tmp, mode="w", compute=False, encoding=encoding, consolidated=False)
        _consolidate(tmp)
        os.replace(tmp, p)  # onto a missing or an empty directory: atomic
    except OSError as exc:
        full = exc.errno in _DISK_FULL and _disk_full(
            p, exc, "creating it", "nothing was left behind"
        )  # measured before the clean-up frees the space
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise full from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return p


def _checksum(arrays: dict) -> float:
    h = hashlib.blake2b(digest_size=8)
    for name in _CELL_VARS:
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name], dtype=np.float64).tobytes())
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
    for name in _CELL_VARS:
        value = np.asarray(result[name], dtype=np.float64)
        expected = _shape_of(name, config)[2:]
        if value.shape != expected:
            raise ValueError(f"cell result {name} has shape {value.shape}, expected {expected}")
        group[name][i, j] = value
    group["cell_checksum"][i, j] = _checksum(result)
    group["cell_done"][i, j] = 1.0


def _cell_ok(group, i: int, j: int) -> bool:
    try:
        if float(group["cell_done"][i, j]) != 1.0:
            return False
        stored = float(group["cell_checksum"][i, j])
        arrays = {name: np.asarray(group[name][i, j]) for name in _CELL_VARS}
    except Exception:  # an unreadable (cut short, overwritten) chunk: recompute the cell
        return False
    if any(np.isnan(arrays[n]).any() for n in _CELL_VARS):
        return False
    return stored == _checksum(arrays)


def completed_cells(path: str | os.PathLike) -> np.ndarray:
    """Boolean map (n_T, n_sigma) of the cells whose data are complete and verified."""
    group = _open_group(path, "r")
    try:
        done = np.asarray(group["cell_done"][...])
    except Exception:  # a damaged mark chunk: check cell by cell
        done = np.ones(group["cell_done"].shape)
    out = np.zeros(done.shape, dtype=bool)
    for i, j in zip(*np.nonzero(done == 1.0), strict=True):
        out[i, j] = _cell_ok(group, int(i), int(j))
    return out


def pending_cells(path: str | os.PathLike) -> list[tuple[int, int]]:
    """Cells (i, j) still to compute: no mark, or data that fail verification."""
    done = completed_cells(path)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(~done), strict=True)]


def load(path: str | os.PathLike):
    """Open a sweep store as an xarray Dataset (loaded into memory; cells not yet done are NaN).

    Raises
    ------
    ValueError
        If ``path`` is not a dysonsgd sweep store.
    """
    import xarray as xr

    read_store_config(path)
    return xr.open_zarr(path, consolidated=False, chunks=None).load()


# --------------------------------------------------------------------------- execution

#: Extra package needed by ``cluster="slurm"`` / ``"pbs"``.
CLUSTER_EXTRA = "pip install 'dysonsgd[cluster]'  (or: pip install dask-jobqueue)"
CLUSTERS: tuple[str, ...] = ("slurm", "pbs")


def make_cluster(kind: str, **options):
    """A dask-jobqueue cluster (``SLURMCluster`` or ``PBSCluster``), not yet scaled.

    Parameters
    ----------
    kind : {"slurm", "pbs"}
    **options
        Passed to the jobqueue class (``cores``, ``memory``, ``walltime``, ``queue``,
        ``account``, ...). ``processes=cores`` and one thread per process are the defaults,
        as the sweep's tasks are single-threaded cells.

    Raises
    ------
    ValueError
        Unknown kind, or dask-jobqueue is not installed (the message names the extra).
    """
    if kind not in CLUSTERS:
        raise ValueError(f"cluster must be one of {', '.join(CLUSTERS)}, got {kind!r}")
    try:
        import dask_jobqueue
    except ImportError:
        raise ValueError(f"--cluster {kind} needs dask-jobqueue: {CLUSTER_EXTRA}") from None
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    opts = {"cores": 1, "memory": "2GB", "processes": None, **options}
    if opts["processes"] is None:
        opts["processes"] = opts["cores"]
    return cls(**opts)


def connect(
    scheduler: str | None = None,
    *,
    cluster: str | None = None,
    workers: int | None = None,
    timeout: float = 3.0,
    cluster_options: dict | None = None,
):
    """A Dask client: an existing scheduler, a jobqueue cluster, or a new LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, ``tcp://HOST:PORT``; ``"inprocess"`` computes the
        cells one after another in this process, without Dask (debugging, profiling).
    cluster : {"slurm", "pbs"}, optional
        Start workers through dask-jobqueue (``workers`` jobs' worth of processes).
    workers : int, optional
        Worker processes of the LocalCluster (default: the machine's cores) or of the
        jobqueue cluster (default 1).
    timeout : float
        Seconds to wait for an existing scheduler.

    Returns
    -------
    (client, close) : distributed.Client and a function that shuts down what was started.

    Raises
    ------
    ValueError
        Unreachable scheduler (naming the address), bad arguments, missing dask-jobqueue.
    """
    from distributed import Client, LocalCluster

    if scheduler == "inprocess":
        if cluster is not None or workers is not None:
            raise ValueError("--scheduler inprocess runs in this process: no --cluster/--workers")
        return "inprocess", lambda: None
    if scheduler is not None and cluster is not None:
        raise ValueError("give at most one of --scheduler and --cluster")
    if workers is not None:
        _positive_int("workers", workers)
    if scheduler is not None:
        if workers is not None:
            raise ValueError("--workers sizes a cluster this command starts; not with --scheduler")
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({reason})"
            ) from None
        return client, client.close
    if cluster is not None:
        jq = make_cluster(cluster, **(cluster_options or {}))
        jq.scale(jobs=workers or 1)
        client = Client(jq)

        def close_jq():
            client.close()
            jq.close()

        return client, close_jq
    n = workers or os.cpu_count() or 1
    lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)

    def close_local():
        client.close()
        lc.close()

    return client, close_local


@dataclass
class SweepReport:
    """What a call of :func:`run_sweep` did.

    Attributes
    ----------
    store : Path
    n_cells : int
        Cells of the grid.
    already_done : int
        Cells found complete (verified) at the start.
    computed : list of (i, j)
        Cells computed by this call, in completion order.
    seconds : float
        Wall time of the call.
    compute_seconds : float
        Sum of the cells' compute time inside their tasks.
    """

    store: Path
    n_cells: int
    already_done: int
    computed: list[tuple[int, int]]
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
) -> SweepReport:
    """Run (or continue) a sweep, writing every finished cell into ``store``.

    Parameters
    ----------
    config : SweepConfig
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
        Called after cell (i, j) is written and marked.
    threads : int, optional
        numba threads per cell with ``client="inprocess"`` (default: all); Dask workers
        always run one thread per cell.

    Returns
    -------
    SweepReport

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, Fig 1 (the grid).
    """
    t0 = time.perf_counter()
    path = check_store_path(store)
    close = None
    if client is None:
        client, close = connect(
            scheduler, cluster=cluster, workers=workers, cluster_options=cluster_options
        )
    try:
        path = open_store(path, config)
        todo = pending_cells(path)
        n_done = config.n_cells - len(todo)
        if progress is not None:
            progress(n_done, config.n_cells)
        computed: list[tuple[int, int]] = []
        failures: dict[tuple[int, int], BaseException] = {}
        compute_seconds = 0.0

        def finish(i, j, result):
            nonlocal n_done, compute_seconds
            try:
                write_cell(path, config, i, j, result)
            except OSError as exc:
                if exc.errno not in _DISK_FULL:
                    raise
                raise _disk_full(
                    path,
                    exc,
                    f"writing cell T={config.T_values[i]:g}, sigma_W={config.sigma_values[j]:g}",
                    f"the {n_done} of {config.n_cells} cells marked complete are whole and "
                    "kept; free space and run the sweep again (dysonsgd phase-diagram --resume "
                    f"--store {path}) to compute the other {config.n_cells - n_done}",
                ) from None
            computed.append((i, j))
            compute_seconds += float(result["compute_seconds"])
            n_done += 1
            if on_cell is not None:
                on_cell(i, j, result)
            if progress is not None:
                progress(n_done, config.n_cells)

        if isinstance(client, str):
            if client != "inprocess":
                raise ValueError(
                    f"client must be a distributed.Client or 'inprocess', got {client!r}"
                )
            for i, j in todo:
                try:
                    result = compute_cell(config, i, j, threads)
                except Exception as exc:  # the other cells still run; reported at the end
                    failures[(i, j)] = exc
                    continue
                finish(i, j, result)
        elif todo:
            from distributed import as_completed

            token = hashlib.blake2b(
                json.dumps(config.to_dict(), sort_keys=True).encode(), digest_size=6
            ).hexdigest()
            cells, futures = {}, []
            for i, j in todo:
                fut = client.submit(
                    compute_cell, config, i, j, 1, key=f"cell-{token}-{i}-{j}", pure=False
                )
                cells[fut.key] = (i, j)
                futures.append(fut)
            try:
                for fut in as_completed(futures):
                    i, j = cells[fut.key]
                    try:
                        # an exception of the task, or KilledWorker: the workers running it
                        # died (allowed-failures times) -- a crash or memory exhausted
                        result = fut.result()
                    except Exception as exc:
                        failures[(i, j)] = exc
                        continue
                    finally:
                        fut.release()
                    finish(i, j, result)
            except BaseException:
                client.cancel(futures)  # the client may be the caller's: leave it idle
                raise
        if failures:
            first = next(iter(failures.values()))
            raise CellsFailedError(path, failures, n_done, config.n_cells, config) from first
    finally:
        if close is not None:
            close()
    return SweepReport(
        store=path,
        n_cells=config.n_cells,
        already_done=config.n_cells - len(todo),
        computed=computed,
        seconds=time.perf_counter() - t0,
        compute_seconds=compute_seconds,
    )

"""The configuration of a phase-diagram sweep: its grid, network, epochs and seeds.

:class:`SweepConfig` holds everything that determines a sweep's numbers; it is written into
the store (:mod:`dysonsgd.sweep.store`) and a store made with another configuration is refused.
:data:`GRIDS` names the paper's grid and a small one (docs/phase-diagram.md).

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), Fig 1 (the grid).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import positive_int as _positive_int
from dysonsgd.model import NetworkConfig
from dysonsgd.sgd.api import ENGINES as _TRAIN_ENGINES

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

#: Training engines a sweep can name: :func:`dysonsgd.sgd.train`'s own list (SGD with the
#: compiled engine or the numpy reference, or full-batch gradient descent ``gd`` at the same
#: step ``eps = T |B|``).
ENGINES: tuple[str, ...] = _TRAIN_ENGINES


def _batch_sizes(values, n_samples: int) -> tuple[int, ...]:
    """Batch sizes as a sorted tuple of distinct positive ints, each dividing ``n_samples``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"batch_sizes must be a list of positive integers, got {values!r}")
    out = []
    for b in values:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ValueError(f"batch sizes must be positive integers, got {b!r}")
        out.append(int(b))
    if not out:
        raise ValueError("batch_sizes is empty; give at least one batch size (or None)")
    if len(set(out)) != len(out):
        raise ValueError(f"batch sizes hold a value twice ({out}); list each batch size once")
    bad = [b for b in out if n_samples % b]
    if bad:
        raise ValueError(
            f"batch size {bad[0]} does not divide the training set of {n_samples} samples "
            f"(n_batches x batch_size of the network); the same training set must be cut into "
            f"whole batches at every batch size: use divisors of {n_samples}"
        )
    return tuple(sorted(out))


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
    engine : {"numba", "numpy", "gd"}
        Training engine (:data:`ENGINES`): ``numba`` and ``numpy`` run SGD, both following
        the reference protocol; ``gd`` runs full-batch gradient descent at the same learning
        rate ``eps = T |B|`` (where :func:`dysonsgd.sgd.train` offers it; cells then run
        without checkpoints).
    sampling : {"fixed", "shuffle", "iid"}
        Which samples each batch sees (:func:`dysonsgd.sgd.train`, docs/model.md):
        ``fixed`` (the paper's, the default), ``shuffle`` or ``iid``. Stores written before
        this field existed record no ``sampling``; they read as ``fixed``, which is what
        they ran.
    save_schedule : {"even", "paper"}
        When the saves fall (:func:`dysonsgd.sgd.save_schedule`): ``even`` (the default),
        epoch 0 and evenly spaced up to ``epochs``; ``paper``, the published runs' timing,
        epoch 0 and after epoch ``(k-1) epochs/(save_points-1) + 1`` (``epochs`` a multiple
        of ``save_points - 1``). Stores written before this field existed record none; they
        read as ``even``, which is what they ran.
    batch_sizes : tuple of int, optional
        Run the same (T, sigma_W) grid at each of these batch sizes |B| (sorted ascending,
        distinct, each dividing ``network.n_samples``), on the same training set of
        ``network.n_samples`` inputs: |B| = b runs ``n_samples / b`` batches per epoch at the
        learning rate ``eps = T b`` (:meth:`batch_size_configs`). ``None`` (the default): the
        network's own batch size, one ordinary store. Stores written before this field
        existed record none and read as ``None``.
    """

    T_values: tuple[float, ...]
    sigma_values: tuple[float, ...]
    epochs: int = 1000
    n_seeds: int = 10
    seed: int = 0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    save_points: int | None = None
    engine: str = "numba"
    # A plain class-level default (no factory): a SweepConfig pickled before this field
    # existed unpickles with it, "fixed".
    sampling: str = "fixed"
    # As sampling: a plain default, which older pickles and stores take.
    save_schedule: str = "even"
    # As sampling: a plain default (None, one batch size), which older pickles and stores take.
    batch_sizes: tuple[int, ...] | None = None

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
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        from dysonsgd.sgd.sampling import check_sampling

        check_sampling(self.sampling)
        if self.engine == "gd" and self.sampling != "fixed":
            raise ValueError(
                f"engine 'gd' (full-batch gradient descent) sees every sample at every step: "
                f"sampling={self.sampling!r} has no meaning there; drop it (or use 'fixed')"
            )
        from dysonsgd.sgd.api import save_schedule

        # an unknown schedule, or a paper schedule whose epochs are not a multiple of the gaps
        save_schedule(self.epochs, self.save_points, self.save_schedule)
        if self.batch_sizes is not None:
            object.__setattr__(
                self, "batch_sizes", _batch_sizes(self.batch_sizes, self.network.n_samples)
            )

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

        return save_schedule(self.epochs, self.save_points, self.save_schedule)

    @property
    def sgd_steps(self) -> int:
        """SGD steps of the whole sweep (cells x seeds x epochs x batches), summed over the
        batch sizes."""
        return sum(
            c.n_cells * c.n_seeds * c.epochs * c.network.n_batches
            for c in self.batch_size_configs().values()
        )

    def batch_size_configs(self) -> dict[int, SweepConfig]:
        """The ordinary sweep of each batch size: ``{|B|: SweepConfig}``.

        Each is this configuration with ``batch_sizes=None`` and the network cut into
        ``n_samples / |B|`` batches of ``|B|`` (the same training set of
        ``network.n_samples`` inputs; the learning rate of row i is ``T_i |B|``). Without
        ``batch_sizes``: ``{network.batch_size: self}``.

        Returns
        -------
        dict of int to SweepConfig, in ascending |B|
        """
        if self.batch_sizes is None:
            return {self.network.batch_size: self}
        n = self.network.n_samples
        return {
            b: replace(
                self,
                network=self.network.replace(batch_size=b, n_batches=n // b),
                batch_sizes=None,
            )
            for b in self.batch_sizes
        }

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
            "sampling": self.sampling,
            "save_schedule": self.save_schedule,
            # absent for one batch size: the records (and store names) of such sweeps stay
            # those from before the field existed
            **({} if self.batch_sizes is None else {"batch_sizes": list(self.batch_sizes)}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        """Inverse of :meth:`to_dict`; a dict without ``sampling`` (older stores) is ``fixed``,
        one without ``save_schedule`` is ``even``, one without ``batch_sizes`` is ``None``."""
        d = dict(d)
        d["network"] = NetworkConfig(**d["network"])
        if d.get("batch_sizes") is not None:
            d["batch_sizes"] = tuple(d["batch_sizes"])
        return cls(**d)

    def default_store_name(self) -> str:
        """A store name derived from the grid: ``sweep-<grid>-e<epochs>-s<seeds>-<hash>.zarr``,
        with ``-b<B1>-<B2>...`` before the hash for a sweep over batch sizes."""
        for name, (tv, sv) in GRIDS.items():
            if self.T_values == tv and self.sigma_values == sv:
                grid = name
                break
        else:
            grid = f"{len(self.T_values)}x{len(self.sigma_values)}"
        d = self.to_dict()
        # the names of fixed-order, evenly saved sweeps stay those from before these fields
        if d["sampling"] == "fixed":
            del d["sampling"]
        if d["save_schedule"] == "even":
            del d["save_schedule"]
        h = hashlib.blake2b(json.dumps(d, sort_keys=True).encode(), digest_size=4)
        b = "" if self.batch_sizes is None else "-b" + "-".join(map(str, self.batch_sizes))
        return f"sweep-{grid}-e{self.epochs}-s{self.n_seeds}{b}-{h.hexdigest()}.zarr"

"""The public entry point of SGD training: :func:`train` and its result :class:`SGDResult`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dysonsgd import _io, _seeding
from dysonsgd._validate import MAX_COUNT
from dysonsgd._validate import positive_float as _positive_float
from dysonsgd._validate import positive_int as _positive_int
from dysonsgd.model import Instance, NetworkConfig, check_sigma_w, make_instances
from dysonsgd.sgd.reference import Records
from dysonsgd.sgd.sampling import check_sampling, sample_streams

#: ``numpy`` (the reference SGD), ``numba`` (the compiled SGD, same records) and ``gd``
#: (full-batch gradient descent at the same step, same records; :func:`train`).
ENGINES: tuple[str, ...] = ("numpy", "numba", "gd")

#: Engines that write and resume checkpoints (:func:`train`'s ``checkpoint``).
CHECKPOINT_ENGINES: tuple[str, ...] = ("numba", "gd")


#: Save points of the paper's records: epoch 0 and every epochs/20 (arXiv:2509.01349, sec. 2).
PAPER_SAVE_POINTS = 21

#: Least wall time, in seconds, between two checkpoint writes of a run (:func:`train`'s
#: ``checkpoint_interval``): a write costs ~10-20 ms (mostly fsync), so checkpoints cost at
#: most ~0.4% of a run, and a kill loses at most this plus one save interval of work.
CHECKPOINT_INTERVAL = 5.0

#: Save schedules: ``even`` (epoch 0 and evenly spaced up to ``epochs``, the default) and
#: ``paper`` (the published runs' timing, see :func:`save_schedule`).
SAVE_SCHEDULES: tuple[str, ...] = ("even", "paper")


def default_save_points(epochs: int) -> int:
    """The save points of a run of ``epochs`` epochs: the paper's 21, or every epoch if fewer.

    ``min(21, epochs + 1)``: a short run saves every epoch instead of being refused.
    """
    return min(PAPER_SAVE_POINTS, _positive_int("epochs", epochs, MAX_COUNT) + 1)


def save_schedule(
    epochs: int, save_points: int | None = None, schedule: str = "even"
) -> np.ndarray:
    """The epochs after which a run saves its records (paper: 21 points).

    ``even`` (default): evenly spaced from 0 to ``epochs`` inclusive, so the last record is
    the network after the last epoch.

    ``paper``: the timing of the published runs, for exact reproduction. With
    ``P = save_points`` and ``E = epochs``, slot 0 is epoch 0 and slot ``k = 1 .. P-1`` is
    saved after epoch ``(k-1) E/(P-1) + 1``: the first flow point is the network after
    epoch 1 and the "final" one is that after epoch ``E - E/(P-1) + 1`` (95,001 of
    100,000 in the paper), not after epoch E. ``E`` must be a multiple of ``P - 1``. The
    run still trains all ``E`` epochs (the per-epoch loss covers them).

    Parameters
    ----------
    epochs : int
        From 1 to ``MAX_COUNT`` = 2**31 - 1.
    save_points : int, optional
        From 2 to ``epochs + 1``; by default :func:`default_save_points` (21, or
        ``epochs + 1`` for runs shorter than 20 epochs).
    schedule : {"even", "paper"}

    Returns
    -------
    ndarray of int64, shape (save_points,)
        Strictly increasing epochs, the first one 0.

    Raises
    ------
    ValueError
        If a count is not an integer in its range (``save_points < 2`` or ``save_points >
        epochs + 1``: the points would not be distinct epochs), the schedule is unknown, or
        the ``paper`` schedule's spacing ``epochs / (save_points - 1)`` is not an integer.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 2 (the records); the published
    runs' save timing: docs/theory-network.md, "The Langevin criterion".
    """
    if not isinstance(schedule, str) or schedule not in SAVE_SCHEDULES:
        raise ValueError(
            f"save schedule must be one of {', '.join(SAVE_SCHEDULES)}, got {schedule!r}"
        )
    epochs = _positive_int("epochs", epochs, MAX_COUNT)
    if save_points is None:
        save_points = default_save_points(epochs)
    save_points = _positive_int("save_points", save_points)
    if save_points < 2:
        raise ValueError(f"save_points must be at least 2 (start and end), got {save_points}")
    if save_points > epochs + 1:
        raise ValueError(
            f"save_points={save_points} needs at least {save_points - 1} epochs, got "
            f"epochs={epochs}; save_points must be from 2 to epochs + 1 = {epochs + 1} "
            "(or leave it unset)"
        )
    if schedule == "paper":
        gaps = save_points - 1
        if epochs % gaps:
            lo = max(epochs // gaps, 1) * gaps
            raise ValueError(
                f"the paper save schedule needs epochs to be a multiple of save_points - 1 = "
                f"{gaps} (saves after epochs (k-1) epochs/{gaps} + 1), got epochs={epochs}; "
                f"use epochs={lo} or {lo + gaps}, or the even schedule"
            )
        step = epochs // gaps
        return np.concatenate(([0], np.arange(gaps, dtype=np.int64) * step + 1)).astype(np.int64)
    return np.rint(np.linspace(0, epochs, save_points)).astype(np.int64)


_schedule = save_schedule  # train()'s save_schedule argument shadows the function's name


def learning_rate(
    temperature: float | None, lr: float | None, batch_size: int
) -> tuple[float, float]:
    """Resolve exactly one of ``temperature`` and ``lr`` into ``(lr, T)`` with T = lr/|B|."""
    if (temperature is None) == (lr is None):
        raise ValueError("give exactly one of temperature and lr (T = lr / batch_size)")
    if lr is None:
        T = _positive_float("temperature", temperature)
        return T * batch_size, T
    lr = _positive_float("lr", lr)
    return lr, lr / batch_size


@dataclass
class SGDResult:
    """An ensemble of SGD runs of the teacher-student network.

    Attributes
    ----------
    config : NetworkConfig
    sigma_w, lr : float
        Initial width and learning rate; ``temperature = lr / config.batch_size``.
    epochs : int
    seed : int
        Base entropy: seed k's network and sample indices come from it and k alone.
    engine : {"numpy", "numba", "gd"}
        ``gd``: full-batch gradient descent at step ``lr`` (:func:`train`); ``temperature``
        is then the nominal ``lr / batch_size`` of the SGD run it is compared with.
    sampling : {"fixed", "shuffle", "iid"}
        Which samples each batch sees (:mod:`dysonsgd.sgd.sampling`); ``shuffle`` is
        the property ``sampling == "shuffle"``.
    save_epochs : ndarray of int64, shape (n_saves,)
    records : Records
        W, grad, loss at save points, the per-epoch loss and divergence flags.
    W_teacher : ndarray of float64, shape (n_seeds, K, L)
    M : ndarray of float64, shape (n_seeds, L, d_in)
    Z : ndarray of float64, shape (n_seeds, d_out, K)
    """

    config: NetworkConfig
    sigma_w: float
    lr: float
    epochs: int
    seed: int
    engine: str
    sampling: str
    save_epochs: np.ndarray
    records: Records
    W_teacher: np.ndarray
    M: np.ndarray
    Z: np.ndarray
    _instances: list[Instance] | None = field(default=None, repr=False)

    @property
    def shuffle(self) -> bool:
        """True for ``sampling == "shuffle"`` (the flag of results before sampling modes)."""
        return self.sampling == "shuffle"

    @property
    def temperature(self) -> float:
        """T = lr / |B|."""
        return self.lr / self.config.batch_size

    @property
    def n_seeds(self) -> int:
        """Number of seeds in the ensemble."""
        return self.records.W.shape[0]

    @property
    def W(self) -> np.ndarray:
        """Student's matrices, shape (n_seeds, n_saves, K, L)."""
        return self.records.W

    @property
    def loss(self) -> np.ndarray:
        """Epoch-mean training loss at the save points, shape (n_seeds, n_saves)."""
        return self.records.loss

    @property
    def diverged(self) -> np.ndarray:
        """Divergence flags, shape (n_seeds,)."""
        return self.records.diverged

    def instances(self) -> list[Instance]:
        """The seeds' networks and data (re-derived from the seed, so never stored)."""
        if self._instances is None:
            self._instances = make_instances(self.config, self.sigma_w, self.n_seeds, self.seed)
        return self._instances

    def metadata(self) -> dict:
        """The run's configuration as a JSON-serialisable dict."""
        return {
            "config": self.config.to_dict(),
            "sigma_w": self.sigma_w,
            "lr": self.lr,
            "temperature": self.temperature,
            "batch_size": self.config.batch_size,
            "epochs": self.epochs,
            "n_seeds": self.n_seeds,
            "seed": self.seed,
            "engine": self.engine,
            "sampling": self.sampling,
            "shuffle": self.shuffle,
        }

    def summary(self, observables=None, labels=None, *, save_schedule: str | None = None) -> dict:
        """The run, its observables and its phase as one JSON-ready dict (``train --json``).

        Numpy arrays are left as arrays (``dysonsgd.cli._common.to_jsonable`` converts them).

        Parameters
        ----------
        observables : Observables, optional
            :func:`dysonsgd.observables.summarize` of this result (computed if not given).
        labels : PhaseClassification, optional
            :func:`dysonsgd.phases.classify_sgd` of this result (computed if not given).
        save_schedule : {"even", "paper"}, optional
            The schedule the run was asked for. The result does not record it; by default it
            is "even" when the save epochs are the even schedule's, else "paper" (the two
            coincide when every epoch is saved).

        Returns
        -------
        dict
            ``T``, ``lr``, ``batch_size``, ``sigma``, ``epochs``, ``seeds``, ``seed``,
            ``engine``, ``sampling``, ``shuffle`` (``sampling == "shuffle"``),
            ``save_points``, ``save_schedule``, ``epochs_saved``;
            ``initial_loss`` and ``final_loss`` (training loss at the first and last save),
            ``test_loss``, ``grad_norm``, ``overlap_G``, ``alignment``,
            ``alignment_per_sample`` (per seed), ``initial_eigenvalues``,
            ``final_eigenvalues``, ``teacher_eigenvalues`` (per seed, descending),
            ``spacing_growth_rate``, ``diverged``, ``diverged_step``; ``phase`` (the seed
            vote), ``phases`` (per seed) and ``loss_ratio`` of the phase rule.

        References
        ----------
        Park, Lucini & Aarts, arXiv:2509.01349 (2025), sections 2-3 (the records and the
        observables of Figs 2-9).
        """
        if observables is None:
            from dysonsgd.observables import summarize

            observables = summarize(self)
        if labels is None:
            from dysonsgd.phases import classify_sgd

            labels = classify_sgd(self)
        n_saves = len(self.save_epochs)
        if save_schedule is None:
            even = _schedule(self.epochs, n_saves, "even")
            save_schedule = "even" if np.array_equal(self.save_epochs, even) else "paper"
        obs = observables
        return {
            "T": self.temperature,
            "lr": self.lr,
            "batch_size": self.config.batch_size,
            "sigma": self.sigma_w,
            "epochs": self.epochs,
            "seeds": self.n_seeds,
            "seed": self.seed,
            "engine": self.engine,
            "sampling": self.sampling,
            "shuffle": self.shuffle,
            "save_points": n_saves,
            "save_schedule": save_schedule,
            "epochs_saved": self.save_epochs,
            "initial_loss": self.records.loss[:, 0],
            "final_loss": obs.final_loss,
            "test_loss": obs.test_loss,
            "grad_norm": obs.grad_norm,
            "overlap_G": obs.overlap_G,
            "alignment": obs.alignment,
            "alignment_per_sample": obs.alignment_per_sample,
            "initial_eigenvalues": obs.eigenvalues[:, 0],
            "final_eigenvalues": obs.eigenvalues[:, -1],
            "teacher_eigenvalues": obs.teacher_eigenvalues,
            "spacing_growth_rate": obs.spacing_growth_rate,
            "diverged": obs.diverged,
            "diverged_step": self.records.diverged_step,
            "phase": labels.phase,
            "phases": list(labels.phases),
            "loss_ratio": labels.loss_ratio,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to an ``.npz`` file atomically (temp file + rename)."""
        r = self.records
        _io.atomic_savez(
            path,
            W=r.W,
            grad=r.grad,
            loss=r.loss,
            epoch_loss=r.epoch_loss,
            grad_norm=np.linalg.norm(r.grad, axis=(-2, -1)),
            diverged=r.diverged,
            diverged_step=r.diverged_step,
            epochs_saved=self.save_epochs,
            W_teacher=self.W_teacher,
            M=self.M,
            Z=self.Z,
            config=np.array(json.dumps(self.metadata())),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> SGDResult:
        """Read a result written by :meth:`save` (no pickles are loaded).

        Files written before sampling modes record only ``shuffle``: they load as
        ``sampling="shuffle"`` or ``"fixed"`` accordingly.

        Raises
        ------
        ValueError
            Not a dysonsgd training result (a key is missing), or an unknown sampling mode.
        """
        with np.load(path, allow_pickle=False) as f:
            try:
                meta = json.loads(str(f["config"]))
                records = Records(
                    W=f["W"],
                    grad=f["grad"],
                    loss=f["loss"],
                    epoch_loss=f["epoch_loss"],
                    diverged=f["diverged"],
                    diverged_step=f["diverged_step"],
                )
                return cls(
                    config=NetworkConfig(**meta["config"]),
                    sigma_w=float(meta["sigma_w"]),
                    lr=float(meta["lr"]),
                    epochs=int(meta["epochs"]),
                    seed=int(meta["seed"]),
                    engine=str(meta["engine"]),
                    sampling=_recorded_sampling(meta),
                    save_epochs=f["epochs_saved"],
                    records=records,
                    W_teacher=f["W_teacher"],
                    M=f["M"],
                    Z=f["Z"],
                )
            except KeyError as exc:
                raise ValueError(f"{path} is not a dysonsgd training result: no {exc}") from None


def train(
    config: NetworkConfig | None = None,
    *,
    sigma_w: float,
    temperature: float | None = None,
    lr: float | None = None,
    epochs: int,
    n_seeds: int = 1,
    seed: int | np.random.Generator | None = 0,
    engine: str = "numba",
    save_points: int | None = None,
    save_schedule: str = "even",
    sampling: str = "fixed",
    shuffle: bool | None = None,
    on_epoch: Callable[[], None] | None = None,
    threads: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_interval: float = CHECKPOINT_INTERVAL,
) -> SGDResult:
    """Train an ensemble of teacher-student networks with SGD (paper section 2; docs/model.md).

    Parameters
    ----------
    config : NetworkConfig, optional
        Architecture and protocol; the paper's values by default.
    sigma_w : float
        Width of the student's initial weights, entries N(0, sigma_w^2 / L).
    temperature, lr : float
        Exactly one: the temperature ``T = lr / batch_size`` or the learning rate.
    epochs : int
        Passes over the fixed training set of ``n_batches * batch_size`` inputs, from 1 to
        ``MAX_COUNT`` = 2**31 - 1. The records hold one loss per epoch (8 bytes per seed
        and epoch), allocated lazily as the epochs run.
    n_seeds : int
        Independent seeds (1 to 2**31 - 1); seed k is the same whatever ``n_seeds`` is.
    seed : int, Generator or None
        Base seed of the run.
    engine : {"numpy", "numba", "gd"}
        ``numpy``: the readable reference; ``numba``: the compiled engine (same records).
        ``gd``: full-batch gradient descent instead of SGD, on the same instances (network,
        teacher, training and probe sets) for the same seed and config, at the same step
        ``eps = lr = T * batch_size``, but every step uses the gradient of the loss over
        the whole training set (all ``n_batches * batch_size`` samples): no noise. One
        epoch is ``n_batches`` such steps, so epoch e of GD and of SGD are at the same
        Langevin time ``e * n_batches * eps``. The records have SGD's layout and meaning
        (epoch 0: full-training-set loss and gradient at W0, the same numbers as SGD's;
        later: epoch means of the step losses and gradients; a step loss not ``<=
        divergence_threshold`` stops the seed, ``diverged_step`` counting GD steps), so
        every analysis takes them unchanged. Needs ``sampling="fixed"``; supports
        ``checkpoint`` as ``numba`` does. An epoch costs about ``n_batches`` SGD epochs
        (docs/model.md, "Full-batch gradient descent";
        :func:`dysonsgd.sgd.engine.run_full_batch`).
    save_points : int, optional
        Evenly spaced save epochs including 0 and ``epochs`` (2 to ``epochs + 1``). Default
        :func:`default_save_points`: the paper's 21, or every epoch when ``epochs < 20``.
    save_schedule : {"even", "paper"}
        When the saves fall (:func:`dysonsgd.sgd.save_schedule`): ``even`` (default), epoch 0
        and evenly spaced up to ``epochs``; ``paper``, the published runs' timing, epoch 0
        and after epoch ``(k-1) epochs/(save_points-1) + 1`` (``epochs`` a multiple of
        ``save_points - 1``), so the last record is not the network after the last epoch.
    sampling : {"fixed", "shuffle", "iid"}
        Which samples each batch sees (docs/model.md, "The SGD protocol";
        :mod:`dysonsgd.sgd.sampling`). ``fixed`` (default): the paper's, the training set in
        order every epoch. ``shuffle``: a fresh permutation every epoch. ``iid``: every
        batch's ``batch_size`` indices drawn uniformly with replacement, independently per
        batch, ``n_batches`` batches per epoch (the process the SDE of SGD describes).
        Seed k's indices come from its own stream, consumed epoch by epoch, so the stream
        at any epoch boundary is a function of (seed, epochs done):
        :func:`dysonsgd.sgd.sampling.sample_streams` rebuilds it there (in O(1) for
        ``iid``), and a run resumed at that boundary from the network saved there repeats
        the uninterrupted run exactly. ``engine="gd"`` takes only ``fixed``.
    shuffle : bool, optional
        The flag from before sampling modes: ``True`` is ``sampling="shuffle"``; ``False``
        just says "not shuffled". A contradiction (``shuffle=True`` with
        ``sampling="iid"``, ``shuffle=False`` with ``sampling="shuffle"``) is refused.
    on_epoch : callable, optional
        Called once per seed and epoch (progress reporting).
    threads : int, optional
        Threads of the numba and gd engines (default: numba's setting); ignored by
        ``numpy``.
    checkpoint : path, optional
        A checkpoint file (engines ``numba`` and ``gd``; docs/phase-diagram.md,
        "Checkpoints"). If it
        holds a checkpoint of this run, training continues from its epoch; after every save
        epoch > 0 and after the last epoch the run's state is written there atomically
        (:func:`dysonsgd.sgd.engine.write_checkpoint`). The result equals that of the
        uninterrupted run, bit for bit, however often the run was killed and resumed. The
        file is left in place (the caller removes it once the result is safe). A damaged
        checkpoint (checksum or shapes wrong) is ignored with a
        :class:`~dysonsgd.sgd.engine.CheckpointWarning` and overwritten; a failed write
        warns the same way and the run goes on without checkpoints. ``on_epoch`` counts
        only the epochs run by this call.
    checkpoint_interval : float
        Least wall time in seconds between two checkpoint writes (default
        :data:`CHECKPOINT_INTERVAL`, 5 s): a save point sooner than that after the
        previous write (or the start) is not written. 0 writes at every save point.

    Returns
    -------
    SGDResult

    Raises
    ------
    ValueError
        A bad argument; the message names the value and the allowed range (also
        ``engine="gd"`` with a ``sampling`` other than ``fixed``, and ``checkpoint`` with
        the numpy engine). :class:`~dysonsgd.sgd.engine.CheckpointError` (a
        ``ValueError``): ``checkpoint`` holds a checkpoint of another run, or a file that
        is not a checkpoint (it is not overwritten).
    MemoryError
        The records cannot be allocated (raised before any network is built).

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2 (the protocol).
    """
    config = NetworkConfig() if config is None else config
    if not isinstance(config, NetworkConfig):
        raise ValueError(f"config must be a NetworkConfig, got {type(config).__name__}")
    sigma_w = check_sigma_w(sigma_w)
    lr, _ = learning_rate(temperature, lr, config.batch_size)
    epochs = _positive_int("epochs", epochs, MAX_COUNT)
    n_seeds = _positive_int("n_seeds", n_seeds, MAX_COUNT)
    save_epochs = _schedule(epochs, save_points, save_schedule)
    sampling = check_sampling(sampling, shuffle)
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "gd" and sampling != "fixed":
        raise ValueError(
            f"engine='gd' (full-batch gradient descent) uses every training sample at every "
            f"step, so sampling={sampling!r} has no meaning; use sampling='fixed' (the "
            "default) or an SGD engine"
        )
    entropy = _seeding.base_entropy(seed)
    # Fail fast: the records are the largest arrays of a run. np.zeros maps them lazily,
    # so this probe costs nothing when they fit, and raises MemoryError at once when they
    # cannot, instead of after building n_seeds networks.
    Records.empty(n_seeds, len(save_epochs), epochs, config.K, config.L)

    key = start = None
    if checkpoint is not None:
        if engine not in CHECKPOINT_ENGINES:
            raise ValueError(
                f"checkpoint needs the numba engine (engine='numba'; or 'gd' for gradient "
                f"descent), got engine={engine!r}"
            )
        if isinstance(checkpoint_interval, bool) or not (
            isinstance(checkpoint_interval, (int, float)) and checkpoint_interval >= 0
        ):
            raise ValueError(
                f"checkpoint_interval must be a number of seconds >= 0, got {checkpoint_interval!r}"
            )
        key = checkpoint_key(
            config, sigma_w, lr, epochs, n_seeds, entropy, sampling, save_epochs, engine=engine
        )
        start = _read_checkpoint(checkpoint, key)

    instances = make_instances(config, sigma_w, n_seeds, entropy)
    rngs = sample_streams(entropy, n_seeds, sampling, config.n_samples)
    on_save = None
    if checkpoint is not None:
        on_save = _CheckpointWriter(checkpoint, key, checkpoint_interval)
    if engine == "numpy":
        from dysonsgd.sgd import reference

        records = reference.run(
            instances, lr, epochs, save_epochs, rngs, on_epoch=on_epoch, sampling=sampling
        )
    elif engine == "gd":
        from dysonsgd.sgd import engine as numba_engine

        records = numba_engine.run_full_batch(
            instances,
            lr,
            epochs,
            save_epochs,
            on_epoch=on_epoch,
            threads=threads,
            start=start,
            on_save=on_save,
        )
    else:
        from dysonsgd.sgd import engine as numba_engine

        records = numba_engine.run(
            instances,
            lr,
            epochs,
            save_epochs,
            rngs,
            on_epoch=on_epoch,
            threads=threads,
            sampling=sampling,
            start=start,
            on_save=on_save,
        )
    return SGDResult(
        config=config,
        sigma_w=sigma_w,
        lr=lr,
        epochs=epochs,
        seed=entropy,
        engine=engine,
        sampling=sampling,
        save_epochs=save_epochs,
        records=records,
        W_teacher=np.stack([i.W_teacher for i in instances]),
        M=np.stack([i.M for i in instances]),
        Z=np.stack([i.Z for i in instances]),
        _instances=instances,
    )


def _recorded_sampling(meta: dict) -> str:
    """The sampling mode of a saved result's metadata (older files record only shuffle)."""
    if "sampling" in meta:
        return check_sampling(str(meta["sampling"]))
    return "shuffle" if bool(meta["shuffle"]) else "fixed"


def checkpoint_key(
    config: NetworkConfig,
    sigma_w: float,
    lr: float,
    epochs: int,
    n_seeds: int,
    seed: int,
    sampling: str,
    save_epochs: np.ndarray,
    *,
    engine: str = "numba",
) -> dict:
    """The identity of a run in its checkpoint: everything that determines its numbers.

    A checkpoint is continued only by a run with the same key (:func:`train`'s
    ``checkpoint``). ``seed`` is the base entropy (:func:`dysonsgd._seeding.base_entropy`).
    ``engine``: ``"numba"`` (SGD; the key has no engine entry, as before engines were
    recorded, so older checkpoints stay valid) or ``"gd"`` (the key says ``engine: "gd"``,
    so an SGD checkpoint is never continued by GD nor the reverse).
    """
    if engine not in CHECKPOINT_ENGINES:
        raise ValueError(
            f"checkpoints are written by the engines {', '.join(CHECKPOINT_ENGINES)}, "
            f"got engine={engine!r}"
        )
    key = {
        "config": config.to_dict(),
        "sigma_w": float(sigma_w),
        "lr": float(lr),
        "epochs": int(epochs),
        "n_seeds": int(n_seeds),
        "seed": int(seed),
        "sampling": str(sampling),
        "save_epochs": [int(e) for e in save_epochs],
    }
    if engine != "numba":
        key["engine"] = engine
    return key


def _read_checkpoint(path: str | os.PathLike, key: dict):
    """The state in checkpoint ``path`` for the run ``key``; None if missing or damaged."""
    import warnings

    from dysonsgd.sgd.engine import CheckpointError, CheckpointWarning, read_checkpoint

    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path} is a directory; give a file path")
    try:
        return read_checkpoint(path, key)
    except FileNotFoundError:
        return None
    except CheckpointError as exc:
        if exc.reason != "damaged":  # another run's, or not ours: never overwritten
            raise
        warnings.warn(
            f"{exc}; ignored: the run starts from epoch 0 and overwrites it",
            CheckpointWarning,
            stacklevel=3,
        )
        return None


class _CheckpointWriter:
    """``on_save`` of a run with a checkpoint file: writes a state at most every ``interval``
    seconds; warns once on failure."""

    def __init__(self, path: str | os.PathLike, key: dict, interval: float) -> None:
        self.path, self.key, self.interval, self.failed = path, key, interval, False
        self.last = time.monotonic()

    def __call__(self, state) -> None:
        import warnings

        from dysonsgd.sgd.engine import CheckpointWarning, write_checkpoint

        if self.failed or time.monotonic() - self.last < self.interval:
            return
        try:
            write_checkpoint(self.path, state, self.key)
            self.last = time.monotonic()
        except OSError as exc:
            self.failed = True
            warnings.warn(
                f"cannot write checkpoint {self.path} ({exc.strerror or exc}); the run goes on "
                "without checkpoints",
                CheckpointWarning,
                stacklevel=2,
            )

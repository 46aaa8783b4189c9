"""The compiled SGD engine: the reference protocol, in numba, many seeds and cells at once.

:func:`run` has exactly the signature of :func:`dysonsgd.sgd.reference.run` and returns the
same :class:`~dysonsgd.sgd.reference.Records` (``train(engine="numba")`` dispatches here).
:func:`run_cells` runs many (learning rate, sigma_w) cells x seeds in one call for sweeps,
flattening (cell, seed) into one parallel axis. The reference simulator is the definition
of the records; ``tests/sgd/test_sgd_engine.py`` ties the two together.

What makes it fast (docs/performance.md has the measurements): the first-layer features
``a = phi(M x)`` and the targets are computed once per seed (they are fixed, as M and the
teacher are not trained); each step touches only W (K x L), a batch of |B| feature rows
and a few K-vectors, held in cache, with no allocation; W is kept transposed so that the
inner loops run over K without a reduction and vectorise without fastmath.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), section 2 (the protocol).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from dysonsgd._validate import MAX_COUNT, positive_float, positive_int
from dysonsgd.model import Instance
from dysonsgd.sgd.reference import Records
from dysonsgd.sgd.sampling import engine_sampling, epoch_order

#: SGD steps of one kernel call, summed over all seeds (a block is at least one epoch).
#: Python sees a Ctrl-C only between calls, so this bounds the wait after one: ~0.2 s on
#: one thread at the paper's size (0.8 us per step, benchmarks/results/sgd.md). The call
#: overhead (a parallel launch, a few small buffers) is ~1e-4 of that.
_STEPS_PER_BLOCK = 200_000
#: Bound on the int32 sample indices drawn ahead when shuffling or sampling iid (entries).
_PERM_ENTRIES = 4_000_000

_FALLBACK = "use the numpy reference instead (engine='numpy', or --engine numpy on the CLI)"


class EngineUnavailable(RuntimeError):
    """numba is missing or its kernels fail to compile; the message names the fallback."""


def _kernels():
    """Import the kernels, turning a missing numba into a message naming the fallback."""
    try:
        from dysonsgd.sgd import _kernels
    except ImportError as exc:  # numba (or llvmlite) missing or broken
        raise EngineUnavailable(f"the numba engine cannot be loaded ({exc}); {_FALLBACK}") from exc
    return _kernels


def _check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if threads > limit:
        raise ValueError(
            f"threads={threads} exceeds numba's thread pool of {limit} "
            "(set NUMBA_NUM_THREADS before starting Python to raise it)"
        )
    return int(threads)


def _check_save_epochs(save_epochs, epochs: int) -> np.ndarray:
    s = np.asarray(save_epochs)
    if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(
            f"save_epochs must be a non-empty 1-d integer array, got {save_epochs!r}; "
            "use dysonsgd.sgd.save_schedule(epochs)"
        )
    if s.min() < 0 or s.max() > epochs or np.any(np.diff(s) <= 0):
        raise ValueError(
            f"save_epochs must be strictly increasing epochs in [0, {epochs}], got {s.tolist()}"
        )
    return s.astype(np.int64)


def _data_key(inst: Instance) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for arr in (inst.a_train, inst.y_train, inst.Z):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    return h.digest()


def _run_items(
    instances: Sequence[Instance],
    lrs: Sequence[float],
    epochs: int,
    save_epochs,
    sample_rngs: Sequence[np.random.Generator] | None,
    on_epoch: Callable[[], None] | None,
    threads: int | None,
    dedupe: bool,
    sampling: str | None,
) -> Records:
    """Train a flat list of items (instance, lr), all with the same config, in parallel.

    ``dedupe``: store training data shared by several items once (found by content hash).
    """
    sampling = engine_sampling(sampling, sample_rngs is not None)
    if len(instances) == 0:
        raise ValueError("instances must hold at least one Instance")
    if not all(isinstance(i, Instance) for i in instances):
        raise ValueError("instances must be dysonsgd.model.Instance objects (see make_instances)")
    c = instances[0].config
    if any(i.config != c for i in instances):
        raise ValueError(
            "all instances of one call must share a NetworkConfig; run differing configs "
            "in separate calls"
        )
    epochs = positive_int("epochs", epochs, MAX_COUNT)
    save_epochs = _check_save_epochs(save_epochs, epochs)
    lr = np.array([positive_float("lr", v) for v in lrs], dtype=np.float64)
    if sample_rngs is not None and len(sample_rngs) != len(instances):
        raise ValueError(
            f"sample_rngs must hold one Generator per seed ({len(instances)}), "
            f"got {len(sample_rngs)}"
        )
    kern = _kernels()  # first: a missing numba is reported before anything else
    threads = _check_threads(threads)

    n_items, K, L = len(instances), c.K, c.L
    n_samples, nb = c.n_samples, c.n_batches
    # Seeds of different cells of a sweep share their data (only W0 differs): store it once.
    data_index = np.empty(n_items, dtype=np.int64)
    unique: list[Instance] = []
    if dedupe:
        keys: dict[bytes, int] = {}
        for j, inst in enumerate(instances):
            key = _data_key(inst)
            if key not in keys:
                keys[key] = len(unique)
                unique.append(inst)
            data_index[j] = keys[key]
    else:
        unique = list(instances)
        data_index[:] = np.arange(n_items)
    a = np.ascontiguousarray(np.stack([u.a_train for u in unique]), dtype=np.float64)
    y = np.ascontiguousarray(np.stack([u.y_train for u in unique]), dtype=np.float64)
    Z = np.ascontiguousarray(np.stack([u.Z for u in unique]), dtype=np.float64)

    # np.zeros maps the per-epoch losses lazily: pages are touched as epochs are run.
    out = Records.empty(n_items, len(save_epochs), epochs, K, L)
    Wt = np.empty((n_items, L, K))
    for j, inst in enumerate(instances):
        Wt[j] = inst.W0.T
    div = np.zeros((n_items, 2), dtype=np.int64)

    # Epochs per kernel call: bounded by the steps of all items together (Ctrl-C latency,
    # progress) and, when sampling at random, by the sample indices drawn ahead. Nothing
    # here or in a call is O(epochs), so a Ctrl-C lands within one block at any moment.
    block = max(1, _STEPS_PER_BLOCK // (n_items * nb))
    if sample_rngs is not None:
        block = min(block, max(1, _PERM_ENTRIES // (n_items * n_samples)))
    block = min(block, epochs)
    no_perms = np.zeros((n_items, 0, 0), dtype=np.int32)

    import numba

    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        # Epoch 0: the full-training-set loss and gradient at W0, as in the reference.
        grad0 = np.empty((n_items, K, L))
        loss0 = np.empty(n_items)
        try:
            kern.initial_items(a, y, Z, data_index, c.activation_code, Wt, grad0, loss0)
        except numba.core.errors.NumbaError as exc:
            raise EngineUnavailable(
                f"the numba SGD kernel failed to compile ({type(exc).__name__}); {_FALLBACK}"
            ) from exc
        out.epoch_loss[:, 0] = loss0
        if save_epochs[0] == 0:
            out.W[:, 0] = Wt.transpose(0, 2, 1)
            out.grad[:, 0] = grad0
            out.loss[:, 0] = loss0
        for start in range(1, epochs + 1, block):
            stop = min(start + block, epochs + 1)
            if sample_rngs is None:
                perms = no_perms
            else:
                # The reference draws epoch_order(rng, ...) at the start of each epoch;
                # drawing a block of them ahead gives the same sequence per seed. The
                # kernel reads batch b of epoch t from perms[j, t, b|B| : (b+1)|B|]: a
                # permutation (shuffle) or draws with replacement (iid) alike.
                perms = np.empty((n_items, stop - start, n_samples), dtype=np.int32)
                for j, rng in enumerate(sample_rngs):
                    if div[j, 0]:
                        continue
                    for t in range(stop - start):
                        perms[j, t] = epoch_order(rng, sampling, n_samples)
            try:
                kern.train_items(
                    a,
                    y,
                    Z,
                    data_index,
                    lr,
                    c.activation_code,
                    float(c.divergence_threshold),
                    nb,
                    c.batch_size,
                    start,
                    stop,
                    perms,
                    save_epochs,
                    Wt,
                    out.W,
                    out.grad,
                    out.loss,
                    out.epoch_loss,
                    div,
                )
            except numba.core.errors.NumbaError as exc:
                raise EngineUnavailable(
                    f"the numba SGD kernel failed to compile ({type(exc).__name__}); {_FALLBACK}"
                ) from exc
            if on_epoch is not None:
                for _ in range(n_items * (stop - start)):
                    on_epoch()
    finally:
        if threads is not None:
            numba.set_num_threads(previous)
    out.diverged[:] = div[:, 0] != 0
    out.diverged_step[:] = np.where(out.diverged, div[:, 1], -1)
    return out


def run(
    instances: Sequence[Instance],
    lr: float,
    epochs: int,
    save_epochs: np.ndarray,
    sample_rngs: Sequence[np.random.Generator] | None,
    on_epoch: Callable[[], None] | None = None,
    *,
    threads: int | None = None,
    sampling: str | None = None,
) -> Records:
    """Run an ensemble of seeds with the numba engine, seeds in parallel.

    Same protocol and records as :func:`dysonsgd.sgd.reference.run` (its docstring and code
    define them): epoch 0 is the full-training-set loss and gradient at W0; later records
    are epoch means of the batch losses and gradients; a batch loss that is not ``<=
    divergence_threshold`` stops the seed before its update, and every later record
    repeats the state at divergence.

    Parameters
    ----------
    instances : sequence of Instance, length n_seeds
        The seeds' networks and data, all with the same config.
    lr : float
        Learning rate; the temperature is ``lr / batch_size``.
    epochs : int
    save_epochs : ndarray of int64, shape (n_saves,)
        Strictly increasing epochs in [0, epochs] at which W, grad, loss are recorded.
    sample_rngs : sequence of numpy.random.Generator, or None
        One per seed (:func:`dysonsgd.sgd.sampling.sample_streams`): each epoch's sample
        indices are :func:`dysonsgd.sgd.sampling.epoch_order` of it, drawn in the same
        sequence as the reference. None keeps the fixed order (the paper's).
    on_epoch : callable, optional
        Called once per seed and epoch in total, in bursts after each block of epochs.
    threads : int, optional
        numba threads for this call (default: numba's current setting). The records do not
        depend on it.
    sampling : {"shuffle", "iid", "fixed"}, optional
        How ``sample_rngs`` are read: a permutation per epoch (``shuffle``, the default when
        they are given) or draws with replacement (``iid``); ``fixed`` with None.

    Returns
    -------
    Records

    Raises
    ------
    ValueError
        Bad arguments (the message names the value and the fix).
    EngineUnavailable
        numba is missing or fails to compile; the message names the numpy fallback.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2.
    """
    lr = positive_float("lr", lr)
    return _run_items(
        instances,
        [lr] * len(instances),
        epochs,
        save_epochs,
        sample_rngs,
        on_epoch,
        threads,
        dedupe=False,
        sampling=sampling,
    )


def run_cells(
    instances_per_cell: Sequence[Sequence[Instance]],
    lrs: Sequence[float],
    epochs: int,
    save_epochs: np.ndarray,
    sample_rngs_per_cell: Sequence[Sequence[np.random.Generator]] | None = None,
    on_epoch: Callable[[], None] | None = None,
    *,
    threads: int | None = None,
    sampling: str | None = None,
) -> list[Records]:
    """Run many cells (a learning rate and a set of seeds each) in one parallel call.

    The (cell, seed) pairs are flattened into one parallel axis, so two cores stay busy
    even when a cell has a single seed. Seeds of different cells that share their training
    data (as :func:`dysonsgd.model.make_instances` arranges for one entropy: only W0's scale
    differs) store it once.

    Parameters
    ----------
    instances_per_cell : sequence of sequences of Instance
        ``instances_per_cell[c]`` are cell c's seeds (e.g. from ``make_instances(config,
        sigma_w_c, n_seeds, entropy)``); every instance must share one NetworkConfig.
    lrs : sequence of float, one per cell
        Learning rates (``lr = T * batch_size``).
    epochs : int
    save_epochs : ndarray of int64, shape (n_saves,)
    sample_rngs_per_cell : sequence of sequences of Generator, optional
        One Generator per seed of each cell; None for the fixed order.
    on_epoch : callable, optional
        Called once per seed-epoch over all cells.
    threads : int, optional
        numba threads for this call; the records do not depend on it.
    sampling : {"shuffle", "iid", "fixed"}, optional
        As in :func:`run`.

    Returns
    -------
    list of Records
        One per cell, as :func:`run` would return for that cell alone.

    Notes
    -----
    Memory grows with cells x seeds x (epochs + 1) for the per-epoch loss and cells x seeds
    x saves x 2 K L for the saved matrices (the paper's 1440 runs of 100,000 epochs would
    hold 1.2 GB of per-epoch losses): run a large grid in chunks of cells.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2 and Fig. 1 (the phase-diagram grid).
    """
    cells = [list(cell) for cell in instances_per_cell]
    lrs = list(lrs)
    if len(cells) == 0:
        raise ValueError("instances_per_cell must hold at least one cell")
    if len(lrs) != len(cells):
        raise ValueError(f"lrs must hold one learning rate per cell ({len(cells)}), got {len(lrs)}")
    if any(len(cell) == 0 for cell in cells):
        raise ValueError("every cell needs at least one seed")
    flat = [inst for cell in cells for inst in cell]
    flat_lr = [lr for cell, lr in zip(cells, lrs, strict=True) for _ in cell]
    flat_rngs = None
    if sample_rngs_per_cell is not None:
        rng_cells = [list(r) for r in sample_rngs_per_cell]
        if len(rng_cells) != len(cells) or any(
            len(r) != len(cell) for r, cell in zip(rng_cells, cells, strict=False)
        ):
            raise ValueError("sample_rngs_per_cell must hold one Generator per seed of each cell")
        flat_rngs = [rng for r in rng_cells for rng in r]
    rec = _run_items(
        flat, flat_lr, epochs, save_epochs, flat_rngs, on_epoch, threads, True, sampling
    )
    out, j = [], 0
    for cell in cells:
        n = len(cell)
        sl = slice(j, j + n)
        out.append(
            Records(
                W=rec.W[sl].copy(),
                grad=rec.grad[sl].copy(),
                loss=rec.loss[sl].copy(),
                epoch_loss=rec.epoch_loss[sl].copy(),
                diverged=rec.diverged[sl].copy(),
                diverged_step=rec.diverged_step[sl].copy(),
            )
        )
        j += n
    return out

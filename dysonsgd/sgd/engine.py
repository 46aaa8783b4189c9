"""The compiled SGD engine: the reference protocol, in numba, many seeds and cells at once.

:func:`run` has exactly the signature of :func:`dysonsgd.sgd.reference.run` and returns the
same :class:`~dysonsgd.sgd.reference.Records` (``train(engine="numba")`` dispatches here).
:func:`run_cells` runs many (learning rate, sigma_w) cells x seeds in one call for sweeps,
flattening (cell, seed) into one parallel axis. The reference simulator is the definition of
the records; ``tests/sgd/test_sgd_engine.py`` ties the two together. :func:`run_full_batch`
is full-batch gradient descent with the same epochs and records (``train(engine="gd")``;
``tests/sgd/test_gd_engine.py`` ties it to a numpy loop).

Long runs are resumable: :func:`run` hands the run's :class:`EngineState` to ``on_save``
after every save epoch, :func:`write_checkpoint` / :func:`read_checkpoint` store it
atomically and verify it, and ``run(..., start=state)`` continues from it to the records of
the uninterrupted run, bit for bit (docs/phase-diagram.md, "Checkpoints").

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
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd import _io
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
_FALLBACK_GD = "full-batch gradient descent has no numpy engine: install numba"


class EngineUnavailable(RuntimeError):
    """numba is missing or its kernels fail to compile; the message names the fallback."""


def _kernels(fallback: str = _FALLBACK):
    """Import the kernels, turning a missing numba into a message naming the fallback."""
    try:
        from dysonsgd.sgd import _kernels
    except ImportError as exc:  # numba (or llvmlite) missing or broken
        raise EngineUnavailable(f"the numba engine cannot be loaded ({exc}); {fallback}") from exc
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


# --------------------------------------------------------------------------- resumable state


@dataclass
class EngineState:
    """The state of an engine run at an epoch boundary: what it needs to continue exactly.

    A run restarted from the state after epoch ``epoch`` (``run(..., start=state)``) gives
    records equal, bit for bit, to those of the uninterrupted run (the kernel's result does
    not depend on how its epochs are cut into calls; tests/sgd/test_engine_state.py).

    Attributes
    ----------
    epoch : int
        Epochs done (0 .. epochs).
    epochs : int
        Epochs of the whole run.
    W : ndarray of float64, shape (n_seeds, K, L)
        Every seed's current matrix (a diverged seed's: the one at divergence).
    records : Records
        The records so far: W, grad, loss at the save epochs up to ``epoch`` (a diverged
        seed's later saves are already filled, as the kernel does), the per-epoch loss of
        epochs ``0 .. epoch`` (``epoch_loss`` has shape (n_seeds, epoch + 1)), and the
        divergence flags and steps.
    sample_states : tuple of dict, or None
        ``rng.bit_generator.state`` of every seed's sample stream after ``epoch`` epochs
        (:func:`dysonsgd.sgd.sampling.sample_streams` with ``epochs_done=epoch`` gives the
        same state for every seed that has not diverged, at O(epoch) cost for ``shuffle``;
        the stored state costs O(1)). None for the fixed order.

    Notes
    -----
    The state handed to ``on_save`` holds views of the running arrays: valid until the
    callback returns (write it, or copy it).
    """

    epoch: int
    epochs: int
    W: np.ndarray
    records: Records
    sample_states: tuple[dict, ...] | None = None

    @property
    def n_seeds(self) -> int:
        """Number of seeds."""
        return self.W.shape[0]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; ``reason`` says why.

    - ``"unreadable"``: not an ``.npz`` file holding a dysonsgd checkpoint (another kind of
      file, or one cut short);
    - ``"damaged"``: a checkpoint whose checksum or shapes fail verification;
    - ``"other_run"``: a whole checkpoint of another run (the message names the differing
      entries of its key).

    A ``ValueError``: the fix is the caller's (remove the file, or use another path).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CheckpointWarning(UserWarning):
    """A checkpoint was ignored (damaged) or could not be written; the run goes on."""


#: Format of a checkpoint file (:func:`write_checkpoint`).
_CHECKPOINT_FORMAT = 1
_STATE_ARRAYS = ("W", "rec_W", "rec_grad", "rec_loss", "epoch_loss", "diverged", "diverged_step")


def _state_arrays(state: EngineState) -> dict[str, np.ndarray]:
    r = state.records
    return {
        "W": np.ascontiguousarray(state.W, dtype=np.float64),
        "rec_W": np.ascontiguousarray(r.W, dtype=np.float64),
        "rec_grad": np.ascontiguousarray(r.grad, dtype=np.float64),
        "rec_loss": np.ascontiguousarray(r.loss, dtype=np.float64),
        "epoch_loss": np.ascontiguousarray(r.epoch_loss, dtype=np.float64),
        "diverged": np.ascontiguousarray(r.diverged, dtype=bool),
        "diverged_step": np.ascontiguousarray(r.diverged_step, dtype=np.int64),
    }


def _state_checksum(header: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(header.encode())
    for name in _STATE_ARRAYS:
        a = arrays[name]
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_checkpoint(path: str | os.PathLike, state: EngineState, key: dict) -> None:
    """Write ``state`` to ``path`` atomically (a temporary file beside it, then a rename).

    The file is an uncompressed ``.npz`` (no pickles): the state's arrays, a JSON header
    (format, ``key``, epoch, epochs, sample states) and a checksum of both, verified by
    :func:`read_checkpoint`. A write cut short (a kill, a full disk) leaves the previous
    file, or none, at ``path``, never a partial one.

    Parameters
    ----------
    path : path
        The checkpoint file (conventionally ``*.npz``).
    state : EngineState
    key : dict
        JSON-serialisable identity of the run (e.g. :func:`dysonsgd.sgd.api.checkpoint_key`):
        :func:`read_checkpoint` refuses the file for another key.

    Raises
    ------
    OSError
        The file cannot be written (nothing is left at ``path`` but a previous checkpoint).
    """
    arrays = _state_arrays(state)
    header = json.dumps(
        {
            "format": _CHECKPOINT_FORMAT,
            "key": key,
            "epoch": int(state.epoch),
            "epochs": int(state.epochs),
            "sample_states": None if state.sample_states is None else list(state.sample_states),
        },
        sort_keys=True,
    )
    checksum = _state_checksum(header, arrays)
    _io.atomic_write_bytes(
        path,
        lambda fh: np.savez(fh, header=np.array(header), checksum=np.array(checksum), **arrays),
    )


def _has_header(p: str) -> bool:
    """True if ``p`` is a zip file with a checkpoint's header entry (a damaged checkpoint)."""
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            return "header.npy" in z.namelist()
    except Exception:
        return False


def read_checkpoint(path: str | os.PathLike, key: dict | None = None) -> EngineState:
    """Read and verify a checkpoint written by :func:`write_checkpoint`.

    Parameters
    ----------
    path : path
    key : dict, optional
        The run's identity: a checkpoint of another run is refused.

    Returns
    -------
    EngineState
        With ``records.epoch_loss`` of shape (n_seeds, epoch + 1).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Its ``reason``: ``"unreadable"`` (not a checkpoint, or cut short), ``"damaged"``
        (the checksum fails, the arrays disagree in shape) or ``"other_run"`` (the key
        differs).
    """
    p = os.fspath(path)
    try:
        with np.load(p, allow_pickle=False) as f:
            header = str(f["header"])
            checksum = str(f["checksum"])
            arrays = {name: f[name] for name in _STATE_ARRAYS}
    except (FileNotFoundError, IsADirectoryError):
        raise
    except KeyError as exc:  # an .npz, not (wholly) a checkpoint
        damaged = exc.args and exc.args[0] in _STATE_ARRAYS
        raise CheckpointError(
            f"checkpoint {p} is damaged (no {exc})"
            if damaged
            else f"{p} is not a dysonsgd checkpoint (an .npz file without its header)",
            reason="damaged" if damaged else "unreadable",
        ) from None
    except Exception as exc:  # not a zip file, cut short, an entry failing its CRC
        if _has_header(p):
            raise CheckpointError(
                f"checkpoint {p} is damaged ({type(exc).__name__}: {exc})", reason="damaged"
            ) from None
        raise CheckpointError(
            f"{p} is not a readable dysonsgd checkpoint ({type(exc).__name__}: another kind "
            "of file, or one cut short)",
            reason="unreadable",
        ) from None
    if _state_checksum(header, arrays) != checksum:
        raise CheckpointError(
            f"checkpoint {p} is damaged (its checksum does not match)", reason="damaged"
        )
    try:
        meta = json.loads(header)
        if meta["format"] != _CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"checkpoint {p} has format {meta['format']!r}, this version reads "
                f"{_CHECKPOINT_FORMAT}",
                reason="unreadable",
            )
        epoch, epochs = int(meta["epoch"]), int(meta["epochs"])
        W, rec_W = arrays["W"], arrays["rec_W"]
        n, K, L = W.shape
        S = rec_W.shape[1]
        shapes_ok = (
            rec_W.shape == (n, S, K, L)
            and arrays["rec_grad"].shape == (n, S, K, L)
            and arrays["rec_loss"].shape == (n, S)
            and arrays["epoch_loss"].shape == (n, epoch + 1)
            and arrays["diverged"].shape == (n,)
            and arrays["diverged_step"].shape == (n,)
            and 0 <= epoch <= epochs
        )
        states = meta["sample_states"]
        if states is not None and len(states) != n:
            shapes_ok = False
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {p} is damaged (unreadable header: {type(exc).__name__})",
            reason="damaged",
        ) from None
    if not shapes_ok:
        raise CheckpointError(
            f"checkpoint {p} is damaged (its arrays disagree in shape)", reason="damaged"
        )
    if key is not None and meta["key"] != key:
        stored = meta["key"] if isinstance(meta["key"], dict) else {}
        diffs = [
            f"{k}: {stored.get(k)!r} there, {key.get(k)!r} here"
            for k in sorted(set(stored) | set(key))
            if stored.get(k) != key.get(k)
        ]
        raise CheckpointError(
            f"checkpoint {p} belongs to another run ({'; '.join(diffs)[:300]}); remove it or "
            "choose another checkpoint path",
            reason="other_run",
        )
    records = Records(
        W=rec_W,
        grad=arrays["rec_grad"],
        loss=arrays["rec_loss"],
        epoch_loss=arrays["epoch_loss"],
        diverged=arrays["diverged"],
        diverged_step=arrays["diverged_step"],
    )
    return EngineState(
        epoch=epoch,
        epochs=epochs,
        W=W,
        records=records,
        sample_states=None if states is None else tuple(states),
    )


def _check_start(start: EngineState, n_items: int, n_saves: int, epochs: int, K, L, rngs):
    """Raise ValueError unless ``start`` is a state of this run's shape."""
    if not isinstance(start, EngineState):
        raise ValueError(f"start must be an EngineState, got {type(start).__name__}")
    r = start.records
    want = {
        "W": (np.shape(start.W), (n_items, K, L)),
        "records.W": (np.shape(r.W), (n_items, n_saves, K, L)),
        "records.grad": (np.shape(r.grad), (n_items, n_saves, K, L)),
        "records.loss": (np.shape(r.loss), (n_items, n_saves)),
        "records.epoch_loss": (np.shape(r.epoch_loss), (n_items, start.epoch + 1)),
        "records.diverged": (np.shape(r.diverged), (n_items,)),
        "records.diverged_step": (np.shape(r.diverged_step), (n_items,)),
    }
    for name, (have, need) in want.items():
        if have != need:
            raise ValueError(
                f"start.{name} has shape {have}, this run needs {need}: the state is of another run"
            )
    if start.epochs != epochs or not 0 <= start.epoch <= epochs:
        raise ValueError(
            f"start is the state after epoch {start.epoch} of a {start.epochs}-epoch run; "
            f"this run has {epochs} epochs"
        )
    if (start.sample_states is None) != (rngs is None):
        raise ValueError(
            "start must hold the sample streams' states exactly when the run samples at "
            "random (shuffle, iid)"
        )
    if rngs is not None and len(start.sample_states) != len(rngs):
        raise ValueError(
            f"start holds {len(start.sample_states)} sample states for {len(rngs)} seeds"
        )


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
    start: EngineState | None = None,
    on_save: Callable[[EngineState], None] | None = None,
    full_batch: bool = False,
) -> Records:
    """Train a flat list of items (instance, lr), all with the same config, in parallel.

    ``dedupe``: store training data shared by several items once (found by content hash).
    ``start``: continue from this state (:class:`EngineState`) instead of epoch 0;
    ``on_save``: called with the state after every save epoch > 0 and after the last epoch.
    ``full_batch``: every step uses the gradient over the whole training set (full-batch
    gradient descent, :func:`run_full_batch`); needs the fixed order (no sample streams).
    """
    sampling = engine_sampling(sampling, sample_rngs is not None)
    if full_batch and sampling != "fixed":
        raise ValueError(
            f"full-batch gradient descent sees every sample at every step, so sampling="
            f"{sampling!r} has no meaning; use sampling='fixed' (no sample streams)"
        )
    fallback = _FALLBACK_GD if full_batch else _FALLBACK
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
    # First: a missing numba is reported before anything else.
    kern = _kernels(fallback) if full_batch else _kernels()
    threads = _check_threads(threads)

    n_items, K, L = len(instances), c.K, c.L
    if start is not None:
        _check_start(start, n_items, len(save_epochs), epochs, K, L, sample_rngs)
    if on_save is not None and not callable(on_save):
        raise ValueError(f"on_save must be a callable or None, got {on_save!r}")
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
    div = np.zeros((n_items, 2), dtype=np.int64)
    if start is None:
        for j, inst in enumerate(instances):
            Wt[j] = inst.W0.T
        first = 1
    else:
        # Every array the kernel reads or writes, as it was after epoch start.epoch.
        Wt[:] = np.asarray(start.W, dtype=np.float64).transpose(0, 2, 1)
        r = start.records
        out.W[:], out.grad[:], out.loss[:] = r.W, r.grad, r.loss
        out.epoch_loss[:, : start.epoch + 1] = r.epoch_loss
        div[:, 0] = np.asarray(r.diverged, dtype=bool)
        div[:, 1] = np.where(div[:, 0] != 0, r.diverged_step, 0)
        if sample_rngs is not None:
            for rng, st in zip(sample_rngs, start.sample_states, strict=True):
                rng.bit_generator.state = st
        first = start.epoch + 1

    def state(epoch: int) -> EngineState:
        diverged = div[:, 0] != 0
        return EngineState(
            epoch=epoch,
            epochs=epochs,
            W=Wt.transpose(0, 2, 1),
            records=Records(
                W=out.W,
                grad=out.grad,
                loss=out.loss,
                epoch_loss=out.epoch_loss[:, : epoch + 1],
                diverged=diverged,
                diverged_step=np.where(diverged, div[:, 1], -1),
            ),
            sample_states=(
                None
                if sample_rngs is None
                else tuple(rng.bit_generator.state for rng in sample_rngs)
            ),
        )

    # The run is cut at the save epochs (and ends at the last epoch): a state handed to
    # on_save is exactly that of the uninterrupted run there, sample streams included, as
    # indices are drawn ahead block by block within a segment. Cuts do not change the
    # records (the kernel's contract), so the segments are the same with or without
    # on_save.
    ends = sorted({int(e) for e in save_epochs if e >= first} | {epochs})
    ends = [e for e in ends if e >= first]  # none when resuming a finished run

    # Epochs per kernel call: bounded by the steps of all items together (Ctrl-C latency,
    # progress) and, when sampling at random, by the sample indices drawn ahead. Nothing
    # here or in a call is O(epochs), so a Ctrl-C lands within one block at any moment.
    # A full-batch step costs n_samples / batch_size = n_batches SGD steps.
    step_cost = nb if full_batch else 1
    block = max(1, _STEPS_PER_BLOCK // (n_items * nb * step_cost))
    if sample_rngs is not None:
        block = min(block, max(1, _PERM_ENTRIES // (n_items * n_samples)))
    block = min(block, epochs)
    no_perms = np.zeros((n_items, 0, 0), dtype=np.int32)

    import numba

    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        if start is None:
            # Epoch 0: the full-training-set loss and gradient at W0, as in the reference.
            grad0 = np.empty((n_items, K, L))
            loss0 = np.empty(n_items)
            try:
                kern.initial_items(a, y, Z, data_index, c.activation_code, Wt, grad0, loss0)
            except numba.core.errors.NumbaError as exc:
                raise EngineUnavailable(
                    f"the numba SGD kernel failed to compile ({type(exc).__name__}); {fallback}"
                ) from exc
            out.epoch_loss[:, 0] = loss0
            if save_epochs[0] == 0:
                out.W[:, 0] = Wt.transpose(0, 2, 1)
                out.grad[:, 0] = grad0
                out.loss[:, 0] = loss0
        for end in ends:
            for lo in range(first, end + 1, block):
                hi = min(lo + block, end + 1)
                if sample_rngs is None:
                    perms = no_perms
                else:
                    # The reference draws epoch_order(rng, ...) at the start of each epoch;
                    # drawing a block of them ahead gives the same sequence per seed. The
                    # kernel reads batch b of epoch t from perms[j, t, b|B| : (b+1)|B|]: a
                    # permutation (shuffle) or draws with replacement (iid) alike.
                    perms = np.empty((n_items, hi - lo, n_samples), dtype=np.int32)
                    for j, rng in enumerate(sample_rngs):
                        if div[j, 0]:
                            continue
                        for t in range(hi - lo):
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
                        bool(full_batch),
                        lo,
                        hi,
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
                        f"the numba SGD kernel failed to compile ({type(exc).__name__}); {fallback}"
                    ) from exc
                if on_epoch is not None:
                    for _ in range(n_items * (hi - lo)):
                        on_epoch()
            first = end + 1
            if on_save is not None:
                on_save(state(end))
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
    start: EngineState | None = None,
    on_save: Callable[[EngineState], None] | None = None,
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
    start : EngineState, optional
        Continue the run from this state (e.g. :func:`read_checkpoint`) instead of epoch 0:
        the records equal those of the uninterrupted run, bit for bit. ``sample_rngs`` are
        set to the state's sample streams. ``on_epoch`` counts only the epochs run here.
    on_save : callable(EngineState), optional
        Called after every save epoch > 0 and after the last epoch with the run's state
        there (views of the running arrays, valid during the call), e.g. to write a
        checkpoint with :func:`write_checkpoint`. docs/phase-diagram.md, "Checkpoints".

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
        start=start,
        on_save=on_save,
    )


def run_full_batch(
    instances: Sequence[Instance],
    lr: float,
    epochs: int,
    save_epochs: np.ndarray,
    on_epoch: Callable[[], None] | None = None,
    *,
    threads: int | None = None,
    start: EngineState | None = None,
    on_save: Callable[[EngineState], None] | None = None,
) -> Records:
    """Full-batch gradient descent on an ensemble of seeds, with SGD's epochs and records.

    Every step is ``W <- W - lr * gbar(W)``, ``gbar`` the mean per-sample gradient over the
    whole training set (all ``n_batches * batch_size`` samples), with no noise; one epoch
    is ``n_batches`` such steps, so that epoch e of GD and of SGD at the same lr end at the
    same Langevin time ``t = e * n_batches * lr``. The records have the layout and meaning
    of :func:`run`'s: epoch 0 is the full-training-set loss and gradient at W0 (the same
    numbers as SGD's for the same instances); a later record is the epoch mean of the step
    losses and step gradients (each step's loss and gradient taken at the W before it); a
    step whose loss is not ``<= divergence_threshold`` stops the seed before its update
    (``diverged_step`` counts GD steps), and every later record repeats the state.

    The step is :func:`dysonsgd.ladder.run_gd`'s map (same W at the same step, up to
    summation order); this one keeps SGD's records so that observables, phases and sweeps
    take it unchanged, and is resumable like :func:`run`.

    Parameters
    ----------
    instances : sequence of Instance, length n_seeds
        The seeds' networks and data, all with the same config.
    lr : float
        The step eps (``T * batch_size`` for a nominal SGD temperature T).
    epochs : int
    save_epochs : ndarray of int64, shape (n_saves,)
        Strictly increasing epochs in [0, epochs] at which W, grad, loss are recorded.
    on_epoch : callable, optional
        Called once per seed and epoch in total, in bursts after each block of epochs.
    threads : int, optional
        numba threads for this call; the records do not depend on it.
    start : EngineState, optional
        Continue from this state (as in :func:`run`; ``sample_states`` is None).
    on_save : callable(EngineState), optional
        As in :func:`run`: called after every save epoch > 0 and after the last epoch.

    Returns
    -------
    Records

    Raises
    ------
    ValueError
        Bad arguments (the message names the value and the fix).
    EngineUnavailable
        numba is missing or fails to compile (there is no numpy engine for GD).

    Notes
    -----
    A step is one pass over the training set, so an epoch costs about ``n_batches`` times
    an SGD epoch (docs/model.md, "Full-batch gradient descent").

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2 (the network, loss and time).
    """
    lr = positive_float("lr", lr)
    return _run_items(
        instances,
        [lr] * len(instances),
        epochs,
        save_epochs,
        None,
        on_epoch,
        threads,
        dedupe=False,
        sampling="fixed",
        start=start,
        on_save=on_save,
        full_batch=True,
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

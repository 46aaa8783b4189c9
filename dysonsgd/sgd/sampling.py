"""Which training samples each SGD batch sees: the sampling modes and their random streams.

Three modes (docs/model.md, "The SGD protocol"); an epoch is always ``n_batches`` batches of
``|B|`` samples, batch ``b`` taking entries ``b|B| .. (b+1)|B| - 1`` of the epoch's index
array:

- ``fixed``: the indices ``0 .. n_samples - 1`` in order, every epoch (the paper's protocol,
  arXiv:2509.01349, section 2). No random stream.
- ``shuffle``: a fresh permutation of the samples every epoch, ``rng.permutation(n_samples)``;
  each sample is seen exactly once per epoch.
- ``iid``: every index drawn uniformly *with replacement*, independently of all others, so a
  batch's samples are |B| independent uniform draws from the training set and batches are
  independent. This is the noise that the stochastic differential equation of SGD models
  (docs/theory.md, section 1): the batch gradient is an unbiased estimate of the full-batch
  gradient, independent from step to step, and a batch mean has variance exactly
  ``Var_n / |B|`` (no finite-population factor).

The reference simulator and the numba engine both take each epoch's indices from
:func:`epoch_order`, so the two read the same stream by construction.

Streams and resuming
--------------------
Seed ``k`` of a run with base entropy ``e`` draws its indices from
``_seeding.stream(e, k, _seeding.SHUFFLE)`` (the batch-order purpose; a run uses one mode, so
``shuffle`` and ``iid`` share it), epoch after epoch, and from nothing else. The state of the
stream at an epoch boundary is therefore a function of (seed, epochs done) alone, and
:func:`sample_streams` rebuilds it for ``epochs_done`` epochs:

- ``iid`` consumes exactly ``n_samples`` 64-bit draws per epoch (one double per index), so
  the stream after ``E`` epochs is the fresh stream advanced by ``E * n_samples`` draws,
  ``PCG64.advance``: O(1), whatever ``E``.
- ``shuffle`` draws bounded integers by rejection, whose consumption varies, so the stream
  after ``E`` epochs is rebuilt by drawing (and discarding) ``E`` permutations: O(E
  n_samples) time (4 s per 10^5 epochs of 4000 samples), no memory. A
  checkpoint may store ``rng.bit_generator.state`` instead.

A run resumed at an epoch boundary from the network saved there, with these streams,
continues exactly as the uninterrupted run (tests/sgd/test_sampling.py checks both modes).
"""

from __future__ import annotations

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import integer as _integer

#: The sampling modes: ``fixed`` (the paper's), ``shuffle``, ``iid`` (see the module docstring).
SAMPLINGS: tuple[str, ...] = ("fixed", "shuffle", "iid")


def check_sampling(sampling: str, shuffle: bool | None = None) -> str:
    """Validate a sampling mode, resolving the older ``shuffle`` flag.

    Parameters
    ----------
    sampling : {"fixed", "shuffle", "iid"}
    shuffle : bool or None
        The flag of the API before sampling modes: ``True`` is ``sampling="shuffle"``;
        ``False`` (the old default) only says "not shuffled". ``None``: not given.

    Returns
    -------
    str
        The mode. ``shuffle=True`` with the default ``sampling="fixed"`` gives ``"shuffle"``.

    Raises
    ------
    ValueError
        An unknown mode, a ``shuffle`` that is not a bool, or a combination that contradicts
        itself (``shuffle=True`` with ``sampling="iid"``, ``shuffle=False`` with
        ``sampling="shuffle"``); the message names both.
    """
    if not isinstance(sampling, str) or sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if shuffle is None:
        return sampling
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"shuffle must be True, False or None, got {shuffle!r}")
    if shuffle and sampling == "iid":
        raise ValueError(
            "shuffle=True (an alias of sampling='shuffle') conflicts with sampling='iid'; "
            "give only sampling"
        )
    if not shuffle and sampling == "shuffle":
        raise ValueError("shuffle=False conflicts with sampling='shuffle'; give only sampling")
    return "shuffle" if shuffle else sampling


def engine_sampling(sampling: str | None, have_rngs: bool) -> str:
    """The mode of an engine call (``reference.run``, ``engine.run``) from its arguments.

    ``None`` means ``shuffle`` when generators are given (the engines' calls from before
    sampling modes) and ``fixed`` otherwise; a given mode must come with generators exactly
    when it is random.
    """
    if sampling is None:
        return "shuffle" if have_rngs else "fixed"
    sampling = check_sampling(sampling)
    if have_rngs != (sampling != "fixed"):
        raise ValueError(
            f"sampling={sampling!r} needs "
            + ("no generators (pass None)" if have_rngs else "one generator per seed")
            + " (see dysonsgd.sgd.sampling.sample_streams)"
        )
    return sampling


def sample_streams(
    entropy: int, n_seeds: int, sampling: str, n_samples: int, epochs_done: int = 0
) -> list[np.random.Generator] | None:
    """The seeds' index streams, positioned at the start of epoch ``epochs_done + 1``.

    Parameters
    ----------
    entropy : int
        The run's base entropy (:func:`dysonsgd._seeding.base_entropy`).
    n_seeds : int
        Seeds ``0 .. n_seeds - 1``; stream k is the same whatever ``n_seeds`` is.
    sampling : {"fixed", "shuffle", "iid"}
    n_samples : int
        Size of the training set (``NetworkConfig.n_samples``).
    epochs_done : int
        Epochs already trained (0 for a new run). ``iid`` skips them in O(1), ``shuffle``
        by drawing them (module docstring, "Streams and resuming").

    Returns
    -------
    list of numpy.random.Generator, length n_seeds, or None
        None for ``fixed`` (no randomness).
    """
    sampling = check_sampling(sampling)
    n_seeds = _integer("n_seeds", n_seeds, 1)
    n_samples = _integer("n_samples", n_samples, 1)
    epochs_done = _integer("epochs_done", epochs_done, 0)
    if sampling == "fixed":
        return None
    rngs = [_seeding.stream(entropy, k, _seeding.SHUFFLE) for k in range(n_seeds)]
    for rng in rngs:
        if sampling == "iid":
            rng.bit_generator.advance(epochs_done * n_samples)
        else:
            for _ in range(epochs_done):
                rng.permutation(n_samples)
    return rngs


def epoch_order(rng: np.random.Generator, sampling: str, n_samples: int) -> np.ndarray:
    """The training-sample indices of the next epoch, drawn from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The seed's stream (:func:`sample_streams`); advanced by one epoch.
    sampling : {"shuffle", "iid"}
    n_samples : int

    Returns
    -------
    ndarray of int64, shape (n_samples,)
        ``shuffle``: ``rng.permutation(n_samples)``. ``iid``: ``floor(u * n_samples)`` for
        ``n_samples`` doubles ``u = rng.random()`` (multiples of 2^-53 in [0, 1)), exactly
        one 64-bit draw each, which is what makes the stream skippable. Index ``i`` has
        probability ``1/n_samples`` up to a relative error below ``n_samples / 2^53``
        (4e-13 at the paper's 4000). ``u * n_samples < n_samples`` holds in floating
        point as well: the largest ``u`` is ``1 - 2^-53``, and ``n (1 - 2^-53)`` rounds
        below ``n``.
    """
    if sampling == "shuffle":
        return rng.permutation(n_samples)
    if sampling == "iid":
        return (rng.random(n_samples) * n_samples).astype(np.int64)
    raise ValueError(f"epoch_order draws for 'shuffle' or 'iid', got {sampling!r}")

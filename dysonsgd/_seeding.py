"""Seed handling: one base entropy per run, independent streams per (seed index, purpose).

Stream k of a run depends only on the base entropy and k, never on how many other seeds
run beside it: ``SeedSequence(entropy, spawn_key=(k, purpose))``.
"""

from __future__ import annotations

import numpy as np

#: Purposes of the per-seed streams. New purposes get new numbers; never renumber.
NETWORK = 0  # M, W*, Z, the student's initial matrix, training and probe inputs
SHUFFLE = 1  # batch shuffling in SGD
LANGEVIN = 2  # Brownian increments of the Langevin integrator
LANGEVIN_INIT = 3  # initial spectra drawn by the integrator's simple models
SCALING = 4  # injected noise, teacher and start of the linear scaling experiment (scaling/)


def base_entropy(seed: int | np.random.Generator | np.random.SeedSequence | None) -> int:
    """Reduce any accepted seed to one non-negative integer entropy.

    Parameters
    ----------
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy from the OS (the returned value makes the run
        reproducible); a Generator is advanced by one draw.

    Returns
    -------
    int
        The entropy from which every per-seed stream is derived.
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63 - 1))
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(2, np.uint64)[0])
    if isinstance(seed, (bool, np.bool_)):
        raise ValueError(f"seed must be an integer, a Generator or None, got {seed!r}")
    if isinstance(seed, (int, np.integer)):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return int(seed)
    raise ValueError(f"seed must be an integer, a Generator or None, got {type(seed).__name__}")


def stream(entropy: int, index: int, purpose: int) -> np.random.Generator:
    """The generator of member ``index`` of a run for a given ``purpose``."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index, purpose)))

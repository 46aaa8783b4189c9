"""Private kernel of linear SGD with injected noise: the vectorised numpy loop over (cell, seed).

No validation here: :mod:`dysonsgd.scaling.simulator` checks the inputs, builds the teachers,
starts and streams, and calls :func:`run`. The step-by-step oracle that this loop must match
lives with the tests (``tests/scaling/test_scaling.py``, ``naive_linear_sgd``).

Why not :func:`dysonsgd.sgd.train`: the teacher is an exact fixed point of the package's engines
(every per-sample gradient vanishes at ``W = W*`` whatever the activation and fixed layers),
while this process has additive noise that does not; docs/scaling.md, "Why a separate simulator".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: At most this many steps' noise is drawn in one call per (seed, cell) stream ...
_NOISE_BLOCK = 256
#: ... and the noise buffer holds at most this many float64 numbers (32 MB). The block length
#: does not change the results: each stream is read sequentially.
_NOISE_BUDGET = 2**22


def run(
    W: np.ndarray,
    W_teacher: np.ndarray,
    lr: np.ndarray,
    amplitude: np.ndarray,
    rngs: Sequence[Sequence[np.random.Generator]],
    steps: int,
    record_every: int,
    out: np.ndarray,
) -> None:
    """Advance ``W`` by ``steps`` SGD steps in place, writing singular values into ``out``.

    One step per (cell c, seed k): ``W <- W - lr_c (W - W*)``, then
    ``W <- W - lr_c sqrt(A_c/|B|_c) z`` with ``z`` a K x L standard normal matrix read
    sequentially from ``rngs[k][c]``.

    Parameters
    ----------
    W : ndarray of float64, shape (C, S, K, L)
        Students at step 0; overwritten with the students after ``steps`` steps.
    W_teacher : ndarray of float64, shape (C, S, K, L)
    lr : ndarray of float64, shape (C,)
    amplitude : ndarray of float64, shape (C,)
        ``lr * sqrt(A / |B|)`` per cell: the standard deviation of the noise term of a step.
    rngs : nested sequence of Generator, [S][C]
        The noise stream of seed k, cell c.
    steps, record_every : int
    out : ndarray of float64, shape (C, S, steps // record_every + 1, K)
        Descending singular values at steps 0, record_every, ...
    """
    C, S, K, L = W.shape
    out[:, :, 0] = np.linalg.svd(W, compute_uv=False)
    lr4 = lr[:, None, None, None]
    amp = amplitude[:, None, None, None]
    nblock = max(1, min(_NOISE_BLOCK, _NOISE_BUDGET // (C * S * K * L)))
    block = np.empty((C, S, nblock, K, L))
    r = 1
    for start in range(0, steps, nblock):
        nb = min(nblock, steps - start)
        for c in range(C):
            for k in range(S):
                rngs[k][c].standard_normal((nb, K, L), out=block[c, k, :nb])
        for j in range(nb):
            W -= lr4 * (W - W_teacher)
            W -= amp * block[:, :, j]
            if (start + j + 1) % record_every == 0:
                out[:, :, r] = np.linalg.svd(W, compute_uv=False)
                r += 1

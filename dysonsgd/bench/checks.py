"""The integrator's coefficient check: one numba pass vs the numpy checks it replaced.

``integrate`` validates the noise matrix V0 (n, K, K) at every coefficient refresh: every
entry finite, >= 0, the matrix symmetric to a relative ``SYM_RTOL``, and its symmetric part
``0.5 (V0 + V0^T)`` handed to the kernel. Before, that was ``np.isfinite``, ``np.allclose``
against the transpose, ``V0 < 0`` and the symmetrisation as separate full-size numpy
expressions; now it is ``_kernels.check_symmetrise_v0``, one tiled pass with the same
verdicts (tests/langevin/test_langevin.py::test_v0_check_agrees_with_the_numpy_checks). Both are
timed here side by side on the same valid V0 (the common case: every check passes).

Run: ``dysonsgd bench --only checks`` (``--full`` for the long run).
"""

from __future__ import annotations

import numpy as np

from dysonsgd.bench._tables import Table, best_time
from dysonsgd.langevin import _kernels as _k

NAME = "checks"


def _numpy_checks(V0: np.ndarray) -> np.ndarray:
    """The checks as numpy expressions, in the order the kernel reports them."""
    if not np.all(np.isfinite(V0)):
        raise ValueError("non-finite")
    if not np.allclose(V0, np.swapaxes(V0, 1, 2), rtol=_k.SYM_RTOL, atol=0.0):
        raise ValueError("asymmetric")
    if np.any(V0 < 0):
        raise ValueError("negative")
    return np.ascontiguousarray(0.5 * (V0 + np.swapaxes(V0, 1, 2)))


def run(quick: bool = False) -> Table:
    cases = [(256, 8), (256, 16), (256, 64), (16, 256)]
    if quick:
        cases = [c for c in cases if c != (256, 64)]
    repeat = 3 if quick else 7
    rng = np.random.default_rng(219)  # fixed: the same matrices in every run
    rows = []
    for K, n in cases:
        A = rng.random((n, K, K))
        V0 = np.ascontiguousarray(A + np.swapaxes(A, 1, 2))  # symmetric, >= 0: all checks pass
        out = np.empty_like(V0)
        where = np.zeros(3, dtype=np.int64)
        assert _k.check_symmetrise_v0(V0, out, where) == 0  # compiles, and agrees:
        np.testing.assert_array_equal(out, _numpy_checks(V0))
        t_np = best_time(lambda V0=V0: _numpy_checks(V0), repeat=repeat)
        t_k = best_time(lambda V0=V0, o=out, w=where: _k.check_symmetrise_v0(V0, o, w),
                        repeat=repeat)  # fmt: skip
        t_copy = best_time(lambda V0=V0, o=out: np.copyto(o, V0), repeat=repeat)
        rows.append([K, n, t_np * 1e3, t_k * 1e3, t_np / t_k, t_k / t_copy])
    notes = [
        "times per call in ms, best of the rounds; both on the same valid V0",
        "'/ copy': the kernel's time over a plain copy of V0 (the memory-bound floor)",
    ]
    return Table(
        NAME,
        "Coefficient check of integrate(): one numba pass vs the numpy checks",
        ["K", "n", "numpy checks [ms]", "one pass [ms]", "speed-up", "/ copy"],
        rows,
        notes,
    )

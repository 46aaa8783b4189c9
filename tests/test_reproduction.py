"""dysonsgd.reproduction: the column summary and convergence on hand-made stores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from dysonsgd.reproduction import column_summary, convergence

T = np.array([0.25, 0.5, 1.0, 2.0])


def _store(ordered_exact, ordered_paper, epochs=100, done=True):
    """A store-shaped Dataset: one column 1/sigma_W = 8 (and a second, 1/sigma_W = 1)."""
    oe = np.asarray(ordered_exact, dtype=float)  # (n_T, n_seeds)
    op = np.asarray(ordered_paper, dtype=float)
    n_T, n = oe.shape
    two = lambda a: np.stack([a, a], axis=1)  # noqa: E731  (T, sigma_w, seed)
    loss = np.tile(np.arange(1.0, n + 1.0), (n_T, 1)) * T[:, None]
    return xr.Dataset(
        {
            "ordered_exact": (("T", "sigma_w", "seed"), two(oe)),
            "ordered_paper": (("T", "sigma_w", "seed"), two(op)),
            "final_loss": (("T", "sigma_w", "seed"), two(loss)),
            "grad_norm": (("T", "sigma_w", "seed"), two(2 * loss)),
            "test_loss": (("T", "sigma_w", "seed"), two(3 * loss)),
            "diverged": (("T", "sigma_w", "seed"), two(np.zeros_like(loss))),
            "cell_done": (("T", "sigma_w"), np.full((n_T, 2), 1.0 if done else np.nan)),
        },
        coords={
            "T": T,
            "sigma_w": [0.125, 1.0],
            "seed": np.arange(n),
            "epoch": ("save", np.linspace(0, epochs, 3).astype(int)),
        },  # fmt: skip
    )


def test_column_summary_by_hand():
    # exact: fractions 1, 0.75, 0.5, 0: first below 0.68 at T = 1, between 0.5 (0.75) and 1
    # (0.5): w = (0.75 - 0.68) / 0.25 = 0.28, tc = 2^(-1 + 0.28).
    # paper: fractions 1, 1, 1, 1: never below -> inf.
    oe = [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    s = column_summary(_store(oe, np.ones((4, 4))), 8.0, n_bootstrap=200)
    assert s["epochs"] == 100 and s["seeds"] == 4 and s["T"] == T.tolist()
    assert s["ordered_fraction_exact"] == [1.0, 0.75, 0.5, 0.0]
    assert s["tc68_exact"] == pytest.approx(2.0 ** (-1 + 0.28), rel=1e-12)
    assert s["tc68_paper"] == math.inf and s["tc68_paper_error"]["above_grid"] == 1.0
    # medians of 1..4 times T: 2.5 T
    np.testing.assert_allclose(s["final_loss_median"], 2.5 * T)
    np.testing.assert_allclose(s["grad_norm_median"], 5.0 * T)
    # the bootstrap brackets the estimate and sees a finite crossing at every resample
    e = s["tc68_exact_error"]
    assert e["log2_tc_16"] <= math.log2(s["tc68_exact"]) <= e["log2_tc_84"]
    assert e["above_grid"] == 0.0 and e["below_grid"] == 0.0


def test_column_summary_refuses_missing_column_or_cells():
    ds = _store(np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="no column 1/sigma_W = 4"):
        column_summary(ds, 4.0)
    with pytest.raises(ValueError, match="not complete"):
        column_summary(_store(np.ones((4, 2)), np.ones((4, 2)), done=False), 8.0)


def test_convergence_sorted_by_epochs():
    a = _store(np.ones((4, 2)), np.ones((4, 2)), epochs=1000)
    b = _store(np.zeros((4, 2)), np.ones((4, 2)), epochs=100)
    rows = convergence([a, b], 8.0, n_bootstrap=10)
    assert [r["epochs"] for r in rows] == [100, 1000]
    assert rows[0]["tc68_exact"] == -math.inf and rows[1]["tc68_exact"] == math.inf

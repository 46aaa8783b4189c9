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


# --------------------------------------------------------------------------- on a real store


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """A real sweep: 1/sigma_W = 8 at T = 2^-5 (ordered) and T = 4 (high-temperature)."""
    from dysonsgd import sweep
    from dysonsgd.model import NetworkConfig

    cfg = sweep.SweepConfig(
        T_values=[2.0**-5, 4.0],
        sigma_values=[0.125, 1.0],
        epochs=20,
        n_seeds=3,
        network=NetworkConfig(n_batches=50),
    )
    path = tmp_path_factory.mktemp("repro") / "s.zarr"
    sweep.run_sweep(cfg, path, client="inprocess")
    return sweep.load(path)


def test_grid_summary_and_onset_follow_the_phase_rule(tiny_store):
    from dysonsgd.boundaries import boundary_temperatures, cell_phases
    from dysonsgd.reproduction import gd_onset, grid_summary

    g = grid_summary(tiny_store)
    phases = cell_phases(tiny_store).values
    assert g["inv_sigma_w"] == [1.0, 8.0]  # ascending 1/sigma_W: columns reversed
    assert g["phases"] == [[str(p) for p in row[::-1]] for row in phases]
    assert g["cells_done"] == 4 == g["cells"] and sum(g["phase_counts"].values()) == 4
    b = boundary_temperatures(tiny_store, "exact", (0.68,))[0.68]
    assert g["tc68_exact"] == b[::-1].tolist()
    o = gd_onset(tiny_store, 8.0)["gd"]
    assert o["phases"] == [str(p) for p in phases[:, 0]]
    assert o["phases"] == ["ordered", "high-temperature"]  # this fixture's two cells
    assert o["onset_T"] == 4.0 and o["onset_lr"] == pytest.approx(16.0)  # lr = T |B|, |B| 4
    assert o["high_temperature_fraction"][0] < 0.5 <= o["high_temperature_fraction"][1]


def test_probe_summary_is_advise_on_the_coldest_cell(tiny_store):
    """advise trains its probe seeds at T = 2^-5 with the same base seed, network and data
    as the sweep's cell there: its T_c per seed, and so its T_max, are the cell's."""
    from dysonsgd.boundaries import advise
    from dysonsgd.reproduction import probe_summary

    p = probe_summary(tiny_store, 8.0)
    adv = advise(0.125, n_seeds=3, epochs=20, n_batches=50, levels=(0.68,))
    assert p["probe_T_max68_exact"] == pytest.approx(adv.T_max["0.68"], rel=1e-9)
    assert p["probe_Tc_median_exact"] == pytest.approx(adv.Tc_median, rel=1e-9)
    assert probe_summary(tiny_store.isel(T=[1]), 8.0) == {}  # no cell at 2^-5


def test_compact_data_round_trip_and_figures(tiny_store, tmp_path):
    """The compact netCDF holds every variable but W_final, equal to the store, and the
    figures of the reproduction are drawn from the summary and that file alone."""
    import json

    from dysonsgd.reproduction import _figures, column_summary, convergence, write_compact

    path = write_compact(tiny_store, tmp_path / "s.nc")
    back = xr.open_dataset(path, engine="scipy").load()
    assert "W_final" not in back and set(back.data_vars) == set(tiny_store.data_vars) - {"W_final"}
    for v in back.data_vars:
        np.testing.assert_array_equal(back[v].values, tiny_store[v].values, err_msg=v)
    summary = {
        "column": column_summary(back, 8.0, n_bootstrap=20),
        "convergence": convergence([back], 8.0, n_bootstrap=20),
    }
    (tmp_path / "s.json").write_text(json.dumps(summary))
    written = _figures(tmp_path / "s.json", tmp_path / "fig", grid_data=path)
    assert len(written) == 2 + 9 and all(p.stat().st_size > 1000 for p in written)
    # the doc's tables from the same summary: one row per temperature and per run length
    from dysonsgd.reproduction import tables

    text = tables(summary)
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(rows) == 2 + 2 + 1  # two headers, 2 temperatures, 1 run length
    assert "| 0.03125 |" in text and "| 4 |" in text and "| 20 | 3 |" in text


def test_json_has_no_infinities():
    from dysonsgd.reproduction import _finite_or_none

    d = _finite_or_none({"a": [1.0, math.inf, -math.inf, math.nan], "b": {"c": math.inf}})
    assert d == {"a": [1.0, None, None, None], "b": {"c": None}}


def test_committed_summary_has_the_documented_keys_and_advise_reads_it():
    """docs/data/reproduction.json holds the keys docs/reproduction.md promises, and the
    probe lengths advise quotes (boundaries.PROBE_CONVERGENCE) are its convergence rows."""
    import json
    from pathlib import Path

    from dysonsgd.boundaries import PROBE_CONVERGENCE

    path = Path(__file__).resolve().parents[1] / "docs" / "data" / "reproduction.json"
    if not path.is_file():
        pytest.skip("no docs/ beside the tests (an installed package)")
    d = json.loads(path.read_text())
    c = d["column"]
    assert c["inv_sigma_w"] == 8 and c["epochs"] == 100_000 and c["seeds"] == 10
    assert len(c["T"]) == 12
    for k in ("final_loss_median", "ordered_fraction_exact", "ordered_fraction_paper"):
        assert len(c[k]) == 12
    assert {"tc68_exact", "tc68_paper"} <= set(c)
    assert [r["epochs"] for r in d["convergence"]] == [100, 1000, 10_000, 100_000]
    for r in d["convergence"]:
        for est in ("exact", "paper"):
            got = r[f"probe_T_max68_{est}"]
            want = PROBE_CONVERGENCE[est][r["epochs"]]
            if got is None:  # JSON null: no finite value
                assert not math.isfinite(want)
            else:
                assert want == pytest.approx(got, rel=5e-3)  # the table rounds to 3 digits
    assert all({"batch_size", "onset_T"} <= set(r) for r in d["batch_size_onset"])
    assert "gd_onset_lr" in d


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["sharpness", "--T-values", "abc"], "--T-values must be comma-separated numbers"),
        (["sharpness", "--T-values", "1", "--batch-sizes", "3"], "does not divide"),
        (["sharpness", "--T-values", "1", "--epochs", "0"], "epochs must be"),
        (["summary", "--column", "{tmp}/none.zarr"], "no sweep store"),
        (["tables", "--summary", "{tmp}/none.json"], "No such file"),
        (["tables", "--summary", "{tmp}/other.json"], "is not a summary written by"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys):
    from dysonsgd.reproduction import main

    (tmp_path / "other.json").write_text('{"a": 1}')
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:") and fragment in err[0], err

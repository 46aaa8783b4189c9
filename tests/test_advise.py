"""`dysonsgd advise` against `phase-diagram`: the shared width line, the seed counts, resolution.

Issue 14: at 1/sigma_W = 8 the two commands printed 0.815 and 0.834 for the same width line
(2 seeds vs 10: the same definition averaged over other seeds), and advise printed the
minimum of 10 seeds as its 0.95 and 0.997 temperatures. These tests tie both commands to one
function and check that a level the seeds cannot resolve is flagged, not printed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd import boundaries, sweep
from dysonsgd.boundaries import _ordered_temperature, level_resolution, seeds_needed
from dysonsgd.cli.main import cli
from dysonsgd.model import NetworkConfig

# A few small networks (20 batches of 4) at the ordered reference point: seeds 0-2 of base
# seed 0, the same networks in the sweep and in advise's probe run.
N_BATCHES, EPOCHS, SEEDS, SIGMA = 20, 20, 3, 0.125


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two cells (T = 2^-5, 2^-1) at sigma_W = 1/8, 3 seeds."""
    path = tmp_path_factory.mktemp("advise") / "s.zarr"
    cfg = sweep.SweepConfig(
        T_values=(2.0**-5, 2.0**-1), sigma_values=(SIGMA,), epochs=EPOCHS, n_seeds=SEEDS,
        network=NetworkConfig(n_batches=N_BATCHES),
    )  # fmt: skip
    sweep.run_sweep(cfg, path, client="inprocess")
    return path, sweep.load(path)


@pytest.fixture(scope="module")
def adv():
    return boundaries.advise(SIGMA, n_seeds=SEEDS, epochs=EPOCHS, n_batches=N_BATCHES)


def test_width_line_is_one_function_for_both_paths(store, adv):
    _, ds = store
    from_store = boundaries.disorder_lines(ds)
    assert from_store["actual_seeds"] == adv["disorder_lines"]["actual_seeds"] == SEEDS
    assert from_store["actual"] == adv["disorder_lines"]["actual"]
    assert from_store["actual_stderr"] == pytest.approx(adv["disorder_lines"]["actual_stderr"])
    # the sweep's stored per-seed rms is feature_rms of the same instances, bit for bit
    # (sweep.compute_cell keeps its own copy of the expression: this ties them)
    from dysonsgd.model import make_instances

    inst = make_instances(NetworkConfig(n_batches=N_BATCHES), SIGMA, SEEDS, 0)
    rms = boundaries.feature_rms(inst)
    for i in range(ds.sizes["T"]):
        np.testing.assert_array_equal(ds["a_rms"].isel(T=i, sigma_w=0).values, rms)
    assert from_store["actual"] == math.sqrt(2) * np.mean(rms)


def test_width_line_averages_seeds_not_cells(store):
    """A store with a missing cell gives the same line: per seed first, then over seeds."""
    _, ds = store
    full = boundaries.disorder_lines(ds)
    part = ds.copy(deep=True)
    part["a_rms"][1, 0, :] = np.nan
    assert boundaries.disorder_lines(part) == full
    # fewer seeds, another number, and the count says so
    two = boundaries.disorder_lines(a_rms=part["a_rms"].values[0, 0, :2])
    assert two["actual_seeds"] == 2 and two["actual"] != full["actual"]
    assert math.isnan(boundaries.disorder_lines(a_rms=[0.5])["actual_stderr"])
    assert boundaries.disorder_lines() == {"paper": math.sqrt(2)}


def test_advise_criterion_on_the_same_seeds_matches_the_store(store, adv):
    """advise's per-seed T_c at T = 2^-5 is the sweep cell's; its ordered count the cell's."""
    _, ds = store
    cell = ds.sel(T=2.0**-5, sigma_w=SIGMA)
    np.testing.assert_allclose(adv["Tc"], cell["Tc_exact"].values, rtol=1e-12)
    assert adv["ordered_at_trained_T"] == int(cell["ordered_exact"].values.sum())
    assert adv["trained_at_T"] == 2.0**-5 and adv["n_seeds"] == SEEDS


def test_cli_outputs_name_their_question_and_seed_count(store, tmp_path):
    path, _ = store
    res = run(["phase-diagram", "--store", path, "--resume", "--scheduler", "inprocess", "--json"])
    assert res.exit_code == 0, res.output
    pd = json.loads(res.output)
    res = run(
        [
            "advise",
            "--sigma",
            SIGMA,
            "--seeds",
            SEEDS,
            "--epochs",
            20,
            "--n-batches",
            N_BATCHES,
            "--json",
        ]
    )
    assert res.exit_code == 0, res.output
    ad = json.loads(res.output)
    assert pd["disorder_line_inv_sigma"] == ad["disorder_lines"]
    assert pd["boundary_T_seeds"] == ad["n_seeds"] == SEEDS
    assert "each trained at that cell's own T" in pd["boundary_T_question"]
    assert "trained at T = 0.03125" in ad["question"] and "not a phase label" in ad["question"]
    # 3 seeds resolve none of 0.68 (needs 4), 0.95, 0.997 in either command
    for res_ in (pd["boundary_T_resolution"], ad["T_max_resolution"]):
        assert res_["0.68"] == {
            "resolved": False,
            "seeds_needed": 4,
            "note": "not resolved with 3 seeds: needs >= 4 seeds",
        }
    res = run(["phase-diagram", "--store", path, "--resume", "--scheduler", "inprocess"])
    assert "level 0.68: not resolved with 3 seeds: needs >= 4 seeds" in res.output
    assert "over the 3 seeds" in res.output


def test_advise_json_flags_unresolved_quantiles_for_10_seeds():
    res = run(
        [
            "advise",
            "--sigma",
            SIGMA,
            "--seeds",
            10,
            "--epochs",
            20,
            "--n-batches",
            N_BATCHES,
            "--json",
        ]
    )
    assert res.exit_code == 0, res.output
    ad = json.loads(res.output)
    r = ad["T_max_resolution"]
    assert r["0.68"]["resolved"] is True and r["0.68"]["note"] == ""
    assert r["0.95"]["resolved"] is False and r["0.95"]["seeds_needed"] == 20
    assert r["0.997"] == {
        "resolved": False,
        "seeds_needed": 334,
        "note": "not resolved with 10 seeds: needs >= 334 seeds",
    }
    # an unresolved level's number is the lowest T_c (kept for scripts, flagged above)
    tc = np.array(ad["Tc"], dtype=float)
    assert ad["T_max"]["0.997"] == pytest.approx(max(np.min(tc), 0.0))
    table = run(
        ["advise", "--sigma", SIGMA, "--seeds", 10, "--epochs", 20, "--n-batches", N_BATCHES]
    ).output
    assert "not resolved with 10 seeds: needs >= 334 seeds" in table
    assert "prediction of the Langevin criterion" in table
    assert f"{ad['ordered_at_trained_T']} of 10 seeds ordered" in table


@pytest.mark.parametrize(
    "level, n", [(0.5, 2), (0.68, 4), (0.9, 10), (0.95, 20), (0.99, 100), (0.997, 334)]
)
def test_seeds_needed(level, n):
    assert seeds_needed(level) == n
    assert level_resolution(n, [level])[f"{level:g}"]["resolved"]
    assert not level_resolution(n - 1, [level])[f"{level:g}"]["resolved"]


def test_ordered_temperature_is_the_largest_T_with_enough_ordered_seeds():
    rng = np.random.default_rng(1)  # any seed: the property holds for every draw
    for n in (1, 2, 3, 10, 20, 37):
        tc = np.sort(rng.lognormal(size=n))
        for p in (0.5, 0.68, 0.9, 0.95, 0.997):
            t = _ordered_temperature(tc, p)
            assert np.mean(t <= tc) >= p - 1e-12  # at T_max at least p are ordered
            above = np.nextafter(t, np.inf)
            assert np.mean(above <= tc) < p  # just above it fewer are
            if n < seeds_needed(p):
                assert t == tc[0]  # unresolved: the minimum
            else:
                assert t > tc[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--sigma", "0"], "'--sigma'"),
        (["--sigma", "nan"], "'--sigma'"),
        (["--sigma", "1", "--seeds", "0"], "'--seeds'"),
        (["--sigma", "1", "--batch-sizes", "4,x"], "not an integer"),
        (["--sigma", "1", "--estimator", "median"], "'--estimator'"),
    ],
)
def test_bad_input_exits_2(args, fragment):
    res = CliRunner().invoke(cli, ["advise", *args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0], res.output


def test_bad_api_input():
    for lv in (0.0, 1.0, 1.5, -0.2, True, "0.9"):
        with pytest.raises(ValueError, match="level"):
            seeds_needed(lv)
    with pytest.raises(ValueError, match="levels|level"):
        boundaries.advise(SIGMA, levels=(0.68, 1.0))
    with pytest.raises(ValueError, match="at most one"):
        boundaries.disorder_lines(object(), a_rms=[0.5])


def test_advise_returns_an_advice_and_the_cli_prints_its_to_dict(adv):
    """boundaries.advise gives a frozen Advice (adv["key"] reads a field, as for the dict it
    was); advise --json is its to_dict through to_jsonable, nothing added."""
    import dataclasses

    from dysonsgd.cli._common import to_jsonable

    assert isinstance(adv, boundaries.Advice)
    d = adv.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(boundaries.Advice)]
    for key, value in d.items():
        assert adv[key] is value is getattr(adv, key)
    with pytest.raises(KeyError):
        adv["nope"]
    res = run(["advise", "--sigma", SIGMA, "--seeds", SEEDS, "--epochs", EPOCHS,
               "--n-batches", N_BATCHES, "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == to_jsonable(d)


def test_cli_n_batches_default_is_the_network_configs():
    params = {p.name: p for p in cli.get_command(None, "advise").params}
    assert params["n_batches"].default == NetworkConfig().n_batches


def test_probe_convergence_reads_the_nearest_measured_length(monkeypatch):
    """By hand on a planted table: the nearest length in log epochs, the ratio to the longest
    length's value, inf when the probe there had no finite T_max; the Advice carries it and
    the CLI prints its note."""
    monkeypatch.setitem(boundaries.PROBE_CONVERGENCE, "exact", {100: 0.1, 1000: 0.05, 100000: 0.4})
    monkeypatch.setitem(boundaries.PROBE_CONVERGENCE, "paper", {100: math.inf, 100000: 2.0})
    c = boundaries.probe_convergence(20, "exact")
    assert c["nearest_measured_epochs"] == 100 and c["ratio"] == pytest.approx(0.25)
    assert "0.25 x" in c["note"] and "nearest measured length to 20: 100" in c["note"]
    # 3000 is nearer 1000 than 100000 in log epochs (log 3 < log 33)
    assert boundaries.probe_convergence(3000)["nearest_measured_epochs"] == 1000
    assert boundaries.probe_convergence(50000)["ratio"] == 1.0
    p = boundaries.probe_convergence(100, "paper")
    assert p["ratio"] == math.inf and "no finite T_max" in p["note"]
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        boundaries.probe_convergence(0)
    with pytest.raises(ValueError, match="estimator must be"):
        boundaries.probe_convergence(10, "other")


def test_advice_says_how_far_its_probe_is_from_converged():
    out = CliRunner().invoke(
        cli, ["advise", "--sigma", "0.125", "--seeds", "2", "--epochs", "20", "--n-batches", "20"]
    )
    assert out.exit_code == 0, out.output
    assert "how far from converged" in " ".join(out.output.split())
    adv = boundaries.advise(0.125, n_seeds=2, epochs=20, n_batches=20)
    assert adv.convergence == boundaries.probe_convergence(20, "exact")

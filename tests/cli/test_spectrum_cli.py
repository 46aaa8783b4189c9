"""`dysonsgd spectrum FILE` and `dysonsgd.spectrum_report`: noise, spikes, files, bad files.

Seeds are fixed so that the runs are reproducible; each statistical assertion derives its
tolerance in a comment from the spread of the statistic, so a different seed would pass with
the stated probability.
"""

import dataclasses
import json
import math
import pickle
import zipfile

import numpy as np
import pytest
from _matrices import noise, spiked
from click.testing import CliRunner

from dysonsgd import spectra
from dysonsgd.cli.main import cli
from dysonsgd.spectrum_report import (
    KS_MIN_SPACINGS,
    RATIO_MIN_LEVELS,
    RATIO_SD_COEFF,
    FileReport,
    analyse_file,
    analyse_matrix,
    load_matrices,
    pool_spacing_ratios,
)


def run(*args):
    return CliRunner().invoke(cli, ["spectrum", *map(str, args)])


def run_json(*args):
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# --------------------------------------------------------------------------------------------
# physics
# --------------------------------------------------------------------------------------------
def test_pure_noise_matrix_is_goe_like_without_outliers(tmp_path):
    # seed 0: any seed; a 200 x 400 Gaussian matrix has a false outlier (margin 2) with
    # probability ~2 % (measured in test_false_outlier_rate_is_the_tracy_widom_rate).
    path = tmp_path / "noise.npy"
    np.save(path, noise(200, 400, seed=0))
    out = run_json(path)
    assert out["kind"] == "npy" and len(out["arrays"]) == 1
    a = out["arrays"][0]
    assert a["name"] == "noise" and a["shape"] == [200, 400] and a["n_levels"] == 200
    s = np.array(a["singular_values"])
    assert s.shape == (200,) and np.all(np.diff(s) <= 0)
    assert a["mp_ratio"] == pytest.approx(0.5)
    # the scale is the mean eigenvalue, 1 here; the median estimate of 200 rigid levels is
    # far better than the iid bound sd ~ 1.25 sd(x) / sqrt(200) = 6.3 %: 15 % is 2.4 bounds.
    assert a["mp_scale"] == pytest.approx(1.0, rel=0.15)
    assert a["n_outliers"] == 0 and a["n_bulk"] == 200
    # the bulk passes the MP test (an exact 1 % test: any seed fails with probability 0.01)
    assert a["mp_bulk"] is True and a["mp_ks_pvalue"] > 0.01 and a["mp_alternative"] is None
    # <r> has sd 0.34 / sqrt(200) = 0.024 (RATIO_SD_COEFF, re-measured below): within 4 sd
    # of the large-N GOE value; the Poisson value is (0.531 - 0.386) / 0.024 = 6 sd away, so
    # z_poisson > 2 fails only if z_goe < -4 as well.
    se = a["mean_spacing_ratio_stderr"]
    assert se == pytest.approx(RATIO_SD_COEFF / math.sqrt(200))
    assert abs(a["ratio_z_goe"]) < 4 and a["ratio_z_poisson"] > 2
    # 199 unfolded spacings: Wigner and Poisson cdfs differ by 0.216, 3 times the KS scale
    # 1/sqrt(199) = 0.071 (p ~ 1e-8), so Poisson is rejected; Wigner is the truth up to the
    # large-N correction (sup |F_GOE - F_surmise| ~ 0.01 < 0.071), so p is not small.
    assert a["ks_poisson_pvalue"] < 1e-4 and a["ks_wigner_pvalue"] > 1e-3
    # Brody q of GOE spacings is ~1 with stderr ~0.07 (indicative): 0.6 < q < 1.4.
    assert 0.6 < a["brody_q"] < 1.4
    assert a["reliable"] is True and a["warnings"] == []


def test_false_outlier_rate_is_the_tracy_widom_rate():
    # 200 Gaussian 32 x 64 matrices (seeds 0..199). With the scale fitted by the median, the
    # fraction with a false outlier was measured at 1.2-2.8 % (K = 8 ... 128, 500 matrices
    # each) at margin 2, 16-21 % at margin 0. Binomial(200, 0.03): mean 6, sd 2.4, so <= 14
    # holds beyond 3.3 sd; Binomial(200, 0.16): mean 32, sd 5.2, so >= 15 holds beyond 3.3 sd.
    # The second check shows the threshold is what removes them (the test can fail).
    # The MP test of the bulk (an exact 1 % Monte Carlo test) refuses Binomial(200, 0.01)
    # of them: mean 2, sd 1.4, so <= 8 holds beyond 4 sd (P = 2e-4).
    n2 = n0 = n_not_mp = 0
    r = []
    for seed in range(200):
        W = noise(32, 64, seed)
        rep = analyse_matrix(W, margin=2.0)
        n2 += rep.n_above_threshold > 0
        n0 += spectra.fit_marchenko_pastur(rep.eigenvalues, (32, 64)).n_outliers > 0
        n_not_mp += not rep.mp_bulk
        r.append(spectra.mean_spacing_ratio(rep.eigenvalues))
    assert n2 <= 14 and n0 >= 15
    assert n_not_mp <= 8
    # RATIO_SD_COEFF: sd(<r>) sqrt(N) measured 0.31 at N = 32; the sd of 200 values has a
    # relative error 1/sqrt(2 x 199) = 5 %, so the estimate must lie below 0.34 x 1.15.
    c_goe = np.std(r, ddof=1) * math.sqrt(32)
    u = np.sort(np.random.default_rng(1).random((200, 32)), axis=-1)  # Poisson levels
    c_poisson = np.std(spectra.mean_spacing_ratio(u), ddof=1) * math.sqrt(32)
    assert 0.25 < c_goe < RATIO_SD_COEFF * 1.15
    assert 0.25 < c_poisson < RATIO_SD_COEFF * 1.15


def test_rank_two_spike_gives_two_outliers_at_the_bbp_position(tmp_path):
    # Noise (entries N(0, 1/n), q = K/L = 1/3) plus theta_1 u_1 v_1^T + theta_2 u_2 v_2^T:
    # above theta_c = q^(1/4) = 0.76 each spike leaves the bulk (edge 1 + sqrt q = 1.58) at
    # s = sqrt((1 + theta^2)(q + theta^2)) / theta (Benaych-Georges & Nadakuditi, J.
    # Multivariate Anal. 111 (2012) 120): 3.220 and 2.327. Over 100 seeds the outliers had
    # sd 0.045 and mean offset < 0.01, so 0.22 (5 sd) is the tolerance. Seed 3: any seed.
    K, L, thetas = 150, 450, (3.0, 2.0)
    path = tmp_path / "spike.npy"
    np.save(path, spiked(K, L, thetas, seed=3))
    a = run_json(path)["arrays"][0]
    assert a["n_outliers"] == 2 and a["n_bulk"] == K - 2 and a["mp_bulk"] is True
    q = K / L
    predicted = [math.sqrt((1 + t * t) * (q + t * t)) / t for t in thetas]
    np.testing.assert_allclose(a["outlier_singular_values"], predicted, atol=0.22)
    assert a["singular_values"][:2] == a["outlier_singular_values"]
    # the bulk without the two outliers is still GOE-like: <r> within 4 sd (0.34/sqrt(148));
    # over the 100 seeds above |z_goe| had sd 0.90 and never exceeded 2.6. The Poisson value
    # is 0.144 / 0.028 = 5.2 sd away: z_poisson > 2 fails only if z_goe < -3.2 too.
    assert abs(a["ratio_z_goe"]) < 4 and a["ratio_z_poisson"] > 2
    # human output: the table row says 2 outliers
    res = run(path)
    assert res.exit_code == 0
    row = [ln for ln in res.stdout.splitlines() if ln.startswith("spike")][0]
    assert row.split()[4] == "2"


def test_product_of_gaussian_matrices_is_not_called_structure(tmp_path):
    # Issue 14: the 128 x 256 @ 256 x 64 product of seed 0 had 5 outliers "above the MP edge"
    # and reliable: yes. Its bulk fails the MP test (KS D = 0.129 against a null 99 % quantile
    # of 0.061: p at the floor 1/200, tests/test_spectrum_report.py), so the table says "-"
    # for the outliers, prints the p-value, and a warning says what the bulk likely is.
    rng = np.random.default_rng(0)
    path = tmp_path / "prod.npy"
    np.save(path, rng.standard_normal((128, 256)) @ rng.standard_normal((256, 64)))
    out = run_json(path)
    assert out["references"]["mp_pvalue_min"] == 0.01
    assert out["references"]["mp_test_samples"] == 199
    a = out["arrays"][0]
    assert a["n_outliers"] is None and a["outlier_singular_values"] == []
    assert a["n_above_threshold"] >= 1 and a["mp_bulk"] is False
    assert a["mp_ks_pvalue"] <= 0.01 and a["mp_ks_statistic"] > 0
    assert a["mp_alternative"].startswith("product-like / correlated")
    assert a["reliable"] is False
    res = run(path)
    assert res.exit_code == 0
    header = res.stdout.splitlines()[1].split()
    row = [ln for ln in res.stdout.splitlines() if ln.startswith("prod ")][0].split()
    assert header[5:8] == ["outl", "MP", "p"] and row[4] == "-" and float(row[5]) <= 0.01
    assert row[-1] == "no"
    assert "bulk not Marchenko-Pastur" in res.stdout and "Outliers not named" in res.stdout


def test_transpose_gives_the_same_report():
    W = spiked(40, 90, (3.0,), seed=5)
    a, b = analyse_matrix(W, "a"), analyse_matrix(W.T, "b")
    np.testing.assert_allclose(a.singular_values, b.singular_values, rtol=1e-12)
    assert a.mp_ratio == b.mp_ratio == pytest.approx(40 / 90)
    assert a.n_outliers == b.n_outliers == 1
    assert a.mean_spacing_ratio == pytest.approx(b.mean_spacing_ratio, rel=1e-10)


def test_few_levels_are_flagged_unreliable():
    # K = 16 (the paper's size): sd(<r>) = 0.34/4 = 0.085 > gap/2, below RATIO_MIN_LEVELS.
    assert RATIO_MIN_LEVELS == math.ceil((2 * 0.34 / (0.5307 - 0.3863)) ** 2) == 23
    rep = analyse_matrix(noise(16, 32, seed=0), "paper-size")
    assert rep.reliable is False
    assert any("bulk levels" in w and "23" in w for w in rep.warnings)
    assert any(str(KS_MIN_SPACINGS) in w for w in rep.warnings)
    big = analyse_matrix(noise(RATIO_MIN_LEVELS, 2 * RATIO_MIN_LEVELS, seed=0))
    assert big.reliable is True


def test_polynomial_unfolding_and_rank_deficient_matrix():
    rep = analyse_matrix(noise(60, 120, seed=2), unfolding="polynomial")
    assert rep.unfolding == "polynomial" and rep.ks_poisson_pvalue < 0.05
    assert rep.unfolded_spacings.mean() == pytest.approx(1.0)
    # rank 10 of 40: more than half the eigenvalues vanish, no MP bulk; reported, not fatal
    rng = np.random.default_rng(0)
    low = rng.standard_normal((40, 10)) @ rng.standard_normal((10, 80))
    r = analyse_matrix(low, "low-rank")
    assert r.mp_scale is None and r.n_outliers is None and r.reliable is False
    assert r.n_bulk == 10 and any("no Marchenko-Pastur fit" in w for w in r.warnings)
    json.dumps(r.to_dict())  # JSON-ready: no NaN, no numpy types


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def test_npz_with_several_arrays(tmp_path):
    path = tmp_path / "layers.npz"
    np.savez(
        path,
        layer1=noise(64, 128, seed=1),
        layer2=spiked(128, 64, (4.0,), seed=2),  # K > L: 64 singular values
        bias=np.zeros(64),
        conv=np.zeros((3, 4, 5)),
    )
    out = run_json(path, "--plot", tmp_path / "fig.png")
    assert out["kind"] == "npz"
    assert [a["name"] for a in out["arrays"]] == ["layer1", "layer2"]
    assert out["arrays"][1]["shape"] == [128, 64] and out["arrays"][1]["n_levels"] == 64
    assert out["arrays"][1]["n_outliers"] == 1
    assert out["skipped"] == ["bias (64,)", "conv (3, 4, 5)"]
    assert out["plot"] == [str(tmp_path / "fig.png")]
    assert out["pooled"] == []  # layers of one network are not an ensemble
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    picked = run_json(path, "--name", "layer2", "--name", "layer1")
    assert [a["name"] for a in picked["arrays"]] == ["layer2", "layer1"]
    res = run(path)
    assert res.exit_code == 0 and "skipped (not 2-D): bias (64,)" in res.stdout
    assert "layer1" in res.stdout and "<r>" in res.stdout


def test_many_matrices_give_one_figure_each(tmp_path, monkeypatch):
    from dysonsgd.plot import spectrum as _plot_spectrum

    monkeypatch.setattr(_plot_spectrum, "MAX_ROWS", 1)  # 2 figures instead of 7: faster
    path = tmp_path / "many.npz"
    np.savez(path, **{f"w{i}": noise(8, 16, seed=i) for i in range(2)}, **{"a/b c": noise(8, 8, 0)})
    out = run_json(path, "--plot", tmp_path / "fig.png")
    assert len(out["plot"]) == 3 and not (tmp_path / "fig.png").exists()
    for name in ("fig-0-w0.png", "fig-1-w1.png", "fig-2-a_b_c.png"):
        assert (tmp_path / name).stat().st_size > 5_000


def test_dysonsgd_train_file(tmp_path):
    path = tmp_path / "run.npz"
    res = CliRunner().invoke(
        cli,
        ["train", "--T", "0.05", "--sigma", "1", "--epochs", "2", "--seeds", "2",
         "--save-points", "2", "--n-batches", "20", "--out", str(path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = run_json(path)
    assert out["kind"] == "dysonsgd-train"
    names = [a["name"] for a in out["arrays"]]
    assert names == ["W[seed=0]", "W[seed=1]", "W_teacher[seed=0]", "W_teacher[seed=1]"]
    with np.load(path) as f:
        W, teacher = f["W"], f["W_teacher"]
    for a, M in zip(out["arrays"], [W[0, -1], W[1, -1], teacher[0], teacher[1]], strict=True):
        np.testing.assert_allclose(a["singular_values"], np.linalg.svd(M, compute_uv=False))
        assert a["shape"] == [16, 32] and a["reliable"] is False  # 16 levels < 23
    # the seeds are independent draws of one ensemble: their <r> are pooled, with the error
    # sqrt(sum_m 0.34^2 / N_m) / M (= 0.34 / sqrt(32) = 0.060 for M = 2 seeds of 16 levels)
    pooled = {p["group"]: p for p in out["pooled"]}
    assert set(pooled) == {"W", "W_teacher"}
    assert pooled["W"]["names"] == ["W[seed=0]", "W[seed=1]"]
    r = [a["mean_spacing_ratio"] for a in out["arrays"][:2]]
    n = [a["n_bulk"] for a in out["arrays"][:2]]
    assert pooled["W"]["mean_spacing_ratio"] == pytest.approx(np.mean(r))
    se = math.sqrt(sum(RATIO_SD_COEFF**2 / k for k in n)) / 2
    assert pooled["W"]["mean_spacing_ratio_stderr"] == pytest.approx(se)
    assert pooled["W"]["reliable"] is (se <= (0.5307 - 0.3863) / 2)
    one = run_json(path, "--name", "W_teacher[seed=1]")
    assert one["pooled"] == []  # one matrix is no ensemble
    assert [a["name"] for a in one["arrays"]] == ["W_teacher[seed=1]"]
    res = run(path, "--name", "W")
    assert res.exit_code == 2 and "W[seed=0], W[seed=1], W_teacher[seed=0]" in res.stderr
    # a diverged seed is analysed but flagged
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["diverged"] = np.array([False, True])
    np.savez(tmp_path / "div.npz", **arrays)
    div = run_json(tmp_path / "div.npz", "--name", "W[seed=1]")
    assert div["arrays"][0]["warnings"][0].startswith("seed 1 diverged")


# --------------------------------------------------------------------------------------------
# bad files: one line on stderr, exit 2, nothing written
# --------------------------------------------------------------------------------------------
class _Touch:
    """Unpickling this object creates a file: proof that a pickle was (not) loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write_bad(kind, tmp_path):
    p = tmp_path / f"{kind}.npy"
    good = noise(10, 20, seed=0)
    if kind == "missing":
        return tmp_path / "nope.npy", "no such file"
    if kind == "directory":
        return tmp_path, "is a directory"
    if kind == "text":
        p.write_text("W = [[1, 2], [3, 4]]\n")
        return p, "not a numpy .npy or .npz file"
    if kind == "1d":
        np.save(p, np.ones(10))
        return p, "need a 2-D array"
    if kind == "3d":
        np.save(p, np.ones((2, 10, 20)))
        return p, "need a 2-D array"
    if kind == "nan":
        good[3, 4] = np.nan
        np.save(p, good)
        return p, "1 non-finite"
    if kind == "inf":
        good[0, 0] = np.inf
        good[1, 1] = -np.inf
        np.save(p, good)
        return p, "2 non-finite"
    if kind == "three_levels":
        np.save(p, np.ones((3, 50)))
        return p, "has 3 singular value(s); need min(K, L) >= 4 (a spacing ratio needs 3"
    if kind == "zero":
        np.save(p, np.zeros((10, 20)))
        return p, "all singular values are zero"
    if kind == "complex":
        np.save(p, good + 1j)
        return p, "complex"
    if kind == "strings":
        np.save(p, np.array([["a"] * 5] * 5))
        return p, "are not numbers"
    if kind == "truncated_npy":
        np.save(p, good)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) - 100])
        return p, "truncated or corrupt"
    if kind == "pickle_npy":
        obj = np.empty((5, 5), dtype=object)
        obj[0, 0] = _Touch(str(tmp_path / "PWNED"))
        np.save(p, obj, allow_pickle=True)
        return p, "never unpickles"
    p = tmp_path / f"{kind}.npz"
    if kind == "no_2d":
        np.savez(p, a=np.ones(5), b=np.ones((2, 3, 4)))
        return p, "no 2-D arrays to analyse (found: a (1-D float64), b (3-D float64))"
    if kind == "empty_npz":
        np.savez(p)
        return p, "empty .npz"
    if kind == "pickle_npz":
        obj = np.empty((5, 5), dtype=object)
        obj[0, 0] = _Touch(str(tmp_path / "PWNED"))
        np.savez(p, good=good, evil=obj)
        return p, "array 'evil' holds Python objects"
    if kind == "truncated_npz":
        np.savez(p, a=good)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p, "truncated or corrupt"
    if kind == "corrupt_npz":
        np.savez_compressed(p, a=noise(50, 60, seed=0))
        data = bytearray(p.read_bytes())
        data[60:400] = bytes(340)  # zero out compressed payload after the local header
        p.write_bytes(bytes(data))
        return p, "truncated or corrupt"
    if kind == "zip_of_text":
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("weights.txt", "1 2 3")
        return p, "is not a numpy array"
    raise AssertionError(kind)


BAD = [
    "missing", "directory", "text", "1d", "3d", "nan", "inf", "three_levels", "zero",
    "complex", "strings", "truncated_npy", "pickle_npy", "no_2d", "empty_npz", "pickle_npz",
    "truncated_npz", "corrupt_npz", "zip_of_text",
]  # fmt: skip


@pytest.mark.parametrize("kind", BAD)
def test_bad_file(kind, tmp_path):
    path, message = _write_bad(kind, tmp_path)
    fig = tmp_path / "out" / "fig.png"
    fig.parent.mkdir()
    res = run(path, "--plot", fig, "--json")
    assert res.exit_code == 2, (kind, res.output)
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert message in lines[0], lines[0]
    assert list(fig.parent.iterdir()) == []  # nothing written
    assert not (tmp_path / "PWNED").exists()  # no pickle was ever loaded


def test_pickle_probe_works():
    # the probe used above does create its file when unpickled (so its absence means something)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "PWNED"
        pickle.loads(pickle.dumps(_Touch(str(target)))).close()
        assert target.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "x"], "--name picks arrays from an .npz"),
        (["--margin", "-1"], "--margin"),
        (["--margin", "nan"], "--margin"),
        (["--plot", "fig.txt"], "use .png, .pdf or .svg"),
        (["--unfolding", "kernel"], "--unfolding"),
    ],
)
def test_bad_options(args, message, tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, noise(10, 20, seed=0))
    res = run(path, *args)
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert res.stdout == ""


def test_unknown_name_lists_the_available_ones(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, fc1=noise(10, 20, seed=0), fc2=noise(20, 10, seed=1))
    res = run(path, "--name", "fc3")
    assert res.exit_code == 2
    assert "no array named 'fc3'; available: fc1, fc2" in res.stderr


def test_load_matrices_and_analyse_reject_bad_input():
    with pytest.raises(ValueError, match="margin must be a non-negative"):
        analyse_matrix(noise(10, 20, 0), margin=-1.0)
    with pytest.raises(ValueError, match="unfolding must be one of"):
        analyse_matrix(noise(10, 20, 0), unfolding="kernel")
    with pytest.raises(ValueError, match="object array"):
        analyse_matrix(np.empty((5, 5), dtype=object))
    with pytest.raises(ValueError, match="no such file"):
        load_matrices("/nonexistent/w.npy")


def test_degenerate_and_out_of_range_spectra():
    # an orthogonal matrix: all singular values 1, every spacing is rounding noise
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((30, 30)))[0]
    rep = analyse_matrix(Q, "orthogonal")
    assert rep.reliable is False
    assert any("vanish to rounding" in w for w in rep.warnings)
    with pytest.raises(ValueError, match="overflow or underflow"):
        analyse_matrix(noise(10, 20, 0) * 1e200)
    with pytest.raises(ValueError, match="margin must be"):
        analyse_matrix(noise(10, 20, 0), margin="x")


def test_pooling_seeds_shrinks_the_error():
    # four independent 16 x 32 noise matrices: each <r> has sd 0.34/4 = 0.085 (unreliable);
    # pooled, 0.34/sqrt(64) = 0.0425 <= gap/2 = 0.072: reliable
    reports = [analyse_matrix(noise(16, 32, seed=s), f"s{s}") for s in range(4)]
    assert not any(r.reliable for r in reports)
    p = pool_spacing_ratios(reports, "W")
    assert p.n_levels == sum(r.n_bulk for r in reports)
    assert p.stderr == pytest.approx(
        math.sqrt(sum(RATIO_SD_COEFF**2 / r.n_bulk for r in reports)) / 4
    )
    assert p.reliable is True
    assert pool_spacing_ratios([reports[0]], "one").reliable is False
    assert pool_spacing_ratios([], "none") is None


@pytest.mark.slow
def test_calibration_high_statistics():
    # The two numbers the warnings rest on, re-measured with 1000 spectra each (seeds 10000+:
    # disjoint from the other tests). sd of 1000 values has relative error 1/sqrt(2 x 999) =
    # 2.2 %, so the measured sd(<r>) sqrt(N) must lie below 0.34 x (1 + 3 x 0.022); and above
    # 0.8 x 0.34, or the coefficient would be needlessly conservative.
    rng = np.random.default_rng(10_000)
    for N in (16, 64):
        W = rng.standard_normal((1000, N, 2 * N)) / math.sqrt(2 * N)
        goe = spectra.mean_spacing_ratio(spectra.eigenvalues_X(W))
        poisson = spectra.mean_spacing_ratio(rng.random((1000, N)))
        for r in (goe, poisson):
            c = np.std(r, ddof=1) * math.sqrt(N)
            assert 0.8 * RATIO_SD_COEFF < c < RATIO_SD_COEFF * 1.066, (N, c)
    # false outliers of 1000 Gaussian 64 x 128 matrices at margin 2: measured 1.2-2.8 % at
    # K = 8 ... 128 (500 each). Binomial(1000, 0.028): mean 28, sd 5.2, so <= 45 holds beyond
    # 3.3 sd; Binomial(1000, 0.012): mean 12, sd 3.4, so >= 1 holds beyond 3.2 sd (the
    # threshold is not so far out that noise never reaches it).
    n_false = sum(
        analyse_matrix(noise(64, 128, seed=10_000 + s)).n_above_threshold > 0 for s in range(1000)
    )
    assert 1 <= n_false <= 45, n_false


def test_json_is_the_file_reports_to_dict_plus_the_figures(tmp_path):
    """--json prints analyse_file(...).to_dict() through to_jsonable, plus the CLI's plot
    key; a file's note on a matrix leads that matrix's warnings."""
    from dysonsgd.cli._common import to_jsonable

    path = tmp_path / "layers.npz"
    np.savez(path, a=noise(16, 32, seed=3), b=spiked(24, 48, (4.0,), seed=4), v=np.zeros(3))
    out = run_json(path, "--margin", 1.5, "--unfolding", "polynomial")
    rep = analyse_file(path, margin=1.5, unfolding="polynomial")
    assert isinstance(rep, FileReport) and [r.name for r in rep.reports] == ["a", "b"]
    assert out == {**to_jsonable(rep.to_dict()), "plot": []}
    noted = FileReport(
        dataclasses.replace(rep.file, notes={"b": "a note"}), rep.reports, rep.pooled,
        rep.margin, rep.unfolding,
    )  # fmt: skip
    assert noted.arrays()[1]["warnings"][0] == "a note"
    assert noted.arrays()[0]["warnings"] == rep.reports[0].to_dict()["warnings"]

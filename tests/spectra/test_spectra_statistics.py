"""Tests of dysonsgd.spectra.statistics: the one level_statistics, its <r> error and reference.

References used (docs/statistics.md, section 7): the 3 x 3 GOE surmise 4 - 2 sqrt 3 for
N = 3, the large-N GOE value 0.5307 from N = 4 on, Poisson 2 ln 2 - 1.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dysonsgd import compare, observables
from dysonsgd import spectra as sp
from dysonsgd.spectra import statistics as sps


def goe_levels(rng, m, n):
    a = rng.standard_normal((m, n, n))
    return np.linalg.eigvalsh(a + np.swapaxes(a, 1, 2))


def test_goe_reference_switches_after_three_levels():
    assert sp.goe_ratio_mean(3) == sp.GOE_RATIO_MEAN_SURMISE
    for n in (4, 5, 16, 1000):
        assert sp.goe_ratio_mean(n) == sp.GOE_RATIO_MEAN_LARGE_N
    for bad in (2, 0, 3.0, True, "4"):
        with pytest.raises(ValueError, match="n_levels must be an integer >= 3"):
            sp.goe_ratio_mean(bad)


def test_exact_finite_n_goe_mean_justifies_the_switch():
    # The switch at N = 4: the exact mean of 4 x 4 GOE <r> (whole spectrum) was measured at
    # 0.5318 (4e5 spectra), closer to 0.5307 than to 0.5359 (midpoint 0.5333). Here 2e5
    # spectra, sd of one <r> 0.20: standard error 0.00045, so the midpoint is 3.3 SE away;
    # and N = 3 reproduces the surmise within 4 SE (sd 0.25, SE 0.00057).
    rng = np.random.default_rng(2025)  # any seed: the bands are 3-4 sigma
    r4 = sp.mean_spacing_ratio(goe_levels(rng, 200_000, 4))
    assert r4.mean() < 0.5 * (sp.GOE_RATIO_MEAN_SURMISE + sp.GOE_RATIO_MEAN_LARGE_N)
    r3 = sp.mean_spacing_ratio(goe_levels(rng, 200_000, 3))
    se3 = r3.std(ddof=1) / math.sqrt(r3.size)
    assert abs(r3.mean() - sp.GOE_RATIO_MEAN_SURMISE) < 4 * se3


def test_ratio_error_is_the_standard_error_of_the_per_spectrum_means():
    rng = np.random.default_rng(0)
    x = goe_levels(rng, 30, 20)
    per = sp.mean_spacing_ratio(x)
    st = sp.level_statistics(x)
    assert st.ratio_stderr_method == "spread"
    assert st.mean_ratio == pytest.approx(per.mean(), rel=1e-14)
    assert st.mean_ratio_stderr == pytest.approx(per.std(ddof=1) / math.sqrt(30), rel=1e-12)
    np.testing.assert_array_equal(st.mean_ratios, per)
    cal = sp.level_statistics(x, ratio_stderr="calibrated")
    assert cal.mean_ratio_stderr == pytest.approx(sp.RATIO_SD_COEFF / math.sqrt(20 * 30))
    # one spectrum: no spread to measure, the calibrated error (or NaN if spread is forced)
    one = sp.level_statistics(x[:1])
    assert one.ratio_stderr_method == "calibrated"
    assert one.mean_ratio_stderr == pytest.approx(sp.RATIO_SD_COEFF / math.sqrt(20))
    assert math.isnan(sp.level_statistics(x[:1], ratio_stderr="spread").mean_ratio_stderr)
    assert st.ratio_reference == sp.GOE_RATIO_MEAN_LARGE_N
    assert st.ratio_z_goe == pytest.approx(
        (st.mean_ratio - 0.5307) / st.mean_ratio_stderr, rel=1e-12
    )


def test_pooling_uses_the_same_definition():
    rng = np.random.default_rng(1)
    x = goe_levels(rng, 12, 24)
    st = sp.level_statistics(x)
    p = sp.pool_mean_spacing_ratios(sp.mean_spacing_ratio(x), [24] * 12)
    assert p.stderr_method == st.ratio_stderr_method == "spread"
    assert p.mean == pytest.approx(st.mean_ratio, rel=1e-14)
    assert p.stderr == pytest.approx(st.mean_ratio_stderr, rel=1e-12)
    # spectra of different sizes, calibrated: sqrt(sum c^2 / N_m) / M; NaN <r> left out
    q = sp.pool_mean_spacing_ratios(
        [0.5, 0.55, math.nan, 0.52], [16, 40, 10, 3], ratio_stderr="calibrated"
    )
    assert q.n_spectra == 3 and q.n_levels == 59
    assert q.mean == pytest.approx((0.5 + 0.55 + 0.52) / 3)
    assert q.stderr == pytest.approx(sp.RATIO_SD_COEFF * math.sqrt(1 / 16 + 1 / 40 + 1 / 3) / 3)
    # the GOE reference averages goe_ratio_mean over the spectra (the 3-level one: surmise)
    assert q.goe_reference == pytest.approx((2 * 0.5307 + sp.GOE_RATIO_MEAN_SURMISE) / 3)
    assert json.loads(json.dumps(q.to_dict()))["n_spectra"] == 3
    assert sp.pool_mean_spacing_ratios([math.nan], [5]) is None
    assert sp.pool_mean_spacing_ratios([], []) is None
    with pytest.raises(ValueError, match="same length"):
        sp.pool_mean_spacing_ratios([0.5, 0.5], [10])
    with pytest.raises(ValueError, match="integers >= 3"):
        sp.pool_mean_spacing_ratios([0.5], [2])
    with pytest.raises(ValueError, match="ratio_stderr must be one of"):
        sp.pool_mean_spacing_ratios([0.5], [10], ratio_stderr="naive")


def test_compare_uses_the_polynomial_convention_of_the_one_function():
    assert compare.LevelStatistics is sp.LevelStatistics
    rng = np.random.default_rng(2)
    x = goe_levels(rng, 5, 16)
    a = compare.level_statistics(x).to_dict()
    b = sp.level_statistics(x, unfolding="polynomial", degree=compare.UNFOLD_DEGREE).to_dict()
    assert a == b
    assert a["spacing_unfolding"] == "per spectrum, polynomial degree 5, mean 1"


def test_marchenko_pastur_unfolding_of_wishart_spectra():
    # 20 Gaussian 100 x 200 matrices (entries variance 1/200: MP(1/2, 1)), unfolded through
    # the fitted law: unit-mean spacings whose KS distance to the Wigner surmise is far below
    # that to exp(-s) (bulk GOE statistics), Brody q near 1.
    rng = np.random.default_rng(3)
    W = rng.standard_normal((20, 100, 200)) / math.sqrt(200)
    x = sp.eigenvalues_X(W)
    fit = sp.fit_marchenko_pastur(x[0], (100, 200))
    st = sp.level_statistics(x, unfolding="marchenko-pastur", mp_fit=fit)
    assert st.unfolding == "marchenko-pastur" and st.degree is None and st.mp_fit is fit
    assert st.spacings.mean() == pytest.approx(1.0, rel=1e-12)
    assert st.spacing_ks_wigner.statistic < 0.5 * st.spacing_ks_poisson.statistic
    assert 0.6 < st.brody_q < 1.4
    d = json.loads(json.dumps(st.to_dict()))
    assert d["mp_fit"]["ratio"] == 0.5 and d["spacing_unfolding"].startswith("fitted Marchenko")
    with pytest.raises(ValueError, match="needs mp_fit"):
        sp.level_statistics(x, unfolding="marchenko-pastur")


def test_few_levels_and_empty_ensembles():
    # K < degree + 2: ratios only; all rows non-finite: NaN everywhere, no error
    st = sp.level_statistics(np.arange(12.0).reshape(2, 6) ** 1.5)
    assert st.spacings.size == 0 and st.brody is None and math.isnan(st.brody_q)
    assert math.isnan(st.spacing_ks_wigner.pvalue)
    empty = sp.level_statistics(np.full((3, 8), np.nan))
    assert empty.n_spectra == 0 and math.isnan(empty.mean_ratio)
    assert empty.ratio_stderr_method == "none"
    assert json.dumps(empty.to_dict())  # NaN, not an error


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unfolding": "kernel"}, "unfolding must be one of"),
        ({"ratio_stderr": "naive"}, "ratio_stderr must be one of"),
        ({"degree": 0}, "degree must be a positive integer"),
        ({"degree": True}, "degree must be a positive integer"),
        ({"unfolding": "marchenko-pastur", "mp_fit": "law"}, "needs mp_fit"),
    ],
)
def test_level_statistics_bad_input(kwargs, match):
    x = np.sort(np.random.default_rng(4).random((3, 10)), axis=1)
    with pytest.raises(ValueError, match=match):
        sp.level_statistics(x, **kwargs)
    with pytest.raises(ValueError, match=r"shape \(n_spectra, K\) with K >= 3"):
        sp.level_statistics(x[0])


def test_result_parts_are_plain_data():
    rng = np.random.default_rng(5)
    st = sp.level_statistics(goe_levels(rng, 4, 30))
    d = json.loads(json.dumps(st.to_dict()))
    assert d["ratio_ks_goe"]["n"] == st.spacing_ratios.size
    assert d["brody_q"] == st.brody.q and st.brody.to_dict()["n"] == st.spacings.size
    assert set(sps.__all__) <= set(sp.__all__)


def test_eigenvalues_x_has_one_owner():
    # spectra.eigenvalues_X validates and pads the K - L zeros; the arithmetic is observables'
    rng = np.random.default_rng(6)
    W = rng.standard_normal((3, 5, 8))
    np.testing.assert_array_equal(sp.eigenvalues_X(W), observables.eigenvalues_of_X(W))
    tall = rng.standard_normal((7, 4))
    x = sp.eigenvalues_X(tall)
    np.testing.assert_array_equal(x[:4], observables.eigenvalues_of_X(tall))
    np.testing.assert_array_equal(x[4:], 0.0)

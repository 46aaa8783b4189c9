"""Tests of dysonsgd.spectra: laws, exact random-matrix checks, unfolding, fits, bad input.

Conventions used throughout:

* GOE matrices are built as ``H = (A + A^T) / 2`` with A i.i.d. N(0, 1): diagonal variance 1,
  off-diagonal variance 1/2 (the orthogonally invariant normalisation of SPEC section 6).
* KS checks against an exact law use i.i.d. draws (one statistic per independent matrix) and
  require p > 1e-3: under the null hypothesis the p-value is uniform, so a correct
  implementation fails with probability 1e-3 for a random seed. Each such test also checks
  that the same data reject a wrong law (p < 1e-6), so the check has power.
* Ensemble means are compared with "4 standard errors", the standard error being the spread
  of independent per-spectrum values over sqrt(number of spectra) (levels within one spectrum
  are correlated, spectra are independent, so the CLT applies to the per-spectrum values).
  A correct implementation fails with probability 6e-5.
* Seeds are fixed so that the suite is deterministic; the particular values carry no
  meaning (each test has its own so that tests do not share draws).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, linalg, stats

from dysonsgd import spectra as sp
from dysonsgd.spectra import unfolding as spu

P_OK = 1e-3  # see module docstring
P_REJECT = 1e-6


def goe(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    a = rng.standard_normal((m, n, n))
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def se_of_mean(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(values.size))


# --------------------------------------------------------------------------------------------
# laws: normalisation, cdf, ppf, moments (numerical quadrature, not statistics: tolerances
# are a few times quad's default absolute error 1.5e-8)
# --------------------------------------------------------------------------------------------
LAWS = {
    "wigner": (sp.wigner_surmise, 1.0),
    "poisson_spacing": (sp.poisson_spacing, 1.0),
    "goe_ratio": (sp.goe_ratio, 4.0 - 2.0 * math.sqrt(3.0)),  # SPEC: 0.5359
    "poisson_ratio": (sp.poisson_ratio, 2.0 * math.log(2.0) - 1.0),  # SPEC: 0.3863
    "mp_half": (sp.marchenko_pastur(0.5, 2.0), 2.0),
    "mp_square": (sp.marchenko_pastur(1.0, 1.0), 1.0),
    "mp_thin": (sp.marchenko_pastur(0.05, 0.3), 0.3),
    "semicircle": (sp.semicircle(1.0, 2.0), 1.0),
    "goe_pair": (sp.goe_pair_density(1.0, 0.5), 1.0),
    "brody_poisson": (sp.brody(0.0), 1.0),
    "brody_mid": (sp.brody(0.4), 1.0),
    "brody_wigner": (sp.brody(1.0), 1.0),
}


def _finite_support(law):
    lo, hi = law.support()
    return max(lo, -60.0), min(hi, 60.0)


@pytest.mark.parametrize("name", list(LAWS))
def test_law_normalised_cdf_and_mean(name):
    law, mean = LAWS[name]
    lo, hi = _finite_support(law)
    total = integrate.quad(law.pdf, lo, hi, limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    m1 = integrate.quad(lambda x: x * law.pdf(x), lo, hi, limit=200)[0]
    assert m1 == pytest.approx(mean, abs=1e-8)
    for t in np.linspace(lo, hi, 9)[1:-1]:
        assert law.cdf(t) == pytest.approx(integrate.quad(law.pdf, lo, t, limit=200)[0], abs=1e-8)
    p = np.array([1e-6, 0.01, 0.3, 0.5, 0.9, 0.999])
    np.testing.assert_allclose(law.cdf(law.ppf(p)), p, atol=1e-8)


def test_spec_reference_values():
    assert sp.goe_ratio.mean() == pytest.approx(0.5359, abs=5e-5)
    assert sp.poisson_ratio.mean() == pytest.approx(0.3863, abs=5e-5)
    assert sp.wigner_surmise.mean() == pytest.approx(1.0, abs=1e-12)
    # Brody q = 0 and q = 1 are the Poisson and Wigner laws.
    s = np.linspace(0.01, 4.0, 50)
    np.testing.assert_allclose(sp.brody(1.0).pdf(s), sp.wigner_surmise.pdf(s), rtol=1e-12)
    np.testing.assert_allclose(sp.brody(0.0).pdf(s), sp.poisson_spacing.pdf(s), rtol=1e-12)
    # Marchenko-Pastur edges and moments in the documented parametrisation.
    law = sp.marchenko_pastur(0.25, 3.0)
    assert law.support() == pytest.approx((3.0 * 0.25, 3.0 * 2.25))
    assert law.var() == pytest.approx(0.25 * 9.0)
    # K = 2 pair density: mean spacing sqrt(pi) sig, second moment 3/2 sig^2 about x0.
    assert sp.goe_pair_density(0.0, 2.0).var() == pytest.approx(1.5 * 4.0)


@pytest.mark.parametrize("q", [1.0, 0.5, 0.05])
def test_marchenko_pastur_cdf_accurate_at_the_edges(q):
    # The closed form uses half-angles, so it keeps relative accuracy where the cdf is tiny
    # (x -> x-) or close to 1 (x -> x+); quad with tight tolerances is the reference.
    law = sp.marchenko_pastur(q, 1.0)
    lo, hi = law.support()
    for t in (lo + 1e-10, lo + 1e-4, hi - 1e-4):
        ref = integrate.quad(law.pdf, lo, t, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
        assert law.cdf(t) == pytest.approx(ref, rel=1e-5, abs=1e-14)
    assert law.sf(hi - 1e-4) == pytest.approx(
        integrate.quad(law.pdf, hi - 1e-4, hi, epsabs=1e-15, epsrel=1e-12)[0], rel=1e-6
    )


# --------------------------------------------------------------------------------------------
# exact random-matrix checks
# --------------------------------------------------------------------------------------------
def test_goe_2x2_spacing_is_wigner():
    rng = np.random.default_rng(20250901)
    e = np.linalg.eigvalsh(goe(rng, 4000, 2))
    # Diagonal variance 1: the spacing has mean sqrt(pi) (SPEC section 6 with sig = 1), so
    # s / sqrt(pi) has the Wigner surmise exactly (no fitted scale, no unfolding).
    s = sp.spacings(e)[:, 0] / math.sqrt(math.pi)
    assert sp.ks_one_sample(s, sp.wigner_surmise).pvalue > P_OK
    assert sp.ks_one_sample(s, sp.poisson_spacing).pvalue < P_REJECT


def test_goe_3x3_ratio_is_atas_surmise():
    rng = np.random.default_rng(20130221)
    r = sp.spacing_ratios(np.linalg.eigvalsh(goe(rng, 4000, 3)))[:, 0]
    assert sp.ks_one_sample(r, sp.goe_ratio).pvalue > P_OK
    assert sp.ks_one_sample(r, sp.poisson_ratio).pvalue < P_REJECT


def test_poisson_3_levels_ratio_law():
    # For sorted uniforms the two spacings are exchangeable (Dirichlet), s_1/(s_1 + s_2) is
    # uniform, and r follows 2/(1 + r)^2 exactly.
    rng = np.random.default_rng(1973)
    r = sp.spacing_ratios(rng.random((4000, 3)))[:, 0]
    assert sp.ks_one_sample(r, sp.poisson_ratio).pvalue > P_OK
    assert sp.ks_one_sample(r, sp.goe_ratio).pvalue < P_REJECT


def test_goe_pair_one_point_density():
    rng = np.random.default_rng(2407)
    x0, sig = 3.0, 0.7
    e = x0 + sig * np.linalg.eigvalsh(goe(rng, 4000, 2))
    # One randomly chosen eigenvalue per matrix: independent draws of the one-point density.
    pick = e[np.arange(e.shape[0]), rng.integers(0, 2, e.shape[0])]
    assert sp.ks_one_sample(pick, sp.goe_pair_density(x0, sig)).pvalue > P_OK
    assert sp.ks_one_sample(pick, stats.norm(x0, sig)).pvalue < P_REJECT


@pytest.fixture(scope="module")
def goe200():
    """40 dense GOE spectra of size 200, shared by the ratio and unfolding tests."""
    rng = np.random.default_rng(5307)
    return np.linalg.eigvalsh(goe(rng, 40, 200))


def dumitriu_edelman_goe(rng: np.random.Generator, n: int) -> np.ndarray:
    """Eigenvalues of an n x n GOE matrix via the beta = 1 tridiagonal model, O(n^2).

    Diagonal N(0, 2), off-diagonal chi_{n-1}, ..., chi_1, all over sqrt 2: the same
    eigenvalue law as goe() (Dumitriu & Edelman, J. Math. Phys. 43, 5830 (2002)).
    """
    d = rng.standard_normal(n)
    off = np.sqrt(rng.chisquare(np.arange(n - 1, 0, -1)) / 2.0)
    return linalg.eigvalsh_tridiagonal(d, off)


def test_tridiagonal_model_is_goe():
    # ties the fast model used by the slow test to the dense construction: exact 3x3 law.
    rng = np.random.default_rng(2002)
    r = sp.spacing_ratios(np.array([dumitriu_edelman_goe(rng, 3) for _ in range(4000)]))[:, 0]
    assert sp.ks_one_sample(r, sp.goe_ratio).pvalue > P_OK
    s = sp.spacings(np.array([dumitriu_edelman_goe(rng, 2) for _ in range(4000)]))[:, 0]
    assert sp.ks_one_sample(s / math.sqrt(math.pi), sp.wigner_surmise).pvalue > P_OK


def test_mean_ratio_large_goe_bulk(goe200):
    per = sp.mean_spacing_ratio(sp.bulk(goe200, 0.5))
    # Reference: large-N GOE 0.5307(1) (Atas et al. 2013), not the 3x3 surmise 0.5359.
    # Error: 4 standard errors of the mean of 40 independent per-matrix values (~0.004 each)
    # plus the 1e-4 uncertainty of the reference.
    assert abs(per.mean() - 0.5307) < 4 * se_of_mean(per) + 1e-4
    assert abs(per.mean() - 0.3863) > 20 * se_of_mean(per)


@pytest.mark.slow
def test_mean_ratio_large_goe_bulk_resolves_surmise():
    # 200 spectra of size 1000 (bulk half: 498 ratios each, per-spectrum sd ~ 0.013):
    # 4 SE ~ 0.004 < 0.5359 - 0.5307, so this separates the large-N value from the 3x3
    # surmise.
    rng = np.random.default_rng(5308)
    e = np.array([dumitriu_edelman_goe(rng, 1000) for _ in range(200)])
    per = sp.mean_spacing_ratio(sp.bulk(e, 0.5))
    se = se_of_mean(per)
    assert 4 * se < 0.5359 - 0.5307
    assert abs(per.mean() - 0.5307) < 4 * se + 1e-4


def test_mean_ratio_poisson_levels():
    rng = np.random.default_rng(3863)
    per = sp.mean_spacing_ratio(rng.random((40, 200)))  # order does not matter
    # Uniform levels have a flat density, so the whole spectrum is "bulk"; 4 SE as above.
    assert abs(per.mean() - (2 * math.log(2) - 1)) < 4 * se_of_mean(per)


def test_wishart_eigenvalues_follow_marchenko_pastur():
    rng = np.random.default_rng(1967)
    K, L, scale, m = 100, 200, 2.5, 10
    W = rng.standard_normal((m, K, L)) * math.sqrt(scale / L)
    x = sp.eigenvalues_X(W)
    # Levels of one matrix are more regular than independent draws, so the i.i.d. KS p-value
    # is conservative; finite-K corrections to the density are O(1/K).
    assert sp.ks_one_sample(x, sp.marchenko_pastur(K / L, scale)).pvalue > P_OK
    # Power: sup |F_MP(x; s) - F_MP(x; 1.5 s)| = 0.18, so sqrt(1000) D ~ 5.7, p ~ 1e-28.
    assert sp.ks_one_sample(x, sp.marchenko_pastur(K / L, 1.5 * scale)).pvalue < P_REJECT
    # fit by the mean: trace(X)/K = scale * chi2_{KL}/(KL), relative sd sqrt(2/(KL)) per matrix.
    for xi in x:
        fit = sp.fit_marchenko_pastur(xi, (K, L), method="mean")
        assert abs(fit.scale / scale - 1) < 4 * math.sqrt(2.0 / (K * L))
        assert fit.ratio == K / L


def test_goe_semicircle_radius():
    rng = np.random.default_rng(1955)
    n = 400
    e = np.linalg.eigvalsh(goe(rng, 1, n))[0]
    law = sp.semicircle(0.0, math.sqrt(2.0 * n))  # R = 2 sqrt(n v), off-diagonal v = 1/2
    assert sp.ks_one_sample(e, law).pvalue > P_OK  # conservative, as for Marchenko-Pastur
    # Second moment: (1/n) tr H^2 has mean (n + 1)/2 and relative sd 2/n (a sum of independent
    # squares), while the semicircle gives R^2/4 = n/2: allow bias 1/n plus 4 sd.
    assert abs(np.mean(e**2) / law.var() - 1) < 1.0 / n + 4 * 2.0 / n


# --------------------------------------------------------------------------------------------
# unfolding
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "unfolder,bias",
    [
        (lambda e: sp.unfold(e, "polynomial"), 0.0),
        # Kernel of width h = 6 mean spacings (2R/199): the smoothed density is off by
        # h^2 rho''/(2 rho) = -(h^2/2) R^2/(R^2 - x^2)^2, at most 0.003 for |x| < 0.45 R.
        (lambda e: sp.unfold(e, "kernel"), 0.003),
        (lambda e: sp.unfold_ensemble(e, "polynomial"), 0.0),
        (lambda e: sp.unfold_ensemble(e, "kernel"), 0.001),
    ],
    ids=["poly", "kernel", "ensemble-poly", "ensemble-kernel"],
)
def test_unfolding_gives_unit_mean_spacing(goe200, unfolder, bias):
    xi = unfolder(goe200)
    per = sp.spacings(sp.bulk(xi, 0.5)).mean(axis=-1)
    assert abs(per.mean() - 1.0) < 4 * se_of_mean(per) + bias
    # and the spacing distribution has the GOE shape, far from Poisson (variance 1): the
    # large-N GOE spacing variance is 0.286 (0.273 for the surmise).
    var = sp.spacings(sp.bulk(xi, 0.5)).var()
    assert 0.24 < var < 0.32


def test_unfold_keeps_positions_and_is_affine_invariant():
    rng = np.random.default_rng(7)
    e = np.linalg.eigvalsh(goe(rng, 3, 50))
    perm = rng.permutation(50)
    for method in ("polynomial", "kernel"):
        xi = sp.unfold(e, method)
        np.testing.assert_allclose(sp.unfold(e[:, perm], method), xi[:, perm], rtol=1e-12)
        np.testing.assert_allclose(sp.unfold(3.0 * e - 7.0, method), xi, rtol=1e-9, atol=1e-9)
        assert np.all(np.diff(xi, axis=-1) > 0)
    for method in ("polynomial", "kernel"):
        xi = sp.unfold_ensemble(e, method, degree=5)
        np.testing.assert_allclose(sp.unfold_ensemble(3.0 * e - 7.0, method, degree=5), xi)
    # a reflection turns the counting function N(x) into (number of levels) - N(x)
    xi = sp.unfold_ensemble(e, degree=5)
    np.testing.assert_allclose(sp.unfold_ensemble(-2.0 * e + 1.0, degree=5), 50.0 - xi)


def test_kernel_staircase_matches_numpy_reference():
    rng = np.random.default_rng(11)
    x = np.sort(rng.standard_normal((6, 80)), axis=-1)
    h = np.array([0.01, 0.05, 0.1, 0.3, 1.0, 10.0])
    # Same sum; the window only drops terms below 1e-17 each.
    np.testing.assert_allclose(
        spu._kernel_unfold_sorted(x, h), spu._kernel_unfold_sorted_numpy(x, h), rtol=1e-12
    )


def test_polynomial_unfold_normal_equations_match_qr(monkeypatch):
    # The fast path solves the normal equations; an ill-conditioned Gram matrix falls back to
    # QR. Forcing QR everywhere (rcond = 1) must give the same fit: cond(G) ~ 30 here, so the
    # two differ by ~ cond * eps relative.
    rng = np.random.default_rng(13)
    x = np.sort(np.linalg.eigvalsh(goe(rng, 5, 60)), axis=-1)
    fast = spu._poly_unfold_sorted(x, 5)
    monkeypatch.setattr(spu, "_GRAM_RCOND", 1.0)
    np.testing.assert_allclose(spu._poly_unfold_sorted(x, 5), fast, rtol=1e-11, atol=1e-11)


def test_polynomial_unfold_warns_when_not_monotone():
    rng = np.random.default_rng(3)
    e = rng.standard_cauchy((20, 40))  # heavy tails: a degree-9 fit overshoots
    with pytest.warns(RuntimeWarning, match="decreases"):
        sp.unfold(e, degree=9)


# --------------------------------------------------------------------------------------------
# spectra, spacings, ratios: shapes and invariants
# --------------------------------------------------------------------------------------------
def test_singular_values_and_eigenvalues_batch():
    rng = np.random.default_rng(17)
    W = rng.standard_normal((2, 3, 4, 6))
    s = sp.singular_values(W)
    x = sp.eigenvalues_X(W)
    assert s.shape == (2, 3, 4) and x.shape == (2, 3, 4)
    assert np.all(np.diff(s, axis=-1) <= 0)
    ref = np.linalg.eigvalsh(W @ np.swapaxes(W, -1, -2))[..., ::-1]
    np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12)
    Wt = np.swapaxes(W, -1, -2)  # K = 6 > L = 4: two zero eigenvalues of X
    xt = sp.eigenvalues_X(Wt)
    assert xt.shape == (2, 3, 6)
    np.testing.assert_allclose(xt[..., :4], x, rtol=1e-10)
    assert np.all(xt[..., 4:] == 0)


def test_spacings_and_ratios_shapes_and_order_invariance():
    rng = np.random.default_rng(23)
    e = rng.random((4, 5, 30))
    shuffled = e[..., rng.permutation(30)]
    s, r = sp.spacings(shuffled), sp.spacing_ratios(shuffled)
    assert s.shape == (4, 5, 29) and r.shape == (4, 5, 28)
    np.testing.assert_array_equal(s, np.diff(np.sort(e, axis=-1), axis=-1))
    assert np.all((r >= 0) & (r <= 1))
    np.testing.assert_allclose(sp.mean_spacing_ratio(e), r.mean(axis=-1), rtol=1e-14)
    # ratios are invariant under x -> a x + b (any a != 0): no unfolding needed
    np.testing.assert_allclose(sp.spacing_ratios(-3.0 * e + 2.0), r[..., ::-1], rtol=1e-9)
    np.testing.assert_allclose(sp.spacing_ratios(1e3 * e - 5.0), r, rtol=1e-9)
    # explicit small case: levels 0, 1, 3, 4 -> spacings 1, 2, 1 -> ratios 1/2, 1/2
    np.testing.assert_allclose(sp.spacing_ratios([4.0, 0.0, 3.0, 1.0]), [0.5, 0.5])
    # triple degeneracy: undefined ratio, skipped by the mean
    r = sp.spacing_ratios([0.0, 1.0, 1.0, 1.0, 2.0])
    assert np.isnan(r[1]) and sp.mean_spacing_ratio([0.0, 1.0, 1.0, 1.0, 2.0]) == 0.0
    assert sp.bulk(np.arange(9.0)[::-1], 1 / 3).tolist() == [3.0, 4.0, 5.0]


# --------------------------------------------------------------------------------------------
# fits and distances
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.0, 0.4, 1.0])
def test_fit_brody_recovers_q(q):
    rng = np.random.default_rng(int(1000 * q) + 1)
    s = sp.brody(q).rvs(size=3000, random_state=rng)
    fit = sp.fit_brody(s)
    assert fit.n == 3000 and fit.stderr > 0
    assert abs(fit.q - q) < 4 * fit.stderr  # 4 sigma of an asymptotically normal MLE


def test_fit_brody_error_matches_spread():
    # 300 independent fits of 400 spacings: the spread of q-hat must match the reported
    # stderr. The sample sd of 300 values has relative error 1/sqrt(2*300) = 4 %; allow 4 of
    # those (16 %) plus 5 % for the asymptotic (Fisher) approximation at n = 400.
    rng = np.random.default_rng(1974)
    fits = [sp.fit_brody(sp.brody(0.5).rvs(size=400, random_state=rng)) for _ in range(300)]
    q = np.array([f.q for f in fits])
    err = np.mean([f.stderr for f in fits])
    assert abs(q.std(ddof=1) / err - 1) < 0.21


def test_ks_two_sample_and_wasserstein():
    rng = np.random.default_rng(31)
    a = rng.standard_normal(3000)
    b = rng.standard_normal(2000)
    res = sp.ks_two_sample(a, b)
    assert (res.n, res.m) == (3000, 2000) and res.pvalue > P_OK
    assert sp.ks_two_sample(a, b + 0.5).pvalue < P_REJECT
    # Fully separated samples: W1 = mean(b) - mean(a) exactly, for the data and for every
    # bootstrap resample, so the bootstrap sd is that of a difference of means,
    # sqrt(var_a/n + var_b/m) (population variances). 400 resamples estimate an sd to
    # 1/sqrt(800) = 3.5 %; allow 4 of those.
    c = b + 20.0
    w = sp.wasserstein(a, c, n_bootstrap=400, seed=5)
    assert w.statistic == pytest.approx(c.mean() - a.mean(), rel=1e-12)
    expected = math.sqrt(a.var() / a.size + c.var() / c.size)
    assert abs(w.stderr / expected - 1) < 4 / math.sqrt(800)
    assert sp.wasserstein(a, c, n_bootstrap=400, seed=5) == w  # deterministic for a seed
    assert sp.wasserstein(a, a + 0.3).statistic == pytest.approx(0.3, rel=1e-12)


def test_fit_marchenko_pastur_median_and_outliers():
    K, L, scale = 41, 82, 1.7
    law = sp.marchenko_pastur(K / L, scale)
    x = law.ppf((np.arange(K) + 0.5) / K)  # an ideal spectrum at the law's quantiles
    fit = sp.fit_marchenko_pastur(x, (K, L))
    # K odd: the median is the middle quantile, exactly the law's median.
    assert fit.scale == pytest.approx(scale, rel=1e-9)
    assert fit.n_outliers == 0 and fit.ks.pvalue > P_OK
    assert (fit.lower_edge, fit.upper_edge) == pytest.approx(law.support())
    # two spikes replace the top levels: the median (and so the fit) does not move
    spiked = x.copy()
    spiked[[-1, -2]] = [5.0 * fit.upper_edge, 3.0 * fit.upper_edge]
    spiked = spiked[::-1]  # input order is arbitrary; indices refer to it
    fit2 = sp.fit_marchenko_pastur(spiked, (K, L))
    assert fit2.scale == pytest.approx(scale, rel=1e-9)
    assert fit2.n_outliers == 2 and fit2.outlier_indices.tolist() == [0, 1]
    # K > L: pass the K eigenvalues of X (K - L zeros) or only the nonzero ones
    fit3 = sp.fit_marchenko_pastur(np.concatenate([x, np.zeros(41)]), (L, K))
    assert fit3.scale == pytest.approx(fit.scale) and fit3.ratio == pytest.approx(0.5)
    assert fit.tw_scale > 0 and fit.law.mean() == pytest.approx(fit.scale)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sp.spacings([1.0, np.nan, 2.0]), "non-finite"),
        (lambda: sp.spacing_ratios([0.0, np.inf, 2.0]), "non-finite"),
        (lambda: sp.spacing_ratios([0.0, 1.0]), "at least 3 levels"),
        (lambda: sp.spacings([1.0]), "at least 2 levels"),
        (lambda: sp.mean_spacing_ratio(np.zeros((4, 2))), "at least 3 levels"),
        (lambda: sp.spacings(3.0), "at least one axis"),
        (lambda: sp.spacings([1 + 1j, 2.0]), "real"),
        (lambda: sp.spacings("abc"), "real numbers"),
        (lambda: sp.singular_values(np.ones(5)), r"\(\.\.\., K, L\)"),
        (lambda: sp.eigenvalues_X(np.full((2, 2), np.nan)), "non-finite"),
        (lambda: sp.bulk(np.arange(5.0), 0.0), "fraction"),
        (lambda: sp.unfold(np.arange(5.0), "spline"), "method"),
        (lambda: sp.unfold(np.arange(5.0), degree=5), "at least 7 levels"),
        (lambda: sp.unfold(np.arange(5.0), degree=0), "degree"),
        (lambda: sp.unfold(np.arange(5.0), "kernel", bandwidth=-1.0), "bandwidth"),
        (lambda: sp.unfold(np.ones((2, 5)), "kernel"), "all levels equal"),
        (lambda: sp.unfold_ensemble(np.ones((2, 5))), "equal"),
        (lambda: sp.unfold_ensemble(np.arange(5.0), degree=9), "at least 11"),
        (lambda: sp.marchenko_pastur(2.0), "K/L <= 1"),
        (lambda: sp.marchenko_pastur(0.5, 0.0), "scale"),
        (lambda: sp.semicircle(0.0, -1.0), "radius"),
        (lambda: sp.goe_pair_density(np.nan, 1.0), "x0"),
        (lambda: sp.brody(-1.0), "q must be > -1"),
        (lambda: sp.fit_brody([1.0, 0.0, 2.0]), "positive"),
        (lambda: sp.fit_brody([1.0]), "at least 2"),
        (lambda: sp.fit_marchenko_pastur(np.ones(3), (4, 8)), "between 4 and 8"),
        (lambda: sp.fit_marchenko_pastur(np.ones(4), (4,)), "shape must be"),
        (lambda: sp.fit_marchenko_pastur(-np.ones(4), (4, 8)), "non-negative"),
        (lambda: sp.fit_marchenko_pastur(np.ones(4), (4, 8), method="max"), "method"),
        (lambda: sp.fit_marchenko_pastur(np.ones((2, 4)), (4, 8)), "one spectrum"),
        (lambda: sp.ks_one_sample([1.0, 2.0], "wigner"), "law must be"),
        (lambda: sp.ks_two_sample([], [1.0]), "at least 1"),
        (lambda: sp.wasserstein([1.0], [2.0], n_bootstrap=1), "n_bootstrap"),
        (lambda: sp.wasserstein([1.0], [2.0], seed=1.5), "seed"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=match):
            call()

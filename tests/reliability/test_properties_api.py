"""Property-based tests of the public numerical API not covered by test_properties.py.

Issue 7, item 1. Hypothesis draws shape parameters and samples over the ranges the docstrings
allow, extremes included, and checks invariants that must hold for every draw:

* laws (:mod:`dysonsgd.spectra`): the cdf is non-decreasing in [0, 1], the pdf is >= 0 and
  integrates to 1, ``ppf(cdf(x)) == x`` to the accuracy the cdf's conditioning allows, and the
  mean and variance are the closed forms (checked against quadrature);
* fits and distances: ``fit_brody`` stays finite and in its search range and is scale
  invariant, ``fit_marchenko_pastur`` recovers the scale of exact MP samples, KS and
  Wasserstein results lie in their ranges, are symmetric and scale as they must, and
  ``compare.distance`` is the distance of the finite values;
* :mod:`dysonsgd.scaling`: the theory functions are finite, positive and monotone as
  documented; ``linear_sgd`` is finite, ordered and deterministic per seed;
* :class:`dysonsgd.langevin.NetworkModel`: finite coefficients, an exact
  :func:`~dysonsgd.langevin.network.isotropic_split`, ordered positive levels or a flag;
* :mod:`dysonsgd.boundaries`: ``seed_phases`` / ``cell_phases`` on synthetic sweep cells.

As in tests/reliability/test_properties.py every test uses ``derandomize=True`` (the examples
are a fixed function of the test, so CI sees the same cases on every run) and a fixed
``max_examples``; larger budgets sit behind ``@pytest.mark.slow``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from _strategies import draw_network_config, fixed_settings, log_uniform
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import integrate as sintegrate
from scipy import special

from dysonsgd import boundaries, scaling, spectra
from dysonsgd.compare import distance
from dysonsgd.langevin import NetworkModel
from dysonsgd.langevin import integrate as lintegrate
from dysonsgd.langevin.network import isotropic_split
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.phases import LABELS, classify

# Fixed base entropy: any value works, it only has to be the same on every run.
ENTROPY = 7_2026
EPS = np.finfo(float).eps


# The decorators keep their name: derandomized examples are a function of the test source.
_settings = fixed_settings


# --------------------------------------------------------------------------- laws


def _brody_var(q: float) -> float:
    # Brody = Weibull with shape k = q + 1 rescaled to unit mean:
    # Var = Gamma(1 + 2/k) / Gamma(1 + 1/k)^2 - 1.
    k = q + 1.0
    e = special.gammaln(1 + 2 / k) - 2 * special.gammaln(1 + 1 / k)
    return math.expm1(e) if e < 709 else math.inf  # inf: the variance overflows


@st.composite
def _laws(draw, brody_q=(-0.5, 5.0)):
    """(name, frozen law, loc, scale, standardised support (a, b), mean, var, cdf error).

    ``cdf error`` bounds the absolute rounding error of the computed cdf in units of eps (see
    test_law_cdf_pdf_ppf_consistent)."""
    kind = draw(
        st.sampled_from(
            ["wigner", "poisson", "goe_ratio", "poisson_ratio", "mp", "semicircle", "goe_pair",
             "brody"]
        )
    )  # fmt: skip
    scale = draw(log_uniform(1e-8, 1e8))
    if kind in ("wigner", "poisson", "goe_ratio", "poisson_ratio"):
        law0 = {
            "wigner": spectra.wigner_surmise,
            "poisson": spectra.poisson_spacing,
            "goe_ratio": spectra.goe_ratio,
            "poisson_ratio": spectra.poisson_ratio,
        }[kind]
        m0, v0 = {
            "wigner": (1.0, 4 / math.pi - 1),
            "poisson": (1.0, 1.0),
            "goe_ratio": (spectra.GOE_RATIO_MEAN_SURMISE, None),
            # E r^2 = 2 int_0^1 r^2 / (1 + r)^2 dr = 3 - 4 ln 2
            "poisson_ratio": (
                spectra.POISSON_RATIO_MEAN,
                3 - 4 * math.log(2) - spectra.POISSON_RATIO_MEAN**2,
            ),
        }[kind]
        support = (0.0, 1.0) if "ratio" in kind else (0.0, math.inf)
        return kind, law0(scale=scale), 0.0, scale, support, m0 * scale, v0 and v0 * scale**2, 8
    if kind == "mp":
        q = draw(st.one_of(log_uniform(1e-12, 1.0), st.sampled_from([1.0, 1e-12, 1 - 1e-9])))
        rq = math.sqrt(q)
        # The cdf is a function of x on [x-, x+] of width 4 sqrt(q): an ulp of x (~eps) moves
        # it by pdf * eps ~ eps / sqrt(q), the condition number of the problem itself.
        return (kind, spectra.marchenko_pastur(q, scale), 0.0, scale,
                ((1 - rq) ** 2, (1 + rq) ** 2), scale, q * scale**2, 8 * (1 + 1 / rq))  # fmt: skip
    if kind in ("semicircle", "goe_pair"):
        loc = draw(st.one_of(st.just(0.0), st.floats(-1e8, 1e8)))
        # The law must be resolvable at its centre: scale >= 1e-6 |loc| leaves 1e9 ulps of
        # loc per unit of scale (a scale below one ulp of loc is not representable at all).
        assume(scale >= 1e-6 * abs(loc))
        if kind == "semicircle":
            # scipy's semicircular cdf, 1/2 + (y sqrt(1 - y^2) + arcsin y) / pi, loses up to
            # ~60 eps absolute near y = -+1 (1.2e-14 at y = -1 + 1e-8 against mpmath): 128
            return (kind, spectra.semicircle(loc, scale), loc, scale, (-1.0, 1.0), loc,
                    scale**2 / 4, 128)  # fmt: skip
        return (kind, spectra.goe_pair_density(loc, scale), loc, scale, (-math.inf, math.inf),
                loc, 1.5 * scale**2, 8)  # fmt: skip
    q = draw(st.one_of(st.floats(*brody_q), st.sampled_from([0.0, 1.0, brody_q[0]])))
    law = spectra.brody(q)
    law = law.dist(*law.args, scale=scale)  # the unit-mean law, rescaled
    return kind, law, 0.0, scale, (0.0, math.inf), scale, _brody_var(q) * scale**2, 8


def _std_points(draw, support, n=64):
    a, b = support
    # infinite ends cut where every law here has a tail below 1e-30
    lo = a if math.isfinite(a) else -12.0
    hi = b if math.isfinite(b) else (25.0 if math.isfinite(a) else 12.0)
    u = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    y = lo + (hi - lo) * u
    return np.sort(np.concatenate([y, [lo, hi]]))


@_settings(120)
@given(case=_laws(), data=st.data())
def test_law_cdf_pdf_ppf_consistent(case, data):
    name, law, loc, scale, support, mean, var, cdf_err = case
    y = _std_points(data.draw, support)
    x = loc + scale * y
    F, f = law.cdf(x), law.pdf(x)
    # cdf: a probability, non-decreasing (x is sorted); 0 below and 1 above the support
    assert np.all((F >= 0) & (F <= 1)), name
    assert np.all(np.diff(F) >= -cdf_err * EPS), (name, np.diff(F).min())
    a, b = support
    if math.isfinite(a):
        assert law.cdf(loc + scale * a - scale) == 0
    if math.isfinite(b):
        assert law.cdf(loc + scale * b + scale) == 1
    # pdf: >= 0 everywhere and finite inside the support (the Brody law with q < 0 diverges
    # at s = 0, an endpoint; Marchenko-Pastur with ratio 1 at x = 0, also an endpoint)
    assert np.all(f >= 0), name
    # inside in x, as evaluated: scale * y can underflow to the endpoint (y = 1e-322 with
    # scale 0.01 gives x = 0, where the Brody pdf with q < 0 is rightly inf)
    inner = (x > loc + scale * a) & (x < loc + scale * b)
    assert np.all(np.isfinite(f[inner])), name
    # ppf(cdf(x)) == x. The cdf is computed with an absolute error of at most cdf_err * eps
    # (closed forms of ~20 flops on O(1) intermediates: <= 8 eps; Marchenko-Pastur also the
    # conditioning eps / sqrt(q) of its narrow support) and the ppf inverts it exactly or to
    # below that resolution (100 bisections), so the round trip moves x by at most
    # cdf_err * eps / pdf(x) plus the rounding of x itself, 2 eps (|x| + |loc|) -- doubled
    # for the ppf's own rounding.
    # The laws without a closed-form inverse (GOE ratio, Marchenko-Pastur, GOE pair) bisect
    # 100 times on a bracket of standardised width 1, 4 sqrt(q) or 80: an absolute resolution
    # of width * 2^-100 (documented in spectra._bisect_ppf: it matters only at a divergent
    # edge, Marchenko-Pastur with ratio 1 near x = 0).
    bracket = {"goe_ratio": 1.0, "mp": 4.0, "goe_pair": 80.0}.get(name, 0.0)
    ok = (F > 0) & (F < 1) & (f > 0)
    back = law.ppf(F[ok])
    tol = 2 * (cdf_err * EPS / f[ok] + 2 * EPS * (np.abs(x[ok]) + abs(loc)))
    tol += 2 * bracket * scale * 2.0**-100
    err = np.abs(back - x[ok])
    assert np.all(err <= tol), (name, float(np.max(err / tol)))


@_settings(60)
@given(case=_laws())
def test_law_pdf_normalised_and_moments(case):
    name, law, loc, scale, support, mean, var, _ = case
    a, b = support
    kw = dict(epsabs=1e-12, epsrel=1e-12, limit=400)
    # integrate in the standardised variable y = (x - loc) / scale: the same integral for
    # every loc and scale, so quad's accuracy does not depend on them
    dens = lambda y: law.pdf(loc + scale * y) * scale  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sintegrate.IntegrationWarning)
        total, err = sintegrate.quad(dens, a, b, **kw)
        m1, _ = sintegrate.quad(lambda y: y * dens(y), a, b, **kw)
        m2, _ = sintegrate.quad(lambda y: (y - (mean - loc) / scale) ** 2 * dens(y), a, b, **kw)
    # quad asked for 1e-12; 1e-9 leaves it a margin of 1000 (its pessimistic error
    # estimates at square-root edges are not used as the bound)
    # Marchenko-Pastur at small q: the edges x-+ are rounded to eps, a relative error of
    # ~eps/sqrt(q) in the width of the support and so in the pdf (1e-10 at q = 1e-12)
    tol = 1e-9 + (16 * EPS / math.sqrt(var) if name == "mp" else 0.0) * scale
    assert abs(total - 1) <= tol, (name, total, err)
    # The moments from the law (closed forms) against the quadrature, to 1e-8 relative
    mu, v = law.mean(), law.var()
    assert math.isfinite(mu) and math.isfinite(v) and v > 0, name
    assert mu == pytest.approx(mean, rel=1e-12, abs=1e-12 * scale), name
    assert (mu - loc) / scale == pytest.approx(m1, rel=1e-8, abs=1e-9), name
    if var is not None:
        assert v == pytest.approx(var, rel=1e-9), name
    assert v / scale**2 == pytest.approx(m2, rel=1e-8, abs=1e-9), name


@_settings(30)
@given(q=st.floats(-0.999, -0.5), x=st.lists(log_uniform(1e-300, 1e3), min_size=8, max_size=8))
def test_brody_heavy_tailed_q_cdf_ppf_and_moments(q, x):
    """q in (-1, -0.5): a Weibull law with shape q + 1 < 1/2, so heavy that quadrature of its
    moments fails; the closed forms must still give mean 1 and the exact variance."""
    law = spectra.brody(q)
    xs = np.sort(np.array(x))
    F = law.cdf(xs)
    assert np.all((F >= 0) & (F <= 1)) and np.all(np.diff(F) >= 0)
    ok = (F > 0) & (F < 1)
    # cdf = -expm1(-b s^k) is accurate to a few eps relative to F (in both tails), so the
    # inverse moves s by ~8 eps F / pdf(s) (= 8 eps s / k in the lower tail, the 1/k <= 1000
    # amplification of s = (u/b)^(1/k)); the rounding of the exponent 1/k adds eps/2 |ln s|/k
    # relative; doubled
    xo, Fo, k = xs[ok], F[ok], q + 1
    tol = 2 * (8 * EPS * Fo / law.pdf(xo) + EPS * xo * (1 + 0.5 * np.abs(np.log(xo)) / k))
    assert np.all(np.abs(law.ppf(Fo) - xo) <= tol)
    assert law.mean() == pytest.approx(1.0, rel=1e-12)
    v = law.var()
    assert v > 0 and v == pytest.approx(_brody_var(q), rel=1e-9)  # may be inf: overflow


@_settings(40)
@given(q=log_uniform(5.0, 1e15), q2=log_uniform(5.0, 1e15), u=st.lists(st.floats(0, 1),
       min_size=8, max_size=8))  # fmt: skip
def test_brody_sharp_q_moments_and_cdf(q, q2, u):
    """q >> 1: a spike of width ~1/q at s = 1. Var = zeta(2)/k^2 - 2 zeta(3)/k^3 + O(k^-4)
    (the log-gamma series, k = q + 1) and decreasing in q; ppf inverts the cdf."""
    law = spectra.brody(q)
    k = q + 1
    assert law.mean() == 1.0
    v = law.var()
    assert 0 < v < math.inf
    if k >= 1e4:  # the O(k^-4) remainder is < 1e-8 relative to the leading term
        zeta2, zeta3 = math.pi**2 / 6, 1.2020569031595942
        assert v == pytest.approx(zeta2 / k**2 - 2 * zeta3 / k**3, rel=1e-7)
    lo, hi = sorted((q, q2))
    assert spectra.brody(hi).var() <= spectra.brody(lo).var()
    x = 1.0 + (np.sort(np.array(u)) - 0.5) * 10.0 / k
    F, f = law.cdf(x), law.pdf(x)
    assert np.all(np.diff(F) >= 0) and np.all((F >= 0) & (F <= 1)) and np.all(f >= 0)
    ok = (F > 0) & (F < 1) & (f > 0)
    # as in test_brody_heavy_tailed_q_cdf_ppf_and_moments (|ln s| <= 10/k here)
    tol = 2 * (8 * EPS * F[ok] / f[ok] + EPS * x[ok] * (1 + 0.5 * np.abs(np.log(x[ok])) / k))
    assert np.all(np.abs(law.ppf(F[ok]) - x[ok]) <= tol)


def test_brody_variance_at_large_q_regression():
    """Regression: Var = exp(lnG(1 + 2/k) - 2 lnG(1 + 1/k)) - 1 cancelled catastrophically
    for large k = q + 1 (1.28e-16 instead of 1.64e-30 at q = 1e15, 1e-4 relative at q = 1e6;
    before that scipy's quadrature gave no closed form at all)."""
    for q in (1e6, 1e15):
        k = q + 1
        assert spectra.brody(q).var() == pytest.approx(math.pi**2 / 6 / k**2, rel=1e-5)


def test_goe_pair_tails_relative_accuracy_regression():
    """Regression: the GOE-pair cdf used (1 + erf y)/2, which cancels in the lower tail
    (relative error 9e-12 at y = -5), and sf was scipy's 1 - cdf (3e-6 at y = 7). Both tails
    now match quadrature of the pdf to 1e-12 relative (quad asked for 1e-13) and sf(y) =
    cdf(-y) exactly (an even density)."""
    law = spectra.goe_pair_density()
    for y in (-9.0, -7.0, -5.0, -3.0):
        ref, _ = sintegrate.quad(law.pdf, -np.inf, y, epsabs=0, epsrel=1e-13)
        assert law.cdf(y) == pytest.approx(ref, rel=1e-12)
        assert law.sf(-y) == law.cdf(y)


@pytest.mark.parametrize(
    "make",
    [
        lambda: spectra.marchenko_pastur(0.0),
        lambda: spectra.marchenko_pastur(1.5),
        lambda: spectra.marchenko_pastur(math.nan),
        lambda: spectra.marchenko_pastur(0.5, 0.0),
        lambda: spectra.marchenko_pastur(0.5, math.inf),
        lambda: spectra.brody(-1.0),
        lambda: spectra.brody(math.nan),
        lambda: spectra.semicircle(0.0, -1.0),
        lambda: spectra.goe_pair_density(math.inf, 1.0),
    ],
)
def test_law_parameters_out_of_range_refused(make):
    with pytest.raises(ValueError):
        make()


def test_marchenko_pastur_cdf_accurate_at_tiny_ratio():
    """Regression: the closed-form cdf summed terms of size 1/q that cancel to O(1), so its
    absolute error was ~eps/q: 2e-10 at q = 1e-6 and a non-monotone cdf (steps of -1.5e-4) at
    q = 1e-12. Now within 64 eps/sqrt(q) (the conditioning of x on a support of width
    4 sqrt(q)) of the quadrature of the pdf, itself accurate to ~16 eps/sqrt(q)."""
    for q in (1e-6, 1e-9, 1e-12):
        law = spectra.marchenko_pastur(q)
        lo, hi = law.support()
        for u in (0.1, 0.5, 0.9):
            x = lo + u * (hi - lo)
            ref, _ = sintegrate.quad(law.pdf, lo, x, epsabs=1e-13, epsrel=1e-13, limit=200)
            assert law.cdf(x) == pytest.approx(ref, abs=80 * EPS / math.sqrt(q))
        F = law.cdf(np.linspace(lo, hi, 200001))
        assert np.all(np.diff(F) >= -64 * EPS / math.sqrt(q))


# --------------------------------------------------------------------------- fits


@st.composite
def _spacing_samples(draw):
    n = draw(st.integers(2, 60))
    kind = draw(st.sampled_from(["exponential", "wigner", "decades", "equal", "two_clusters"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "exponential":
        s = rng.exponential(size=n)
    elif kind == "wigner":
        s = spectra.wigner_surmise.rvs(size=n, random_state=rng)
    elif kind == "decades":  # spacings spread over up to 600 decades
        s = 10.0 ** rng.uniform(-300, 300, size=n)
    elif kind == "equal":
        s = np.full(n, 1.0)
    else:
        s = np.where(rng.random(n) < 0.5, 1e-12, 1.0)
    s = s[s > 0]
    assume(s.size >= 2)
    return s * draw(log_uniform(1e-300, 1e300) if kind != "decades" else st.just(1.0))


@_settings(80)
@given(s=_spacing_samples())
def test_fit_brody_finite_in_range_and_scale_invariant(s):
    lo, hi = -0.9, 5.0  # the documented search range
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow/log(0) on the way
        fit = spectra.fit_brody(s)
    assert lo <= fit.q <= hi and fit.n == s.size
    assert math.isfinite(fit.log_likelihood)
    assert math.isnan(fit.stderr) or fit.stderr > 0
    # normalize=True fits only the shape: multiplying the sample by a power of two (exact in
    # floating point while nothing becomes subnormal or overflows) must not change anything
    c = 2.0**-40 if s.min() * 2.0**-40 > np.finfo(float).tiny else 2.0**40
    with np.errstate(over="ignore"):
        exact = s.min() > np.finfo(float).tiny and np.all(np.isfinite(s * c))
    if not exact:
        return  # a subnormal spacing: the scaled sample is not the same sample
    fit2 = spectra.fit_brody(s * c)
    # ... except rounding: log(s 2^-40) differs from log s - 40 ln 2 in the last bits, so the
    # two likelihoods differ by ~eps |l|. The bounded Brent search stops within
    # xatol + 3 sqrt(eps) |q| (scipy's fminbound tolerance), and a minimum of a function known
    # to eps |l| is located only to sqrt(eps |l| / l''), l'' = 1 / stderr^2; doubled.
    tol = 2 * (1e-10 + 3 * math.sqrt(EPS) * abs(fit.q))
    if math.isfinite(fit.stderr):
        tol += 2 * math.sqrt(EPS * max(1.0, abs(fit.log_likelihood))) * fit.stderr
    assert abs(fit2.q - fit.q) <= tol


@_settings(40)
@given(s=_spacing_samples())
def test_fit_brody_unnormalised_finite_or_refused(s):
    # normalize=False on spacings whose powers overflow the likelihood is refused with a
    # ValueError (documented); otherwise the same guarantees as normalize=True.
    try:
        fit = spectra.fit_brody(s, normalize=False)
    except ValueError as e:
        assert "normalize" in str(e)
        return
    assert -0.9 <= fit.q <= 5.0 and math.isfinite(fit.log_likelihood)


@pytest.mark.parametrize(
    "bad", [[1.0], [1.0, 0.0], [1.0, -1.0], [1.0, math.nan], [1.0, math.inf], []]
)
def test_fit_brody_bad_samples_refused(bad):
    with pytest.raises(ValueError):
        spectra.fit_brody(np.array(bad))


def test_fit_brody_huge_and_spread_spacings_regression():
    """Regression: normalising by s.mean() overflowed for [1e308, 1e308] (q at the upper bound
    with a -inf likelihood, plus RuntimeWarnings) and underflowed 1e-300 / mean(1e-300, 1e300)
    to 0 (log 0). The fit is scale invariant: [1e308, 1e308] fits as [1, 1]."""
    ref = spectra.fit_brody(np.array([1.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        big = spectra.fit_brody(np.array([1e308, 1e308]))
        spread = spectra.fit_brody(np.array([1e-300, 1e300]))
    assert big.q == pytest.approx(ref.q, abs=1e-7)
    assert big.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-9)
    assert math.isfinite(spread.log_likelihood) and -0.9 <= spread.q <= 5.0


@st.composite
def _mp_cases(draw):
    K = draw(st.integers(2, 600))
    transpose = draw(st.booleans())
    # ratios K/L from 1 down to ~1e-6 (1e-4 when transposed: the K > L input carries L - K
    # zero eigenvalues)
    L = draw(st.one_of(st.integers(K, 4 * K + 10),
                       log_uniform(K, K * (1e4 if transpose else 1e6)).map(int)))  # fmt: skip
    L = max(L, K)
    scale = draw(log_uniform(1e-8, 1e8))
    return K, L, scale, transpose, draw(st.integers(0, 2**32 - 1))


@_settings(60)
@given(c=_mp_cases(), method=st.sampled_from(["median", "mean"]))
def test_fit_marchenko_pastur_recovers_scale_of_exact_samples(c, method):
    K, L, scale, transpose, seed = c
    q = K / L
    rng = np.random.default_rng(seed)
    # K i.i.d. draws from the exact law (inverse cdf of uniforms)
    x = spectra.marchenko_pastur(q, scale).ppf(rng.random(K))
    shape = (L, K) if transpose else (K, L)
    if transpose:  # K > L: the nonzero eigenvalues follow MP(L/K, scale K/L) -- same law
        x_in = np.concatenate([x, np.zeros(L - K)])
    else:
        x_in = x
    fit = spectra.fit_marchenko_pastur(x_in, shape, method=method)
    assert fit.ratio == q  # from the shape, exactly
    for v in (fit.scale, fit.lower_edge, fit.upper_edge, fit.tw_scale, fit.threshold):
        assert math.isfinite(v) and v >= 0
    assert fit.lower_edge <= fit.scale <= fit.upper_edge <= fit.threshold
    assert 0 <= fit.n_outliers <= K
    # Standard error of the estimator on n = K i.i.d. samples (unit scale):
    # median: 1 / (2 f(m) sqrt(n)) / m (asymptotic sample-median variance);
    # mean: sqrt(Var / n) = sqrt(q / n). Measured for the median (20000 trials each at
    # q = 1e-4, 0.3, 1 and n = 2..50): its spread is at most the asymptotic one, but small n
    # has heavier tails, the largest deviation 5.1 se (q = 1, n = 10). 9 se bounds it with
    # room; for the mean (a sum) 9 se is a Gaussian tail of 2e-19.
    law1 = spectra.marchenko_pastur(q)
    if method == "median":
        m = law1.median()
        se = 1.0 / (2.0 * law1.pdf(m) * math.sqrt(K)) / m
    else:
        se = math.sqrt(q / K)
    assert abs(fit.scale / scale - 1.0) <= 9 * se + 1e-12, (fit.scale / scale, se)
    if fit.ks.n:
        assert 0 <= fit.ks.statistic <= 1 and 0 <= fit.ks.pvalue <= 1


# --------------------------------------------------------------------------- distances


@st.composite
def _sample_pairs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, m = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    kind = draw(st.sampled_from(["normal", "shifted", "ties", "decades", "identical"]))
    if kind == "normal":
        a, b = rng.normal(size=n), rng.normal(size=m)
    elif kind == "shifted":
        a, b = rng.normal(size=n), rng.normal(size=m) + draw(st.floats(-5, 5))
    elif kind == "ties":
        a, b = rng.integers(0, 3, size=n).astype(float), rng.integers(0, 3, size=m).astype(float)
    elif kind == "decades":
        a, b = 10.0 ** rng.uniform(-100, 100, n), 10.0 ** rng.uniform(-100, 100, m)
    else:
        a = rng.normal(size=n)
        b = a.copy()
    c = draw(log_uniform(1e-100, 1e100))
    return a * c, b * c


@_settings(80)
@given(ab=_sample_pairs())
def test_ks_tests_ranges_and_symmetry(ab):
    a, b = ab
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: exact p falls back on ties
        r, r2 = spectra.ks_two_sample(a, b), spectra.ks_two_sample(b, a)
    assert 0 <= r.statistic <= 1 and 0 <= r.pvalue <= 1
    assert (r.n, r.m) == (a.size, b.size) and (r2.n, r2.m) == (b.size, a.size)
    # sup |F_a - F_b| is symmetric in a and b; the p-value depends on the sizes only through
    # the unordered pair {n, m}
    assert r.statistic == r2.statistic
    assert r.pvalue == pytest.approx(r2.pvalue, rel=1e-12, abs=1e-300)
    if np.array_equal(a, b):
        assert r.statistic == 0 and r.pvalue == 1
    # The statistic is a multiple of 1/lcm(n, m) up to rounding (a difference of two ecdfs)
    l = math.lcm(a.size, b.size)  # noqa: E741
    assert abs(r.statistic * l - round(r.statistic * l)) <= 1e-9 * l
    # one-sample: against the standard normal, same ranges; scaling x and the law together
    # leaves the statistic unchanged (the cdf values are the same up to rounding)
    from scipy import stats

    k = spectra.ks_one_sample(a, stats.norm(scale=np.std(a) or 1.0))
    assert 0 <= k.statistic <= 1 and 0 <= k.pvalue <= 1 and k.m is None and k.n == a.size


@_settings(60)
@given(ab=_sample_pairs(), k=st.integers(-60, 60), c=log_uniform(1e-3, 1e3))
def test_wasserstein_metric_properties(ab, k, c):
    a, b = ab
    assume(np.all(np.isfinite(a * 2.0**k)) and np.all(np.isfinite(b * 2.0**k)))
    w = spectra.wasserstein(a, b, n_bootstrap=8, seed=1)
    w_ba = spectra.wasserstein(b, a, n_bootstrap=8, seed=1)
    assert w.statistic >= 0 and math.isfinite(w.statistic)
    assert w.stderr >= 0 and math.isfinite(w.stderr)
    assert (w.n, w.m, w.n_bootstrap) == (a.size, b.size, 8)
    # symmetric: the same sorted values and cdf steps, summed in the same order
    assert w_ba.statistic == pytest.approx(w.statistic, rel=1e-14, abs=0)
    assert spectra.wasserstein(a, a, n_bootstrap=2).statistic == 0
    # deterministic bootstrap for a fixed seed
    assert spectra.wasserstein(a, b, n_bootstrap=8, seed=1) == w
    # scale-equivariant: W1(c a, c b) = c W1(a, b). A power of two is exact in floating point
    # (every product and sum scales exactly, no under/overflow by the assume above).
    w2 = spectra.wasserstein(a * 2.0**k, b * 2.0**k, n_bootstrap=2).statistic
    assert w2 == w.statistic * 2.0**k
    # a general c rounds each of the n + m sorted values and cdf-weighted widths once more:
    # the non-negative sum of n + m terms keeps a relative error <= 4 (n + m) eps
    if np.all(np.isfinite(a * c)) and np.all(np.isfinite(b * c)):
        wc = spectra.wasserstein(a * c, b * c, n_bootstrap=2).statistic
        assert wc == pytest.approx(c * w.statistic, rel=4 * (a.size + b.size) * EPS, abs=1e-300)


def test_wasserstein_stderr_of_huge_values_regression():
    """Regression: the bootstrap spread was reps.std(), which squares values of ~1e154 and
    overflowed to stderr = inf; the spread is finite and scales with the data (power of 2)."""
    rng = np.random.default_rng(3)  # any seed: the property holds for every sample
    a, b = rng.normal(size=20), rng.normal(size=30) + 1.0
    ref = spectra.wasserstein(a, b, n_bootstrap=16, seed=2)
    big = spectra.wasserstein(a * 2.0**512, b * 2.0**512, n_bootstrap=16, seed=2)
    assert math.isfinite(big.stderr) and big.stderr > 0
    assert big.stderr == pytest.approx(ref.stderr * 2.0**512, rel=1e-13)


@_settings(40)
@given(ab=_sample_pairs(), bad=st.lists(st.sampled_from([math.nan, math.inf, -math.inf]),
                                        max_size=4))  # fmt: skip
def test_compare_distance_is_distance_of_finite_values(ab, bad):
    a, b = ab
    d = distance(np.concatenate([a, bad]), np.concatenate([bad, b]), n_bootstrap=4)
    ref = distance(a, b, n_bootstrap=4)
    assert d == ref  # NaN/inf are dropped before anything else
    assert (d.n, d.m) == (a.size, b.size)
    assert 0 <= d.ks_statistic <= 1 and 0 <= d.ks_pvalue <= 1
    assert d.wasserstein >= 0 and d.wasserstein_stderr >= 0
    sym = distance(b, a, n_bootstrap=4)
    assert sym.ks_statistic == d.ks_statistic
    assert sym.wasserstein == pytest.approx(d.wasserstein, rel=1e-14, abs=0)
    empty = distance(np.array(bad + [math.nan]), b, n_bootstrap=4)
    assert empty.n == 0 and math.isnan(empty.ks_statistic) and math.isnan(empty.wasserstein)


# --------------------------------------------------------------------------- scaling

_lr = st.one_of(st.floats(1e-300, 2.0, exclude_max=True), log_uniform(1e-300, 1.0),
                st.sampled_from([1e-300, 1e-17, 1.0, 2.0 - 2**-52]))  # fmt: skip


@_settings(100)
@given(
    lr=_lr,
    lr2=_lr,
    B=st.integers(1, 2**40),
    B2=st.integers(1, 2**40),
    A=log_uniform(1e-300, 1e300),
    A2=log_uniform(1e-300, 1e300),
    K=st.integers(1, 10**6),
)
def test_scaling_theory_finite_positive_monotone(lr, lr2, B, B2, A, A2, K):
    sig = float(scaling.stationary_sigma(lr, B, A))
    # sigma = sqrt(lr A / (|B| (2 - lr))): positive and finite for every valid input whose
    # value is representable; the factors are each in [1e-300, 1e300] ...
    true_log = 0.5 * (math.log(lr) + math.log(A) - math.log(B) - math.log(2 - lr))
    if -700 < true_log < 700:
        assert math.isfinite(sig) and sig > 0, (lr, B, A, sig)
        # ... and it is computed to a few ulps (no overflow or underflow on the way)
        assert math.log(sig) == pytest.approx(true_log, rel=1e-12, abs=1e-12)
    # monotone: increasing in lr and A, decreasing in |B|
    lo, hi = sorted((lr, lr2))
    assert scaling.stationary_sigma(lo, B, A) <= scaling.stationary_sigma(hi, B, A)
    lo, hi = sorted((A, A2))
    assert scaling.stationary_sigma(lr, B, lo) <= scaling.stationary_sigma(lr, B, hi)
    lo, hi = sorted((B, B2))
    assert scaling.stationary_sigma(lr, lo, A) >= scaling.stationary_sigma(lr, hi, A)
    # width = sigma sqrt((K + 1)/2): linear in sigma, increasing in K; prefactor sqrt(K+1)/2
    w = float(scaling.theory_width(K, 1.0))
    assert w == pytest.approx(math.sqrt((K + 1) / 2), rel=1e-15)
    assert scaling.theory_width(K + 1, 1.0) > w
    assert scaling.theory_width(K, 2.0) == 2 * w
    p = scaling.theory_prefactor(K)
    assert math.isfinite(p) and p > 0 and scaling.theory_prefactor(K + 1) > p
    # the lr -> 0 limit: width / sqrt(lr A/|B|) -> sqrt(K+1)/2 (with sigma at small lr)
    assert float(scaling.theory_width(K, scaling.stationary_sigma(1e-12, 1, 1.0))) / 1e-6 == (
        pytest.approx(p, rel=1e-11)
    )


@_settings(60)
@given(s=log_uniform(1e-300, 1e300), A=log_uniform(1e-300, 1e300))
def test_harmonic_map_finite_positive_or_refused(s, A):
    try:
        hm = scaling.harmonic_map(s, A)
    except ValueError as e:
        # refused only when s*^2 or 2 A s*^2 is not representable
        assert "overflow" in str(e) or "underflow" in str(e), e
        lt, ln = 2 * math.log(s), math.log(2 * A) + 2 * math.log(s)
        assert not (-700 < lt < 700 and -700 < ln < 700)
        return
    assert hm["kappa"] == 1.0
    assert math.isfinite(hm["target"]) and hm["target"] > 0
    assert math.isfinite(hm["noise"]) and hm["noise"] > 0
    assert hm["target"] == pytest.approx(s * s, rel=1e-15)
    assert hm["noise"] == pytest.approx(2 * A * s * s, rel=1e-15)


def test_harmonic_map_overflow_regression():
    """Regression: harmonic_map(1e200, 1.0) raised Python's OverflowError from s*^2 and
    harmonic_map(1e150, 1e10) returned noise = inf; both are ValueErrors naming the value."""
    for s, A in ((1e200, 1.0), (1e150, 1e10), (1e-200, 1.0)):
        with pytest.raises(ValueError, match="s_star"):
            scaling.harmonic_map(s, A)


def test_stationary_sigma_and_burn_in_extremes_regression():
    """Regression: stationary_sigma formed lr A first, so 1e-300 * 1e-300 underflowed to a
    sigma of 0 and 1.5 * 1e308 overflowed to inf; derived_burn_in took log|1 - lr| = 0 for
    lr < 1e-16 and returned -2^63 (and linear_sgd a negative burn-in)."""
    assert float(scaling.stationary_sigma(1e-300, 1, 1e-300)) == pytest.approx(
        1e-300 / math.sqrt(2), rel=1e-14
    )
    assert float(scaling.stationary_sigma(1.5, 1, 1e308)) == pytest.approx(
        math.sqrt(3.0) * 1e154, rel=1e-14
    )
    for lr in (1e-300, 1e-17, 1e-10):
        b = int(scaling.derived_burn_in(lr, 1.0, 2.0))
        assert b > 0
    r = scaling.linear_sgd(2, 3, 1.0, 1e-300, 1, 1.0, steps=3, seed=1)
    assert r.burn_in > 3


@_settings(80)
@given(
    n=st.integers(3, 12),
    seed=st.integers(0, 2**32 - 1),
    slope=st.floats(-3, 3),
    pref=log_uniform(1e-3, 1e3),
    decades=st.floats(0.01, 6),
    noise=st.sampled_from([0.0, 1e-3, 0.1]),
    rel_err=log_uniform(1e-12, 1.0),
    k=st.integers(-900, 900),
    weighted=st.booleans(),
)
def test_fit_scaling_recovers_power_laws_and_scales(
    n, seed, slope, pref, decades, noise, rel_err, k, weighted
):
    rng = np.random.default_rng(seed)
    x = 10.0 ** rng.uniform(-decades / 2, decades / 2, size=n)
    x[:2] = 10.0 ** (-decades / 2), 10.0 ** (decades / 2)  # the full span, two distinct x
    w = pref * x**slope * np.exp(noise * rng.standard_normal(n))
    e = w * rel_err * (1 + rng.random(n)) if weighted else None
    f = scaling.fit_scaling(x, w, e)
    for v in (f.slope, f.slope_stderr, f.prefactor, f.prefactor_stderr, f.prefactor_slope_one,
              f.prefactor_slope_one_stderr):  # fmt: skip
        assert math.isfinite(v), f
    assert f.slope_stderr >= 0 and f.prefactor > 0 and f.dof == n - 2 and f.chi2 >= 0
    if noise == 0:
        # exact data: log w is exact to ~eps (|log w| <= ~25 here), the fit to that over the
        # lever arm of log x (>= 0.023): 1e-9 leaves a factor > 100 over 25 eps / 0.023
        assert f.slope == pytest.approx(slope, abs=1e-9)
        assert f.prefactor == pytest.approx(pref, rel=1e-9 * (1 + decades * 3))
    if weighted:
        # errors scaled by 2^k (exact): same estimates, errors x 2^k, chi2 x 2^-2k
        g = scaling.fit_scaling(x, w, e * 2.0**k)
        assert (g.slope, g.prefactor, g.prefactor_slope_one) == (
            f.slope, f.prefactor, f.prefactor_slope_one
        )  # fmt: skip
        for a, b in ((g.slope_stderr, f.slope_stderr), (g.prefactor_stderr, f.prefactor_stderr),
                     (g.prefactor_slope_one_stderr, f.prefactor_slope_one_stderr)):  # fmt: skip
            if b * 2.0**k > 1e-290:  # not in the subnormal range
                assert a == pytest.approx(b * 2.0**k, rel=1e-13)
        if 1e-290 < f.chi2 * 2.0 ** (-2 * k) < 1e290:
            assert g.chi2 == pytest.approx(f.chi2 * 2.0 ** (-2 * k), rel=1e-12)


def test_fit_scaling_degenerate_inputs_regression():
    """Regression: equal x raised numpy's LinAlgError (now a ValueError); relative errors of
    1e-300 overflowed A^T A (NaN errors, prefactor_slope_one NaN) and of 1e300 underflowed it
    to a singular matrix (LinAlgError)."""
    with pytest.raises(ValueError, match="distinct"):
        scaling.fit_scaling([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    x, w = np.array([1.0, 2.0, 4.0]), np.array([2.0, 4.1, 8.0])
    ref = scaling.fit_scaling(x, w, 1e-3 * w)
    for c in (1e-297, 1e297):
        f = scaling.fit_scaling(x, w, c * w)
        assert f.slope == ref.slope and f.prefactor_slope_one == ref.prefactor_slope_one
        assert f.slope_stderr == pytest.approx(ref.slope_stderr * c / 1e-3, rel=1e-12)
        assert f.prefactor_slope_one_stderr == pytest.approx(
            ref.prefactor_slope_one_stderr * c / 1e-3, rel=1e-12
        )


@st.composite
def _linear_cases(draw):
    K = draw(st.integers(2, 4))
    steps = draw(st.integers(1, 40))
    return dict(
        K=K,
        L=draw(st.integers(K, 6)),
        s_star=draw(log_uniform(1e-3, 1e3)),
        lr=draw(_lr),
        batch_size=draw(st.integers(1, 8)),
        noise=draw(log_uniform(1e-8, 1e4)),
        steps=steps,
        record_every=draw(st.integers(1, steps)),
        init=draw(st.sampled_from(["random", "teacher"])),
    )


@_settings(40)
@given(c=_linear_cases(), n_seeds=st.integers(1, 3))
def test_linear_sgd_finite_ordered_deterministic(c, n_seeds):
    r = scaling.linear_sgd(**c, n_seeds=n_seeds, seed=ENTROPY)
    sv = r.singular_values
    n_rec = c["steps"] // c["record_every"] + 1
    assert sv.shape == (n_seeds, n_rec, c["K"])
    np.testing.assert_array_equal(r.record_steps, np.arange(n_rec) * c["record_every"])
    # |1 - lr| < 1: the AR(1) recursion is contracting, so W stays finite for every valid lr
    assert np.all(np.isfinite(sv)) and np.all(sv >= 0)
    assert np.all(np.diff(sv, axis=-1) <= 0)
    assert r.burn_in >= 0 and math.isfinite(r.sigma) and r.sigma > 0
    again = scaling.linear_sgd(**c, n_seeds=n_seeds, seed=ENTROPY)
    np.testing.assert_array_equal(again.singular_values, sv)
    # seed member k depends only on (entropy, k), not on the ensemble size
    one = scaling.linear_sgd(**c, n_seeds=1, seed=ENTROPY)
    np.testing.assert_array_equal(one.singular_values[0], sv[0])


# --------------------------------------------------------------------------- network model


_SCHEMES = st.sampled_from(["semi_implicit", "euler"])


@st.composite
def _network_models(draw):
    cfg = draw_network_config(
        draw, max_K=6, max_L=10, max_batches=20, max_batch_size=4, n_test=st.integers(2, 24)
    )
    sigma_w = draw(log_uniform(1e-4, 1e4))
    n = draw(st.integers(1, 3))
    inst = make_instances(cfg, sigma_w, n, draw(st.integers(0, 2**31)))
    kw = dict(
        basis=draw(st.sampled_from(["teacher", "student"])),
        slope=draw(st.sampled_from(["secant", "hessian"])),
        exchange=draw(st.booleans()),
        lr=draw(st.one_of(st.none(), log_uniform(1e-6, 1.0))),  # the order-eps drift
        refresh_interval=draw(st.sampled_from([0.5, 1.0, 4.0])),
        flip_horizon=draw(st.sampled_from([10.0, 1e6, math.inf])),
    )
    return cfg, inst, kw


@_settings(40)
@given(c=_network_models(), T=log_uniform(1e-8, 1e4), scheme=_SCHEMES)
def test_network_model_coefficients_split_and_levels(c, T, scheme):
    cfg, inst, kw = c
    model = NetworkModel(inst, **kw)
    x0 = model.x0
    assume(np.all(np.diff(x0, axis=1) < 0) and np.all(x0 > 0))  # Gaussian W0: distinct a.s.
    Kt, kappa, Vt, C = model.measure(x0)
    for name, v in (("Kt", Kt), ("kappa", kappa), ("Vt", Vt), ("C", C)):
        assert np.all(np.isfinite(v)), name
    np.testing.assert_array_equal(Vt, np.swapaxes(Vt, 1, 2))
    assert np.all(Vt >= 0) and np.all(C >= 0)
    co = model.coefficients(x0, 0.0)
    for name in ("kt0", "kappa", "V0", "a_iso", "C", "a_diag"):
        assert np.all(np.isfinite(getattr(co, name))), name
    # isotropic_split on the measured Vt (after any flip coefficients() made: measure again)
    _, _, Vt, _ = model.measure(x0)
    a, V0, ad = isotropic_split(Vt, x0)
    _check_split(Vt, x0, a, V0, ad)
    np.testing.assert_array_equal(co.a_iso, a)
    # any other positive state, levels moved over 8 decades: still finite, still exact
    rng = np.random.default_rng(cfg.K * 31 + cfg.L)
    x1 = -np.sort(-x0 * 10.0 ** rng.uniform(-4, 4, size=x0.shape), axis=1)
    Kt1, _, Vt1, C1 = model.measure(x1)
    assert np.all(np.isfinite(Kt1)) and np.all(np.isfinite(Vt1)) and np.all(np.isfinite(C1))
    _check_split(Vt1, x1, *isotropic_split(Vt1, x1))
    co1 = model.coefficients(x1, 1.0)
    for name in ("kt0", "kappa", "V0", "a_iso", "C", "a_diag"):
        assert np.all(np.isfinite(getattr(co1, name))), name
    # a short run: ordered positive levels, or a flag
    # two refreshes (t = 0, 1): the second measures, flips and exchanges on a moved state
    r = lintegrate(model, x0, 2.0, temperature=T, dt=0.1, scheme=scheme, save_points=3,
                   seed=ENTROPY, max_steps=400)  # fmt: skip
    finite = np.all(np.isfinite(r.x), axis=(1, 2))
    assert np.all(finite | r.blown_up), r.status
    for m in np.flatnonzero(finite):  # a stopped system keeps its last accepted state
        assert np.all(np.diff(r.x[m], axis=1) < 0) and np.all(r.x[m] > 0), m


def _check_split(Vt, x, a, V0, ad):
    n, K = x.shape
    idx = np.arange(K)
    assert np.all(a >= 0) and np.all(V0 >= 0)
    # a + a_diag = fl(fl(v - a) + a) >= fl(-a + a) = 0 by monotone rounding, exactly
    assert np.all(a[:, None] + ad >= 0)
    np.testing.assert_array_equal(V0, np.swapaxes(V0, 1, 2))
    assert np.all(V0[:, idx, idx] == 0)
    w = x[:, :, None] + x[:, None, :]
    # off the diagonal V0 + a (x_i + x_j) reproduces Vt: the two roundings of Vt - a w and of
    # its sum with a w (a w <= Vt (1 + eps) by the choice of a as the minimum ratio), plus the
    # clip of a rounding-negative V0, each at most eps Vt_ij: 4 eps Vt_ij
    off = ~np.eye(K, dtype=bool)
    rec = V0 + a[:, None, None] * w
    assert np.all(np.abs(rec - Vt)[:, off] <= 4 * EPS * Vt[:, off] + 1e-300)
    # on the diagonal 4 (a + a_diag_i) x_i = Vt_ii, up to the cancellation of a in
    # a_diag = Vt_ii/(4 x_i) - a: absolute error 2 eps (Vt_ii/(4 x_i) + a) in the slope
    diag = 4 * (a[:, None] + ad) * x
    tol = 4 * x * 4 * EPS * (Vt[:, idx, idx] / (4 * x) + a[:, None]) + 1e-300
    assert np.all(np.abs(diag - Vt[:, idx, idx]) <= tol)


def test_network_model_Vt_exactly_symmetric_regression():
    """Regression: the noise kernel associates the products of Vt_ij and Vt_ji differently,
    so measure() returned a Vt asymmetric in the last bit (K = L = 2, tanh, seed 1 here);
    isotropic_split documents a symmetric Vt."""
    cfg = NetworkConfig(d_in=1, K=3, L=4, n_batches=4, batch_size=2, n_test=8)
    for seed in range(8):  # a few seeds: the asymmetry is a last-bit accident per entry
        model = NetworkModel(make_instances(cfg, 1.0, 2, seed))
        _, _, Vt, _ = model.measure(model.x0)
        np.testing.assert_array_equal(Vt, np.swapaxes(Vt, 1, 2))


@_settings(60)
@given(
    n=st.integers(1, 3),
    K=st.integers(2, 8),
    seed=st.integers(0, 2**32 - 1),
    xs=log_uniform(1e-8, 1e8),
    vs=log_uniform(1e-12, 1e12),
    spread=st.floats(0, 12),
    zeros=st.booleans(),
)
def test_isotropic_split_exact_on_random_inputs(n, K, seed, xs, vs, spread, zeros):
    rng = np.random.default_rng(seed)
    x = -np.sort(-xs * 10.0 ** rng.uniform(-spread / 2, spread / 2, size=(n, K)), axis=1)
    V = vs * 10.0 ** rng.uniform(-spread / 2, spread / 2, size=(n, K, K))
    if zeros:
        V[rng.random((n, K, K)) < 0.3] = 0.0
    Vt = 0.5 * (V + np.swapaxes(V, 1, 2))
    a, V0, ad = isotropic_split(Vt, x)
    _check_split(Vt, x, a, V0, ad)


# --------------------------------------------------------------------------- boundaries


@st.composite
def _cells(draw, n_T=1, n_s=1):
    n = draw(st.integers(1, 7))
    K = draw(st.integers(2, 5))
    saves = draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(log_uniform(1e-6, 1e6))
    shape = (n_T, n_s, n)
    ev = -np.sort(-scale * 10.0 ** rng.uniform(-3, 3, size=shape + (saves, K)), axis=-1)
    teacher = -np.sort(-rng.uniform(0.05, 1.0, size=shape + (K,)), axis=-1)
    loss = 10.0 ** rng.uniform(-6, 1, size=shape + (saves,))
    diverged = (rng.random(shape) < 0.2).astype(float)
    # a diverged seed's later saves may be inf/NaN (the store keeps what the run recorded)
    blow = (diverged == 1.0) & (rng.random(shape) < 0.5)
    ev[blow, -1, :] = draw(st.sampled_from([math.nan, math.inf]))
    loss[blow, -1] = draw(st.sampled_from([math.nan, math.inf]))
    overlap = rng.uniform(-1, 1, size=shape)
    done = (rng.random((n_T, n_s)) < 0.8).astype(float)
    p_ord = rng.random((n_T, n_s))[..., None]  # per-cell ordered probability
    ordered = {e: (rng.random(shape) < p_ord).astype(float) for e in ("exact", "paper")}
    dims = ("T", "sigma_w", "seed")
    ds = xr.Dataset(
        {
            "eigenvalues": (dims + ("save", "level"), ev),
            "teacher_eigenvalues": (dims + ("level",), teacher),
            "loss": (dims + ("save",), loss),
            "diverged": (dims, diverged),
            "overlap_G": (dims, overlap),
            "cell_done": (("T", "sigma_w"), done),
            "ordered_exact": (dims, ordered["exact"]),
            "ordered_paper": (dims, ordered["paper"]),
        },
        coords={"T": 2.0 ** np.arange(n_T), "sigma_w": 2.0 ** -np.arange(n_s)},
    )
    return ds


@_settings(60)
@given(ds=_cells(), loss_drop=st.floats(1e-6, 1 - 1e-6), loss_drop2=st.floats(1e-6, 1 - 1e-6))
def test_seed_phases_are_classify_of_the_stored_observables(ds, loss_drop, loss_drop2):
    cell = ds.isel(T=0, sigma_w=0)
    ph = boundaries.seed_phases(cell)
    ev, teacher = cell["eigenvalues"].values, cell["teacher_eigenvalues"].values
    diverged, loss = cell["diverged"].values == 1.0, cell["loss"].values
    n = cell.sizes["seed"]
    # the store's labels are the one rule's, from the stored records (no amendments)
    assert ph == list(classify(ev, teacher, diverged=diverged, loss=loss).phases)
    assert len(ph) == n and set(ph) <= set(LABELS)
    for k in range(n):
        if diverged[k]:
            assert ph[k] == "high-temperature"
    # a larger loss_drop can only turn more seeds learned: undetermined -> ordered and
    # high-temperature -> crossover (the rule is monotone in it), nothing else moves
    lo, hi = sorted((loss_drop, loss_drop2))
    ph_lo = classify(ev, teacher, diverged=diverged, loss=loss, loss_drop=lo).phases
    ph_hi = classify(ev, teacher, diverged=diverged, loss=loss, loss_drop=hi).phases
    for p, q in zip(ph_lo, ph_hi, strict=True):
        assert p == q or (p, q) in (("undetermined", "ordered"), ("high-temperature", "crossover"))
    # seeds are independent: reversing them reverses the phases
    rev = boundaries.seed_phases(cell.isel(seed=slice(None, None, -1)))
    assert rev == ph[::-1]


@_settings(25)
@given(ds=_cells(n_T=3, n_s=2))
def test_cell_phases_majority_of_seed_phases(ds):
    out = boundaries.cell_phases(ds)
    assert out.dims == ("T", "sigma_w") and out.shape == (3, 2)
    done = ds["cell_done"].values == 1.0
    for i in range(3):
        for j in range(2):
            if not done[i, j]:
                assert out.values[i, j] == ""
                continue
            ph = boundaries.seed_phases(ds.isel(T=i, sigma_w=j))
            counts = {p: ph.count(p) for p in LABELS}
            best = max(counts.values())
            winner = out.values[i, j]
            assert counts[winner] == best
            # ties go to the first of LABELS (high-temperature, disordered, ordered, ...)
            assert winner == next(p for p in LABELS if counts[p] == best)


@_settings(40)
@given(ds=_cells(n_T=5, n_s=3), estimator=st.sampled_from(["exact", "paper"]))
def test_boundary_temperatures_bracketed_and_ordered_by_level(ds, estimator):
    levels = (0.5, 0.68, 0.95, 0.997)
    b = boundaries.boundary_temperatures(ds, estimator, levels)
    frac = boundaries.ordered_fraction(ds, estimator).values
    T = ds["T"].values
    done = ds["cell_done"].values == 1.0
    assert set(b) == set(levels)
    for j in range(frac.shape[1]):
        if not done[:, j].all():  # a missing cell leaves the column undetermined
            assert all(math.isnan(b[lv][j]) for lv in levels)
            continue
        assert np.all((frac[:, j] >= 0) & (frac[:, j] <= 1))
        for lv in levels:
            t = b[lv][j]
            # -inf: below the level already at the lowest T; inf: never below; otherwise
            # inside the grid, between the last T above the level and the first below it
            if t == -math.inf:
                assert frac[0, j] < lv
            elif t == math.inf:
                assert np.all(frac[:, j] >= lv)
            else:
                k = int(np.argmax(frac[:, j] < lv))
                assert k >= 1 and T[k - 1] <= t <= T[k] * (1 + 1e-15)
        # a stricter level is crossed at a lower temperature (or the same)
        ts = [b[lv][j] for lv in levels]
        assert all(ts[i] >= ts[i + 1] for i in range(len(ts) - 1)), ts


@pytest.mark.slow
@_settings(120, slow=True)
@given(case=_laws(), data=st.data())
def test_law_cdf_pdf_ppf_consistent_more_examples(case, data):
    test_law_cdf_pdf_ppf_consistent.hypothesis.inner_test(case, data)


@pytest.mark.slow
@_settings(40, slow=True)
@given(c=_network_models(), T=log_uniform(1e-8, 1e4), scheme=_SCHEMES)
def test_network_model_coefficients_split_and_levels_more_examples(c, T, scheme):
    test_network_model_coefficients_split_and_levels.hypothesis.inner_test(c, T, scheme)


@pytest.mark.slow
@_settings(40, slow=True)
@given(s=_spacing_samples())
def test_fit_brody_finite_in_range_and_scale_invariant_more_examples(s):
    test_fit_brody_finite_in_range_and_scale_invariant.hypothesis.inner_test(s)


@pytest.mark.slow
@_settings(25, slow=True)
@given(c=_mp_cases(), method=st.sampled_from(["median", "mean"]))
def test_fit_marchenko_pastur_recovers_scale_more_examples(c, method):
    test_fit_marchenko_pastur_recovers_scale_of_exact_samples.hypothesis.inner_test(c, method)


@pytest.mark.slow
@_settings(40, slow=True)
@given(c=_linear_cases(), n_seeds=st.integers(1, 3))
def test_linear_sgd_finite_ordered_deterministic_more_examples(c, n_seeds):
    test_linear_sgd_finite_ordered_deterministic.hypothesis.inner_test(c, n_seeds)


@pytest.mark.slow
@_settings(60, slow=True)
@given(ds=_cells(), loss_drop=st.floats(1e-6, 1 - 1e-6), loss_drop2=st.floats(1e-6, 1 - 1e-6))
def test_seed_phases_are_classify_more_examples(ds, loss_drop, loss_drop2):
    test_seed_phases_are_classify_of_the_stored_observables.hypothesis.inner_test(
        ds, loss_drop, loss_drop2
    )

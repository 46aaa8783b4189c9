"""Laws of random-matrix theory as :class:`scipy.stats.rv_continuous` objects.

See docs/statistics.md, section 4.

Laws without parameters are instances (:data:`wigner_surmise`, :data:`poisson_spacing`,
:data:`goe_ratio`, :data:`poisson_ratio`); laws with parameters are functions returning frozen
distributions (:func:`marchenko_pastur`, :func:`semicircle`, :func:`goe_pair_density`,
:func:`brody`). Every cdf is in closed form.

References
----------
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, "Distribution of the ratio of consecutive level
spacings in random matrix ensembles", Phys. Rev. Lett. 110, 084101 (2013).
V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967).
T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024) (the K = 2 GOE pair).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from dysonsgd.spectra._checks import _finite, _positive

__all__ = [
    "GOE_RATIO_MEAN_LARGE_N",
    "GOE_RATIO_MEAN_SURMISE",
    "POISSON_RATIO_MEAN",
    "brody",
    "goe_pair_density",
    "goe_ratio",
    "marchenko_pastur",
    "poisson_ratio",
    "poisson_spacing",
    "semicircle",
    "wigner_surmise",
]

#: Mean spacing ratio <r> of the Atas et al. surmise (exact for 3 x 3 GOE matrices).
GOE_RATIO_MEAN_SURMISE: float = 4.0 - 2.0 * math.sqrt(3.0)
#: Mean spacing ratio <r> of large GOE matrices, 0.5307(1) (Atas et al. 2013, table I).
GOE_RATIO_MEAN_LARGE_N: float = 0.5307
#: Mean spacing ratio <r> of uncorrelated (Poisson) levels, 2 ln 2 - 1.
POISSON_RATIO_MEAN: float = 2.0 * math.log(2.0) - 1.0


def _bisect_ppf(cdf, p, lo, hi, *args):
    """Vectorised inverse of an increasing cdf by bisection on [lo, hi] (broadcast arrays).

    scipy's generic ppf runs one scalar root search per value (about 1 ms each), which makes
    ``rvs`` of the laws without an explicit inverse unusably slow. 100 halvings shrink a bracket
    of width 80 to 1e-28, below double precision except in the extreme tail at a divergent
    edge (Marchenko-Pastur with ratio 1 at x = 0, p < 1e-14).
    """
    p = np.asarray(p, dtype=np.float64)
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=np.float64) + 0 * p, hi)
    lo, hi = lo.copy(), np.array(hi, dtype=np.float64, copy=True)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        below = cdf(mid, *args) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


class _WignerSurmise(stats.rv_continuous):
    """Wigner surmise, beta = 1: P(s) = (pi s / 2) exp(-pi s^2 / 4), s >= 0, mean 1."""

    def _pdf(self, s):
        return 0.5 * np.pi * s * np.exp(-0.25 * np.pi * s * s)

    def _logpdf(self, s):
        return np.log(0.5 * np.pi * s) - 0.25 * np.pi * s * s

    def _cdf(self, s):
        return -np.expm1(-0.25 * np.pi * s * s)

    def _sf(self, s):
        return np.exp(-0.25 * np.pi * s * s)

    def _ppf(self, p):
        return np.sqrt(-4.0 / np.pi * np.log1p(-p))

    def _stats(self):
        return 1.0, 4.0 / np.pi - 1.0, None, None


class _PoissonSpacing(stats.rv_continuous):
    """Spacings of uncorrelated levels: P(s) = exp(-s), s >= 0, mean 1."""

    def _pdf(self, s):
        return np.exp(-s)

    def _logpdf(self, s):
        return -s

    def _cdf(self, s):
        return -np.expm1(-s)

    def _sf(self, s):
        return np.exp(-s)

    def _ppf(self, p):
        return -np.log1p(-p)

    def _stats(self):
        return 1.0, 1.0, 2.0, 6.0


class _GOERatio(stats.rv_continuous):
    """Atas et al. surmise for r in [0, 1]: P(r) = (27/4) (r + r^2) / (1 + r + r^2)^(5/2).

    This is the density (27/8)(r + r^2)/(1 + r + r^2)^(5/2) of the unrestricted ratio on
    [0, inf) folded onto [0, 1] by r -> min(r, 1/r) (the density is invariant under
    r -> 1/r with Jacobian 1/r^2, so folding doubles it). Its cdf is
    F(r) = 1 + (r - 1)(r + 2)(2 r + 1) / (2 (1 + r + r^2)^(3/2)); mean 4 - 2 sqrt(3).
    """

    def _pdf(self, r):
        return 6.75 * (r + r * r) / (1.0 + r + r * r) ** 2.5

    def _cdf(self, r):
        # 1 + (-1) cancels at r -> 0 (F ~ 27 r^2 / 8): clip the rounding, which came out
        # -1.1e-16 at r = 1e-14 and gave a KS statistic of 1 + 2e-16
        f = 1.0 + (r - 1.0) * (r + 2.0) * (2.0 * r + 1.0) / (2.0 * (1.0 + r + r * r) ** 1.5)
        return np.clip(f, 0.0, 1.0)

    def _ppf(self, p):
        return _bisect_ppf(self._cdf, p, 0.0, 1.0)

    def _stats(self):
        return GOE_RATIO_MEAN_SURMISE, None, None, None


class _PoissonRatio(stats.rv_continuous):
    """Spacing ratio of uncorrelated levels on [0, 1]: P(r) = 2 / (1 + r)^2, mean 2 ln 2 - 1."""

    def _pdf(self, r):
        return 2.0 / (1.0 + r) ** 2

    def _cdf(self, r):
        return 2.0 * r / (1.0 + r)

    def _ppf(self, p):
        return p / (2.0 - p)

    def _stats(self):
        return POISSON_RATIO_MEAN, None, None, None


class _MarchenkoPastur(stats.rv_continuous):
    """Marchenko-Pastur law with unit mean and shape ``ratio`` q in (0, 1].

    P(x) = sqrt((x+ - x)(x - x-)) / (2 pi q x) on [x-, x+], x+- = (1 +- sqrt q)^2.
    """

    def _argcheck(self, ratio):
        return (ratio > 0) & (ratio <= 1)

    def _get_support(self, ratio):
        rq = np.sqrt(ratio)
        return (1.0 - rq) ** 2, (1.0 + rq) ** 2

    def _pdf(self, x, ratio):
        rq = np.sqrt(ratio)
        lo, hi = (1.0 - rq) ** 2, (1.0 + rq) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.sqrt(np.clip((hi - x) * (x - lo), 0.0, None)) / (2.0 * np.pi * ratio * x)
        return np.where((x > lo) & (x < hi), p, 0.0)

    def _cdf(self, x, ratio):
        # Substitute x = 1 + q - 2 sqrt(q) cos(theta), theta in [0, pi]; the integral of
        # (2/pi) sin^2 / (1 + q - 2 sqrt q cos) is elementary (see docs/statistics.md):
        #   I = sin(theta) / (2 sqrt q) + (1 + q) theta / (4 q) - (1 - q) at / (2 q),
        # at = atan(k tan(theta/2)), k = (1 + sqrt q)/(1 - sqrt q), F = 2 I / pi.
        # sin^2(theta/2) = (x - x-)/(4 sqrt q) and cos^2(theta/2) = (x+ - x)/(4 sqrt q), so the
        # half-angle comes from atan2, accurate at both edges (arccos is not).
        rq = np.sqrt(ratio)
        lo, hi = (1.0 - rq) ** 2, (1.0 + rq) ** 2
        a = np.sqrt(np.clip(x - lo, 0.0, hi - lo))
        b = np.sqrt(np.clip(hi - x, 0.0, hi - lo))
        half = np.arctan2(a, b)
        # For small q the three terms of I are O(1/q) and cancel to O(1): an absolute error of
        # eps/q (2e-10 at q = 1e-6, a non-monotone cdf at q = 1e-12). With at = theta/2 + d,
        # tan d = z = 2 a b / (4 + a^2 - b^2) = O(sqrt q), the same I reads
        #   I = theta/2 + [ (ab/2)(q + (a^2 - b^2)/4) / (1 + (a^2 - b^2)/4)
        #                   + (1 - q)(z - atan z) ] / (2 q),
        # whose bracket is O(q) term by term: error ~eps/sqrt(q), the conditioning of x itself.
        d = a * a - b * b  # = 2 x - 2 (1 + q) = -4 sqrt(q) cos(theta)
        # the small-q form for q < 1/4 (z <= 1/2 there); the closed form for q >= 1/4, where
        # its terms are O(1) (and z -> inf as q -> 1: the unused branch may divide by 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = 2.0 * a * b / (4.0 + d)
            small = (
                0.5 * a * b * (ratio + 0.25 * d) / (1.0 + 0.25 * d)
                + (1.0 - ratio) * (z - np.arctan(z))
            ) / (2.0 * ratio)
        sin_th = 2.0 * a * b / (4.0 * rq)
        at = np.arctan2((1.0 + rq) * a, (1.0 - rq) * b)
        large = (
            sin_th / (2.0 * rq)
            + (1.0 + ratio) * (2.0 * half) / (4.0 * ratio)
            - (1.0 - ratio) / (2.0 * ratio) * at
        )
        val = np.where(ratio < 0.25, half + small, large)
        return np.clip(2.0 / np.pi * val, 0.0, 1.0)

    def _ppf(self, p, ratio):
        rq = np.sqrt(ratio)
        return _bisect_ppf(self._cdf, p, (1.0 - rq) ** 2, (1.0 + rq) ** 2, ratio)

    def _stats(self, ratio):
        return np.ones_like(ratio), ratio, None, None


class _GOEPair(stats.rv_continuous):
    """One-point density of a 2 x 2 GOE pair (diagonal variance 1, off-diagonal 1/2), centre 0.

    f(y) = e^{-y^2/2} [2 e^{-y^2/2} + sqrt(2 pi) y erf(y / sqrt 2)] / (4 sqrt pi);
    F(y) = (1 + erf y) / 2 - (sqrt 2 / 4) e^{-y^2/2} erf(y / sqrt 2).
    """

    def _pdf(self, y):
        g = np.exp(-0.5 * y * y)
        return (
            g
            * (2.0 * g + math.sqrt(2.0 * math.pi) * y * special.erf(y / math.sqrt(2.0)))
            / (4.0 * math.sqrt(math.pi))
        )

    def _cdf(self, y):
        # (1 + erf y)/2 as erfc(-y)/2: the sum cancelled in the lower tail (relative error
        # 9e-12 at y = -5)
        pair = 0.25 * math.sqrt(2.0) * np.exp(-0.5 * y * y) * special.erf(y / math.sqrt(2.0))
        return 0.5 * special.erfc(-y) - pair

    def _sf(self, y):
        # the density is even: sf(y) = cdf(-y), accurate in the upper tail (1 - cdf lost
        # everything there: relative error 3e-6 at y = 7)
        return self._cdf(-y)

    def _ppf(self, p):
        # the tails fall like exp(-y^2 / 2): +-40 brackets every double-precision p
        return _bisect_ppf(self._cdf, p, -40.0, 40.0)

    def _stats(self):
        # <y^2> = (<lambda_1^2> + <lambda_2^2>)/2 = E[tr H^2]/2 = (1 + 1 + 2 * 1/2)/2 = 3/2.
        return 0.0, 1.5, 0.0, None


# Above this Brody shape k = q + 1, the variance comes from the log-gamma series (terms
# (2/k)^n: 38 terms reach 1e-26 relative at k = 10).
_BRODY_SERIES_K = 10.0


class _Brody(stats.rv_continuous):
    """Brody law with unit mean: P(s) = (q + 1) b s^q exp(-b s^(q+1)).

    b = Gamma((q + 2)/(q + 1))^(q + 1) sets the mean to 1.
    """

    def _argcheck(self, q):
        return q > -1

    @staticmethod
    def _b(q):
        return np.exp((q + 1.0) * special.gammaln((q + 2.0) / (q + 1.0)))

    def _logpdf(self, s, q):
        b = self._b(q)
        with np.errstate(divide="ignore"):
            return np.log((q + 1.0) * b) + special.xlogy(q, s) - b * s ** (q + 1.0)

    def _pdf(self, s, q):
        return np.exp(self._logpdf(s, q))

    def _cdf(self, s, q):
        return -np.expm1(-self._b(q) * s ** (q + 1.0))

    def _sf(self, s, q):
        return np.exp(-self._b(q) * s ** (q + 1.0))

    def _ppf(self, p, q):
        return (-np.log1p(-p) / self._b(q)) ** (1.0 / (q + 1.0))

    def _stats(self, q):
        # A Weibull law with shape k = q + 1 rescaled to unit mean: mean 1 exactly,
        # Var = Gamma(1 + 2/k) / Gamma(1 + 1/k)^2 - 1 (inf once it overflows, k < ~0.0016).
        # scipy's generic quadrature got the mean wrong by 1e-11 at q = 0.5 and by 78 orders
        # of magnitude at q = -0.99 (8e-78), where the law's tail is extremely heavy.
        k = np.asarray(q + 1.0, dtype=np.float64)
        with np.errstate(over="ignore"):
            d = special.gammaln(1.0 + 2.0 / k) - 2.0 * special.gammaln(1.0 + 1.0 / k)
        # For large k the two log-gammas cancel to O(1/k^2) and 1 + 1/k is rounded: the
        # variance lost all accuracy by q ~ 1e6. Their series, ln Gamma(1 + e) = -gamma e +
        # sum_{n >= 2} (-1)^n zeta(n) e^n / n, gives d free of the cancelling linear term.
        e = 1.0 / np.maximum(k, _BRODY_SERIES_K)[..., None]
        n = np.arange(2, 40, dtype=np.float64)
        series = np.sum((-1.0) ** n * special.zeta(n) * (2.0**n - 2.0) / n * e**n, axis=-1)
        d = np.where(k >= _BRODY_SERIES_K, series, d)
        with np.errstate(over="ignore"):
            var = np.expm1(d)
        return np.ones_like(q), var, None, None


#: Wigner surmise for beta = 1 spacings (mean 1), an ``rv_continuous`` instance.
wigner_surmise = _WignerSurmise(a=0.0, name="wigner_surmise")
#: Exponential spacing law of uncorrelated (Poisson) levels (mean 1).
poisson_spacing = _PoissonSpacing(a=0.0, name="poisson_spacing")
#: Atas et al. GOE surmise for the spacing ratio on [0, 1] (mean 4 - 2 sqrt 3 = 0.5359).
goe_ratio = _GOERatio(a=0.0, b=1.0, name="goe_ratio")
#: Spacing-ratio law of Poisson levels on [0, 1] (mean 2 ln 2 - 1 = 0.3863).
poisson_ratio = _PoissonRatio(a=0.0, b=1.0, name="poisson_ratio")

_marchenko_pastur = _MarchenkoPastur(a=0.0, name="marchenko_pastur", shapes="ratio")
_goe_pair = _GOEPair(name="goe_pair_density")
_brody = _Brody(a=0.0, name="brody", shapes="q")


def marchenko_pastur(ratio: float, scale: float = 1.0):
    """Marchenko-Pastur law of the eigenvalues of ``X = W W^T``.

    Parametrisation: W is K x L with independent entries of mean 0 and variance
    ``scale / L``, ``ratio = q = K / L <= 1``. Then the eigenvalue density of X tends to

        P(x) = sqrt((x+ - x)(x - x-)) / (2 pi q scale x),   x+- = scale (1 +- sqrt q)^2,

    with mean ``scale`` (the mean eigenvalue, i.e. ``L`` times the entry variance) and variance
    ``q scale^2``. (For the paper's student, entries of variance sigma_W^2 / L:
    ``scale = sigma_W^2``.) For K > L, the L nonzero eigenvalues follow
    ``marchenko_pastur(L / K, scale * K / L)``; see :func:`fit_marchenko_pastur`.

    Parameters
    ----------
    ratio : float in (0, 1]
        q = K / L.
    scale : float > 0
        Mean eigenvalue; the scipy ``scale`` of the unit-mean law.

    Returns
    -------
    scipy.stats frozen distribution
        With ``pdf``, ``cdf`` (closed form), ``ppf``, ``rvs``, ``support()``, ``mean()``.

    References
    ----------
    Marchenko and Pastur (1967); arXiv:2509.01349, section 5 (the initial spectrum).
    """
    q = _positive(ratio, "ratio")
    if q > 1:
        raise ValueError(
            f"ratio must be K/L <= 1, got {ratio!r}; for K > L use the nonzero eigenvalues "
            "with ratio L/K and scale * K/L"
        )
    return _marchenko_pastur(q, scale=_positive(scale, "scale"))


class _Semicircle(type(stats.semicircular)):
    """scipy's semicircular law with its cdf kept in [0, 1].

    ``1/2 + (y sqrt(1 - y^2) + arcsin y) / pi`` cancels near y = -1 and came out -1.1e-16
    (found by tests/reliability/test_properties_api.py); the value is exact to ~60 eps either
    way, so clipping only restores the range of a probability.
    """

    def _cdf(self, x):
        return np.clip(super()._cdf(x), 0.0, 1.0)

    def _sf(self, x):
        return np.clip(super()._cdf(-x), 0.0, 1.0)


_semicircle = _Semicircle(a=-1.0, b=1.0, name="semicircle")


def semicircle(center: float = 0.0, radius: float = 1.0):
    """Wigner semicircle ``P(x) = 2 sqrt(R^2 - (x - c)^2) / (pi R^2)`` on [c - R, c + R].

    An N x N GOE matrix with off-diagonal variance v (diagonal 2 v) has, for large N, a
    semicircle of radius ``R = 2 sqrt(N v)``; the harmonic Coulomb gas (docs/theory.md, section 2,
    case 2) has ``R = sqrt(2 K T A / kappa)``.

    Parameters
    ----------
    center : float
    radius : float > 0

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.semicircular(loc=center, scale=radius)``, with its cdf clipped to [0, 1].
    """
    return _semicircle(loc=_finite(center, "center"), scale=_positive(radius, "radius"))


def goe_pair_density(x0: float = 0.0, sig: float = 1.0):
    """One-point density of the two eigenvalues of a 2 x 2 GOE pair centred at ``x0``.

    The matrix ``x0 I + H`` with diagonal variance ``sig^2`` and off-diagonal ``sig^2 / 2``:

        rho(x) = e^{-u^2} [2 e^{-u^2} + sqrt(2 pi) ((x - x0)/sig) erf(u)] / (4 sqrt(pi) sig),

    ``u = (x - x0) / (sqrt 2 sig)``; the spacing is Wigner-distributed with mean
    ``sqrt(pi) sig``.

    Parameters
    ----------
    x0 : float
        Centre (the common target eigenvalue x*).
    sig : float > 0
        ``sig^2 = T A / kappa`` for the harmonic model of docs/theory.md (section 2, case 2).

    Returns
    -------
    scipy.stats frozen distribution
        Location-scale family (loc = x0, scale = sig) with closed-form pdf and cdf.

    References
    ----------
    Aarts, Lucini, Park, arXiv:2407.16427 (2024); docs/statistics.md, section 4.
    """
    return _goe_pair(loc=_finite(x0, "x0"), scale=_positive(sig, "sig"))


def brody(q: float):
    """Brody spacing law with unit mean, interpolating Poisson (q = 0) and Wigner (q = 1).

    ``P(s) = (q + 1) b s^q exp(-b s^(q+1))``, ``b = Gamma((q + 2)/(q + 1))^(q + 1)``.

    Parameters
    ----------
    q : float > -1

    Returns
    -------
    scipy.stats frozen distribution

    References
    ----------
    T. A. Brody, Lett. Nuovo Cimento 7, 482 (1973).
    """
    qq = _finite(q, "q")
    if qq <= -1:
        raise ValueError(f"q must be > -1 (q = 0 Poisson, q = 1 Wigner), got {q!r}")
    return _brody(qq)

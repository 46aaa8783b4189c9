"""Langevin integrator: kernel vs numpy oracle, determinism, invariants, bad input.

The exact-physics checks (Wishart, Coulomb gas, convergence orders) are in
tests/langevin/test_langevin_exact.py.
"""

import math
import warnings

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from dysonsgd.langevin import (
    SCHEMES,
    Coefficients,
    DriftModel,
    FreeModel,
    Guard,
    HarmonicModel,
    MeasuredModel,
    NetworkModel,
    OverflowGuard,
    integrate,
    schemes,
    step_count,
    x0_from_singular_values,
)
from dysonsgd.langevin import _kernels as _k
from dysonsgd.langevin import reference as ref
from dysonsgd.langevin.integrate import member_rng_states


def _measured(K, rng):
    A = rng.random((K, K))
    return MeasuredModel(rng.normal(size=K), A @ A.T, rng.random(K))


class _DiagonalSlopeModel(DriftModel):
    """Positive domain with per-level diagonal noise slopes (V0_ii = 0), as the network
    model hands over its fixed-basis noise ``Vt_ii = 4 x_i Var(u_i^T g v_i)``."""

    name = "diagonal-slope"
    domain = "positive"

    def __init__(self, K, rng):
        A = rng.random((K, K))
        self.V0 = 0.1 * (A + A.T)
        np.fill_diagonal(self.V0, 0.0)
        self.a_diag = rng.random(K)
        self.C = 5.0 + rng.random(K)

    def coefficients(self, x, t):
        n, K = x.shape
        tile = lambda v: np.tile(v, (n,) + (1,) * np.ndim(v))  # noqa: E731
        return Coefficients(
            kt0=np.zeros((n, K)), kappa=np.full((n, K), 0.5), V0=tile(self.V0),
            a_iso=np.full(n, 0.2), C=tile(self.C), a_diag=tile(self.a_diag),
        )  # fmt: skip


def _models(rng):
    # one model per coefficient type: isotropic (free), constant V0 on the real line
    # (harmonic), constant measured V0 on the positive domain, per-level diagonal slopes
    return [
        (FreeModel(5, 7, 0.8), np.array([9.0, 6, 4, 2, 1])),
        (HarmonicModel([1, 0.5, 0, -1, -2.0], [1, 2, 1, 1, 3], 0.7), np.array([3.0, 1, 0, -1, -3])),
        (_measured(5, rng), np.array([9.0, 6, 4, 2, 1])),
        (_DiagonalSlopeModel(5, rng), np.array([9.0, 6, 4, 2, 1])),
    ]


# --------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_kernel_matches_numpy_reference_on_same_increments(scheme):
    # Seed 5: arbitrary fixed value. T, dt small enough that no step is rejected, so the
    # kernel follows exactly the supplied path like the reference (asserted below).
    rng = np.random.default_rng(5)
    T, time, dt, n = 0.05, 0.5, 0.005, 3
    for model, x0 in _models(rng):
        steps = step_count(model, time, dt=dt, save_points=2)
        h = time / steps
        dB = rng.normal(size=(n, steps, 5)) * math.sqrt(h)
        r = integrate(
            model, np.tile(x0, (n, 1)), time, temperature=T, dt=dt, scheme=scheme,
            save_points=2, increments=dB,
        )  # fmt: skip
        assert np.all(r.rejected_steps == 0) and np.all(r.steps == steps)
        c = model.coefficients(np.tile(x0, (n, 1)), 0.0)
        pos = model.domain == "positive"
        for m in range(n):
            y0 = np.sqrt(x0) if pos else x0
            p = ref.path(
                y0, h, dB[m], pos, T, c.kt0[m], c.kappa[m], c.V0[m], c.a_iso[m], c.C[m],
                scheme, ad=c.a_diag[m],
            )  # fmt: skip
            xf = p[-1] ** 2 if pos else p[-1]
            np.testing.assert_allclose(r.final[m], xf, rtol=1e-12, atol=0)


def test_drift_matches_spec_wishart_form():
    # SPEC section 3 case 1: ds_i = sigma^2 [(L-K)/(2 s_i) + sum_j s_i/(s_i^2 - s_j^2)] dt
    K, L, a, T = 4, 9, 1.3, 0.7
    s = np.array([2.0, 1.5, 0.7, 0.2])
    f, g = ref.drift_diffusion(
        s, True, T, np.zeros(K), np.zeros(K), np.zeros((K, K)), a, np.full(K, a * L)
    )
    sig2 = T * a
    want = [
        sig2
        * ((L - K) / (2 * s[i]) + sum(s[i] / (s[i] ** 2 - s[j] ** 2) for j in range(K) if j != i))
        for i in range(K)
    ]
    np.testing.assert_allclose(f, want, rtol=1e-13)
    np.testing.assert_allclose(g, math.sqrt(sig2), rtol=1e-15)


def test_kernel_normals_are_standard():
    # The kernel's own N(0,1) generator (ziggurat on xoshiro256**), seed 11: an arbitrary
    # fixed value, so the test is deterministic. n = 2e6:
    # - mean SE 1/sqrt(n) = 7.1e-4, variance SE sqrt(2/n) = 1.0e-3, skewness SE
    #   sqrt(6/n) = 1.7e-3, excess kurtosis SE sqrt(24/n) = 3.5e-3, lag-1 correlation SE
    #   1/sqrt(n) (a generator defect would correlate neighbours): 5 SE bounds;
    # - KS against N(0,1) at p > 1e-3 (resolves CDF errors of ~1.9/sqrt(n) = 1.3e-3);
    # - two-sided tail counts beyond 3, r (the ziggurat's tail start, 3.654, where the
    #   exponential tail sampler takes over) and 4 sigma: Binomial(n, p) with the exact
    #   p = 2 Phi(-c), bounded by 5 binomial SD sqrt(n p (1 - p)) (73, 23, 11 draws).
    n = 2_000_000
    z = _k.normals(member_rng_states(11, 1)[0], n)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)
    assert abs(np.mean(z[1:] * z[:-1])) < 5 / math.sqrt(n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    for c in (3.0, _k._ZR, 4.0):
        p = 2 * stats.norm.sf(c)
        assert abs(np.count_nonzero(np.abs(z) > c) - n * p) < 5 * math.sqrt(n * p * (1 - p))


@pytest.mark.slow
def test_kernel_normals_equiprobable_bins():
    # 2e7 draws (seed 12, arbitrary fixed) into 400 bins of equal N(0,1) probability:
    # chi-square with 399 degrees of freedom at p > 1e-4 (fails above chi2 ~ 505, i.e. an
    # excess of ~105 over the mean 399, SD 28). Each bin expects 5e4 draws, so a relative
    # density error d in a bin adds d^2 5e4: a wrong ziggurat wedge or layer (a few bins)
    # is caught from d ~ 5% in one bin, d ~ 1% spread over 20 bins.
    st = member_rng_states(12, 1)[0]
    edges = stats.norm.ppf(np.linspace(0, 1, 401)[1:-1])
    counts = np.zeros(400)
    for _ in range(10):
        counts += np.bincount(np.searchsorted(edges, _k.normals(st, 2_000_000)), minlength=400)
    assert stats.chisquare(counts).pvalue > 1e-4


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_same_seed_same_arrays_and_member_independent_of_ensemble_size(scheme):
    model = FreeModel(4, 6, 1.0)
    x0 = np.array([4.0, 3.0, 2.0, 1.0])
    kw = dict(temperature=0.5, dt=0.01, scheme=scheme, save_points=5)
    a = integrate(model, np.tile(x0, (5, 1)), 1.0, seed=123, **kw)
    b = integrate(model, np.tile(x0, (5, 1)), 1.0, seed=123, **kw)
    c = integrate(model, np.tile(x0, (2, 1)), 1.0, seed=123, **kw)
    d = integrate(model, np.tile(x0, (5, 1)), 1.0, seed=124, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.x[:2], c.x)
    np.testing.assert_array_equal(a.steps[:2], c.steps)
    assert not np.array_equal(a.x, d.x)
    assert not np.array_equal(a.x[0], a.x[1])  # members are independent
    # and whatever the number of threads
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        e = integrate(model, np.tile(x0, (5, 1)), 1.0, seed=123, **kw)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(a.x, e.x)


def test_result_fields():
    r = integrate(FreeModel(3, 3), [3.0, 2.0, 1.0], 1.0, temperature=1.0, dt=0.01, save_points=6)
    assert r.times.shape == (6,) and r.x.shape == (1, 6, 3)
    np.testing.assert_allclose(r.times, np.linspace(0, 1, 6))
    np.testing.assert_array_equal(r.x[0, 0], [3.0, 2.0, 1.0])
    np.testing.assert_allclose(r.s, np.sqrt(r.x))
    assert r.final.shape == (1, 3) and r.model == "free" and r.scheme == "semi_implicit"
    assert r.n_systems == 1 and r.K == 3 and not r.blown_up.any() and not r.stopped.any()
    assert r.min_gap[0] > 0 and r.min_x[0] > 0
    h = integrate(HarmonicModel([0, 0], 1.0, 1.0), [1.0, -1.0], 1.0, temperature=1.0, dt=0.01)
    with pytest.raises(ValueError, match="positive domain"):
        _ = h.s
    assert np.isnan(h.min_x[0])


def test_x0_any_order_and_singular_values():
    a = integrate(FreeModel(3, 4), [1.0, 3.0, 2.0], 0.1, temperature=1.0, dt=0.01, seed=1)
    b = integrate(
        FreeModel(3, 4), x0_from_singular_values(np.sqrt([3.0, 2.0, 1.0])), 0.1,
        temperature=1.0, dt=0.01, seed=1,
    )  # fmt: skip
    np.testing.assert_allclose(a.x, b.x, rtol=1e-14)


class _Counting(DriftModel):
    """A user model with finite refresh: harmonic pull to 1, records its calls."""

    name = "counting"
    domain = "positive"
    refresh_interval = 0.3

    def __init__(self):
        self.calls = []

    def coefficients(self, x, t):
        self.calls.append((t, x.copy()))
        n, K = x.shape
        return Coefficients(
            kt0=np.full((n, K), -1.0), kappa=np.ones((n, K)), V0=np.zeros((n, K, K)),
            a_iso=np.full(n, 0.1), C=np.zeros((n, K)),
        )  # fmt: skip


def test_user_model_refreshed_every_interval_with_current_state():
    m = _Counting()
    r = integrate(m, np.array([[3.0, 2.0, 1.0]] * 2), 1.0, temperature=0.1, dt=0.01, save_points=3)
    ts = [t for t, _ in m.calls]
    np.testing.assert_allclose(ts, [0.0, 0.3, 0.6, 0.9])
    # the state handed over at t = 0.5 ... is the integrated one: at t=0 it is x0
    np.testing.assert_array_equal(m.calls[0][1], r.x[:, 0])
    assert not np.array_equal(m.calls[1][1], r.x[:, 0])
    assert r.model == "counting"


# --------------------------------------------------------------------------- invariants


@st.composite
def _spectra(draw):
    K = draw(st.integers(2, 6))
    base = np.sort(np.array(draw(st.lists(st.floats(0.01, 50.0), min_size=K, max_size=K))))[::-1]
    base = base + np.arange(K)[::-1] * 1e-3  # distinct
    # near-collisions: squeeze some gaps to ~1e-10 relative
    squeeze = draw(st.lists(st.booleans(), min_size=K - 1, max_size=K - 1))
    x = base.copy()
    for i, sq in enumerate(squeeze):
        if sq:
            x[i] = x[i + 1] * (1 + 1e-10) + 1e-10
            x[:i] = np.maximum(x[:i], x[i] * (1 + 1e-3) + np.arange(i, 0, -1) * 1e-3)
    return np.sort(x)[::-1]


@settings(
    max_examples=30, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
@given(
    x0=_spectra(),
    log10_T=st.floats(-8, 4),
    scheme=st.sampled_from(list(SCHEMES)),
    which=st.sampled_from(["free_square", "free", "harmonic", "measured"]),
)
def test_no_crossing_ever(x0, log10_T, scheme, which):
    # Any start (near-collisions included), any temperature, any scheme: every saved
    # spectrum is strictly ordered and in the domain, or the system stopped with a flag.
    K = x0.shape[0]
    rng = np.random.default_rng(K)
    model = {
        "free_square": lambda: FreeModel(K, K),
        "free": lambda: FreeModel(K, K + 3),
        "harmonic": lambda: HarmonicModel(np.zeros(K), 1.0, 1.0),
        "measured": lambda: _measured(K, rng),
    }[which]()
    if model.domain == "real":
        x0 = x0 - x0.mean()
    r = integrate(
        model, np.tile(x0, (2, 1)), 0.2, temperature=10.0**log10_T, dt=0.02,
        scheme=scheme, save_points=4, seed=0, max_steps=20_000,
    )  # fmt: skip
    finite = np.all(np.isfinite(r.x), axis=(1, 2))
    assert np.all(finite | r.blown_up)
    for m in np.flatnonzero(finite):
        assert np.all(np.diff(r.x[m], axis=1) < 0), r.x[m]
        if model.domain == "positive":
            assert np.all(r.x[m] > 0)
        assert r.min_gap[m] > 0


@pytest.mark.parametrize("domain_model", ["real", "positive"])
def test_euler_near_collision_falls_back_to_semi_implicit(domain_model):
    # Two levels 1e-14 apart at x ~ 1 (a relative gap of 100 ulp): an explicit step needs
    # h ~ gap^2 ~ 1e-28, i.e. ~80 bisections of dt = 0.01, past FALLBACK_DEPTH = 48, so the
    # near-collision is crossed by semi-implicit sub-steps, flagged in fallback_steps, and
    # every system finishes ordered. Seed 2: arbitrary, fixed for determinism.
    if domain_model == "real":
        model, x0 = HarmonicModel([0.0, 0.0, 0.0], 1.0, 1.0), [2.0, 1.0 + 1e-14, 1.0]
    else:
        model, x0 = FreeModel(3, 4), [2.0, 1.0 + 1e-14, 1.0]
    r = integrate(model, np.tile(x0, (8, 1)), 0.1, temperature=1.0, dt=0.01, scheme="euler", seed=2)
    assert np.all(r.status == 0)
    assert np.all(r.fallback_steps > 0)
    assert np.all(r.fallback_steps <= r.steps)
    assert np.all(np.diff(r.x, axis=2) < 0)
    s = integrate(model, np.tile(x0, (8, 1)), 0.1, temperature=1.0, dt=0.01, seed=2)
    assert np.all(s.status == 0) and not s.fallback_steps.any()


def test_square_free_model_reflects_smallest_singular_value():
    # K = L: x_K is not repelled from 0 (density ~ x^-1/2 there), so over many systems some
    # reach values far below the typical scale; the reflection keeps them positive and the
    # order intact.
    r = integrate(
        FreeModel(2, 2), np.tile([2e-6, 1e-6], (400, 1)), 1.0, temperature=1.0, dt=0.01,
        save_points=11, seed=3,
    )  # fmt: skip
    assert np.all(r.x > 0) and np.all(np.diff(r.x, axis=2) < 0)
    # P(x_2 < 1e-3 at t=1) ~ sqrt(1e-3)-ish ~ 3%: the minimum over 400 x 10 saves must be
    # far below the typical x_2 ~ 0.3 (it would be ~t-scale if 0 repelled).
    assert r.x[:, 1:, 1].min() < 1e-3
    assert np.all(r.status == 0)


# --------------------------------------------------------------------------- bad input


def _ok_kw():
    return dict(temperature=1.0, dt=0.01)


@pytest.mark.parametrize(
    "args, kw, match",
    [
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {"temperature": 0.0, "dt": 0.01}, "temperature"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {"temperature": -1.0, "dt": 0.01}, "temperature"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {"temperature": math.nan, "dt": 0.01}, "temperature"),
        ((FreeModel(3, 3), [3.0, 2, 1], 0.0), _ok_kw(), "time"),
        ((FreeModel(3, 3), [3.0, 2, 1], math.inf), _ok_kw(), "time"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {"temperature": 1.0, "dt": 0.0}, "dt"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {"temperature": 1.0, "dt": 1.0}, "dt=1.0 must be"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {**_ok_kw(), "scheme": "rk4"}, "valid schemes"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {**_ok_kw(), "save_points": 1}, "save_points"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {**_ok_kw(), "max_steps": 0}, "max_steps"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {**_ok_kw(), "seed": -1}, "seed"),
        ((FreeModel(3, 3), [3.0, 2, 1], 1.0), {**_ok_kw(), "increments": np.zeros((1, 5, 3))},
         "increments must have shape"),
        ((FreeModel(3, 3), [3.0, 2, 2], 1.0), _ok_kw(), "distinct"),
        ((FreeModel(3, 3), [3.0, 2, 0], 1.0), _ok_kw(), "> 0"),
        ((FreeModel(3, 3), [3.0, 2, -1], 1.0), _ok_kw(), "> 0"),
        ((FreeModel(3, 3), [3.0, 2, math.nan], 1.0), _ok_kw(), "finite"),
        ((FreeModel(3, 3), [3.0], 1.0), _ok_kw(), "K must be at least 2"),
        ((FreeModel(3, 3), np.ones((2, 2, 3)), 1.0), _ok_kw(), "x0 must have shape"),
        ((FreeModel(3, 3), [4.0, 3, 2, 1], 1.0), _ok_kw(), "coefficient kt0 must have shape"),
        (("free", [3.0, 2, 1], 1.0), _ok_kw(), "DriftModel"),
    ],
)  # fmt: skip
def test_integrate_rejects_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        integrate(*args, **kw)


class _BadModel(DriftModel):
    name = "bad"
    domain = "real"

    def __init__(self, **over):
        self.over = over

    def coefficients(self, x, t):
        n, K = x.shape
        c = dict(
            kt0=np.zeros((n, K)), kappa=np.zeros((n, K)), V0=np.ones((n, K, K)),
            a_iso=np.zeros(n), C=np.zeros((n, K)),
        )  # fmt: skip
        c.update(self.over)
        return Coefficients(**c)


@pytest.mark.parametrize(
    "over, match",
    [
        ({"V0": -np.ones((1, 3, 3))}, "V0 must be >= 0"),
        ({"V0": np.triu(np.ones((3, 3)))[None]}, "symmetric"),
        ({"a_iso": np.ones(1)}, "a_iso and a_diag must be 0 for a real-domain"),
        ({"a_diag": np.ones((1, 3))}, "a_iso and a_diag must be 0 for a real-domain"),
        ({"a_diag": -np.ones((1, 3))}, "a_iso \\+ a_diag must be >= 0"),
        ({"C": np.full((1, 3), np.nan)}, "non-finite"),
        ({"kappa": np.zeros((1, 2))}, "kappa must have shape"),
    ],
)
def test_bad_coefficients_are_rejected(over, match):
    with pytest.raises(ValueError, match=match):
        integrate(_BadModel(**over), [1.0, 0.0, -1.0], 1.0, temperature=1.0, dt=0.1)


def _v0_verdict_numpy(V0):
    # the checks check_coefficients made before its one-pass kernel, in the same order
    if not np.all(np.isfinite(V0)):
        return 1
    if not np.allclose(V0, np.swapaxes(V0, 1, 2), rtol=_k.SYM_RTOL, atol=0.0):
        return 2
    if np.any(V0 < 0):
        return 3
    return 0


def test_v0_check_agrees_with_the_numpy_checks():
    # Seed 5 (arbitrary, fixed): 400 random (n, K, K) arrays, symmetric then perturbed at
    # one entry by a relative 0.5, 1 or 2 x SYM_RTOL (around the threshold), a sign flip,
    # a NaN or an inf, or not at all; the one-pass kernel must give the numpy verdict and
    # the symmetric part 0.5 (V0 + V0^T) exactly (the same floating-point operation).
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(400):
        n, K = int(rng.integers(1, 4)), int(rng.integers(1, 40))
        A = rng.random((n, K, K))
        V0 = A + np.swapaxes(A, 1, 2)
        m, i, j = int(rng.integers(n)), int(rng.integers(K)), int(rng.integers(K))
        kind = int(rng.integers(7))
        if kind <= 2:
            V0[m, i, j] *= 1 + (0.5, 1.0, 2.0)[kind] * _k.SYM_RTOL
        elif kind == 3:
            V0[m, i, j] = -V0[m, i, j]
        elif kind == 4:
            V0[m, i, j] = np.nan
        elif kind == 5:
            V0[m, i, j] = np.inf
        out = np.empty_like(V0)
        where = np.zeros(3, dtype=np.int64)
        bad = _k.check_symmetrise_v0(V0, out, where)
        want = _v0_verdict_numpy(V0)
        assert bad == want
        seen.add(want)
        if bad == 0:
            np.testing.assert_array_equal(out, 0.5 * (V0 + np.swapaxes(V0, 1, 2)))
        else:
            mm, ii, jj = where
            assert (mm, ii, jj) == (m, min(i, j), max(i, j))
    assert seen == {0, 1, 2, 3}  # every verdict was exercised


def test_bad_v0_message_names_the_entries():
    V0 = np.ones((2, 3, 3))
    V0[1, 2, 0] = 2.0
    with pytest.raises(ValueError, match=r"symmetric.*system 1, entries \(0, 2\) and \(2, 0\)"):
        integrate(_BadModel(V0=V0), np.tile([1.0, 0.0, -1.0], (2, 1)), 1.0, temperature=1.0, dt=0.1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FreeModel(1, 3), "K must be an integer >= 2"),
        (lambda: FreeModel(4, 3), "L must be >= K"),
        (lambda: FreeModel(3, 3, noise=0.0), "noise"),
        (lambda: HarmonicModel([1.0], 1.0, 1.0), "K >= 2"),
        (lambda: HarmonicModel([1.0, 0.0], -1.0, 1.0), "kappa must be positive"),
        (lambda: HarmonicModel([1.0, 0.0], [1.0, 2.0, 3.0], 1.0), "kappa must be a scalar"),
        (lambda: HarmonicModel([1.0, 0.0], 1.0, math.nan), "noise"),
        (lambda: MeasuredModel([1.0, 0.0], np.eye(3), [0.0, 0.0]), "Vt must have shape"),
        (lambda: MeasuredModel([1.0, 0.0], [[1, 2], [3, 1]], [0.0, 0.0]), "symmetric"),
        (lambda: MeasuredModel([1.0, 0.0], -np.eye(2), [0.0, 0.0]), ">= 0"),
        (lambda: MeasuredModel([1.0, 0.0], np.eye(2), [0.0]), "C must have shape"),
    ],
)
def test_models_reject_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_measured_model_per_system_arrays_must_match_ensemble():
    m = MeasuredModel(np.zeros((3, 2)), np.ones((3, 2, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="3 systems"):
        integrate(m, [2.0, 1.0], 1.0, temperature=1.0, dt=0.1)
    r = integrate(m, np.tile([2.0, 1.0], (3, 1)), 1.0, temperature=1.0, dt=0.1)
    assert r.x.shape == (3, 21, 2)


# --------------------------------------------------------------------------- schemes, hooks


def test_schemes_are_objects_with_their_orders_and_kernel_codes():
    assert list(SCHEMES) == ["euler", "semi_implicit"]
    assert isinstance(SCHEMES["euler"], schemes.Euler)
    assert isinstance(SCHEMES["semi_implicit"], schemes.SemiImplicit)
    for name, s in SCHEMES.items():
        assert isinstance(s, schemes.Scheme) and s.name == name
        # the orders tests/langevin/test_langevin_exact.py checks (measured slopes in the
        # docstrings)
        assert (s.strong_order, s.strong_order_additive, s.weak_order) == (0.5, 1.0, 1.0)
    assert sorted(s.code for s in SCHEMES.values()) == sorted([_k.EULER, _k.SEMI_IMPLICIT])


@pytest.mark.parametrize("name", list(SCHEMES))
def test_scheme_by_name_or_object_gives_the_same_run(name):
    kw = dict(temperature=0.5, dt=0.01, seed=4)
    by_name = integrate(FreeModel(3, 4), [3.0, 2.0, 1.0], 0.5, scheme=name, **kw)
    cls = {"euler": schemes.Euler, "semi_implicit": schemes.SemiImplicit}[name]
    by_object = integrate(FreeModel(3, 4), [3.0, 2.0, 1.0], 0.5, scheme=cls(), **kw)
    np.testing.assert_array_equal(by_name.x, by_object.x)
    assert by_name.scheme == by_object.scheme == name


def _assert_same_result(a, b):
    fa, fb = vars(a), vars(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        if isinstance(fa[k], np.ndarray):
            np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)  # bit for bit, NaN == NaN
        else:
            assert fa[k] == fb[k], k


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_progress_and_guards_leave_the_run_unchanged(scheme):
    x0 = np.array([[3.0, 2.0, 1.0], [5.0, 1.0, 0.5]])
    kw = dict(temperature=0.1, dt=0.01, save_points=3, scheme=scheme, seed=9)
    plain = integrate(_Counting(), x0, 1.0, **kw)
    calls = []
    guard = OverflowGuard()
    hooked = integrate(
        _Counting(), x0, 1.0, progress=lambda t, end: calls.append((t, end)), guard=guard, **kw
    )
    base = integrate(_Counting(), x0, 1.0, guard=Guard(), **kw)
    _assert_same_result(plain, hooked)
    _assert_same_result(plain, base)
    # once before each refresh (refresh_interval 0.3), once at the end
    np.testing.assert_allclose(calls, [(0.0, 1.0), (0.3, 1.0), (0.6, 1.0), (0.9, 1.0), (1.0, 1.0)])
    assert calls[-1] == (1.0, 1.0)
    assert guard.overflow_time.shape == (2,) and not guard.overflowed.any()


class _Overflowing(_Counting):
    """_Counting whose system 1 overflows its coefficients at the refresh t = 0.3 only.

    Finite again afterwards: the guard must keep the system frozen from its first overflow on.
    """

    name = "overflowing"

    def coefficients(self, x, t):
        c = super().coefficients(x, t)
        kt0 = c.kt0.copy()
        kt0[1] *= np.exp(np.float64(1000.0) * (0.25 < t < 0.35))  # inf, with a warning
        return Coefficients(kt0=kt0, kappa=c.kappa, V0=c.V0, a_iso=c.a_iso, C=c.C)


def test_overflow_guard_freezes_exactly_the_overflowing_system():
    x0 = np.array([[3.0, 2.0, 1.0], [5.0, 1.0, 0.5]])
    kw = dict(temperature=0.1, dt=0.01, save_points=6, seed=2)
    with pytest.raises(ValueError, match="coefficient kt0 has non-finite entries"):
        with np.errstate(over="ignore"):
            integrate(_Overflowing(), x0, 1.0, **kw)
    guard = OverflowGuard()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the guard silences the model's overflow warnings
        r = integrate(_Overflowing(), x0, 1.0, guard=guard, **kw)
    np.testing.assert_array_equal(guard.overflow_time, [np.nan, 0.3])
    clean = integrate(_Counting(), x0, 1.0, **kw)
    # system 0 is untouched (members are independent); system 1 stops moving at t = 0.3
    np.testing.assert_array_equal(r.x[0], clean.x[0])
    np.testing.assert_array_equal(r.x[1, :2], clean.x[1, :2])  # saves at t = 0, 0.2
    assert np.all(r.x[1, 2:] == r.x[1, 2]) and not np.array_equal(r.x[1, 2], clean.x[1, 2])
    assert np.all(r.status == 0)
    # a guard is reset by every run
    integrate(_Counting(), x0, 1.0, guard=guard, **kw)
    assert not guard.overflowed.any()


def _freeze_overflowed_oracle(c, x, t, overflow_time):
    """compare()'s freeze before OverflowGuard (commit 246874e), kept as the oracle."""
    fields = ("kt0", "kappa", "V0", "a_iso", "C", "a_diag")
    rows = [np.asarray(getattr(c, k), dtype=np.float64) for k in fields]
    finite = np.ones(x.shape[0], dtype=bool)
    for a in rows:
        finite &= np.all(np.isfinite(a.reshape(a.shape[0], -1)), axis=1)
    frozen = ~finite | np.isfinite(overflow_time)
    if not np.any(frozen):
        return c
    overflow_time[~finite & np.isnan(overflow_time)] = t
    rows = [np.where(frozen.reshape(-1, *([1] * (a.ndim - 1))), 0.0, a) for a in rows]
    return Coefficients(**dict(zip(fields, rows, strict=True)))


class _PatchedOracle(DriftModel):
    """What compare() did by overwriting ``model.coefficients``, as a wrapping model."""

    def __init__(self, model, n):
        self.model = model
        self.name, self.domain = model.name, model.domain
        self.refresh_interval = model.refresh_interval
        self.overflow_time = np.full(n, np.nan)

    def coefficients(self, x, t):
        with np.errstate(over="ignore", invalid="ignore"):
            c = self.model.coefficients(x, t)
        return _freeze_overflowed_oracle(c, x, t, self.overflow_time)


def test_overflow_guard_freezes_what_compare_froze_before_on_a_hot_network():
    # Identity activation at T = 16 (as tests/test_compare.py's overflow test): the network
    # model runs away until its coefficients overflow (Vt ~ x^2 at x ~ 1e154). With K = 8,
    # L = 16 and seed 0 two of the four systems overflow within t = 128 and two do not, so
    # the check sees both kinds. The guard must reproduce the old patch bit for bit.
    from dysonsgd.model import NetworkConfig, make_instances

    cfg = NetworkConfig(K=8, L=16, n_batches=10, activation="identity")
    model = NetworkModel(make_instances(cfg, 1.0, 4, 0), refresh_interval=1.0)
    kw = dict(temperature=16.0, dt=0.5, seed=0)
    oracle = _PatchedOracle(model, 4)
    old = integrate(oracle, model.x0, 128.0, **kw)
    guard = OverflowGuard()
    new = integrate(model, model.x0, 128.0, guard=guard, **kw)
    np.testing.assert_array_equal(guard.overflow_time, oracle.overflow_time)
    assert 0 < guard.overflowed.sum() < 4
    _assert_same_result(old, new)


def test_hooks_and_schemes_reject_bad_input():
    args = (FreeModel(3, 3), [3.0, 2, 1], 1.0)
    with pytest.raises(ValueError, match="guard must be a Guard"):
        integrate(*args, **_ok_kw(), guard="overflow")
    with pytest.raises(ValueError, match="progress must be a callable"):
        integrate(*args, **_ok_kw(), progress=3)
    with pytest.raises(ValueError, match=r"use Euler\(\)"):
        integrate(*args, **_ok_kw(), scheme=schemes.Euler)

    class _Unstepped(schemes.Scheme):
        name, code = "rk4", 7

    with pytest.raises(ValueError, match="no step in the kernels"):
        integrate(*args, **_ok_kw(), scheme=_Unstepped())


# --------------------------------------------------------------------------- model registry


def _options(**kw):
    from dysonsgd.langevin import ModelOptions

    base = dict(temperature=0.1, K=4, L=8, n_systems=3, entropy=7)
    return ModelOptions(**{**base, **kw})


def test_registry_holds_the_run_models_with_their_hooks():
    from dysonsgd.langevin import DEFAULT_MODEL, MODELS, model_class

    assert {"network", "harmonic", "free"} <= set(MODELS) and DEFAULT_MODEL in MODELS
    for name, cls in MODELS.items():
        assert model_class(name) is cls and cls.name == name
        assert cls.default_time > 0
    with pytest.raises(ValueError, match="unknown drift model 'quantum'.*free"):
        model_class("quantum")


def test_register_refuses_a_taken_name_and_a_missing_default_time():
    from dysonsgd.langevin.registry import register

    class Twin(FreeModel):
        pass

    with pytest.raises(ValueError, match="'free' is registered already"):
        register(Twin)

    class NoTime(DriftModel):
        name = "no-time"

    with pytest.raises(ValueError, match="default_time"):
        register(NoTime)

    class Odd(DriftModel):
        name = "odd"
        default_time = 1.0
        option_names = ("colour",)

    with pytest.raises(ValueError, match="unknown options"):
        register(Odd)


def test_from_options_refuses_what_a_model_does_not_use():
    from dysonsgd.langevin import OptionError

    with pytest.raises(OptionError, match="the free model does not use kappa") as e:
        FreeModel.from_options(_options(kappa=2.0))
    assert e.value.option == "kappa" and not e.value.missing
    with pytest.raises(OptionError, match="got 2 values, need K = 4") as e:
        HarmonicModel.from_options(_options(targets=(1.0, 2.0)))
    assert e.value.option == "targets"
    with pytest.raises(OptionError, match="needs the initial width") as e:
        NetworkModel.from_options(_options())
    assert e.value.option == "sigma" and e.value.missing
    with pytest.raises(OptionError, match="does not use noise"):
        NetworkModel.from_options(_options(sigma=1.0, noise=1.0))


def test_from_options_uses_the_models_defaults_and_the_options():
    start = HarmonicModel.from_options(_options(targets=(1.0, 3.0, 2.0, 4.0), noise=0.5))
    m = start.model
    assert m.noise == 0.5 and np.all(m.kappa == HarmonicModel.__dataclass_fields__["kappa"].default)
    np.testing.assert_array_equal(m.targets, [4.0, 3.0, 2.0, 1.0])
    assert start.x0.shape == (3, 4) and start.reference.shape == (3, 4)
    assert start.sigma == HarmonicModel.default_sigma
    free = FreeModel.from_options(_options(sigma=0.5))
    assert free.model.noise == FreeModel.__dataclass_fields__["noise"].default
    assert free.sigma == 0.5 and free.reference is None


def test_initial_spectrum_is_per_system_and_reproducible():
    from dysonsgd.langevin import initial_spectrum

    a = initial_spectrum(4, 8, 0.5, 3, 11)
    b = initial_spectrum(4, 8, 0.5, 5, 11)
    np.testing.assert_array_equal(a, b[:3])  # system k does not depend on the ensemble size
    assert np.all(np.diff(a, axis=1) < 0) and np.all(a > 0)
    # the squared singular values of the same draw, and the eigenvalues of W W^T to rounding
    from dysonsgd import _seeding

    rng = _seeding.stream(11, 1, _seeding.LANGEVIN_INIT)
    W = rng.standard_normal((4, 8)) * (0.5 / np.sqrt(8))
    np.testing.assert_array_equal(a[1], np.linalg.svd(W, compute_uv=False) ** 2)
    np.testing.assert_allclose(a[1], np.linalg.eigvalsh(W @ W.T)[::-1], rtol=1e-12)


# --------------------------------------------------------------------------- linear model


def test_linear_model_is_the_harmonic_map_of_linear_sgd():
    from dysonsgd.langevin.models import LinearModel
    from dysonsgd.scaling import harmonic_map

    m = LinearModel(K=3, s_star=2.0, noise=0.5)
    hm = harmonic_map(2.0, 0.5)
    h = HarmonicModel(targets=np.full(3, hm["target"]), kappa=hm["kappa"], noise=hm["noise"])
    x = np.array([[4.5, 4.0, 3.1], [5.0, 3.9, 3.0]])
    a, b = m.coefficients(x, 0.0), h.coefficients(x, 0.0)
    for f in ("kt0", "kappa", "V0", "a_iso", "C", "a_diag"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    # kappa = 1 (data covariance I), x* = s*^2, noise 2 A s*^2
    np.testing.assert_array_equal(a.kappa, 1.0)
    np.testing.assert_array_equal(a.kt0, -4.0)
    np.testing.assert_array_equal(a.V0[0], 4.0 * (np.ones((3, 3)) + np.eye(3)))


def _linear_final(T, K=4, s_star=1.0, A=1.0, n=400, seed=0):
    from dysonsgd.langevin.models import LinearModel

    m = LinearModel(K=K, s_star=s_star, noise=A)
    # start inside the stationary cloud (levels ordered, about one width apart)
    x0 = np.tile(s_star**2 + s_star * math.sqrt(T * A) * np.linspace(1.0, -1.0, K), (n, 1))
    r = integrate(m, x0, 10.0, temperature=T, dt=2e-3, save_points=2, seed=seed)
    assert not r.stopped.any()
    return m, r.final


def test_linear_model_width_follows_the_linear_scaling_rule():
    # Stationary law: GOE about x* = s*^2 with off-diagonal variance v = T A s*^2, so
    # E[(1/K) sum (x_i - x*)^2] = v (K + 1) exactly and the singular values' width
    # sqrt(v (K + 1)) / (2 s*) = scaling.theory_prefactor(K) sqrt(T A): the lr -> 0 width of
    # linear SGD, a function of eps / |B| only. t = 10 relaxation times (kappa = 1) from a
    # start inside the cloud; weak error O(dt) = O(2e-3) in the variance, far below the
    # tolerance of 4.5 standard errors of the mean over 400 independent systems (seed 0,
    # the first tried).
    from dysonsgd.scaling import theory_prefactor

    K, s_star, A = 4, 1.5, 0.5
    widths = {}
    for eps, bs in ((0.02, 1), (0.08, 4), (0.08, 1)):
        T = eps / bs
        _, x = _linear_final(T, K=K, s_star=s_star, A=A)
        msd = np.mean((x - s_star**2) ** 2, axis=1)  # per system
        exact = T * A * s_star**2 * (K + 1)
        assert abs(msd.mean() - exact) < 4.5 * msd.std(ddof=1) / math.sqrt(msd.size)
        widths[eps, bs] = math.sqrt(msd.mean()) / (2 * s_star)
        assert widths[eps, bs] == pytest.approx(theory_prefactor(K) * math.sqrt(T * A), rel=0.1)
    # equal T = eps / |B|: the same equation, the same numbers
    assert widths[0.02, 1] == widths[0.08, 4]
    # T x 4: width x 2 (to the statistical error of two ~3.5%-accurate widths)
    assert widths[0.08, 1] / widths[0.02, 1] == pytest.approx(2.0, rel=0.1)


def test_linear_model_follows_its_exact_stationary_law():
    # KS of the pooled final levels against the GOE law (Monte Carlo p-value, uniform under
    # the law: p > 0.01 fails 1% of correct runs; seed 1, the first tried)
    from dysonsgd.langevin.models import harmonic_stationary_law, ks_exact_law

    T = 0.01
    m, x = _linear_final(T, s_star=2.0, n=50, seed=1)
    law = harmonic_stationary_law(m.harmonic, T)
    assert law.center == 4.0 and law.variance == pytest.approx(T * 1.0 * 4.0, rel=1e-12)
    assert ks_exact_law(x, law).pvalue > 0.01


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(K=1), "K must be an integer >= 2"),
        (dict(K=3, s_star=0.0), "s_star"),
        (dict(K=3, s_star=-1.0), "s_star"),
        (dict(K=3, s_star=math.nan), "s_star"),
        (dict(K=3, s_star=math.inf), "s_star"),
        (dict(K=3, noise=0.0), "noise"),
        (dict(K=3, s_star=1e200), "overflow"),
    ],
)
def test_linear_model_refuses_bad_parameters(kw, match):
    from dysonsgd.langevin.models import LinearModel

    with pytest.raises(ValueError, match=match):
        LinearModel(**kw)


@pytest.mark.parametrize(
    "kw, option, match",
    [
        (dict(kappa=2.0), "kappa", "does not use kappa"),
        (dict(refresh=1.0), "refresh", "does not use refresh"),
        (dict(targets=(1.0, 2.0, 1.0, 1.0)), "targets", "K equal singular values"),
        (dict(targets=(1.0, 1.0)), "targets", "one value or K = 4"),
        (dict(targets=(1e308,)), "targets", "overflow"),
        (dict(targets=(1e-300,), noise=1e-300), "targets", "underflow"),
    ],
)
def test_linear_model_from_options_refuses_what_it_cannot_use(kw, option, match):
    from dysonsgd.langevin import OptionError
    from dysonsgd.langevin.models import LinearModel

    with pytest.raises(OptionError, match=match) as e:
        LinearModel.from_options(_options(**kw))
    assert e.value.option == option


def test_linear_model_on_the_command_line():
    # dysonsgd simulate --model linear: s* from --targets (x* = s*^2 = 4), A from --noise;
    # the exact law is the GOE about 4 with off-diagonal variance T A s*^2 (seed 0, first tried)
    import json

    from click.testing import CliRunner

    from dysonsgd.cli.main import cli

    def invoke(*args):
        return CliRunner().invoke(cli, ["simulate", "--model", "linear", *map(str, args)])

    res = invoke("--T", 0.01, "--targets", 4, "--noise", 0.5, "--K", 4, "--L", 8,
                 "--seeds", 50, "--time", 10, "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["exact_law"]["name"] == "goe" and out["exact_law"]["parameters"]["center"] == 4
    assert out["exact_law"]["parameters"]["offdiagonal_variance"] == pytest.approx(0.02)
    assert out["ks_pvalue"] > 0.01 and out["phase"] is None
    np.testing.assert_array_equal(out["teacher_eigenvalues"], 4.0)
    for args, flag in (
        (["--targets", "1,2,1,1"], "--targets"),
        (["--kappa", 2], "--kappa"),
        (["--refresh", 1], "--refresh"),
        (["--epochs", 1], "--epochs"),
    ):
        res = invoke("--T", 0.01, "--K", 4, "--L", 8, *args)
        assert res.exit_code == 2 and f"Invalid value for '{flag}'" in res.stderr, res.output

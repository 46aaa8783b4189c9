"""Property-based tests of the numerical API under extreme but valid inputs (issue 7, item 1).

Hypothesis draws shapes and parameters over the ranges the package promises to handle --
T from 1e-8 to 1e4, sigma_W from 1e-4 to 1e4, K from 2 to 512 for the integrator, spectra
with relative gaps down to 1e-12 -- and checks invariants that hold for every draw:

* SGD: the numba engine reproduces the numpy reference on random small configurations
  (every activation, shuffling, odd batch sizes); records are finite unless a seed carries
  the divergence flag; a seed's records do not depend on the ensemble size; same seed, same
  arrays.
* Integrator: ordering and positivity of the levels (K up to 512, a few steps), a finite state
  or a blow-up flag, determinism and ensemble-size independence for random models, and the
  kernel against the numpy reference (langevin/reference.py) on supplied increments.
* Eigenvalue functions, observables, spectra statistics, coefficients and the phase rules:
  ordering, ranges, symmetry, and NaN only where the docstrings say so.

Every test uses ``derandomize=True`` (the examples are a fixed function of the test, so CI
sees the same cases on every run) and a fixed ``max_examples``; the larger budgets sit behind
``@pytest.mark.slow``. tests/langevin/test_langevin.py already property-tests no-crossing for
K <= 6:
here the integrator is pushed to large K, near-degenerate starts and the oracle/determinism
properties instead. Figures: docs/reliability.md.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _strategies import draw_network_config, fixed_settings, log_uniform
from hypothesis import assume, given
from hypothesis import strategies as st

from dysonsgd import _seeding, observables, spectra
from dysonsgd.compare import level_statistics
from dysonsgd.langevin import (
    SCHEMES,
    FreeModel,
    HarmonicModel,
    MeasuredModel,
    integrate,
    measure_coefficients,
    step_count,
)
from dysonsgd.langevin import reference as lref
from dysonsgd.model import ACTIVATIONS, NetworkConfig, make_instances
from dysonsgd.phases import (
    GROWTH_FACTOR,
    LABELS,
    SCALE_FACTOR,
    classify_flow,
    langevin_criterion,
)
from dysonsgd.sgd import engine, reference, save_schedule, train

# Fixed base entropy: any value works, it only has to be the same on every run.
ENTROPY = 7_2025


# The decorators keep their name: derandomized examples are a function of the test source.
_settings = fixed_settings


# --------------------------------------------------------------------------- SGD


@st.composite
def _sgd_configs(draw):
    config = draw_network_config(draw, max_K=5, max_L=8, max_batches=8, max_batch_size=6)
    return dict(
        config=config,
        sigma_w=draw(log_uniform(1e-4, 1e4)),
        T=draw(log_uniform(1e-8, 1e2)),
        epochs=draw(st.integers(1, 4)),
        n_seeds=draw(st.integers(1, 3)),
        shuffle=draw(st.booleans()),
    )


def _records_close(ref, got, rtol=1e-9):
    """As tests/sgd/test_sgd_engine.py: flags exactly, arrays to rtol with an absolute floor of
    rtol times the array's largest element (the epoch-mean gradient cancels; the two paths
    differ only in summation order and libm, a few ulp per step over at most 8 * 4 = 32
    steps here, far below 1e-9). Non-finite entries must coincide exactly."""
    np.testing.assert_array_equal(got.diverged, ref.diverged)
    np.testing.assert_array_equal(got.diverged_step, ref.diverged_step)
    for name in ("W", "grad", "loss", "epoch_loss"):
        r, g = getattr(ref, name), getattr(got, name)
        np.testing.assert_array_equal(np.isfinite(g), np.isfinite(r), err_msg=name)
        fin = np.isfinite(r)
        atol = rtol * float(np.max(np.abs(r[fin]), initial=0.0))
        np.testing.assert_allclose(g[fin], r[fin], rtol=rtol, atol=atol, err_msg=name)


def _check_records(rec, thr):
    """Invariants of one ensemble's records, whatever the engine."""
    div = rec.diverged
    np.testing.assert_array_equal(div, rec.diverged_step >= 0)
    for k in range(div.size):
        arrays = (rec.W[k], rec.grad[k], rec.loss[k], rec.epoch_loss[k])
        if not div[k]:
            # A seed that never tripped the guard has only batch losses <= thr: finite.
            assert all(np.all(np.isfinite(a)) for a in arrays), k
            assert np.all(rec.epoch_loss[k] <= thr) and np.all(rec.epoch_loss[k] >= 0)
        else:
            # The state at divergence is the last applied update: W stays finite (the
            # non-finite batch is the one refused); losses may be inf/NaN only here.
            assert np.all(np.isfinite(rec.W[k])), k


@_settings(50)
@given(p=_sgd_configs())
def test_sgd_engine_matches_reference_on_random_configs(p):
    cfg, n = p["config"], p["n_seeds"]
    lr = p["T"] * cfg.batch_size
    inst = make_instances(cfg, p["sigma_w"], n, ENTROPY)
    save = save_schedule(p["epochs"], 2)

    def rngs():
        if not p["shuffle"]:
            return None
        return [_seeding.stream(ENTROPY, k, _seeding.SHUFFLE) for k in range(n)]

    ref = reference.run(inst, lr, p["epochs"], save, rngs())
    got = engine.run(inst, lr, p["epochs"], save, rngs())
    _records_close(ref, got)
    _check_records(ref, cfg.divergence_threshold)
    _check_records(got, cfg.divergence_threshold)


@_settings(20)
@given(p=_sgd_configs(), engine_name=st.sampled_from(["numba", "numpy"]))
def test_sgd_seed_independent_of_ensemble_size_and_deterministic(p, engine_name):
    kw = dict(
        sigma_w=p["sigma_w"],
        temperature=p["T"],
        epochs=p["epochs"],
        seed=ENTROPY,
        engine=engine_name,
        save_points=2,
        shuffle=p["shuffle"],
    )
    big = train(p["config"], n_seeds=3, **kw)
    again = train(p["config"], n_seeds=3, **kw)
    one = train(p["config"], n_seeds=1, **kw)
    for name in ("W", "grad", "loss", "epoch_loss", "diverged", "diverged_step"):
        a, b, c = (getattr(r.records, name) for r in (big, again, one))
        np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(a[:1], c, err_msg=name)


@_settings(30)
@given(p=_sgd_configs())
def test_observables_finite_unless_diverged(p):
    r = train(
        p["config"],
        sigma_w=p["sigma_w"],
        temperature=p["T"],
        epochs=p["epochs"],
        n_seeds=p["n_seeds"],
        seed=ENTROPY,
        save_points=2,
    )
    s = observables.summarize(r)
    ok = ~s["diverged"]
    for key in ("final_loss", "test_loss", "grad_norm", "overlap_G", "alignment"):
        assert np.all(np.isfinite(s[key][ok])), key
    assert np.all(np.abs(s["alignment"]) <= 1 + 1e-12)
    assert np.all(s["test_loss"][ok] >= 0) and np.all(s["grad_norm"] >= 0)
    ev = s["eigenvalues"]
    assert np.all(np.diff(ev[ok], axis=-1) <= 0) and np.all(ev[ok] >= 0)
    # The growth rate is finite for a Gaussian start (distinct levels, ubar(0) > 0) whose
    # seeds all stayed finite.
    if ok.all():
        assert math.isfinite(s["spacing_growth_rate"])
    pc = classify_flow(ev, s["teacher_eigenvalues"])
    assert len(pc.phases) == r.n_seeds and all(np.isfinite(pc.growth[ok]))


# --------------------------------------------------------------------------- integrator


def _near_degenerate(draw, K: int, positive: bool, min_rel: float = 1e-12) -> np.ndarray:
    """K distinct levels spread over decades, some gaps squeezed to ``min_rel`` relative."""
    top = draw(log_uniform(1e-6, 1e6))
    u = np.sort(np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=K, max_size=K))))[::-1]
    x = top * (1e-3 + u + np.arange(K)[::-1] * 1e-2 / K)  # distinct, > 0
    n_sq = draw(st.integers(0, min(K - 1, 8)))
    for i in draw(st.lists(st.integers(0, K - 2), min_size=n_sq, max_size=n_sq, unique=True)):
        rel = draw(st.sampled_from([r for r in (1e-12, 1e-10, 1e-6, 1e-4) if r >= min_rel]))
        x[i] = x[i + 1] * (1 + rel)
    x = np.sort(x)[::-1]
    x = x[np.concatenate([[True], np.diff(x) < 0])]
    assume(x.size == K)
    return x if positive else x - np.median(x)


@st.composite
def _integrator_cases(draw, max_K: int, min_rel: float = 1e-12):
    K = draw(st.sampled_from([k for k in (2, 3, 5, 8, 16, 64, 128, 512) if k <= max_K]))
    which = draw(st.sampled_from(["free", "free_square", "harmonic", "measured"]))
    positive = which != "harmonic"
    x0 = _near_degenerate(draw, K, positive, min_rel)
    rng = np.random.default_rng(K)
    if which == "free":
        model = FreeModel(K, K + 3, draw(log_uniform(1e-3, 1e1)))
    elif which == "free_square":
        model = FreeModel(K, K)
    elif which == "harmonic":
        model = HarmonicModel(np.zeros(K), draw(log_uniform(1e-2, 1e1)), 1.0)
    else:
        A = rng.random((K, K))
        model = MeasuredModel(rng.normal(size=K), A @ A.T / K, rng.random(K))
    return dict(
        model=model,
        x0=x0,
        T=draw(log_uniform(1e-8, 1e4)),
        scheme=draw(st.sampled_from(list(SCHEMES))),
        time=draw(log_uniform(1e-3, 1.0)),
        n=draw(st.integers(1, 3)),
    )


def _check_levels(r, positive: bool):
    finite = np.all(np.isfinite(r.x), axis=(1, 2))
    # no NaN/inf without the blow-up flag
    assert np.all(finite | r.blown_up), r.status
    assert set(np.unique(r.status)) <= {0, 1, 2, 3, 4}
    for m in np.flatnonzero(finite):
        assert np.all(np.diff(r.x[m], axis=1) < 0), m  # strictly descending at every save
        assert r.min_gap[m] > 0
        if positive:
            assert np.all(r.x[m] > 0) and r.min_x[m] > 0
    assert np.all(r.steps >= 0) and np.all(r.rejected_steps >= 0)


@_settings(30)
@given(c=_integrator_cases(max_K=512))
def test_integrator_levels_ordered_positive_or_flagged_up_to_K512(c):
    # Few steps (4 per run at K = 512: the kernel is O(K^2) per step) but every K, start,
    # temperature and scheme; max_steps bounds the rejected-step bisection at high T.
    n_steps = 4 if c["x0"].size > 64 else 10
    r = integrate(
        c["model"], np.tile(c["x0"], (c["n"], 1)), c["time"], temperature=c["T"],
        dt=c["time"] / n_steps, scheme=c["scheme"], save_points=3, seed=ENTROPY,
        max_steps=200 * n_steps,
    )  # fmt: skip
    _check_levels(r, c["model"].domain == "positive")


@pytest.mark.slow
@_settings(30, slow=True)
@given(c=_integrator_cases(max_K=128))
def test_integrator_levels_ordered_positive_or_flagged_more_examples(c):
    # K <= 128 here: from near-degenerate starts the semi-implicit scheme retries steps with
    # its dense O(K^3) Newton solve, 0.25-0.35 s a step at K = 512, and 120 examples with
    # K = 512 took ~60 s; the default test above keeps K = 512 in its 30 examples.
    n_steps = 4 if c["x0"].size > 64 else 10
    r = integrate(
        c["model"], np.tile(c["x0"], (c["n"], 1)), c["time"], temperature=c["T"],
        dt=c["time"] / n_steps, scheme=c["scheme"], save_points=3, seed=ENTROPY + 1,
        max_steps=200 * n_steps,
    )  # fmt: skip
    _check_levels(r, c["model"].domain == "positive")


@_settings(30)
@given(c=_integrator_cases(max_K=64))
def test_integrator_deterministic_and_independent_of_ensemble_size(c):
    kw = dict(
        temperature=c["T"], dt=c["time"] / 8, scheme=c["scheme"], save_points=3,
        seed=ENTROPY, max_steps=2000,
    )  # fmt: skip
    x3 = np.tile(c["x0"], (3, 1))
    a = integrate(c["model"], x3, c["time"], **kw)
    b = integrate(c["model"], x3, c["time"], **kw)
    one = integrate(c["model"], x3[:1], c["time"], **kw)
    for name in ("x", "steps", "rejected_steps", "fallback_steps", "status", "min_gap"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(getattr(a, name)[:1], getattr(one, name), err_msg=name)


# Starts with relative gaps of 1e-10 or less are left out here: there both the kernel and the
# reference mishandle the implicit solve (the kernel freezes the system silently, the reference
# raises or blows up;
# tests/reliability/test_robustness.py::test_semi_implicit_near_coincident_start_moves is the
# reproducer, reported to the kernel's owner). Gaps of 1e-6 still make the Coulomb term
# 1e6 times its typical size.
@_settings(40)
@given(c=_integrator_cases(max_K=8, min_rel=1e-6))
def test_integrator_kernel_matches_numpy_reference_on_supplied_increments(c):
    model, x0, n = c["model"], c["x0"], c["n"]
    K = x0.size
    time, save_points = c["time"], 2
    dt = time / 6
    steps = step_count(model, time, dt=dt, save_points=save_points)
    h = time / steps
    rng = np.random.default_rng(K)
    dB = rng.normal(size=(n, steps, K)) * math.sqrt(h)
    x = np.tile(x0, (n, 1))
    r = integrate(
        model, x, time, temperature=c["T"], dt=dt, scheme=c["scheme"],
        save_points=save_points, increments=dB, max_steps=100 * steps,
    )  # fmt: skip
    co = model.coefficients(x, 0.0)
    pos = model.domain == "positive"
    y0 = np.sqrt(x0) if pos else x0
    for m in range(n):
        # The reference follows the supplied path without rejection: compare only systems
        # the kernel integrated without rejecting a step (no bisection midpoints drawn).
        if r.rejected_steps[m] or r.status[m]:
            continue
        p = lref.path(
            y0, h, dB[m], pos, c["T"], co.kt0[m], co.kappa[m], co.V0[m], co.a_iso[m], co.C[m],
            c["scheme"], ad=co.a_diag[m],
        )  # fmt: skip
        xf = p[-1] ** 2 if pos else p[-1]
        # Same arithmetic in the same order up to libm and fused operations: a few ulp per
        # step, amplified at most by the step's Jacobian; 1e-9 relative to the largest level
        # leaves six orders of magnitude above 6 steps x 1e-16 and catches any real mismatch.
        atol = 1e-9 * float(np.max(np.abs(xf)))
        np.testing.assert_allclose(r.final[m], xf, rtol=1e-9, atol=atol)


# --------------------------------------------------------------------------- eigenvalues


@st.composite
def _matrices(draw):
    K = draw(st.integers(2, 24))
    L = draw(st.integers(K, 2 * K + 3))
    sigma = draw(log_uniform(1e-4, 1e4))
    kind = draw(st.sampled_from(["gaussian", "near_degenerate", "orthogonal"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "gaussian":
        W = sigma * rng.standard_normal((K, L)) / math.sqrt(L)
        s_true = None
    else:
        U = np.linalg.qr(rng.standard_normal((K, K)))[0]
        V = np.linalg.qr(rng.standard_normal((L, K)))[0]
        if kind == "orthogonal":
            s_true = np.full(K, sigma)  # exactly repeated singular values
        else:
            s_true = sigma * np.sort(1.0 + rng.random(K))[::-1]
            rel = draw(st.sampled_from([1e-12, 1e-9, 1e-6]))
            s_true[1::2] = s_true[0::2][: K // 2] * (1 - rel)
            s_true = np.sort(s_true)[::-1]
        W = (U * s_true) @ V.T
    return W, s_true


@_settings(100)
@given(case=_matrices())
def test_eigenvalues_of_X_descending_nonnegative_and_accurate(case):
    W, s_true = case
    x1 = spectra.eigenvalues_X(W)
    x2 = observables.eigenvalues_of_X(W)
    np.testing.assert_array_equal(x1, x2)  # one definition, two entry points
    assert np.all(np.isfinite(x1)) and np.all(x1 >= 0)
    assert np.all(np.diff(x1) <= 0)
    # Backward stability of the SVD: |s_i - s_i(true)| <= c K eps ||W||_2 (Golub & Van Loan
    # 8.6); with c = 10 the bound is met by LAPACK's dgesdd on every draw, and it is what
    # makes repeated or 1e-12-split singular values come out in order and in place.
    s = np.sqrt(x1)
    ref = np.linalg.svd(W, compute_uv=False) if s_true is None else s_true
    tol = 10 * W.shape[0] * np.finfo(float).eps * float(ref[0])
    np.testing.assert_allclose(s, ref, rtol=0, atol=tol)
    if x1.size >= 3:
        x_ratio = spectra.spacing_ratios(x1)
        fin = np.isfinite(x_ratio)
        assert np.all((x_ratio[fin] >= 0) & (x_ratio[fin] <= 1))


# --------------------------------------------------------------------------- spectra


@st.composite
def _spectra_ensembles(draw):
    n = draw(st.integers(1, 6))
    K = draw(st.integers(3, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["goe", "poisson", "decades", "near_degenerate", "ties"]))
    if kind == "goe":
        A = rng.standard_normal((n, K, K))
        x = np.linalg.eigvalsh(A + np.swapaxes(A, 1, 2))
    elif kind == "poisson":
        x = np.cumsum(rng.exponential(size=(n, K)), axis=1)
    elif kind == "decades":  # trained spectra span decades: 1e-8 .. 1e12
        x = 10.0 ** rng.uniform(-8, 12, size=(n, K))
    elif kind == "near_degenerate":
        x = np.cumsum(rng.exponential(size=(n, K)), axis=1)
        x[:, 1::2] = x[:, 0::2][:, : K // 2] * (1 + 1e-12)
    else:  # exact ties, including three equal levels (a NaN ratio by definition)
        x = np.round(rng.uniform(0, 3, size=(n, K)))
    return x * draw(log_uniform(1e-8, 1e8))


@_settings(60)
@given(x=_spectra_ensembles())
def test_spectra_statistics_ranges_and_documented_nans(x):
    s = spectra.spacings(x)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    r = spectra.spacing_ratios(x)
    # NaN exactly where both spacings vanish (docstring), elsewhere in [0, 1]
    both_zero = (s[..., :-1] == 0) & (s[..., 1:] == 0)
    np.testing.assert_array_equal(np.isnan(r), both_zero)
    assert np.all((r[~both_zero] >= 0) & (r[~both_zero] <= 1))
    mr = spectra.mean_spacing_ratio(x)
    np.testing.assert_array_equal(np.isnan(mr), np.all(both_zero, axis=-1))
    ls = level_statistics(x)
    if np.any(~both_zero):
        assert 0 <= ls.mean_ratio <= 1
        assert 0 <= ls.ratio_ks_goe.statistic <= 1 and 0 <= ls.ratio_ks_goe.pvalue <= 1
    else:
        assert math.isnan(ls.mean_ratio)
    assert np.all(np.isfinite(ls.spacings)) and np.all(ls.spacings >= 0)
    if ls.spacings.size:
        assert ls.spacings.mean() == pytest.approx(1.0, rel=1e-12)
    assert 0 <= ls.non_monotone <= x.shape[0]
    # Unfolding: finite for every spectrum that is not a single repeated level (a fit exists),
    # both methods, per spectrum and pooled; the refusal of a one-level spectrum is an error.
    if x.shape[-1] >= 7 and np.all(np.ptp(x, axis=-1) > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # non-monotone fits are counted
            for method in ("polynomial", "kernel"):
                assert np.all(np.isfinite(spectra.unfold(x, method))), method
                assert np.all(np.isfinite(spectra.unfold_ensemble(x, method))), method


# --------------------------------------------------------------------------- coefficients, phases


@st.composite
def _network_states(draw):
    K = draw(st.integers(2, 6))
    L = draw(st.integers(K, 10))
    act = draw(st.sampled_from(ACTIVATIONS))
    cfg = NetworkConfig(K=K, L=L, activation=act, n_batches=2, n_test=draw(st.integers(2, 40)))
    sigma_w = draw(log_uniform(1e-4, 1e4))
    n = draw(st.integers(1, 3))
    inst = make_instances(cfg, sigma_w, n, draw(st.integers(0, 2**31)))
    return cfg, sigma_w, inst


@_settings(60)
@given(state=_network_states(), T=log_uniform(1e-8, 1e4))
def test_coefficients_and_criterion_invariants(state, T):
    cfg, sigma_w, inst = state
    W = np.stack([i.W0 for i in inst])
    for m, i in enumerate(inst):
        c = measure_coefficients(W[m], i.a_probe, i.y_probe, i.Z, cfg.activation)
        for name in ("x", "Kt", "Vt", "C", "Vt_paper", "Kt_full", "gbar_sq"):
            assert np.all(np.isfinite(getattr(c, name))), name
        assert np.all(np.diff(c.x) <= 0) and np.all(c.x >= -1e-12 * c.x[0])
        np.testing.assert_array_equal(c.Vt, c.Vt.T)
        assert np.all(c.Vt >= 0) and np.all(c.C >= 0) and np.all(c.gbar_sq >= 0)
        np.testing.assert_allclose(c.U.T @ c.U, np.eye(cfg.K), atol=1e-12)
    for est in ("exact", "paper"):
        crit = langevin_criterion(W, inst, temperature=T, estimator=est)
        S, N, Tc = crit.signal, crit.noise, crit.critical_temperature
        # finite W, finite coefficients: T_c is never NaN (documented only for overflow)
        assert not np.any(np.isnan(Tc))
        assert crit.spacing > 0 and math.isfinite(crit.spacing)
        np.testing.assert_array_equal(crit.ordered, S >= T * N / crit.spacing)
        # T_c is the boundary: ordered exactly below it (where N > 0 and T_c is not at the
        # rounding edge T == T_c)
        pos = (N > 0) & ~np.isclose(Tc, T, rtol=1e-12)
        np.testing.assert_array_equal(crit.ordered[pos], (T <= Tc)[pos])
        if est == "exact":
            assert np.all(N >= 0)


@_settings(60)
@given(
    n=st.integers(1, 5),
    K=st.integers(2, 16),
    saves=st.integers(2, 5),
    scale=log_uniform(1e-8, 1e12),
    seed=st.integers(0, 2**32 - 1),
)
def test_classify_flow_total_and_consistent(n, K, saves, scale, seed):
    rng = np.random.default_rng(seed)
    x = -np.sort(-scale * 10.0 ** rng.uniform(-3, 3, size=(n, saves, K)), axis=-1)
    xt = -np.sort(-rng.uniform(0.05, 1.0, size=K))
    pc = classify_flow(x, xt)
    # without a loss there is no crossover (it needs the loss to disagree with the spectrum)
    assert len(pc.phases) == n and set(pc.phases) <= set(LABELS) - {"crossover"}
    assert np.all(np.isfinite(pc.growth)) and np.all(np.isfinite(pc.moved))
    assert np.all(pc.progress <= 1.0 + 1e-12)
    for m, ph in enumerate(pc.phases):
        if pc.growth[m] > GROWTH_FACTOR:
            assert ph == "high-temperature"
        if ph in ("ordered", "undetermined"):
            assert pc.scale[m] <= SCALE_FACTOR  # ended at the teacher's scale
        else:
            assert pc.scale[m] > SCALE_FACTOR or pc.growth[m] > GROWTH_FACTOR
    assert abs(sum(pc.fractions().values()) - 1.0) < 1e-12

"""Phase boundaries and classification: the Langevin criterion and the flow rule.

The flow rule is checked on synthetic flows (each branch), on short real SGD runs at the
paper's Fig 6 points (cheap in numpy), and -- marked slow -- on the `network` Langevin model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dysonsgd import train
from dysonsgd.langevin import integrate
from dysonsgd.langevin.coefficients import measure_coefficients
from dysonsgd.langevin.network import NetworkModel
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.phases import (
    FROZEN_FRACTION,
    GROWTH_FACTOR,
    PHASES,
    classify_flow,
    coulomb_noise,
    langevin_criterion,
    mp_spacing,
)

# --------------------------------------------------------------------------- criterion


def test_mp_spacing_is_the_width_over_the_gaps():
    # Width of sigma^2 [(1 - c)^2, (1 + c)^2], c = 1/sqrt(r), is 4 sigma^2 c.
    sig, K, L = 0.5, 16, 32
    c = 1 / math.sqrt(L / K)
    width = sig**2 * ((1 + c) ** 2 - (1 - c) ** 2)
    assert mp_spacing(sig, K, L) == pytest.approx(width / (K - 1), rel=1e-15)
    with pytest.raises(ValueError, match="K <= L"):
        mp_spacing(1.0, 8, 4)
    with pytest.raises(ValueError, match="sigma_w"):
        mp_spacing(0.0, 4, 8)


def test_coulomb_noise_exact_and_shifted_sums():
    K = 4
    V = np.ones((K, K))
    # exact: upper 1 + 1/2 + 1/3, lower 1/3 + 1/2 + 1 (diagonal excluded)
    assert coulomb_noise(V) == pytest.approx(2 * (1 + 1 / 2 + 1 / 3), rel=1e-15)
    # published: lower sum includes Vt_KK and divides by distance + 1: 1/4+1/3+1/2+1
    assert coulomb_noise(V, shifted=True) == pytest.approx(
        (1 + 1 / 2 + 1 / 3) + (1 / 4 + 1 / 3 + 1 / 2 + 1), rel=1e-15
    )
    # a matrix with distinct entries pins the index arithmetic
    V = np.arange(16.0).reshape(4, 4)
    assert coulomb_noise(V) == pytest.approx(1 / 1 + 2 / 2 + 3 / 3 + 12 / 3 + 13 / 2 + 14 / 1)
    assert coulomb_noise(V, shifted=True) == pytest.approx(3 + 12 / 4 + 13 / 3 + 14 / 2 + 15 / 1)


@pytest.fixture(scope="module")
def small_instances():
    # Reduced network (K = 4) so measuring on the probe set is instant; seed 3 arbitrary.
    cfg = NetworkConfig(K=4, L=8, n_batches=20, n_test=64)
    return make_instances(cfg, 0.5, 3, 3)


def test_criterion_definitions(small_instances):
    inst = small_instances
    W = np.stack([i.W0 for i in inst])
    T = 0.7
    crit = langevin_criterion(W, inst, temperature=T)
    assert crit.spacing == pytest.approx(mp_spacing(0.5, 4, 8))
    for m, i in enumerate(inst):
        c = measure_coefficients(i.W0, i.a_probe, i.y_probe, i.Z, "tanh")
        assert crit.signal[m] == pytest.approx(abs(c.Kt[0]) - abs(c.Kt[-1]), rel=1e-12)
        assert crit.noise[m] == pytest.approx(coulomb_noise(c.Vt), rel=1e-12)
    # ordered  <=>  S >= T N / Delta  <=>  T <= T_c (N > 0 for the exact estimator)
    assert np.all(crit.noise > 0)
    np.testing.assert_array_equal(crit.ordered, T <= crit.critical_temperature)
    np.testing.assert_allclose(crit.critical_temperature,
                               crit.signal * crit.spacing / crit.noise, rtol=1e-12)  # fmt: skip
    assert crit.ordered_fraction == pytest.approx(np.mean(crit.ordered))
    # the critical temperature does not depend on T; the flags flip across it
    Tc = crit.critical_temperature
    for m in range(len(inst)):
        if Tc[m] > 0:
            lo = langevin_criterion(W[m], inst[m], temperature=0.5 * Tc[m])
            hi = langevin_criterion(W[m], inst[m], temperature=2.0 * Tc[m])
            assert lo.ordered[0] and not hi.ordered[0]


def test_criterion_paper_estimator_differs(small_instances):
    inst = small_instances
    W = np.stack([i.W0 for i in inst])
    ex = langevin_criterion(W, inst, temperature=1.0)
    pa = langevin_criterion(W, inst, temperature=1.0, estimator="paper")
    np.testing.assert_array_equal(ex.signal, pa.signal)
    assert not np.allclose(ex.noise, pa.noise)
    for m, i in enumerate(inst):
        c = measure_coefficients(i.W0, i.a_probe, i.y_probe, i.Z, "tanh")
        assert pa.noise[m] == pytest.approx(coulomb_noise(c.Vt_paper, shifted=True), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(temperature=1.0, estimator="median"), "estimator"),
        (dict(temperature=1.0, sigma_w=-1.0), "sigma_w"),
    ],
)
def test_criterion_bad_input(small_instances, kwargs, match):
    W = np.stack([i.W0 for i in small_instances])
    with pytest.raises(ValueError, match=match):
        langevin_criterion(W, small_instances, **kwargs)


def test_criterion_shape_mismatch(small_instances):
    with pytest.raises(ValueError, match="n_seeds"):
        langevin_criterion(np.zeros((2, 4, 8)), small_instances, temperature=1.0)


# --------------------------------------------------------------------------- flow rule

TEACHER = np.array([3.0, 2.0, 1.0, 0.5])


def _flow(x0, xf, n_saves=5):
    t = np.linspace(0, 1, n_saves)[:, None]
    return (x0 + (xf - x0) * t)[None]


def test_flow_rule_branches():
    x0 = 0.01 * TEACHER
    ordered = _flow(x0, 0.9 * TEACHER)
    frozen = _flow(100 * TEACHER, 100.5 * TEACHER)
    hot = _flow(x0, np.array([300.0, 200.0, 100.0, 50.0]))
    nan = _flow(x0, np.array([np.nan, 1, 1, 1]))
    pc = classify_flow(np.concatenate([ordered, frozen, hot, nan]), TEACHER)
    assert pc.phases == ("ordered", "disordered", "high-temperature", "high-temperature")
    assert pc.progress[0] == pytest.approx(1 - 0.1 * np.linalg.norm(TEACHER)
                                           / np.linalg.norm(x0 - TEACHER))  # fmt: skip
    assert pc.phase == "high-temperature"
    assert pc.fractions() == {"high-temperature": 0.5, "disordered": 0.25, "ordered": 0.25}


def test_flow_rule_thresholds_are_the_documented_ones():
    x0 = 0.01 * TEACHER
    d0 = np.linalg.norm(x0 - TEACHER)
    # moved just below / above 10% of the way
    for frac, want in ((0.09, "disordered"), (0.11, "ordered")):
        xf = x0 + frac * (TEACHER - x0)
        assert classify_flow(_flow(x0, xf), TEACHER).phases[0] == want
        assert np.linalg.norm(xf - x0) / d0 == pytest.approx(frac)
    # growth just below / above 10 x*_1 (x_1(0) < x*_1 here)
    for g, want in ((9.5, "ordered"), (10.5, "high-temperature")):
        xf = TEACHER.copy()
        xf[0] = x0[0] + g * TEACHER[0]
        assert classify_flow(_flow(x0, xf), TEACHER).phases[0] == want
    # a wide start: growth is measured against x_1(0) when it exceeds x*_1
    wide = 1e4 * TEACHER
    assert classify_flow(_flow(wide, wide * 1.01), TEACHER).phases[0] == "disordered"


def test_flow_rule_majority_and_ties():
    x0 = 0.01 * TEACHER
    flows = np.concatenate([_flow(x0, TEACHER), _flow(x0, TEACHER), _flow(x0, x0 * 1.001)])
    assert classify_flow(flows, TEACHER).phase == "ordered"
    tie = np.concatenate([_flow(x0, TEACHER), _flow(x0, x0 * 1.001)])
    assert classify_flow(tie, TEACHER).phase == PHASES[1]  # disordered precedes ordered


@pytest.mark.parametrize(
    "x, teacher, kwargs, match",
    [
        (np.ones((2, 4)), TEACHER, {}, "n_saves"),
        (np.ones((2, 1, 4)), TEACHER, {}, "n_saves"),
        (np.ones((2, 3, 4)), np.ones(3), {}, "teacher_eigenvalues"),
        (np.ones((2, 3, 4)), -TEACHER, {}, "positive"),
        (np.ones((2, 3, 4)), TEACHER, dict(growth_factor=0), "growth_factor"),
        (np.ones((2, 3, 4)), TEACHER, dict(frozen_fraction=1.5), "frozen_fraction"),
    ],
)
def test_flow_rule_bad_input(x, teacher, kwargs, match):
    with pytest.raises(ValueError, match=match):
        classify_flow(x, teacher, **kwargs)


# --------------------------------------------------------------------------- real runs


def _sgd_phase(T, sigma_w, epochs, n_seeds=3, save_points=2):
    # Seed 0: the same networks at every point (make_instance shares all but W0's scale).
    r = train(sigma_w=sigma_w, temperature=T, epochs=epochs, n_seeds=n_seeds, seed=0,
              save_points=save_points)  # fmt: skip
    x = np.linalg.svd(r.W, compute_uv=False) ** 2
    xt = np.stack([np.linalg.svd(i.W_teacher, compute_uv=False) ** 2 for i in r.instances()])
    return x, xt


def test_sgd_high_temperature_point():
    # Paper Fig 6, (T = 4, 1/sigma_W = 8). eps = 16 is far past SGD's linear stability limit
    # eps lambda_max < 2 (eps lambda_max = 94 at the start, three unstable directions:
    # docs/tutorial-theory-vs-sgd.md), so x_1 grows geometrically until tanh saturates. The
    # assertion is the flow rule's own threshold (growth > GROWTH_FACTOR = 10, classify_flow),
    # not a snapshot of the measured size (534-830 x*_1 on these seeds in one epoch; it was
    # 766-798 with an earlier SGD engine, a shift that a fixed "> 100" would have hidden
    # only by luck). The growth must be a number: a NaN flow also classifies as hot.
    pc = classify_flow(*_sgd_phase(4.0, 1 / 8, 1))
    assert pc.phases == ("high-temperature",) * 3
    assert np.all(np.isfinite(pc.growth)) and np.all(pc.growth > GROWTH_FACTOR)


def test_sgd_disordered_point():
    # Paper Fig 6, (T = 2^-5, 1/sigma_W = 2^-8): tanh saturated (|z| ~ 100, phi' ~ e^{-2|z|}),
    # the spectrum moves 0.9-1.3e-3 of the way in two epochs (measured), 80 times below the
    # rule's threshold FROZEN_FRACTION = 0.1.
    pc = classify_flow(*_sgd_phase(2.0**-5, 2.0**8, 2))
    assert pc.phases == ("disordered",) * 3
    assert np.all(pc.moved < FROZEN_FRACTION)


@pytest.mark.slow
def test_sgd_ordered_point():
    # Paper Fig 6, (T = 2^-5, 1/sigma_W = 8). SGD learns slowly here: at 40 epochs three
    # seeds had moved only 0.109-0.156 of the way against the rule's 0.1 (one seed 9 % above
    # it). 160 epochs and 8 seeds (1.4 s): moved 0.15-0.33, all 8 ordered (measured).
    x, xt = _sgd_phase(2.0**-5, 1 / 8, 160, n_seeds=8, save_points=5)  # saves every 40
    pc = classify_flow(x, xt)
    # 1. The majority is ordered. Ties go to the hot and disordered phases (PHASES order),
    #    so four seeds must fall below the threshold to lose it; the fourth smallest moved is
    #    0.177, 77 % above the threshold.
    assert pc.phase == "ordered"
    # 2. Ordered means flowing towards the teacher: the progress grows from epoch 40 to 160.
    #    Were the flow undirected each seed would be a coin flip; 7 or more of 8 happens
    #    with probability 9/256 = 0.035. Measured 8 of 8.
    early = classify_flow(x[:, :2], xt)
    assert np.sum(pc.progress > early.progress) >= 7
    assert np.all(pc.progress > 0)


def _network_phase(T, sigma_w, time, n_seeds=3):
    inst = make_instances(NetworkConfig(), sigma_w, n_seeds, 0)
    model = NetworkModel(inst)
    r = integrate(model, model.x0, time, temperature=T, dt=0.1, seed=0)
    return classify_flow(r.x, model.teacher_eigenvalues), r


def _first_order_growth(T, time, n_seeds):
    # The growth of x_1 the leading equation predicts from the coefficients at the start,
    # t * [-Kt_11 + T (C_1 + sum_j Vt_1j / (x_1 - x_j))] / max(x*_1, x_1(0)), in the flow
    # rule's units (probe set, as the network model measures its noise).
    inst = make_instances(NetworkConfig(), 1 / 8, n_seeds, 0)
    out = []
    for i in inst:
        co = measure_coefficients(i.W0, i.a_probe, i.y_probe, i.Z, "tanh")
        xt = np.linalg.svd(i.W_teacher, compute_uv=False)[0] ** 2
        out.append(time * co.drift(T)[0] / max(xt, co.x[0]))
    return np.array(out)


@pytest.fixture(scope="module")
def hot_flows():
    # 1/sigma_W = 8, t = 500, 8 seeds (those of `dysonsgd simulate --T 4 --sigma 0.125
    # --seeds 8` in docs/theory-network.md), at the paper's T = 4 and at 4 x that, T = 16.
    return {T: _network_phase(T, 1 / 8, 500.0, n_seeds=8) for T in (4.0, 16.0)}


@pytest.mark.slow
def test_network_model_ordered_point():
    # (T = 2^-5, 1/sigma_W = 8), t = 500 = 4 paper epochs: the aligned model covers 33-52%
    # of the way to the teacher (measured on these seeds), well past the 10% threshold.
    pc, r = _network_phase(2.0**-5, 1 / 8, 500.0)
    assert pc.phase == "ordered"
    assert np.all(np.isfinite(r.x))


@pytest.mark.slow
def test_network_model_disordered_point():
    # (T = 2^-5, 1/sigma_W = 2^-8): gradients ~ exp(-2 |z|), |z| ~ 150: nothing moves.
    pc, r = _network_phase(2.0**-5, 2.0**8, 500.0)
    assert pc.phases == ("disordered",) * 3
    assert np.all(r.status == 0)


@pytest.mark.slow
def test_network_model_high_temperature(hot_flows):
    # Well inside the model's high-temperature phase. Expected growth at this T: the leading
    # equation's first-order push on x_1 at the start carries it 140-3500 x max(x*_1, x_1(0))
    # by t = 500 on these seeds, more than ten times the rule's factor on every seed (checked
    # below, so the claim is derived, not assumed). Measured: 54-289 on every seed (the
    # coefficients soften as W grows, so the realised growth is below first order, but still
    # five times the threshold). No seed stops in the integrator since the diagonal noise is
    # handed over exactly proportional to x_i (it used to stop seed 2).
    assert np.all(_first_order_growth(16.0, 500.0, 8) > 10 * GROWTH_FACTOR)
    pc, r = hot_flows[16.0]
    assert pc.phases == ("high-temperature",) * 8
    assert np.all(r.status == 0)


@pytest.mark.slow
def test_network_model_paper_high_temperature_point(hot_flows):
    # Paper Fig 6, (T = 4, 1/sigma_W = 8). The leading-order model sits near its own boundary
    # here: the first-order push predicts 36-880 x the scale, yet 2 of 8 seeds stay ordered
    # (measured growth 69, 46, 1.3, 0.7, 41, 43, 34, 46: 6 hot). SGD is far hotter (x_1 ~ 600
    # x*_1 in one epoch): its blow-up is largely a finite-step effect (eps = 16) the Langevin
    # equation lacks. Two assertions robust to the seed-level detail near a boundary:
    pc, r = hot_flows[4.0]
    assert np.all(r.status == 0)
    # 1. The majority is hot. Ties go to PHASES[0] = high-temperature, so three of the six
    #    hot seeds would have to turn before the vote flips (with 3 seeds one flip did).
    assert pc.phase == "high-temperature"
    # 2. Hotter is hotter, seed by seed. T enters the leading equation only as the factor of
    #    the noise, the Coulomb term and C, and on the top level each of those pushes x_1 up
    #    (Vt_1j / (x_1 - x_j) > 0, C_1 >= 0); the drift -Kt does not depend on T. So on the
    #    same network (and the same normals, scaled by sqrt(T)) x_1 grows more at T = 16 than
    #    at T = 4. Sign test: were T irrelevant each seed would be a coin flip, and 7 or more
    #    of 8 would happen with probability 9/256 = 0.035; measured 8 of 8.
    hot, _ = hot_flows[16.0]
    assert np.sum(hot.growth > pc.growth) >= 7

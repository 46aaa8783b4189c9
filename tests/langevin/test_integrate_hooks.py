"""integrate(): the runaway stop, refresh intervals chosen by the model, the early end.

A numeric ``refresh_interval`` keeps its results (tests/langevin/test_langevin.py runs them
unchanged); here: RunawayGuard stops exactly the systems whose x_1 crossed its bound, at the
refresh where they did, and the run ends once nothing is left running; ``"auto"`` refreshes
at the times the model asks for, hits every save, and reduces to the fixed schedule when the
model asks for its fixed interval.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dysonsgd.langevin import (
    STATUS,
    Coefficients,
    DriftModel,
    OverflowGuard,
    RunawayGuard,
    integrate,
    step_count,
)
from dysonsgd.langevin.integrate import RUNAWAY


class _Growing(DriftModel):
    """dx_i/dt = rate_m x_i per system, isotropic noise of strength a (default none)."""

    name = "growing"
    domain = "positive"

    def __init__(self, rates, refresh=0.25, a=0.0):
        self.rates = np.asarray(rates, dtype=np.float64)
        self.refresh_interval = refresh
        self.a = a
        self.calls = []

    def coefficients(self, x, t):
        self.calls.append(t)
        n, K = x.shape
        return Coefficients(
            kt0=np.zeros((n, K)), kappa=-np.repeat(self.rates[:, None], K, axis=1),
            V0=np.zeros((n, K, K)), a_iso=np.full(n, self.a), C=np.full((n, K), 5 * self.a),
        )  # fmt: skip


X0 = np.array([[2.0, 1.0, 0.5], [2.0, 1.0, 0.5]])


def test_runaway_guard_stops_exactly_the_runaway_system_at_its_refresh():
    # System 1 grows as e^{2t}: x_1 = 2 e^{2t} passes 10 x_1(0) at t = ln(10)/2 = 1.151, so
    # the first refresh (every 0.25) that sees it is t = 1.25. System 0 does not move.
    kw = dict(temperature=0.1, dt=0.05, save_points=9, seed=3)
    free = integrate(_Growing([0.0, 2.0]), X0, 2.0, **kw)
    guard = RunawayGuard(factor=10.0)
    r = integrate(_Growing([0.0, 2.0]), X0, 2.0, guard=guard, **kw)
    np.testing.assert_array_equal(guard.runaway_time, [np.nan, 1.25])
    np.testing.assert_array_equal(r.status, [0, RUNAWAY])
    assert STATUS[RUNAWAY].startswith("runaway")
    np.testing.assert_array_equal(r.blown_up, [False, True])
    np.testing.assert_array_equal(r.x[0], free.x[0])  # members are independent
    # saves at 0, 0.25, ..., 1.25 are the free run's; later saves repeat the state at 1.25
    np.testing.assert_array_equal(r.x[1, :6], free.x[1, :6])
    assert np.all(r.x[1, 6:] == r.x[1, 5])
    assert r.x[1, 5, 0] > 10 * X0[1, 0] > r.x[1, 4, 0]


def test_runaway_bound_uses_the_larger_of_reference_and_start():
    kw = dict(temperature=0.1, dt=0.05, save_points=5, seed=3)
    # reference 5 > x_1(0) = 2: bound 50, crossed at ln(25)/2 = 1.61 -> refresh 1.75
    g = RunawayGuard(factor=10.0, reference=[5.0, 5.0])
    integrate(_Growing([0.0, 2.0]), X0, 2.0, guard=g, **kw)
    np.testing.assert_array_equal(g.runaway_time, [np.nan, 1.75])
    # a reference below x_1(0) changes nothing
    g = RunawayGuard(factor=10.0, reference=0.1)
    integrate(_Growing([0.0, 2.0]), X0, 2.0, guard=g, **kw)
    np.testing.assert_array_equal(g.runaway_time, [np.nan, 1.25])


def test_run_ends_early_when_every_system_ran_away():
    model = _Growing([2.0, 3.0])
    guard = RunawayGuard(factor=10.0)
    r = integrate(model, X0, 100.0, temperature=0.1, dt=0.05, save_points=5, guard=guard)
    # system 0 stops at 1.25, system 1 at ln(10)/3 = 0.77 -> 1.0; no measurement after 1.25
    np.testing.assert_array_equal(guard.runaway_time, [1.25, 1.0])
    assert model.calls[-1] == 1.25 and len(model.calls) == 6
    assert np.all(r.status == RUNAWAY)
    for m in range(2):
        assert np.all(r.x[m, 1:] == r.x[m, 1])  # first save at t = 25 already repeats


def test_runaway_guard_also_freezes_overflowed_coefficients_and_checks_input():
    assert issubclass(RunawayGuard, OverflowGuard)
    with pytest.raises(ValueError, match="factor"):
        RunawayGuard(factor=1.0)
    with pytest.raises(ValueError, match="reference"):
        RunawayGuard(reference=[-1.0, 2.0])
    with pytest.raises(ValueError, match="2 entries for 3 systems"):
        integrate(_Growing([0, 1, 2]), np.tile(X0[0], (3, 1)), 1.0, temperature=0.1,
                  dt=0.1, guard=RunawayGuard(reference=[1.0, 2.0]))  # fmt: skip


class _Chooser(_Growing):
    """Asks for the refresh intervals of a list, in turn."""

    def __init__(self, rates, intervals, a=0.0):
        super().__init__(rates, refresh="auto", a=a)
        self.intervals = list(intervals)
        self.asked = []

    def next_refresh_interval(self, t):
        self.asked.append(t)
        return self.intervals[len(self.asked) - 1]


def test_auto_refresh_measures_where_the_model_asks_and_hits_every_save():
    model = _Chooser([0.5, -0.3], [0.3, 0.45, 0.7, 0.05, 10.0])
    r = integrate(model, X0, 1.0, temperature=0.1, dt=0.2, save_points=3, seed=1)
    # 0.75 + 0.7 is past the end: the last interval is cut at t = 1
    np.testing.assert_allclose(model.calls, [0.0, 0.3, 0.75])
    assert model.calls == model.asked
    np.testing.assert_array_equal(r.times, [0.0, 0.5, 1.0])
    # no noise: x(t) = x0 e^{rate t}, to the Euler steps' accuracy (dt <= 0.2)
    want = X0[:, None, :] * np.exp(np.array([0.5, -0.3])[:, None, None] * r.times[:, None])
    np.testing.assert_allclose(r.x, want, rtol=0.05)


def test_auto_refresh_at_the_fixed_interval_is_the_fixed_schedule():
    # A model that asks for its fixed interval every time refreshes as the fixed schedule
    # does, on the same step grid: the same run bit for bit.
    fixed = _Growing([0.5, -0.3], refresh=0.3, a=0.2)  # noise on: the same streams too
    chooser = _Chooser([0.5, -0.3], [0.3] * 10, a=0.2)
    kw = dict(temperature=0.1, dt=0.07, save_points=4, seed=1)
    a, b = integrate(fixed, X0, 1.0, **kw), integrate(chooser, X0, 1.0, **kw)
    assert a.rejected_steps.sum() == 0  # the free-model noise never forces a bisection
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.steps, b.steps)
    assert fixed.calls == pytest.approx(chooser.calls)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "x"])
def test_auto_refresh_rejects_a_bad_interval(bad):
    with pytest.raises(ValueError, match="next_refresh_interval"):
        integrate(_Chooser([0.0, 0.0], [bad]), X0, 1.0, temperature=0.1, dt=0.1)


def test_auto_refresh_has_no_step_count_and_takes_no_increments():
    model = _Chooser([0.0, 0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="auto"):
        step_count(model, 1.0, dt=0.1)
    with pytest.raises(ValueError, match="increments"):
        integrate(model, X0, 1.0, temperature=0.1, dt=0.1, increments=np.zeros((2, 10, 3)))


def test_model_temperature_must_match():
    model = _Growing([0.0, 0.0])
    model.temperature = 0.5
    with pytest.raises(ValueError, match="temperature"):
        integrate(model, X0, 1.0, temperature=0.25, dt=0.1)
    integrate(model, X0, 1.0, temperature=0.5, dt=0.1)

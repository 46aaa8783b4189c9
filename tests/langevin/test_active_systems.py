"""A stopped system is neither measured nor allowed to set the refresh interval.

``integrate`` tells the model before every refresh which systems it still integrates
(:meth:`DriftModel.set_active`); the network model, in the fixed basis and with the rotating
frame, then measures only those, and its automatic refresh interval follows them alone. The
oracle: a model holding only the running systems, which must see exactly the same
coefficients and choose exactly the same interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from dysonsgd.langevin import NetworkModel, RunawayGuard, integrate
from dysonsgd.langevin.models import Coefficients
from dysonsgd.model import NetworkConfig, make_instances

T = 2.0**-5
FIELDS = tuple(Coefficients.__dataclass_fields__)


@pytest.fixture(scope="module")
def insts():
    # K = 4, L = 8 and seed 11 as tests/langevin/test_rotating.py; three systems
    cfg = NetworkConfig(K=4, L=8, n_batches=50, n_test=32, d_out=2)
    return make_instances(cfg, 0.7, 3, 11)


def _model(insts, kind):
    kw = {
        "fixed-basis": {},
        "hessian-slope": dict(slope="hessian"),
        "rotating": dict(rotate=True, temperature=T),
    }[kind]
    return NetworkModel(insts, refresh_interval="auto", **kw)


@pytest.mark.parametrize("kind", ["fixed-basis", "hessian-slope", "rotating"])
def test_switched_off_systems_are_not_measured_and_do_not_set_the_interval(insts, kind):
    three, one = _model(insts, kind), _model(insts[:1], kind)
    x3 = three.x0
    t = 0.0
    for _ in range(3):  # three refreshes: the rotating frames move in between
        three.set_active(np.array([True, False, False]))
        c3, c1 = three.coefficients(x3, t), one.coefficients(x3[:1], t)
        for f in FIELDS:
            a3, a1 = np.asarray(getattr(c3, f)), np.asarray(getattr(c1, f))
            np.testing.assert_array_equal(a3[0], a1[0], err_msg=f)
            assert np.all(a3[1:] == 0), f  # nothing measured for the stopped systems
        dt3, dt1 = three.next_refresh_interval(t), one.next_refresh_interval(t)
        assert dt3 == dt1
        t += dt3
    # all systems again (None or an all-True mask): every one is measured
    three.set_active(None)
    assert np.all(np.asarray(three.coefficients(x3, 0.0).kappa)[1:] != 0)


def test_set_active_checks_its_mask(insts):
    model = _model(insts, "fixed-basis")
    with pytest.raises(ValueError, match="shape"):
        model.set_active(np.array([True, False]))


def test_integrate_switches_off_what_the_guard_stopped_and_resets_after(insts):
    """A runaway bound that one system passes mid-run: the masks handed to the model switch
    it off from the next refresh on, and the model measures every system again after the
    run."""
    model = _model(insts, "fixed-basis")
    masks = []
    original = model.set_active

    def spy(active):
        masks.append(None if active is None else np.array(active))
        original(active)

    model.set_active = spy
    # a bound 1 % above max(x*_1, x_1(0)): system 0 passes it at t ~ 106 of 200 (measured)
    guard = RunawayGuard(1.01, reference=model.teacher_eigenvalues[:, 0])
    res = integrate(model, model.x0, 200.0, temperature=2.0, dt=0.05, seed=0, guard=guard)
    stopped = guard.runaway
    assert stopped.any(), "the test needs a stopped system"
    assert masks[-1] is None and model._active is None
    seen = np.array([m for m in masks[:-1]])
    for k in np.flatnonzero(stopped):
        # once off, never on again, and off at least from the refresh after its stop
        off = np.flatnonzero(~seen[:, k])
        assert off.size and np.all(~seen[off[0] :, k])
    assert np.all(seen[0])  # every system runs at t = 0
    assert res.blown_up[stopped].all() and not stopped.all()
    assert np.all(seen[:, ~stopped])  # the others are measured throughout

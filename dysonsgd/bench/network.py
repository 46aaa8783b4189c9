"""Cost of the network model (the ladder's DBM rungs) in a hot ensemble, side by side.

At a hot point some systems of an ensemble run away early and are stopped
(:class:`dysonsgd.langevin.RunawayGuard`) while others keep running. Since
:meth:`dysonsgd.langevin.DriftModel.set_active` the network model neither measures a stopped
system nor lets its rates shorten the refresh interval of the others. Measured here in one
run, on the same seeds: the frozen-basis and rotating models with that mechanism, and the same
models with ``set_active`` made a no-op (every system measured to the end, the interval the
shortest over all), at T = 4, 1/sigma_W = 8, the paper's network, 4 seeds.

Run: ``dysonsgd bench --only network`` (``--quick``: a shorter span).
"""

from __future__ import annotations

import time

import numpy as np

from dysonsgd.bench._tables import Table, load_text
from dysonsgd.langevin import NetworkModel, RunawayGuard, integrate
from dysonsgd.model import NetworkConfig, make_instances

NAME = "network"

TEMPERATURE = 4.0
SIGMA_W = 0.125
SEEDS = 4
#: The runaway bound of ``dysonsgd compare`` (its default runaway_factor).
RUNAWAY_FACTOR = 100.0


class _MeasuresAll(NetworkModel):
    """The network model as it was before set_active: every system measured to the end."""

    def set_active(self, active) -> None:
        return None


def _run(cls, instances, rotate: bool, span: float) -> tuple[float, int]:
    kw = dict(rotate=True, temperature=TEMPERATURE) if rotate else {}
    model = cls(instances, refresh_interval="auto", **kw)
    guard = RunawayGuard(RUNAWAY_FACTOR, reference=model.teacher_eigenvalues[:, 0])
    t0 = time.perf_counter()
    integrate(model, model.x0, span, temperature=TEMPERATURE, dt=4.0, save_points=2, seed=0,
              guard=guard)  # fmt: skip
    return time.perf_counter() - t0, int(guard.runaway.sum())


def run(quick: bool = False) -> Table:
    """Measure; return the table."""
    instances = make_instances(NetworkConfig(), SIGMA_W, SEEDS, 1000)
    span = 2_000.0 if quick else 16_000.0  # one paper epoch at T = 4 in the full run
    _run(NetworkModel, make_instances(NetworkConfig(n_batches=5), SIGMA_W, 2, 0), False, 8.0)
    rows, notes = [], []
    for rotate in (False, True):
        name = "rotating" if rotate else "frozen basis"
        new, stopped = _run(NetworkModel, instances, rotate, span)
        old, stopped_old = _run(_MeasuresAll, instances, rotate, span)
        rows.append([name, span, stopped, stopped_old, old, new, old / new])
        notes.append(f"{name}: measured at {load_text()}")
    notes.append(
        f"T = {TEMPERATURE:g}, 1/sigma_W = {1 / SIGMA_W:g}, {SEEDS} seeds of base seed 1000, "
        f"refresh 'auto', dt = 4, runaway bound {RUNAWAY_FACTOR:g} x max(x*_1, x_1(0)); "
        "'measures all' is the model with set_active a no-op, as before it existed"
    )
    return Table(
        NAME,
        "Network model in a hot ensemble: stopped systems measured to the end vs skipped",
        [
            "model",
            "Langevin t",
            "stopped (skipped)",
            "stopped (measures all)",
            "measures all s",
            "skips stopped s",
            "speed-up",
        ],  # fmt: skip
        [[r[0], r[1], r[2], r[3], r[4], r[5], float(np.round(r[6], 2))] for r in rows],
        notes,
    )

"""Speed of the theory-vs-SGD ladder (:func:`dysonsgd.compare.compare`), rung by rung.

Measured side by side in one run, at the paper's network (1000 batches of 4):

1. ``dysonsgd compare --epochs 60 --seeds 4`` at default settings at four points of the paper
   grid, 1/sigma_W = 8 and T = 2^-5 (ordered), 1, 4 and 64 (high temperature): the wall time
   of the whole command, as a user runs it (a fresh process; target <= 60 s on 2 cores), and
   of each rung. Hot systems that run away (x_1 past 100 max(x*_1, x_1(0))) are stopped. A
   point still running after ``CAP_SECONDS`` is stopped and reported as taking longer.
2. Cost per unit of Langevin time and per system at the ordered point (16 seeds, t = 2000 =
   16 epochs): SGD, the ``sde`` rung and the two DBM rungs, and their ratio to SGD's.

Run: ``dysonsgd bench --only ladder`` (``--quick``: 4 epochs, 2 seeds, two points).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from dysonsgd.bench._tables import Table, load_text
from dysonsgd.compare import RUNGS, compare
from dysonsgd.model import NetworkConfig

NAME = "ladder"

SIGMA_W = 0.125
POINTS = (2.0**-5, 1.0, 4.0, 64.0)
TARGET_SECONDS = 60.0
#: A point of part 1 still running after this many seconds is stopped (10 x the target).
CAP_SECONDS = 600.0


def _command_point(T: float, epochs: int, seeds: int) -> tuple[float, dict | None]:
    """Wall seconds of ``dysonsgd compare ... --json`` in a fresh process, and its JSON
    (None if it was stopped at ``CAP_SECONDS``)."""
    cmd = [sys.executable, "-m", "dysonsgd.cli", "compare", "--T", repr(T), "--sigma",
           repr(SIGMA_W), "--epochs", str(epochs), "--seeds", str(seeds), "--json"]  # fmt: skip
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CAP_SECONDS)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return wall, json.loads(proc.stdout)


def _warm() -> None:
    # Load numba's cached kernels (or compile them) outside the timings.
    compare(NetworkConfig(n_batches=5), temperature=2.0**-5, sigma_w=SIGMA_W, epochs=1,
            n_seeds=2, n_bootstrap=2)  # fmt: skip


def run(quick: bool = False) -> Table:
    """Measure; return the table."""
    _warm()
    epochs, seeds = (4, 2) if quick else (60, 4)
    points = POINTS[::2] if quick else POINTS
    rows = []
    notes = []
    for T in points:
        load = load_text()
        wall, out = _command_point(T, epochs, seeds)
        label = f"T = {T:g}, {epochs} epochs x {seeds} seeds"
        if out is None:
            rows.append([label, f"> {CAP_SECONDS:.0f} (stopped)"] + ["-"] * len(RUNGS) + ["-"])
            notes.append(
                f"T = {T:g}: stopped after {wall:.0f} s, ABOVE the {TARGET_SECONDS:.0f} s "
                f"target; started at {load}"
            )
            continue
        rungs = {r["name"]: r for r in out["rungs"]}
        rows.append(
            [label, wall]
            + [rungs[r]["seconds"] for r in RUNGS]
            + [" / ".join(rungs[r]["phase"] for r in RUNGS)]
        )
        verdict = (
            "quick run: the target is for 60 epochs x 4 seeds"
            if quick
            else f"{'within' if wall <= TARGET_SECONDS else 'ABOVE'} the "
            f"{TARGET_SECONDS:.0f} s target"
        )
        notes.append(
            f"T = {T:g}: {wall:.1f} s ({verdict}; the command in a fresh process), Langevin "
            f"t = {out['times'][-1]:g}, started at {load}, ended at {load_text()}"
        )
    # cost per unit Langevin time and system at the ordered point
    ep, n = (2, 4) if quick else (16, 16)
    c = compare(temperature=2.0**-5, sigma_w=SIGMA_W, epochs=ep, n_seeds=n)
    span = float(c.times[-1])
    sgd_cost = c.sgd.seconds / (span * n)
    costs = []
    for r in RUNGS:
        cost = c.rung(r).seconds / (span * n)
        costs.append(f"{r} {1e6 * cost:.3g} us ({cost / sgd_cost:.3g} x SGD)")
    rows.append(
        [f"ordered point, {ep} epochs x {n} seeds (t = {span:g})",
         sum(c.rung(r).seconds for r in RUNGS)]
        + [c.rung(r).seconds for r in RUNGS]
        + [" / ".join(c.rung(r).phase for r in RUNGS)]
    )  # fmt: skip
    notes.append(
        f"ordered point (T = 2^-5, 1/sigma_W = 8), {n} seeds, t = {span:g}: wall seconds per "
        f"unit Langevin time per system: {'; '.join(costs)}; measured at {load_text()}"
    )
    notes.append(
        "the machine may be shared with other jobs: absolute times are upper bounds of what "
        "it can do, the per-rung ratios within one run much less sensitive to the load"
    )
    return Table(
        NAME,
        f"Theory-vs-SGD ladder at 1/sigma_W = {1 / SIGMA_W:g}: wall seconds per rung",
        ["run", "total s", *[f"{r} s" for r in RUNGS], "phases (sgd / gd / sde / rot / frozen)"],
        rows,
        notes,
    )

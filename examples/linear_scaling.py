"""Print the linear-scaling-rule tables of docs/scaling.md (SGD and harmonic Langevin).

python examples/linear_scaling.py            # the tables of docs/scaling.md (~1-2 min)
python examples/linear_scaling.py --quick    # the grid of the default test (~10 s)
"""

from __future__ import annotations

import argparse
import math
import time

from dysonsgd.scaling import (
    ScalingResult,
    harmonic_scaling_experiment,
    linear_scaling_experiment,
)


def format_table(r: ScalingResult) -> str:
    """A plain-text table of the cells, the fits and the equal-temperature pairs of ``r``."""
    head = ", ".join(f"{k}={v}" for k, v in r.settings.items())
    lines = [
        f"source={r.source} K={r.K} s*={r.s_star:g} n_seeds={r.n_seeds} seed={r.seed} {head}",
        f"{'lr':>7} {'|B|':>4} {'A':>9} {'T':>9} {'burn_in_t':>9} {'width':>11} "
        f"{'stderr':>9} {'theory':>11} {'w/theory':>8} {'z':>6}",
    ]
    for c in range(r.lr.size):
        z = (r.width[c] - r.theory_width[c]) / r.width_stderr[c]
        lines.append(
            f"{r.lr[c]:7.4g} {r.batch_size[c]:4d} {r.noise[c]:9.3g} "
            f"{r.temperature[c]:9.4g} {r.burn_in_time[c]:9.3g} {r.width[c]:11.5g} "
            f"{r.width_stderr[c]:9.2g} {r.theory_width[c]:11.5g} "
            f"{r.width[c] / r.theory_width[c]:8.4f} {z:6.2f}"
        )
    f, t, g = r.fit, r.theory_fit, r.fit_sigma
    lines.append(
        f"fit vs sqrt(lr A/|B|): slope = {f.slope:.4f} +- {f.slope_stderr:.4f} (theory on "
        f"this grid {t.slope:.4f}), prefactor = {f.prefactor:.4f} +- "
        f"{f.prefactor_stderr:.4f} (theory on this grid {t.prefactor:.4f}, lr->0 limit "
        f"sqrt(K+1)/2 = {r.theory_prefactor:.4f}), chi2/dof = {f.chi2:.1f}/{f.dof}; "
        f"at slope 1: prefactor = {f.prefactor_slope_one:.4f} +- "
        f"{f.prefactor_slope_one_stderr:.4f} (theory on this grid "
        f"{t.prefactor_slope_one:.4f})"
    )
    lines.append(
        f"fit vs sigma: slope = {g.slope:.4f} +- {g.slope_stderr:.4f} (theory 1), "
        f"prefactor = {g.prefactor:.4f} +- {g.prefactor_stderr:.4f} (theory "
        f"sqrt((K+1)/2) = {math.sqrt((r.K + 1) / 2):.4f}), chi2/dof = {g.chi2:.1f}/{g.dof}; "
        f"at slope 1: prefactor = {g.prefactor_slope_one:.4f} +- "
        f"{g.prefactor_slope_one_stderr:.4f}"
    )
    for p in r.equal_temperature_pairs():
        i, j = p["i"], p["j"]
        lines.append(
            f"equal T={r.temperature[i]:.4g}, A={r.noise[i]:g}: "
            f"(lr={r.lr[i]:g},|B|={r.batch_size[i]}) / "
            f"(lr={r.lr[j]:g},|B|={r.batch_size[j]}): width ratio = "
            f"{p['ratio']:.4f} +- {p['ratio_stderr']:.4f} (theory {p['expected']:.4f})"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the small grid of the default test")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.quick:
        K, L, lrs, bss, As, steps, every = 4, 8, (0.05, 0.1, 0.2), (1, 2, 4), (1e-3, 4e-3), 6000, 5
        hl, hb, ha, htime = (0.05, 0.2), (1, 4), (1e-3,), 55.0
    else:
        K, L, lrs, bss, As, steps, every = (
            8,
            16,
            (0.0125, 0.025, 0.05),
            (1, 2, 4),
            (1e-3, 1.6e-2),
            24000,
            10,
        )
        hl, hb, ha, htime = (0.025, 0.05), (1, 2, 4), (1e-3, 1.6e-2), 105.0
    t0 = time.perf_counter()
    r = linear_scaling_experiment(
        K, L, 1.0, lrs, bss, As, steps=steps, record_every=every, n_seeds=16, seed=a.seed
    )
    print(format_table(r))
    print(f"[{time.perf_counter() - t0:.1f} s]\n")
    t0 = time.perf_counter()
    h = harmonic_scaling_experiment(K, 1.0, hl, hb, ha, time=htime, n_seeds=16, seed=a.seed)
    print(format_table(h))
    print(f"[{time.perf_counter() - t0:.1f} s]")


if __name__ == "__main__":
    main()

"""Print the linear-scaling-rule tables of docs/scaling.md (SGD and harmonic Langevin).

python examples/linear_scaling.py            # the tables of docs/scaling.md (~1-2 min)
python examples/linear_scaling.py --quick    # the grid of the default test (~10 s)
"""

from __future__ import annotations

import argparse
import time

from dysonsgd.scaling import harmonic_scaling_experiment, linear_scaling_experiment


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
    print(r.table())
    print(f"[{time.perf_counter() - t0:.1f} s]\n")
    t0 = time.perf_counter()
    h = harmonic_scaling_experiment(K, 1.0, hl, hb, ha, time=htime, n_seeds=16, seed=a.seed)
    print(h.table())
    print(f"[{time.perf_counter() - t0:.1f} s]")


if __name__ == "__main__":
    main()

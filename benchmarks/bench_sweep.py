"""The sweep benchmark, code in dysonsgd/bench/sweep.py.

``python -m benchmarks.bench_sweep [--quick]`` is ``python -m benchmarks sweep [--quick]``:
a full run writes benchmarks/results/sweep.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))

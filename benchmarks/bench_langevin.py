"""The langevin benchmark, code in dysonsgd/bench/langevin.py.

``python -m benchmarks.bench_langevin [--quick]`` is ``python -m benchmarks langevin [--quick]``:
a full run writes benchmarks/results/langevin.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["langevin", *sys.argv[1:]]))

"""The network benchmark, code in dysonsgd/bench/network.py.

``python -m benchmarks.bench_network [--quick]`` is ``python -m benchmarks network [--quick]``:
a full run writes benchmarks/results/network.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["network", *sys.argv[1:]]))

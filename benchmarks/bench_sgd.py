"""The sgd benchmark, code in dysonsgd/bench/sgd.py.

``python -m benchmarks.bench_sgd [--quick]`` is ``python -m benchmarks sgd [--quick]``:
a full run writes benchmarks/results/sgd.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["sgd", *sys.argv[1:]]))

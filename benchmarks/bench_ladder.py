"""The ladder benchmark, code in dysonsgd/bench/ladder.py.

``python -m benchmarks.bench_ladder [--quick]`` is ``python -m benchmarks ladder [--quick]``:
a full run writes benchmarks/results/ladder.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["ladder", *sys.argv[1:]]))

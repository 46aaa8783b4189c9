"""The checks benchmark, code in dysonsgd/bench/checks.py.

``python -m benchmarks.bench_checks [--quick]`` is ``python -m benchmarks checks [--quick]``:
a full run writes benchmarks/results/checks.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["checks", *sys.argv[1:]]))

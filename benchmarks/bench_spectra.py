"""The spectra benchmark, code in dysonsgd/bench/spectra.py.

``python -m benchmarks.bench_spectra [--quick]`` is ``python -m benchmarks spectra [--quick]``:
a full run writes benchmarks/results/spectra.{md,json}.
"""

import sys

from benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["spectra", *sys.argv[1:]]))

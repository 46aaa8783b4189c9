"""Refresh the committed tables: ``python -m benchmarks [NAME ...] [--quick] [--json] [--out DIR]``.

The benchmarks are :mod:`dysonsgd.bench` (installed with the package and run by ``dysonsgd
bench``, which writes only into a directory it is given). This checkout script runs the
same code and, for a full run, writes the tables into ``benchmarks/results/``, the ones the
docs quote; a ``--quick`` run writes nothing unless ``--out DIR`` is given (a smoke run
must not replace the committed full tables).

BLAS is limited to one thread (unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS /
MKL_NUM_THREADS are set), before numpy is imported: see :mod:`dysonsgd.bench`.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    from dysonsgd.bench import main as bench_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if not {"--out", "--quick", "--list", "-h", "--help"} & set(argv):
        argv += ["--out", str(RESULTS)]
    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())

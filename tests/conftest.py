"""Test-wide settings.

BLAS runs single-threaded in the tests: the suite's own parallelism (numba prange, Dask
workers) shares 2 cores, and multi-threaded OpenBLAS on small matrices under load was
measured 10-50x slower (10 SVDs of 100 x 200: 0.86 s vs 0.018 s). Environment variables
come too late here (a pytest plugin imports numpy before this file), so the limit is set
through threadpoolctl; the variables still reach subprocesses that tests start.
"""

import os

from threadpoolctl import threadpool_limits

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

threadpool_limits(limits=1, user_api="blas")

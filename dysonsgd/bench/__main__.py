"""``python -m dysonsgd.bench``: see :func:`dysonsgd.bench.main` (run by ``dysonsgd bench``).

Set ``OPENBLAS_NUM_THREADS=1`` (and OMP/MKL) in the environment first, as ``dysonsgd bench``
does: ``dysonsgd`` has imported numpy before this module runs.
"""

import sys

from dysonsgd.bench import main

sys.exit(main())

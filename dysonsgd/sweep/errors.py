"""The sweep's errors: an unusable store, a full disk, failed cells.

Each message names the store and the fix (docs/reliability.md).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


class StoreError(ValueError):
    """A sweep store that cannot be used: not a sweep store, damaged, or incomplete.

    A ``ValueError``: the fix is the caller's (another path, or moving the store away). The
    message names the store and the fix.
    """


class StoreFullError(OSError):
    """The disk holding a store ran out of space (or quota) while the sweep wrote to it.

    ``errno`` is the original ``ENOSPC``/``EDQUOT``; ``store`` the store's path. The cells
    marked complete before the failure are complete and kept; a store whose creation failed
    is removed. Free space and run the sweep again to continue.
    """

    def __init__(self, store: Path, code: int, message: str) -> None:
        super().__init__(code, message)
        self.store = store
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return type(self), (self.store, self.errno, self.message)


class CellsFailedError(RuntimeError):
    """Some cells' tasks failed (an exception in the task, or workers killed while running it).

    Raised by :func:`run_sweep` after every other cell has been written. ``failures`` maps
    each failed cell (i, j) -- (batch_size, i, j) in a sweep over batch sizes -- to its
    exception. The failed cells stay pending: running the
    sweep again retries them.
    """

    def __init__(self, store: Path, failures: dict, n_done: int, n_cells: int, config) -> None:
        self.store = store
        self.failures = failures
        cell, exc = next(iter(failures.items()))
        # (i, j), or (batch_size, i, j) in a sweep over batch sizes
        where = f"|B|={cell[0]}, " if len(cell) == 3 else ""
        i, j = cell[-2:]
        first = str(exc).splitlines()[0].rstrip(".") if str(exc) else ""
        n = len(failures)
        super().__init__(
            f"{n} cell{'s' if n > 1 else ''} of the sweep in {store} failed, first "
            f"{where}T={config.T_values[i]:g}, sigma_W={config.sigma_values[j]:g}: "
            f"{type(exc).__name__}: {first}; {n_done} of {n_cells} cells are complete and "
            "kept; run the sweep again to retry the failed cells"
        )


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _mount_point(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def _disk_full(p: Path, exc: OSError, doing: str, kept: str) -> StoreFullError:
    """A StoreFullError naming the store, its file system and its free space."""
    mount = _mount_point(p)
    try:
        free = shutil.disk_usage(mount).free
        free_s = f"{free / 2**20:.3g} MiB free"
    except OSError:
        free_s = "free space unknown"
    what = "no space left" if exc.errno == errno.ENOSPC else "disk quota exceeded"
    return StoreFullError(
        p,
        exc.errno,
        f"{what} on the disk holding store {p} (file system {mount}, {free_s}) while "
        f"{doing}; {kept}",
    )

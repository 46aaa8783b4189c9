"""Output files: checked before a run starts, written atomically after it ends.

Files are created with the permissions ``open()`` would give them (0666 less the umask):
the temporary file of an atomic write comes from :func:`tempfile.mkstemp`, which makes it
0600 whatever the umask, so its mode is set before it is renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def check_writable(path: str | os.PathLike) -> Path:
    """Raise ``ValueError`` unless a file can be created at ``path``.

    Checks, before any work is done, that the parent directory exists and is writable and
    that ``path`` is not a directory, by creating and removing a temporary file beside it.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a directory, not a file path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".dysonsgd-check-")
    except OSError as exc:
        raise ValueError(f"cannot write to {parent}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(tmp)
    return p


def umask() -> int:
    """The process's file-mode creation mask (e.g. ``0o022``).

    Read from ``/proc/self/status`` where the kernel reports it (Linux >= 4.7), without
    changing it; elsewhere set and restored at once with :func:`os.umask` (a file another
    thread creates in between would get mode 0666 & ~0o022).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, writer) -> None:
    """Call ``writer(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    An interrupted write leaves no partial file at ``path``. The file's mode is 0666 less
    the umask, as for a file made by ``open(path, "wb")`` (0644 at umask 0022, 0600 at
    0077), not mkstemp's private 0600.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~umask())
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_savez(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``numpy.savez_compressed`` written atomically to ``path`` (which should end in .npz)."""
    atomic_write_bytes(path, lambda fh: np.savez_compressed(fh, **arrays))

"""numba's ``njit`` and ``prange`` for the package's kernels, with the on-disk cache outside it.

With ``cache=True`` numba writes compiled kernels next to their source, into
``dysonsgd/**/__pycache__``. For a package installed into ``site-packages`` those files are not
in pip's record, so ``pip uninstall`` (or a later ``pip install -e .``, which uninstalls first)
leaves a ``site-packages/dysonsgd`` folder holding only them: Python then takes that folder for
a namespace package that hides the editable install, and ``import dysonsgd`` finds no
``__version__``. So every kernel of the package is cached under a per-user cache directory
instead (see :func:`cache_dir`), never inside the installed package. numba's own
``NUMBA_CACHE_DIR``, when set, still wins.

Every kernel module imports ``njit`` (and ``prange``) from here, so the cache locator is
registered before the first kernel is decorated.
"""

from __future__ import annotations

import os
from pathlib import Path

from numba import njit, prange
from numba.core import caching, config

__all__ = ["cache_dir", "njit", "prange"]

#: The package's source folder: kernels defined below it are cached by :class:`_Locator`.
_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Where the package's compiled kernels are cached.

    ``$DYSONSGD_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dysonsgd/numba``, else
    ``~/.cache/dysonsgd/numba``. Each source folder (an installed copy, a checkout) gets its
    own subfolder, so two installs never share or invalidate each other's files.
    """
    explicit = os.environ.get("DYSONSGD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dysonsgd" / "numba"


class _Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba cache locator for the package's own kernels: :func:`cache_dir`, not the source tree.

    It declines (returns None) for functions outside the package, when ``NUMBA_CACHE_DIR``
    is set, or when the cache directory cannot be created or written (a read-only home):
    numba then falls back to its own locators.
    """

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR:
            return None
        try:
            Path(py_file).resolve().relative_to(_PACKAGE_DIR)
        except (ValueError, OSError):
            return None
        self = super().from_function(py_func, py_file)
        if self is None:
            return None
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


def _register() -> None:
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if _Locator not in impl._locator_classes:
        impl._locator_classes = [_Locator, *impl._locator_classes]


_register()

"""The compiled-kernel cache lives outside the package (issue: a non-editable install followed
by an editable one left ``site-packages/dysonsgd`` holding only numba's cache files, a
namespace package that hid the editable install)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dysonsgd

PACKAGE = Path(dysonsgd.__file__).resolve().parent

_CALL_A_KERNEL = """
import numpy as np
from dysonsgd._jit import cache_dir
from dysonsgd import _kernels_spectra
x = np.sort(np.random.default_rng(0).standard_normal((3, 9)), axis=1)
_kernels_spectra.kernel_staircase(x, np.ones(3), np.empty_like(x))
print(cache_dir())
"""


def _cache_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")}


def test_kernels_are_cached_in_the_user_cache_not_in_the_package(tmp_path):
    before = _cache_files(PACKAGE)
    env = {**os.environ, "DYSONSGD_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", _CALL_A_KERNEL], env=env, capture_output=True, text=True,
        check=True, cwd=tmp_path,
    )  # fmt: skip
    assert Path(out.stdout.strip()) == tmp_path
    assert _cache_files(tmp_path), "no kernel was cached in DYSONSGD_CACHE_DIR"
    assert _cache_files(PACKAGE) == before, "a kernel was cached inside the package"


def test_cache_dir_defaults_to_the_xdg_cache(monkeypatch, tmp_path):
    from dysonsgd._jit import cache_dir

    monkeypatch.delenv("DYSONSGD_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "dysonsgd" / "numba"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "dysonsgd" / "numba"


def test_an_unwritable_cache_dir_falls_back_to_numba(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = {**os.environ, "DYSONSGD_CACHE_DIR": str(blocked / "sub")}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", _CALL_A_KERNEL], env=env, capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr

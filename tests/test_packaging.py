"""Every subpackage ships: pyproject.toml lists each folder of dysonsgd/ and cli/ that holds an
``__init__.py`` (an editable install finds an unlisted one, ``pip install .`` does not)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"dysonsgd.cli"} | {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "dysonsgd").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["dysonsgd.cli"] == "cli"

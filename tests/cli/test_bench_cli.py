"""`dysonsgd bench`: runs from any directory, writes only into --out, shows the load average.

The runs use the quick ``checks`` benchmark (about a second after numba's cache is warm):
what is tested is the plumbing shared by every benchmark (the runner, the tables, the
files), not the timings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dysonsgd.bench import BENCHMARKS, Table, run_benchmarks
from dysonsgd.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
LOAD = re.compile(r"[Ll]oad average (?:\(1 min\) )?(\d+\.\d\d|nan)")


def _bench(cwd, *args, timeout=300):
    """``dysonsgd bench ARGS`` in a fresh process from ``cwd``, with its own TMPDIR."""
    tmp = Path(cwd).parent / "tmpdir"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.run(
        [sys.executable, "-m", "dysonsgd.cli", "bench", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, tmp


def _snapshot(root: Path) -> dict:
    """{path: (size, mtime)} of every file under ``root`` but __pycache__ (numba's cache)."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _watched():
    """The benchmark trees of the checkout: results/ (the committed tables) and the code."""
    return {**_snapshot(ROOT / "benchmarks"), **_snapshot(ROOT / "dysonsgd" / "bench")}


def test_bench_without_out_prints_the_table_and_writes_nothing(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = _watched()
    proc, tmp = _bench(cwd, "--only", "checks")
    assert proc.returncode == 0, proc.stderr
    assert "| K | n | numpy checks [ms]" in proc.stdout
    assert len(LOAD.findall(proc.stdout)) >= 2  # under the table and in the summary line
    assert "[checks: " in proc.stdout and "wrote" not in proc.stdout
    assert list(cwd.iterdir()) == [] and list(tmp.iterdir()) == []
    assert _watched() == before


def test_bench_out_writes_the_tables_there_only(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = _watched()
    proc, tmp = _bench(cwd, "--only", "checks", "--out", "tables", "--json")
    assert proc.returncode == 0, proc.stderr
    out = cwd / "tables"  # a relative --out is the caller's directory, not the checkout's
    assert sorted(p.name for p in cwd.iterdir()) == ["tables"]
    assert sorted(p.name for p in out.iterdir()) == ["checks.json", "checks.md"]
    assert list(tmp.iterdir()) == [] and _watched() == before
    (record,) = json.loads(proc.stdout)
    assert record["name"] == "checks" and record["error"] is None
    assert record["written"] == [str(out / "checks.md"), str(out / "checks.json")]
    payload = json.loads((out / "checks.json").read_text())
    assert payload == record["tables"][0]
    for when in ("start", "end"):
        assert len(payload["load_average"][when]) == 3
    assert LOAD.search((out / "checks.md").read_text())
    assert LOAD.search(proc.stderr)  # the printed table (stderr with --json)


def test_bench_list_and_bad_options(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["bench", "--list"])
    assert res.exit_code == 0 and res.output.split() == list(BENCHMARKS)
    res = runner.invoke(cli, ["bench", "--list", "--json"])
    assert json.loads(res.output) == {"benchmarks": list(BENCHMARKS)}
    res = runner.invoke(cli, ["bench", "--only", "nope"])
    assert res.exit_code == 2 and "unknown benchmark nope" in res.output
    (tmp_path / "f").write_text("")
    for bad, msg in ((tmp_path / "f", "is a file"), (tmp_path / "a" / "b", "does not exist")):
        res = runner.invoke(cli, ["bench", "--only", "checks", "--out", str(bad)])
        assert res.exit_code == 2 and msg in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_every_table_line_shows_the_load(monkeypatch):
    """The runner stamps each table with the load at its start and end (the benchmark's own
    code is replaced by a stub table: this checks the runner, fast)."""
    from dysonsgd.bench import checks

    loads = iter([(1.5, 1.0, 0.5), (2.25, 1.0, 0.5), (2.5, 1.0, 0.5)])
    monkeypatch.setattr("dysonsgd.bench.load_average", lambda: next(loads))
    monkeypatch.setattr(
        checks, "run", lambda quick: Table("checks", "t", ["a [s]"], [[1.0]], ["n"])
    )
    printed = []
    (rec,) = run_benchmarks(["checks"], quick=True, echo=printed.append)
    assert rec["tables"][0]["load_average"] == {"start": (1.5, 1.0, 0.5), "end": (2.25, 1.0, 0.5)}
    assert "Load average (1 min) 1.50 at the start, 2.25 at the end" in printed[0]
    assert "load average 1.50 (1 min)" in printed[1] and "2.50 at the end" in printed[1]
    assert rec["written"] == []
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_benchmarks(["nope"])


def test_every_package_directory_is_installed():
    """pyproject's explicit package list names every package under dysonsgd/ (a package
    left out, as the benchmarks were, is missing after a non-editable ``pip install .``)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "dysonsgd").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, sorted(found - listed)
    assert "dysonsgd.bench" in listed

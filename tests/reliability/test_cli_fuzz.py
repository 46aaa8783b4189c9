"""CLI fuzzing: every command and option with malformed values (issue 7, item 2).

The cases are generated from a table, command x option x bad value, so that a new option
joins by one line. Each case runs in-process through ``click.testing.CliRunner`` (the group's
``main`` turns errors into exit codes, as the console script does) and must end with

* exit status 2 for bad input (1 only where the brief allows a runtime failure),
* exactly ONE line on stderr, starting with ``Error:`` (never a traceback),
* no file created or changed: the working directory is listed before and after.

A few cases run through the real ``dysonsgd`` entry point in a subprocess as well.
``test_case_count`` prints the number of generated cases per command and option class
(docs/reliability.md quotes it).

No randomness: every bad value is written out, so a failure names its case exactly.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dysonsgd.cli.main import cli

HUGE_INT = str(10**30)

# --------------------------------------------------------------------------- value classes

#: option class -> malformed values. Every one of them is invalid for every option of
#: that class.
BAD = {
    "pos_float": ["", " ", "-1", "0", "-0.0", "nan", "NaN", "inf", "-inf", "1e309", "abc",
                  "1,2", "1e", "0x10", "--"],
    "nonneg_float": ["", "-1", "-1e-300", "nan", "inf", "-inf", "1e309", "abc"],
    "pos_int": ["", "-1", "0", "1.5", "2.0", "nan", "inf", "abc", "1e3", HUGE_INT,
                "-" + HUGE_INT, "0x10", "--"],
    "nonneg_int": ["", "-1", "1.5", "nan", "inf", "abc", "1e3", HUGE_INT, str(2**63),
                   "-" + HUGE_INT],
    "choice": ["", "bogus", "NUMBA", "1"],
    "float_list": ["", ",", "1,,2", "1,", ",1", "1,abc", "nan", "1,inf", "-1", "0", "1;2",
                   "1e309"],
    "int_list": ["", ",", "1,,2", "1.5", "0", "-4", "abc", "nan"],
}  # fmt: skip

#: Output-file values; "{tmp}" is the case's working directory. "{file}" is a regular file
#: there, so "{file}/x" has a parent that is a file.
BAD_OUT = [
    "/proc/x/out.npz",  # parent missing, under /proc: refused even for root
    "/proc/dysonsgd-out.npz",  # /proc refuses new files, even for root
    "{file}/out.npz",  # parent is a file
    "{tmp}/missing/out.npz",  # parent missing
    "{tmp}",  # a directory
    "",  # empty
]
BAD_PLOT = BAD_OUT + ["{tmp}/fig.txt", "{tmp}/fig"]  # + figure format from the suffix

#: Cheap valid invocations; each case replaces or adds one option.
BASE = {
    "train": ["train", "--T", "0.03125", "--sigma", "1", "--epochs", "2", "--save-points",
              "2", "--n-batches", "2", "--K", "2", "--L", "3", "--engine", "numpy"],
    "simulate": ["simulate", "--T", "0.1", "--model", "free", "--K", "2", "--L", "3",
                 "--time", "0.01", "--seeds", "1", "--save-points", "2"],
    "compare": ["compare", "--T", "0.03125", "--sigma", "1", "--epochs", "2", "--seeds", "1",
                "--n-batches", "2"],
    "spectrum": ["spectrum", "{good_npy}"],
    "phase-diagram": ["phase-diagram", "--T-values", "0.03125", "--sigma-values", "1",
                      "--epochs", "20", "--seeds", "1", "--n-batches", "2",
                      "--scheduler", "inprocess", "--store", "{tmp}/s.zarr", "--engine",
                      "numpy"],
    "plot": ["plot", "{store}", "--out", "{tmp}/figs", "--format", "png"],
    "advise": ["advise", "--sigma", "1", "--seeds", "1", "--n-batches", "2"],
    "bench": ["bench", "--list"],
}  # fmt: skip

#: (command, option, class). Every option of every command that takes a value.
OPTIONS = [
    *[("train", o, "pos_float") for o in ("--T", "--sigma")],
    ("train", "--lr", "pos_float"),
    *[("train", o, "pos_int") for o in ("--batch-size", "--epochs", "--seeds", "--save-points",
                                        "--K", "--L", "--d-in", "--n-batches")],
    ("train", "--seed", "nonneg_int"),
    *[("train", o, "choice") for o in ("--engine", "--activation", "--save-schedule")],
    ("train", "--out", "out"),
    ("train", "--plot", "plot"),
    *[("simulate", o, "pos_float") for o in ("--T", "--sigma", "--time", "--dt", "--kappa",
                                             "--noise", "--refresh", "--epochs")],
    *[("simulate", o, "pos_int") for o in ("--K", "--L", "--seeds", "--save-points")],
    ("simulate", "--seed", "nonneg_int"),
    *[("simulate", o, "choice") for o in ("--model", "--scheme")],
    ("simulate", "--targets", "float_list"),
    ("simulate", "--out", "out"),
    ("simulate", "--plot", "plot"),
    *[("compare", o, "pos_float") for o in ("--T", "--sigma", "--refresh", "--dt", "--sde-dt")],
    *[("compare", o, "pos_int") for o in ("--epochs", "--seeds", "--batch-size", "--n-batches",
                                          "--save-points")],
    ("compare", "--seed", "nonneg_int"),
    *[("compare", o, "choice") for o in ("--scheme", "--basis", "--sampling")],
    ("compare", "--out", "out"),
    ("compare", "--plot", "plot"),
    ("spectrum", "--margin", "nonneg_float"),
    ("spectrum", "--unfolding", "choice"),
    ("spectrum", "--plot", "plot"),
    *[("phase-diagram", o, "float_list") for o in ("--T-values", "--sigma-values")],
    *[("phase-diagram", o, "pos_int") for o in ("--epochs", "--seeds", "--n-batches",
                                                "--cluster-cores")],
    ("phase-diagram", "--seed", "nonneg_int"),
    *[("phase-diagram", o, "choice") for o in ("--engine", "--grid", "--cluster")],
    ("phase-diagram", "--batch-sizes", "int_list"),
    ("plot", "--format", "choice"),
    ("advise", "--sigma", "pos_float"),
    *[("advise", o, "pos_int") for o in ("--seeds", "--epochs", "--n-batches")],
    ("advise", "--seed", "nonneg_int"),
    ("advise", "--estimator", "choice"),
    ("advise", "--batch-sizes", "int_list"),
]  # fmt: skip


def _with(base: list[str], option: str, value: str) -> list[str]:
    """``base`` with ``option`` set to ``value`` (replaced in place, else appended)."""
    args = list(base)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def _option_cases():
    for command, option, kind in OPTIONS:
        values = {"out": BAD_OUT, "plot": BAD_PLOT}.get(kind) or BAD[kind]
        for value in values:
            yield pytest.param(
                command, kind, _with(BASE[command], option, value), 2,
                id=f"{command} {option}={value!r}",
            )  # fmt: skip


# --------------------------------------------------------------------------- input files


def _make_inputs(d: Path) -> dict[str, Path]:
    """Malformed input files in ``d`` (each kind under a name that suggests a good file)."""
    d.mkdir()
    files = {}
    files["text.npz"] = d / "text.npz"
    files["text.npz"].write_text("this is not a numpy file\n")
    files["empty.npz"] = d / "empty.npz"
    files["empty.npz"].write_bytes(b"")
    good = d / "good.npz"
    np.savez(good, W=np.random.default_rng(0).standard_normal((8, 16)))
    raw = good.read_bytes()
    files["truncated.npz"] = d / "truncated.npz"
    files["truncated.npz"].write_bytes(raw[: len(raw) // 2])
    files["corrupt.npz"] = d / "corrupt.npz"  # zip magic, garbage after it
    files["corrupt.npz"].write_bytes(raw[:4] + bytes(range(256)) * 8)
    # flip bytes inside the compressed member: the zip directory is intact, the data not
    files["bitrot.npz"] = d / "bitrot.npz"
    np.savez_compressed(files["bitrot.npz"], W=np.arange(4096.0).reshape(64, 64))
    b = bytearray(files["bitrot.npz"].read_bytes())
    for k in range(100, 400):
        b[k] ^= 0xFF
    files["bitrot.npz"].write_bytes(bytes(b))
    files["pickle.npz"] = d / "pickle.npz"
    np.savez(files["pickle.npz"], W=np.array([{"a": 1}, None], dtype=object))
    files["pickle.npy"] = d / "pickle.npy"
    np.save(files["pickle.npy"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    files["zip-no-npy.npz"] = d / "zip-no-npy.npz"
    with zipfile.ZipFile(files["zip-no-npy.npz"], "w") as z:
        z.writestr("readme.txt", "hello")
    files["nan.npy"] = d / "nan.npy"
    np.save(files["nan.npy"], np.full((8, 16), np.nan))
    files["1d.npy"] = d / "1d.npy"
    np.save(files["1d.npy"], np.arange(10.0))
    files["wrong-keys.npz"] = d / "wrong-keys.npz"  # valid npz, not a training result
    np.savez(files["wrong-keys.npz"], W=np.ones((8, 16)))
    files["dir"] = d / "adir"
    files["dir"].mkdir()
    files["missing"] = d / "missing.npz"
    return files


def _make_stores(d: Path, good_store: Path) -> dict[str, Path]:
    """Damaged copies of a real sweep store."""
    stores = {}

    def copy(name):
        p = d / name
        shutil.copytree(good_store, p)
        return p

    p = copy("truncated-meta.zarr")
    meta = (p / "zarr.json").read_bytes()
    (p / "zarr.json").write_bytes(meta[: len(meta) // 2])
    stores["truncated zarr.json"] = p
    p = copy("garbage-meta.zarr")
    (p / "zarr.json").write_bytes(b"\x00\xff garbage")
    stores["garbage zarr.json"] = p
    p = copy("no-config.zarr")
    m = json.loads((p / "zarr.json").read_text())
    m.get("attributes", {}).clear()
    (p / "zarr.json").write_text(json.dumps(m))
    stores["no config attribute"] = p
    p = copy("bad-config.zarr")
    m = json.loads((p / "zarr.json").read_text())
    for k in m.get("attributes", {}):
        m["attributes"][k] = "{not json"
    (p / "zarr.json").write_text(json.dumps(m))
    stores["config not JSON"] = p
    p = copy("missing-array.zarr")
    victim = sorted(q for q in p.iterdir() if q.is_dir())[0]
    shutil.rmtree(victim)
    stores[f"array {victim.name} missing"] = p
    p = copy("array-meta.zarr")
    victim = sorted(q for q in p.iterdir() if q.is_dir())[0]
    (victim / "zarr.json").write_text("{")
    stores[f"array {victim.name} metadata truncated"] = p
    p = copy("chunks.zarr")
    for chunk in p.rglob("c/*"):
        if chunk.is_file():
            chunk.write_bytes(b"\x00garbage")
    stores["every chunk garbage"] = p
    p = d / "not-zarr.zarr"
    p.mkdir()
    (p / "notes.txt").write_text("hello")
    stores["directory of other files"] = p
    p = d / "file.zarr"
    p.write_text("not a directory")
    stores["a file"] = p
    return stores


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    """A tiny finished sweep store (1 x 1 cell, 20 epochs of 2 batches, numpy engine)."""
    from dysonsgd import sweep
    from dysonsgd.model import NetworkConfig

    path = tmp_path_factory.mktemp("store") / "good.zarr"
    cfg = sweep.SweepConfig(
        T_values=[2.0**-5], sigma_values=[1.0], epochs=20, n_seeds=1,
        network=NetworkConfig(n_batches=2), engine="numpy",
    )  # fmt: skip
    sweep.run_sweep(cfg, path, client="inprocess")
    return path


# --------------------------------------------------------------------------- the check


def _listing(d: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            # directories: existence only (a writability probe touches their mtime)
            out[str(p.relative_to(d))] = "dir" if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out


def _run(args: list[str], cwd: Path, subs: dict[str, str]):
    args = [a.format(**subs) if "{" in a else a for a in args]
    runner = CliRunner()
    before = _listing(cwd)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(cli, args, catch_exceptions=True)
    finally:
        os.chdir(old)
    return args, result, before, _listing(cwd)


def _check_error(args, result, before, after, expected):
    stderr = result.stderr
    lines = stderr.splitlines()
    where = f"dysonsgd {' '.join(map(repr, args))}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where}: uncaught {result.exception!r}"
    )
    assert "Traceback" not in stderr + result.stdout, f"{where}: traceback\n{stderr}"
    assert result.exit_code in expected, (
        f"{where}: exit {result.exit_code}, want {expected}\n{stderr}"
    )
    assert len(lines) == 1 and lines[0].startswith("Error: "), (
        f"{where}: stderr is not one 'Error:' line:\n{stderr}"
    )
    assert after == before, f"{where}: files changed: {set(after) ^ set(before)}"


@pytest.fixture
def work(tmp_path, good_store):
    """The case's working directory with a regular file, a good .npy and the bad inputs."""
    (tmp_path / "afile").write_text("x")
    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(1).standard_normal((8, 16)))
    inputs = _make_inputs(tmp_path / "in")
    subs = {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "afile"),
        "good_npy": str(good),
        "store": str(good_store),
    }
    return tmp_path, subs, inputs


@pytest.mark.parametrize("command, kind, args, code", list(_option_cases()))
def test_bad_option_value(work, command, kind, args, code):
    d, subs, _ = work
    _check_error(*_run(args, d, subs), expected=(code,))


# Input files: each malformed file where a command reads one.
INPUT_KINDS = ["text.npz", "empty.npz", "truncated.npz", "corrupt.npz", "bitrot.npz",
               "pickle.npz", "pickle.npy", "zip-no-npy.npz", "nan.npy", "1d.npy", "dir",
               "missing"]  # fmt: skip
#: (command args with "{input}" where the file goes, the input kinds that are bad there)
INPUT_USES = [
    (["spectrum", "{input}"], INPUT_KINDS),
    (["spectrum", "{input}", "--json"], INPUT_KINDS),
    (["advise", "--checkpoint", "{input}", "--seeds", "1"], [*INPUT_KINDS, "wrong-keys.npz"]),
    (["plot", "{input}", "--out", "{tmp}/figs"], [*INPUT_KINDS, "wrong-keys.npz"]),
    (["phase-diagram", "--resume", "--store", "{input}"], [*INPUT_KINDS, "wrong-keys.npz"]),
]


def _input_cases():
    for args, kinds in INPUT_USES:
        for kind in kinds:
            yield pytest.param(args, kind, id=f"{args[0]} {' '.join(args[1:])} <- {kind}")


@pytest.mark.parametrize("args, kind", list(_input_cases()))
def test_bad_input_file(work, args, kind):
    d, subs, inputs = work
    args = [a.replace("{input}", str(inputs[kind])) for a in args]
    _check_error(*_run(args, d, subs), expected=(2,))


STORE_USES = [
    ["plot", "{input}", "--out", "{tmp}/figs"],
    ["phase-diagram", "--resume", "--store", "{input}", "--scheduler", "inprocess"],
    # the same sweep as the store's, without --resume: the store is checked before any work
    ["phase-diagram", "--T-values", "0.03125", "--sigma-values", "1", "--epochs", "20",
     "--seeds", "1", "--n-batches", "2", "--engine", "numpy", "--scheduler", "inprocess",
     "--store", "{input}"],
]  # fmt: skip


def test_damaged_store(work, good_store, tmp_path):
    """Every damaged copy of a sweep store is refused by plot and phase-diagram, untouched."""
    d, subs, _ = work
    base = tmp_path / "stores"
    base.mkdir()
    stores = _make_stores(base, good_store)
    failures = []
    for name, store in stores.items():
        for use in STORE_USES:
            args = [a.replace("{input}", str(store)) for a in use]
            try:
                _check_error(*_run(args, d, subs), expected=(2,))
            except AssertionError as exc:
                failures.append(f"[{name}] {exc}")
    assert not failures, "\n\n".join(failures)


# Values each valid on its own that are bad together, or against the training set: exit 2
# before any work, nothing written.
PD_GD = _with(BASE["phase-diagram"], "--engine", "gd")
TRAIN_GD = _with(BASE["train"], "--engine", "gd")
CONFLICTS = [
    pytest.param(_with(BASE["phase-diagram"], "--batch-sizes", "4,4"),
                 id="phase-diagram --batch-sizes 4,4 (a repeat)"),
    pytest.param(_with(BASE["phase-diagram"], "--batch-sizes", "3"),
                 id="phase-diagram --batch-sizes 3 (2 x 4 samples)"),
    pytest.param(_with(BASE["phase-diagram"], "--batch-sizes", "1,64"),
                 id="phase-diagram --batch-sizes 1,64 (2 x 4 samples)"),
    pytest.param([a for a in _with(BASE["phase-diagram"], "--batch-sizes", "3")
                  if a not in ("--n-batches", "2")],
                 id="phase-diagram --batch-sizes 3 (the default 1000 x 4 samples)"),
    pytest.param(_with(PD_GD, "--batch-sizes", "3"),
                 id="phase-diagram --engine gd --batch-sizes 3"),
    # full-batch gradient descent sees every sample at every step: no sampling mode
    pytest.param(_with(PD_GD, "--sampling", "iid"), id="phase-diagram --engine gd --sampling iid"),
    pytest.param(_with(PD_GD, "--sampling", "shuffle"),
                 id="phase-diagram --engine gd --sampling shuffle"),
    pytest.param(_with(TRAIN_GD, "--sampling", "iid"), id="train --engine gd --sampling iid"),
    pytest.param(_with(TRAIN_GD, "--sampling", "shuffle"),
                 id="train --engine gd --sampling shuffle"),
    pytest.param([*TRAIN_GD, "--shuffle"], id="train --engine gd --shuffle"),
]  # fmt: skip


@pytest.mark.parametrize("args", CONFLICTS)
def test_conflicting_values(work, args):
    d, subs, _ = work
    _check_error(*_run(args, d, subs), expected=(2,))


# Paths that cannot be written, for the options that write more than one file.
UNWRITABLE = [
    ["plot", "{store}", "--out", "/proc/x/figs"],
    ["plot", "{store}", "--out", "{file}"],
    ["plot", "{store}", "--out", "{file}/figs"],
    ["plot", "{store}", "--out", "/proc/sys/figs"],
    [*BASE["phase-diagram"][:-4], "--store", "/proc/x/s.zarr"],
    [*BASE["phase-diagram"][:-4], "--store", "/proc/s.zarr"],
    [*BASE["phase-diagram"][:-4], "--store", "{file}"],
    [*BASE["phase-diagram"][:-4], "--store", "{file}/s.zarr"],
    [*BASE["phase-diagram"], "--plot", "{file}"],
    [*BASE["phase-diagram"], "--plot", "{file}/figs"],
    [*BASE["phase-diagram"], "--plot", "/proc/x/figs"],
    ["phase-diagram", "--resume"],  # --resume without --store
    ["phase-diagram", "--resume", "--store", "{tmp}/nothing.zarr"],
]


@pytest.mark.parametrize("args", UNWRITABLE, ids=lambda a: " ".join(a))
def test_unwritable_destination(work, args):
    d, subs, _ = work
    _check_error(*_run(args, d, subs), expected=(2,))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into 0o500 directories")
@pytest.mark.parametrize(
    "command, option", [("train", "--out"), ("train", "--plot"), ("simulate", "--out"),
                        ("compare", "--out"), ("spectrum", "--plot"),
                        ("phase-diagram", "--store"), ("phase-diagram", "--plot"),
                        ("plot", "--out")],
)  # fmt: skip
def test_read_only_directory(work, command, option):
    d, subs, _ = work
    ro = d / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        target = str(
            ro
            / (
                "x.png"
                if option == "--plot" and command != "phase-diagram"
                else "x.npz"
                if option == "--out" and command != "plot"
                else "x"
            )
        )
        _check_error(*_run(_with(BASE[command], option, target), d, subs), expected=(2,))
    finally:
        ro.chmod(0o700)


# Valid but huge: refused up front (memory limit or integer range), never a hang.
HUGE = [
    *[
        _with(BASE[cmd], "--seeds", str(10**9))
        for cmd in ("train", "simulate", "compare", "advise", "phase-diagram")
    ],
    _with(BASE["train"], "--n-batches", str(10**9)),
    _with(BASE["train"], "--batch-size", str(10**9)),
    _with(_with(BASE["train"], "--K", str(10**5)), "--L", str(10**5)),
    _with(_with(BASE["simulate"], "--K", str(10**5)), "--L", str(10**5)),
    _with(BASE["train"], "--save-points", str(10**9)),
    _with(BASE["simulate"], "--save-points", str(10**9)),
    _with(BASE["compare"], "--save-points", str(10**9)),
    _with(BASE["compare"], "--n-batches", str(10**9)),
    _with(BASE["advise"], "--n-batches", str(10**9)),
    _with(BASE["phase-diagram"], "--n-batches", str(10**9)),
    *[_with(BASE[cmd], "--epochs", str(2**31)) for cmd in ("train", "compare", "advise")],
]


@pytest.mark.parametrize("args", HUGE, ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_huge_counts_refused_up_front(work, args):
    d, subs, _ = work
    out = _run(args, d, subs)
    _check_error(*out, expected=(2,))


# Valid but extreme floats: the run ends (success or a one-line error), its output is
# complete or absent.
#: train --lr 1e308 with full-batch gradient descent (id: train --engine gd)
TRAIN_GD_HUGE_LR = [*(a for a in BASE["train"] if a not in ("--T", "0.03125", "--engine", "numpy")),
                    "--lr", "1e308", "--engine", "gd"]  # fmt: skip
EXTREME = [
    (_with(BASE["train"], "--T", "1e308"), "out"),
    (_with(BASE["train"], "--sigma", "1e308"), "out"),
    (_with(BASE["train"], "--sigma", "1e-308"), "out"),
    ([a for a in _with(BASE["train"], "--lr", "1e308") if a not in ("--T", "0.03125")], "out"),
    (TRAIN_GD_HUGE_LR, "out"),
    (_with(BASE["simulate"], "--T", "1e308"), "out"),
    (_with(BASE["simulate"], "--sigma", "1e308"), "out"),
    (_with(BASE["simulate"], "--noise", "1e308"), "out"),
    (_with(BASE["simulate"], "--time", "1e308"), "out"),
    (_with(_with(BASE["simulate"], "--model", "harmonic"), "--kappa", "1e308"), "out"),
    (_with(BASE["spectrum"], "--margin", "1e308"), None),
    (_with(BASE["advise"], "--sigma", "1e308"), None),
    (_with(BASE["advise"], "--sigma", "1e-308"), None),
]


@pytest.mark.parametrize("args, out", EXTREME, ids=lambda a: " ".join(a[:1] + a[-2:])
                         if isinstance(a, list) else str(a))  # fmt: skip
def test_extreme_valid_values_end_cleanly(work, args, out):
    d, subs, _ = work
    if out:
        args = [*args, "--out", "{tmp}/r.npz"]
    args, result, before, after = _run(args, d, subs)
    where = f"dysonsgd {' '.join(args)}"
    assert "Traceback" not in result.stderr, f"{where}\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where}: {result.exception!r}"
    )
    if result.exit_code == 0:
        if out:
            with np.load(d / "r.npz", allow_pickle=False) as f:
                assert len(f.files) > 0
    else:
        assert result.exit_code in (1, 2), where
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), f"{where}\n{result.stderr}"
        assert after == before, f"{where}: files changed"


def test_advise_sigma_whose_square_overflows_is_bad_input(work):
    """sigma_W^2 past float64's range: a usage error naming the value (it was exit 1 with
    Python's ``OverflowError: (34, 'Numerical result out of range')``)."""
    d, subs, _ = work
    out = _run(_with(BASE["advise"], "--sigma", "1e308"), d, subs)
    _check_error(*out, expected=(2,))
    assert "too large" in out[1].stderr


@pytest.mark.parametrize("command", sorted(BASE))
def test_baseline_succeeds(work, command):
    """The valid invocation every case mutates runs: each case differs by its bad value."""
    d, subs, _ = work
    args, result, _, _ = _run(BASE[command], d, subs)
    assert result.exit_code == 0, f"{args}: {result.stderr}"


def test_case_count(capsys):
    """How many cases the tables generate, per command and option class (docs/reliability.md)."""
    per = collections.Counter()
    for p in _option_cases():
        command, kind = p.values[0], p.values[1]
        per[(command, kind)] += 1
    for p in _input_cases():
        per[(p.values[0][0], "input file")] += 1
    n_stores = 9  # _make_stores
    for use in STORE_USES:
        per[(use[0], "damaged store")] += n_stores
    for p in CONFLICTS:
        per[(p.values[0][0], "conflicting values")] += 1
    for a in UNWRITABLE:
        per[(a[0], "unwritable destination")] += 1
    for a in HUGE:
        per[(a[0], "huge count")] += 1
    for a, _ in EXTREME:
        per[(a[0], "extreme valid float")] += 1
    total = sum(per.values())
    with capsys.disabled():
        print(f"\nCLI fuzz cases: {total}")
        for (command, kind), n in sorted(per.items()):
            print(f"  {command:<14} {kind:<24} {n:>4}")
    assert total > 800


# --------------------------------------------------------------------------- real processes

SUBPROCESS_CASES = [
    (["train", "--T", "nan", "--sigma", "1"], 2),
    (["simulate", "--T", "1", "--seeds", HUGE_INT], 2),
    (["spectrum", "{text}"], 2),
    (["train", "--T", "1", "--sigma", "1", "--out", "/proc/x/out.npz"], 2),
    (["plot", "{tmp}/nothing.zarr", "--out", "{tmp}/figs"], 2),
]


@pytest.mark.parametrize("args, code", SUBPROCESS_CASES, ids=lambda a: str(a))
def test_entry_point(tmp_path, args, code):
    """The installed ``dysonsgd`` script: same exit status, one line, nothing written."""
    exe = shutil.which("dysonsgd")
    cmd = [exe] if exe else [sys.executable, "-m", "dysonsgd.cli"]
    text = tmp_path / "text.npz"
    text.write_text("hello")
    before = _listing(tmp_path)
    args = [a.format(tmp=tmp_path, text=text) for a in args]
    proc = subprocess.run(cmd + args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert _listing(tmp_path) == before

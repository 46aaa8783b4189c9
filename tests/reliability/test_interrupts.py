"""Ctrl-C at any moment, and counts at their limits (issue 7 leftovers).

- The numba engine runs the epochs in blocks, one kernel call each; Python sees a Ctrl-C
  only between calls, so nothing in a call or before the first one may grow with
  ``epochs`` (it did: an O(epochs) save-slot table, 8 GB filled in one C loop for
  ``--epochs 10**9``). The records must not depend on how the epochs are cut into blocks.
- ``dysonsgd ...`` interrupted at any moment after the ``dysonsgd.cli`` package starts
  importing prints one line and exits 130 (or finishes and exits 0), never a traceback.
- Counts beyond the engines' int range are refused with a ValueError naming the value
  and the range (here the engine; train() and save_schedule() in tests/sgd/test_sgd.py).

The subprocess tests send SIGINT at moments drawn from fixed-seed generators (the seed is
a per-test constant, so a failing moment can be replayed); where a moment lands depends
on the machine's load, so each outcome is checked for the invariant and the outcomes are
counted and printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dysonsgd import _seeding
from dysonsgd._validate import MAX_COUNT
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.sgd import SGDResult, engine, save_schedule

INTERRUPTED = "Interrupted: nothing was written."

# --------------------------------------------------------------------------- blocks

# The identity network at lr = 0.6 diverges for two of these three seeds, at steps 34
# (epoch 7) and 7 (epoch 2) in the fixed order, 13 (epoch 3) and 9 (epoch 2) shuffled,
# and not for the third (checked below, so that the test keeps covering divergence after
# the first block). Fixed entropy: the same networks every run.
BLOCKS = NetworkConfig(K=4, L=8, n_batches=5, activation="identity")
BLOCKS_ENTROPY = 20250901


def _blocks_run(monkeypatch, shuffle, steps_per_block=None, perm_entries=None):
    if steps_per_block is not None:
        monkeypatch.setattr(engine, "_STEPS_PER_BLOCK", steps_per_block)
    if perm_entries is not None:
        monkeypatch.setattr(engine, "_PERM_ENTRIES", perm_entries)
    inst = make_instances(BLOCKS, 1.0, 3, BLOCKS_ENTROPY)
    rngs = (
        [_seeding.stream(BLOCKS_ENTROPY, k, _seeding.SHUFFLE) for k in range(3)]
        if shuffle
        else None
    )
    return engine.run(inst, 0.6, 40, save_schedule(40, 9), rngs)


@pytest.mark.parametrize("shuffle", [False, True])
def test_records_do_not_depend_on_the_block_length(monkeypatch, shuffle):
    """Blocks of 1 and 3 epochs give bit-identical records to one block of all 40.

    The default block (200,000 steps / 15 item-steps per epoch) holds all 40 epochs; a
    block of 1 epoch (``_STEPS_PER_BLOCK = 1``) makes every divergence happen in an
    earlier block than most saves and the per-epoch losses it must fill; 45 steps gives
    blocks of 3 epochs, which start between save epochs (every 5th). With shuffling, the
    sample orders drawn ahead are cut the same way (``_PERM_ENTRIES``). The arithmetic
    of every step is the same, so equality is exact; the numpy reference is tied to the
    default block by tests/sgd/test_sgd_engine.py.
    """
    whole = _blocks_run(monkeypatch, shuffle)
    assert whole.diverged.sum() == 2 and whole.diverged_step.max() >= 2 * BLOCKS.n_batches
    for steps, perms in ((1, 1), (45, 3 * 3 * BLOCKS.n_samples)):
        cut = _blocks_run(monkeypatch, shuffle, steps, perms)
        for name in ("W", "grad", "loss", "epoch_loss", "diverged", "diverged_step"):
            np.testing.assert_array_equal(
                getattr(cut, name), getattr(whole, name), err_msg=f"{name}, {steps} steps"
            )


def test_engine_refuses_epochs_beyond_the_int_range():
    """The engine's own check (train() and save_schedule() are tested in test_sgd.py)."""
    inst = make_instances(BLOCKS, 1.0, 1, BLOCKS_ENTROPY)
    with pytest.raises(ValueError, match=f"epochs must be an integer from 1 to {MAX_COUNT}"):
        engine.run(inst, 0.1, MAX_COUNT + 1, np.array([0, 1]), None)


# --------------------------------------------------------------------------- processes

CLI_DIR = str(Path(__file__).resolve().parents[2] / "cli")


def _sigint_default() -> None:
    """In the child: SIGINT to its default action. A test run started as a background job
    of a non-interactive shell ignores SIGINT, and an ignored signal is inherited across
    exec, so the CLI would never see the Ctrl-C under test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen(cmd, cwd):
    return subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_sigint_default,
    )  # fmt: skip


def _sigint_and_wait(proc, timeout=120):
    """Send SIGINT to the process group; (seconds from signal to exit, stderr)."""
    t0 = time.monotonic()
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"no exit within {timeout} s of SIGINT")
    return time.monotonic() - t0, err


def _long_run_epochs(n_seeds: int) -> int:
    """--epochs of a valid run that cannot finish: 10**9, or what half the memory holds.

    The per-epoch losses are 8 bytes per seed and epoch and count in the command's memory
    check (allocated lazily, touched as the epochs run); half the machine keeps the run
    clear of that check on a small CI machine, where 10**9 x 2 seeds (16 GB) is refused.
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 2**34
    return int(min(10**9, memory // (2 * 8 * n_seeds)))


# Bound on the time from SIGINT to exit of a long run. After the fix the wait is one
# kernel block (_STEPS_PER_BLOCK = 200,000 seed-steps: 0.16 s at the paper's 0.8 us per
# step on one thread, benchmarks/results/sgd.md) plus the exit (~0.1 s); measured 0.17-0.41
# s on a shared 2-core machine at load ~4. 5 s leaves a factor > 10 for a slower or busier
# machine, and is below what the defect gave (8.6-22 s: the 8 GB table filled in one
# uninterruptible C loop). A responsiveness bound, not a speed claim.
CTRL_C_BOUND = 5.0


@pytest.mark.slow
def test_long_run_stops_within_seconds_of_ctrl_c(tmp_path):
    """A valid run of 10**9 epochs, Ctrl-C at 3 moments: exit 130, one line, no file."""
    epochs = _long_run_epochs(2)
    args = ["train", "--T", "0.03125", "--sigma", "1", "--epochs", str(epochs),
            "--n-batches", "1000", "--seeds", "2", "--save-points", "11",
            "--out", "r.npz"]  # fmt: skip
    # seeded moments from 1 s (start-up done, the run allocating or computing) to 4 s
    latencies = []
    for k, delay in enumerate(np.random.default_rng(2611).uniform(1.0, 4.0, 3)):
        d = tmp_path / f"run{k}"
        d.mkdir()
        proc = _popen([sys.executable, "-m", "dysonsgd.cli", *args], d)
        time.sleep(delay)
        latency, err = _sigint_and_wait(proc)
        latencies.append(round(latency, 2))
        where = f"SIGINT after {delay:.2f} s: exit {proc.returncode} after {latency:.2f} s\n{err}"
        assert proc.returncode == 130, where
        assert err.strip().splitlines()[-1] == INTERRUPTED, where
        assert "Traceback" not in err, where
        assert list(d.iterdir()) == [], where
        assert latency < CTRL_C_BOUND, where
    print(f"\nlong run ({epochs} epochs): seconds from SIGINT to exit {latencies}")


#: A short run (about 1 s here) so that the moments cover start-up, training, writing
#: and the end.
SHORT = ["train", "--T", "0.03125", "--sigma", "1", "--epochs", "10", "--n-batches", "300",
         "--save-points", "11", "--out", "r.npz"]  # fmt: skip

#: The console script ``dysonsgd`` (``from dysonsgd.cli.main import main; sys.exit(main())``
#: with ``argv[0]`` ending in ``dysonsgd``), with a marker on stderr once ``import
#: dysonsgd`` is done: the moments are counted from there, the start of the contract.
SCRIPT = (
    "import sys, dysonsgd; sys.stderr.write('@ready\\n'); sys.stderr.flush(); "
    "sys.argv[0] = 'dysonsgd'; from dysonsgd.cli.main import main; sys.exit(main())"
)


def _ignored_in_import_lock(err: str) -> bool:
    """stderr is only CPython's report of a KeyboardInterrupt swallowed by the weakref
    callback of an import lock (``_get_module_lock.<locals>.cb``, frozen importlib)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return (
        len(lines) >= 3
        and lines[0].startswith("Exception ignored in: <function _get_module_lock")
        and lines[1] == "Traceback (most recent call last):"
        and all("<frozen importlib._bootstrap" in ln or ln.startswith("    ") for ln in lines[2:-1])
        and lines[-1].strip() == "KeyboardInterrupt:"
    )


def _startup_outcome(code, err, out_file: Path, module: bool) -> str:
    """Classify one interrupted run, asserting the contract; return the outcome's name."""
    cli_frames = [ln for ln in err.splitlines() if CLI_DIR in ln]
    if code == 0:
        outcome = "finished (0)"
        if _ignored_in_import_lock(err) and not cli_frames:
            # The Ctrl-C landed in an import-lock callback before dysonsgd.cli installed its
            # handler; Python's default handler raised there, a weakref callback cannot
            # raise, so the interpreter printed "Exception ignored" and the run went on.
            # Outside the CLI's reach, like the other start-up cases below.
            outcome = "ignored by the interpreter before dysonsgd.cli (0)"
        else:
            assert "Traceback" not in err, err
        assert SGDResult.load(out_file).records.W.shape == (1, 11, 16, 32)
        return outcome
    before_handler = all(
        ln.strip().startswith(f'File "{CLI_DIR}/__init__.py"') and ln.endswith("in <module>")
        for ln in cli_frames
    )
    if code != 130 and before_handler:
        # Before cli/__init__.py installed its handler (interpreter start-up, site, `import
        # dysonsgd`, the first lines of the package): outside the CLI's reach. Python's own
        # traceback or -2; nothing written.
        assert code in (1, -signal.SIGINT), err
        assert not err or "KeyboardInterrupt" in err, err
        assert not out_file.exists()
        return "before dysonsgd.cli"
    assert code == 130, f"exit {code}\n{err}"
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == [INTERRUPTED], err
    assert not out_file.exists()
    assert [p for p in out_file.parent.iterdir()] == []
    return "interrupted (130)"


@pytest.mark.slow
@pytest.mark.parametrize("module", [False, True], ids=["console-script", "python-m"])
def test_ctrl_c_at_any_moment_of_startup_is_one_line(tmp_path, module):
    """SIGINT at 12 seeded moments in the first 1.2 s: exit 130 and one line, or 0.

    ``python -m dysonsgd.cli``: moments from the process start, so a few may land before
    the package starts importing (recognised by the absence of any cli/ frame in the
    traceback, counted apart). Console script: moments from the end of ``import dysonsgd``
    (a marker line), where the contract starts, so every outcome must be 130 or 0.
    """
    cmd = [sys.executable, *(["-m", "dysonsgd.cli"] if module else ["-c", SCRIPT]), *SHORT]
    rng = np.random.default_rng(1129 + module)
    outcomes = collections.Counter()
    for k, delay in enumerate(rng.uniform(0.0, 1.2, 12)):
        d = tmp_path / f"run{k}"
        d.mkdir()
        proc = _popen(cmd, d)
        if not module:
            assert proc.stderr.readline() == "@ready\n"
        time.sleep(delay)
        _, err = _sigint_and_wait(proc)
        try:
            outcomes[_startup_outcome(proc.returncode, err, d / "r.npz", module)] += 1
        except AssertionError as exc:
            raise AssertionError(f"SIGINT after {delay:.3f} s: {exc}") from None
    print(f"\n{'python -m' if module else 'console script'}: {dict(outcomes)}")


def test_importing_the_cli_as_a_library_keeps_sigint_handling():
    """Only the program installs the handler: not ``import dysonsgd``, not a library use."""
    code = (
        "import signal, dysonsgd, dysonsgd.cli.main; "
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr


def test_a_caught_interrupt_inside_exec_keeps_the_exit_status(tmp_path):
    """CPython 3.11 ends ``python -m`` with SIGINT (-2) after any KeyboardInterrupt that
    passed through ``exec()`` of a string, even a caught one (scipy imports numpy parts in
    such an exec). The program's exit hook keeps the status the command asked for."""
    (tmp_path / "execki.py").write_text(
        "import sys\n"
        "sys.argv[0] = 'dysonsgd'  # as the console script: the CLI installs its handler\n"
        "if '--cli' in sys.argv:\n"
        "    import dysonsgd.cli\n"
        "try:\n"
        "    exec('raise KeyboardInterrupt')\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "sys.exit(3)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))

    def status(*flags):
        cmd = [sys.executable, "-m", "execki", *flags]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=120)

    if sys.version_info[:2] == (3, 11):  # the CPython behaviour this works around
        assert status().returncode == -signal.SIGINT
    assert status("--cli").returncode == 3

"""The ``dysonsgd`` command-line interface (installed as ``dysonsgd.cli``).

Ctrl-C is handled from the first line of this package on, when it is run as the program
(``dysonsgd ...`` or ``python -m dysonsgd.cli ...``): the imports that follow (click,
numpy, numba: about half a second) would otherwise end in Python's ``KeyboardInterrupt``
traceback and exit status -2. Nothing is imported before the handler is in place but
modules the interpreter has already loaded (``os``, ``sys``) and built-in C modules
(``atexit``, ``_signal``). Imported as a
library (tests, notebooks) the package changes no signal handling, and ``import
dysonsgd`` never does.

Three phases of the program, told apart by the Python stack when the signal arrives:

- start-up (imports, parsing of ``sys.argv`` before the command group runs): nothing can
  have been written, so print :data:`INTERRUPTED` and exit 130 at once;
- the command group's ``main`` is on the stack: raise ``KeyboardInterrupt``, as Python's
  own handler does; the group (``cli/_common.py``) turns it into the same one line and
  exit 130, or hands a Ctrl-C swallowed by a ctypes callback back to the main thread;
- the program has returned (interpreter shutdown: joining threads, ``atexit``): the
  command has already finished and its output and exit status stand, so the signal is
  ignored; a second Ctrl-C while threads are joined ends the process (the default
  action). From the last ``atexit`` callback on, Ctrl-C is ignored: what is left is
  Python's own teardown.

One more repair, at exit: CPython 3.11 remembers any ``KeyboardInterrupt`` that passed
through ``exec()`` of a string (``_Py_UnhandledKeyboardInterrupt``), even when it was
caught later, and then ends ``python -m`` by killing itself with SIGINT (exit -2) instead
of the status asked for. scipy's ``array_api_compat`` imports numpy submodules inside such
an ``exec``, so a Ctrl-C there ended ``python -m dysonsgd.cli`` with -2 after the group had
printed its message (found by ``tests/reliability/test_interrupts.py``). The flag is cleared
unless a ``KeyboardInterrupt`` really went unhandled (then ``sys.last_value`` holds it).
"""

# ``_signal`` is the C module behind ``signal``: importing it runs no Python code, so the
# window before the handler below is in place is a few bytecodes (``signal.py`` builds
# enums first: a Ctrl-C landed there once in the start-up test).
import _signal as signal
import atexit
import os
import sys

#: The one line printed when Ctrl-C stops a command (exit status 130).
INTERRUPTED = "Interrupted: nothing was written."

#: Modules whose frames are the bottom of the stack while the program runs: runpy for
#: ``python -m dysonsgd.cli``, the console script's ``__main__`` for ``dysonsgd``.
_PROGRAM_BOTTOM = ("runpy", "__main__")


def _run_as_program() -> bool:
    """True when this process is ``dysonsgd ...`` or ``python -m dysonsgd.cli ...``."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) in ("dysonsgd", "dysonsgd.exe", "dysonsgd-script.py"):
        return True
    orig = getattr(sys, "orig_argv", [])
    for i, arg in enumerate(orig):
        if arg == "-m" and i + 1 < len(orig):
            return orig[i + 1].startswith("dysonsgd.cli")
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:].startswith("dysonsgd.cli")
    return False


def _group_main_code():
    common = sys.modules.get("dysonsgd.cli._common")
    group = getattr(common, "Group", None)
    return getattr(getattr(group, "main", None), "__code__", None)


def _on_sigint(signum, frame) -> None:
    """SIGINT handler of the program; see the module docstring for the three phases."""
    group_main = _group_main_code()
    bottom = None
    f = frame
    while f is not None:
        if group_main is not None and f.f_code is group_main:
            raise KeyboardInterrupt
        bottom = f
        f = f.f_back
    name = bottom.f_globals.get("__name__") if bottom is not None else None
    if name not in _PROGRAM_BOTTOM:
        # Interpreter shutdown: the command has finished. Let a second Ctrl-C kill.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        return
    try:
        os.write(2, (INTERRUPTED + "\n").encode())
    finally:
        # Start-up: no file is open, nothing to flush or clean; skip the unwinding of
        # half-done imports (their errors would be noise).
        os._exit(130)


def _at_exit() -> None:
    """The last ``atexit`` callback: keep the command's exit status (module docstring)."""
    if not isinstance(getattr(sys, "last_value", None), KeyboardInterrupt):
        try:
            import ctypes

            ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
        except (ImportError, ValueError, AttributeError, OSError):
            pass  # another Python: no such flag to clear
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if _run_as_program() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _on_sigint)
    atexit.register(_at_exit)  # registered first, so called last

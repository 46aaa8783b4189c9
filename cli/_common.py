"""What every command shares: validated option types, one-line errors, JSON, progress bars.

Commands parse and validate here, call the public API, and print; no numerics live in cli/.
A user mistake is a one-line ``Error: ...`` on stderr with exit status 2 and nothing written;
a runtime failure is a one-line message with exit status 1; Ctrl-C exits with 130.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import click
import numpy as np

from dysonsgd import _io
from dysonsgd._validate import MAX_COUNT
from dysonsgd.cli import INTERRUPTED

# --------------------------------------------------------------------------- option types


class _Number(click.ParamType):
    """A finite float with an optional lower bound (strict or not)."""

    def __init__(self, name: str, low: float | None, strict: bool) -> None:
        self.name = name
        self.low = low
        self.strict = strict

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number ({self.describe()})", param, ctx)
            if not math.isfinite(v):
                self.fail(f"{value!r} is not finite ({self.describe()})", param, ctx)
        if self.low is not None and (v <= self.low if self.strict else v < self.low):
            self.fail(f"{value} is out of range ({self.describe()})", param, ctx)
        return v

    def describe(self) -> str:
        if self.low is None:
            return "a finite number"
        return f"a finite number {'>' if self.strict else '>='} {self.low:g}"


#: MAX_COUNT (dysonsgd._validate) is the largest count an integer option takes, as in the
#: API. A base seed may use the full int64 range.
MAX_SEED = 2**63 - 1


class _Integer(click.ParamType):
    """An integer with a lower and an upper bound."""

    def __init__(self, name: str, low: int, high: int = MAX_COUNT) -> None:
        self.name = name
        self.low = low
        self.high = high

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        else:
            try:
                v = int(str(value).strip())
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not an integer (must be >= {self.low})", param, ctx)
        if v < self.low or v > self.high:
            self.fail(
                f"{value} is out of range (must be an integer from {self.low} to {self.high})",
                param,
                ctx,
            )
        return v


POSITIVE = _Number("positive number", 0.0, strict=True)
NONNEGATIVE = _Number("non-negative number", 0.0, strict=False)
FINITE = _Number("number", None, strict=False)
POSITIVE_INT = _Integer("positive integer", 1)
NONNEGATIVE_INT = _Integer("non-negative integer", 0)
SEED = _Integer("non-negative integer", 0, MAX_SEED)


class FloatList(click.ParamType):
    """A comma-separated list of finite floats, optionally all positive."""

    name = "list"

    def __init__(self, positive: bool = True) -> None:
        self.positive = positive

    def convert(self, value, param, ctx):
        if isinstance(value, (list, tuple)):
            return list(value)
        parts = [p.strip() for p in str(value).split(",")]
        if not parts or any(p == "" for p in parts):
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        out = []
        for p in parts:
            try:
                v = float(p)
            except ValueError:
                self.fail(f"{p!r} in {value!r} is not a number", param, ctx)
            if not math.isfinite(v) or (self.positive and v <= 0):
                what = "positive finite" if self.positive else "finite"
                self.fail(f"{p!r} in {value!r} must be a {what} number", param, ctx)
            out.append(v)
        return out


def output_path(ctx, param, value):
    """Click callback: an output file path that is checked writable before any work."""
    if value is None:
        return None
    try:
        return _io.check_writable(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def check_output_dir(option: str, path, what: str = "") -> Path:
    """Fail (exit 2) unless ``path`` is, or can be created as, a writable directory."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        fail(f"{option} {p} is a file; give a directory{what}")
    parent = p if p.exists() else p.parent
    if not parent.is_dir():
        fail(f"{option} {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        fail(f"{option} {p}: directory {parent} is not writable")
    return p


def plot_path(ctx, param, value):
    """Click callback: a figure path (.png, .pdf or .svg), checked writable before any work."""
    if value is None:
        return None
    if Path(value).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise click.BadParameter(
            f"{value}: the figure format comes from the suffix; use .png, .pdf or .svg",
            ctx=ctx,
            param=param,
        )
    return output_path(ctx, param, value)


# --------------------------------------------------------------------------- output


def to_jsonable(obj):
    """Convert numpy scalars and arrays (recursively) to JSON-serialisable values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None  # JSON has no NaN/inf
    if isinstance(obj, Path):
        return str(obj)
    return obj


def echo_json(obj) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(to_jsonable(obj), indent=None))


def progress_bar(total: int, *, enabled: bool, desc: str, unit: str = "it"):
    """A tqdm bar on stderr that appears only after 2 s, and only when ``enabled``."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not enabled,
        delay=2.0,
        leave=False,
        dynamic_ncols=True,
    )


def show_progress(json_output: bool) -> bool:
    """Progress bars only for humans: never with --json, never when stderr is not a terminal."""
    return (not json_output) and sys.stderr.isatty()


def physical_memory() -> int:
    """Bytes of physical memory of this machine (1 TiB if the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**40


def check_memory(n_floats: int, what: str) -> None:
    """Stop with a user error if ``n_floats`` float64 values would not fit in memory.

    A run that obviously cannot fit (``--seeds 1000000000``) is refused before any work,
    with the limit in the message, instead of swapping or being killed hours later.
    """
    need = 8 * int(n_floats)
    limit = physical_memory()
    if need > limit:
        fail(
            f"{what} needs about {need / 1e9:.3g} GB of memory, more than the "
            f"{limit / 1e9:.3g} GB of this machine (the limit); use fewer seeds, save points "
            "or a smaller network"
        )


def config_floats(config) -> int:
    """Float64 values one seed's network instance of a :class:`dysonsgd.model.NetworkConfig`
    holds (training set, features, matrices)."""
    n = config.n_batches * config.batch_size
    K, L, d_in = config.K, config.L, config.d_in
    return n * (d_in + L + 1 + K) + 4 * K * L + config.n_test * (d_in + L)


def default(cls, name: str):
    """The default of field ``name`` of the dataclass ``cls`` (e.g. ``NetworkConfig``).

    Options that set a field of the API's configuration take its default from here, so the
    command line and the API cannot drift apart.
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            break
    raise ValueError(f"{cls.__name__} has no field {name!r} with a default")


def checked_store(path, config=None):
    """The configuration of the sweep store at ``path``, after checking every array is there.

    :func:`dysonsgd.sweep.check_store` refuses (``ValueError``, exit 2) a path that holds no
    store, another configuration than ``config``, or a store with a missing or damaged
    array, naming the store; any other error of a damaged store (zarr, xarray, JSON) is
    turned into the same kind of one-line user error here, instead of surfacing later as a
    ``KeyError`` or a figure drawn from a partial store.
    """
    from dysonsgd import sweep

    try:
        stored = sweep.check_store(path, config)
        sweep.completed_cells(path)
    except ValueError:
        raise
    except Exception as exc:  # zarr/xarray/json errors of a damaged store
        fail(
            f"{path} is a damaged sweep store ({type(exc).__name__}: {exc}); move it away "
            "and rerun the sweep"
        )
    return stored


def fail(message: str) -> None:
    """Stop with a user error (exit status 2, one line)."""
    raise click.UsageError(message)


# --------------------------------------------------------------------------- the group


def quiet_abandoned_async_work() -> None:
    """After Ctrl-C, silence asyncio's reports of the work the interrupt abandoned.

    zarr runs store reads as tasks on its own event-loop thread; a Ctrl-C while the main
    thread waits for them (e.g. while a sweep store is opened) leaves them to fail at
    interpreter shutdown ("cannot schedule new futures after interpreter shutdown"), and
    asyncio logs each one with a traceback ("Task exception was never retrieved") after the
    one-line message. The command is over and nothing more will be written, so those
    reports carry no information (found by tests/reliability/test_faults.py).
    """
    import logging

    logging.getLogger("asyncio").disabled = True


class Group(click.Group):
    """A click group whose errors are one line on stderr, never a traceback.

    Exit 2 for usage errors and ``ValueError`` from the public API (bad input), 1 for other
    failures, 130 for Ctrl-C. Set ``DYSONSGD_DEBUG=1`` to see tracebacks.

    Commands can be loaded lazily: ``lazy_commands`` maps a command name to the module of
    ``dysonsgd.cli`` whose import registers it.
    """

    lazy_commands: dict[str, str] = {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            import importlib

            importlib.import_module(f"dysonsgd.cli.{self.lazy_commands[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        debug = os.environ.get("DYSONSGD_DEBUG") == "1"
        previous_hook = sys.unraisablehook

        def unraisable(u):
            # Ctrl-C inside a ctypes callback (numba's compiler calls back into Python) is
            # "ignored" with a traceback and the run goes on; hand it back to the main
            # thread instead, where it ends the command like any other Ctrl-C. From a timer
            # thread: raised at once, it would be raised (and ignored) inside this hook.
            if isinstance(u.exc_value, KeyboardInterrupt):
                import _thread
                import threading

                threading.Timer(0.01, _thread.interrupt_main).start()
                return
            previous_hook(u)

        sys.unraisablehook = unraisable
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(2)
        except ValueError as exc:
            if debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except (KeyboardInterrupt, click.exceptions.Abort) as exc:
            if isinstance(exc.__cause__, EOFError):  # click turns EOFError into Abort
                click.echo(f"Error: unexpected end of input ({exc.__cause__})", err=True)
                sys.exit(1)
            click.echo(INTERRUPTED, err=True)
            quiet_abandoned_async_work()
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            click.echo("Error: out of memory; use fewer seeds or save points.", err=True)
            sys.exit(1)
        except Exception as exc:  # a runtime failure: one line, exit 1
            if debug:
                raise
            click.echo(f"Error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)
        finally:
            sys.unraisablehook = previous_hook
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv

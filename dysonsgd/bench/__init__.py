"""Speed benchmarks: each module measures one part side by side with its baselines.

A benchmark is a module of this package named in :data:`BENCHMARKS`, with ``NAME: str`` and
``run(quick: bool = False) -> Table``: it measures and returns its table
(:class:`dysonsgd.bench._tables.Table`); it prints and writes nothing. :func:`run_benchmarks`
runs them, prints the tables, and writes ``<name>.md`` and ``<name>.json`` only into an
output directory it is given.

``dysonsgd bench`` runs them in a fresh process (``python -m dysonsgd.bench``) with BLAS
limited to one thread: the tables compare single-core costs, and a multi-threaded BLAS on a
shared machine adds contention, not speed, to the small matrix products of the numpy
reference. The checkout's ``python -m benchmarks`` writes the committed tables in
``benchmarks/results/``.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dysonsgd.bench._tables import Table, load_average, load_text

#: benchmark NAME -> module of this package, in the order they run. One line per benchmark.
BENCHMARKS: dict[str, str] = {
    "checks": "checks",
    "ladder": "ladder",
    "langevin": "langevin",
    "network": "network",
    "sgd": "sgd",
    "spectra": "spectra",
    "sweep": "sweep",
}

__all__ = ["BENCHMARKS", "Table", "load_average", "load_text", "run_benchmarks"]


def run_benchmarks(
    names: list[str] | None = None,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    echo: Callable[[str], None] = print,
) -> list[dict]:
    """Run the named benchmarks (all if None), print each table, write them only into ``out``.

    Parameters
    ----------
    names : list of str, optional
        Keys of :data:`BENCHMARKS`; default all, in that order.
    quick : bool
        Short runs (seconds each) instead of the full ones (minutes).
    out : path, optional
        Directory for ``<name>.md`` and ``<name>.json`` (created if missing, not its
        parents). Without it nothing is written.
    echo : callable(str)
        Where the tables and the one-line summaries go.

    Returns
    -------
    list of dict
        One record per benchmark: ``name``, ``seconds``, ``markdown``, ``tables`` (the JSON
        payloads), ``load_average`` ({"start", "end"}: (1, 5, 15)-minute triples),
        ``written`` (paths) and ``error`` (None, or the exception text: one failing
        benchmark does not stop the others).

    Raises
    ------
    ValueError
        If a name is not a known benchmark (the message lists the known ones).
    """
    names = list(BENCHMARKS) if not names else list(names)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    records = []
    for name in names:
        record = {"name": name, "markdown": "", "tables": [], "written": [], "error": None}
        start = load_average()
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"dysonsgd.bench.{BENCHMARKS[name]}")
            table: Table = mod.run(quick=quick)
            table = replace(table, load_start=start, load_end=load_average())
            record["markdown"] = table.markdown()
            record["tables"].append(table.payload())
            echo(record["markdown"])
            if out is not None:
                record["written"] = [str(p) for p in table.write(out)]
        except Exception as exc:  # report and carry on with the other benchmarks
            traceback.print_exc()
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["seconds"] = time.perf_counter() - t0
        end = load_average()
        record["load_average"] = {"start": start, "end": end}
        wrote = f"; wrote {', '.join(record['written'])}" if record["written"] else ""
        echo(
            f"[{name}: {record['seconds']:.1f} s, {load_text(start)} at the start, "
            f"{end[0]:.2f} at the end{', FAILED' if record['error'] else ''}{wrote}]\n"
        )
        records.append(record)
    return records


def main(argv: list[str] | None = None) -> int:
    """``python -m dysonsgd.bench [NAME ...] [--quick] [--json] [--list] [--out DIR]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m dysonsgd.bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs (seconds each)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=Path, help="write <name>.md/.json here (default: none)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    try:
        if args.json:
            # The tables and summaries go to stderr so that stdout is pure JSON.
            real_stdout, sys.stdout = sys.stdout, sys.stderr
            try:
                records = run_benchmarks(args.names, args.quick, args.out)
            finally:
                sys.stdout = real_stdout
            print(json.dumps(records, indent=1, default=float))
        else:
            records = run_benchmarks(args.names, args.quick, args.out)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 1 if any(r["error"] for r in records) else 0

"""Run the benchmarks: ``python -m benchmarks [NAME ...] [--quick] [--json] [--list]``.

Every module ``benchmarks/bench_*.py`` that defines ``NAME: str`` and
``run(quick: bool = False) -> str`` is a benchmark; ``run`` prints its table, writes
``benchmarks/results/<table>.json`` and ``.md`` (``benchmarks._common.write_table``) and
returns the markdown. With no names all of them run, in file order.

BLAS is limited to one thread (unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS
are set): the tables compare single-core costs, and a multi-threaded BLAS on a shared
machine adds contention, not speed, to the small matrix products of the numpy reference.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, str]:
    """Map benchmark NAME -> module name, for every valid ``bench_*.py`` (file order)."""
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    found: dict[str, str] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        modname = f"benchmarks.{path.stem}"
        mod = importlib.import_module(modname)
        name, run = getattr(mod, "NAME", None), getattr(mod, "run", None)
        if isinstance(name, str) and callable(run):
            found[name] = modname
    return found


def run_benchmarks(names: list[str] | None = None, quick: bool = False) -> list[dict]:
    """Run the named benchmarks (all if None); return one record per benchmark.

    Each record holds ``name``, ``seconds``, ``markdown`` (the returned table text),
    ``tables`` (the JSON payloads the benchmark wrote to results/ during the run) and
    ``error`` (None, or the exception text: one failing benchmark does not stop the rest).

    Raises
    ------
    ValueError
        If a name is not a known benchmark (the message lists the known ones).
    """
    known = discover()
    names = list(known) if not names else list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
        )
    results_dir = HERE / "results"
    out = []
    for name in names:
        mod = importlib.import_module(known[name])
        before = {p: p.stat().st_mtime_ns for p in results_dir.glob("*.json")}
        t0 = time.perf_counter()
        record = {"name": name, "markdown": "", "tables": [], "error": None}
        try:
            record["markdown"] = mod.run(quick=quick)
        except Exception as exc:  # report and carry on with the other benchmarks
            traceback.print_exc()
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["seconds"] = time.perf_counter() - t0
        for p in sorted(results_dir.glob("*.json")):
            if before.get(p) != p.stat().st_mtime_ns:
                record["tables"].append(json.loads(p.read_text()))
        out.append(record)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(discover()))
        return 0
    try:
        if args.json:
            # Tables printed by the benchmarks go to stderr so stdout is pure JSON.
            real_stdout, sys.stdout = sys.stdout, sys.stderr
            try:
                records = run_benchmarks(args.names, args.quick)
            finally:
                sys.stdout = real_stdout
            print(json.dumps(records, indent=1, default=float))
        else:
            records = run_benchmarks(args.names, args.quick)
            for r in records:
                print(f"[{r['name']}: {r['seconds']:.1f} s{', FAILED' if r['error'] else ''}]")
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 1 if any(r["error"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())

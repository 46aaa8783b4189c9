"""``dysonsgd bench``: run the speed benchmarks (:mod:`dysonsgd.bench`) and print their tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli


@cli.command("bench")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="Run only this benchmark (repeatable); default: all of them.",
)
@click.option("--full", is_flag=True, help="Long runs (minutes) instead of the quick ones.")
@click.option("--list", "list_only", is_flag=True, help="List the benchmarks and exit.")
@click.option("--json", "json_output", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    help="Write each table to DIR/<name>.md and .json (default: write nothing).",
)
def bench_command(only, full, list_only, json_output, out_dir):
    """Measure speed: every benchmark of dysonsgd.bench, quick versions by default.

    Prints each table with the load average (os.getloadavg) at the start and end of its
    run: on a shared machine the absolute times and projections depend on it. Writes files
    only with --out. The runs happen in a fresh Python process with BLAS limited to one
    thread (unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are set).
    """
    from dysonsgd.bench import BENCHMARKS

    known = list(BENCHMARKS)
    if list_only:
        if json_output:
            c.echo_json({"benchmarks": known})
        else:
            click.echo("\n".join(known))
        return
    unknown = [n for n in only if n not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}",
            param_hint="'--only'",
        )
    cmd = [sys.executable, "-m", "dysonsgd.bench", *only]
    if not full:
        cmd.append("--quick")
    if json_output:
        cmd.append("--json")
    if out_dir is not None:
        out = c.check_output_dir("--out", out_dir, " for the tables")
        cmd += ["--out", str(Path(out).resolve())]
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")  # before the child imports numpy
    if json_output:
        # The tables go to stderr, the JSON records to stdout.
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        try:
            records = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise click.ClickException("the benchmark run produced no JSON (see above)") from None
        c.echo_json(records)
    else:
        proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise click.ClickException(f"a benchmark failed (exit status {proc.returncode})")

"""``dysonsgd bench``: run the benchmarks (benchmarks/bench_*.py) and print their tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

import dysonsgd
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli


def _source_root() -> Path:
    """The checkout holding ``benchmarks/`` beside the ``dysonsgd`` package."""
    root = Path(dysonsgd.__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").is_file():
        c.fail(
            f"no benchmarks/ directory beside the installed package ({root}); "
            "dysonsgd bench runs from a source checkout (pip install -e .)"
        )
    return root


def _known(root: Path) -> list[str]:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.__main__ import discover

    return list(discover())


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
def bench_command(only, full, list_only, json_output):
    """Measure speed: every benchmarks/bench_*.py, quick versions by default (under a minute).

    Prints each table (also written to benchmarks/results/<name>.md and .json). The runs
    happen in a fresh Python process with BLAS limited to one thread, as
    ``python -m benchmarks --quick`` would do them.
    """
    root = _source_root()
    known = _known(root)
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
    cmd = [sys.executable, "-m", "benchmarks", *only]
    if not full:
        cmd.append("--quick")
    if json_output:
        cmd.append("--json")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    if json_output:
        # The tables go to stderr, the JSON records to stdout.
        proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
        try:
            records = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise click.ClickException("the benchmark run produced no JSON (see above)") from None
        c.echo_json(records)
    else:
        proc = subprocess.run(cmd, cwd=root, env=env)
    if proc.returncode != 0:
        raise click.ClickException(f"a benchmark failed (exit status {proc.returncode})")

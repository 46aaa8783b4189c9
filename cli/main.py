"""The ``dysonsgd`` command: a click group; each command lives in its own module.

A command module registers itself with ``@cli.command`` when it is imported. The group
imports it only when that command is asked for (or for ``--help``), so ``dysonsgd
simulate`` does not pay for the imports of ``phase-diagram`` (Dask, xarray) or
``spectrum`` (scipy.stats).
"""

from __future__ import annotations

import click

from dysonsgd import __version__
from dysonsgd.cli._common import Group

#: command name -> module under dysonsgd.cli that defines it. One line per command.
COMMANDS: dict[str, str] = {
    "advise": "advise",
    "bench": "bench",
    "compare": "compare",
    "phase-diagram": "phase_diagram",
    "plot": "plot_store",
    "simulate": "simulate",
    "spectrum": "spectrum",
    "train": "train",
}


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dysonsgd")
def cli() -> None:
    """Dyson Brownian motion of SGD weight matrices: train, simulate, compare."""


cli.lazy_commands = COMMANDS


def main() -> None:
    """Console-script entry point."""
    cli()

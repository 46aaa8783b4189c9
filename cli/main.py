"""The ``dysonsgd`` command: a click group; each command lives in its own module."""

from __future__ import annotations

import click

from dysonsgd import __version__
from dysonsgd.cli._common import Group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dysonsgd")
def cli() -> None:
    """Dyson Brownian motion of SGD weight matrices: train, simulate, compare."""


def main() -> None:
    """Console-script entry point."""
    cli()


# Commands register themselves on import, one line each.
from dysonsgd.cli import advise as _advise  # noqa: E402,F401
from dysonsgd.cli import bench as _bench  # noqa: E402,F401
from dysonsgd.cli import compare as _compare  # noqa: E402,F401
from dysonsgd.cli import phase_diagram as _phase_diagram  # noqa: E402,F401
from dysonsgd.cli import plot_store as _plot_store  # noqa: E402,F401
from dysonsgd.cli import simulate as _simulate  # noqa: E402,F401
from dysonsgd.cli import spectrum as _spectrum  # noqa: E402,F401
from dysonsgd.cli import train as _train  # noqa: E402,F401

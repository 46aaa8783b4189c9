"""``dysonsgd plot``: the paper's phase-diagram figures from a sweep store."""

from __future__ import annotations

from pathlib import Path

import click

from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli


@cli.command("plot")
@click.argument("store", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Directory for figures.")
@click.option(
    "--format",
    "formats",
    type=click.Choice(["png", "pdf", "svg"]),
    multiple=True,
    help="Repeat for several; default: png and pdf.",
)
@click.option("--json", "json_output", is_flag=True, help="Print the written files as JSON.")
def plot_command(store, out_dir, formats, json_output):
    """Write paper Figs 1-9 from a phase-diagram STORE (made by dysonsgd phase-diagram).

    Axes as in the paper: x = 1/sigma_W, y = T, both log2. Cells not yet computed are blank.
    A store over batch sizes (phase-diagram --batch-sizes) gets the same figures for each
    batch size |B|, in OUT/b<|B|>/.
    """
    from dysonsgd import sweep
    from dysonsgd.plot import phase as _plot_phase

    p = Path(store)
    if not p.exists():
        c.fail(f"no store at {p}; make one with dysonsgd phase-diagram")
    out = c.check_output_dir("--out", out_dir)
    config = c.checked_store(p)
    if config.batch_sizes is None:
        targets = [(p, out)]
    else:  # one ordinary store per batch size, b<|B|>/, each into a folder of that name
        targets = [(child, out / child.name) for child in sweep.batch_stores(p).values()]
    written = []
    for child, child_out in targets:
        ds = sweep.load(child)
        written += _plot_phase.plot_store(ds, child_out, formats or _plot_phase.FORMATS)
    if json_output:
        c.echo_json({"store": str(p), "figures": [str(w) for w in written]})
        return
    click.echo(f"{len(written)} files written to {out}")
    for w in written:
        click.echo(f"  {w}")

"""``dysonsgd spectrum FILE``: level statistics of the user's own weight matrices."""

from __future__ import annotations

import click

from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.spectrum_report import MP_PVALUE_MIN, analyse_file


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


@cli.command(
    "spectrum", short_help="Level statistics of your own weight matrices (MP bulk, GOE/Poisson)."
)
@click.argument("file", type=click.Path(dir_okay=True))
@click.option(
    "--name",
    "names",
    multiple=True,
    help="Analyse only this array of an .npz (repeat for several). For a dysonsgd train "
    "file: W[seed=k] (final student) or W_teacher[seed=k].",
)
@click.option(
    "--margin",
    type=c.NONNEGATIVE,
    default=2.0,
    show_default=True,
    help="Outliers: above the Marchenko-Pastur edge + margin Tracy-Widom units (named only "
    "if the bulk passes the Marchenko-Pastur test).",
)
@click.option("--unfolding", type=click.Choice(["marchenko-pastur", "polynomial"]),
              default="marchenko-pastur", show_default=True,
              help="Unfolding of the bulk before the spacing statistics.")  # fmt: skip
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
def spectrum_command(file, names, margin, unfolding, json_output, plot):
    """Compare the spectra of weight matrices in FILE with random-matrix theory.

    FILE is a .npy matrix, or an .npz of named 2-D arrays (numpy.savez, e.g. one per layer),
    or a `dysonsgd train --out` file (then: each seed's final W and its teacher). For each
    matrix: singular values; a Marchenko-Pastur fit of the noise bulk of X = W W^T (ratio
    from the shape, scale fitted), a test of the bulk against that law (KS distance with a
    Monte Carlo p-value, "MP p"), and, if it passes, the outliers above its edge (the learned
    structure; "-" when the bulk is not Marchenko-Pastur); level statistics of the bulk
    against GOE (repelling levels, as for noise and for Dyson Brownian motion) and Poisson
    (uncorrelated levels): the mean spacing ratio <r> (GOE 0.531, Poisson 0.386), KS tests of
    the unfolded spacings, the Brody parameter q. See docs/spectrum.md for what the numbers
    mean and when they are unreliable.
    """
    report = analyse_file(file, list(names) if names else None, margin=margin, unfolding=unfolding)
    loaded, reports, pooled = report.file, report.reports, report.pooled

    written = []
    if plot is not None:
        from dysonsgd.plot import spectrum as _plot_spectrum

        written = [str(p) for p in _plot_spectrum.spectrum_figure(list(reports), plot)]

    if json_output:
        c.echo_json({**report.to_dict(), "plot": written})
        return

    click.echo(
        f"{loaded.path} ({loaded.kind}): {len(reports)} "
        f"{'matrix' if len(reports) == 1 else 'matrices'}; "
        f"<r>: GOE 0.531, Poisson 0.386; outliers above MP edge + {margin:g} TW, named only "
        f"if the bulk passes the MP test (MP p > {MP_PVALUE_MIN:g})"
    )
    width = max(12, *(len(r.name) for r in reports))
    click.echo(
        f"{'name':<{width}} {'shape':>11} {'s_max':>9} {'MP scale':>9} {'outl':>4} "
        f"{'MP p':>6} {'<r> +- se':>15} {'KS p Wig':>9} {'KS p Poi':>9} {'Brody q':>7}  reliable"
    )
    for rep in reports:
        shape = f"{rep.shape[0]}x{rep.shape[1]}"
        if rep.mean_spacing_ratio is None:
            ratio = "-"
        else:
            ratio = f"{rep.mean_spacing_ratio:.3f} +- {rep.mean_spacing_ratio_stderr:.3f}"
        click.echo(
            f"{rep.name:<{width}} {shape:>11} {rep.singular_values[0]:>9.4g} "
            f"{_fmt(rep.mp_scale, '.4g'):>9} {_fmt(rep.n_outliers, 'd'):>4} "
            f"{_fmt(rep.mp_ks_pvalue, '.2g'):>6} {ratio:>15} "
            f"{_fmt(rep.ks_wigner_pvalue, '.2g'):>9} {_fmt(rep.ks_poisson_pvalue, '.2g'):>9} "
            f"{_fmt(rep.brody_q, '.2f'):>7}  {'yes' if rep.reliable else 'no'}"
        )
    for p in pooled:
        click.echo(
            f"pooled <r> of {p.group} over {len(p.names)} seeds: {p.mean:.3f} +- {p.stderr:.3f} "
            f"({p.z_goe:+.1f} se from GOE, {p.z_poisson:+.1f} se from Poisson; "
            f"{'separates' if p.reliable else 'cannot separate'} GOE from Poisson)"
        )
    # identical warnings of several matrices are printed once
    grouped: dict[str, list[str]] = {}
    for d in report.arrays():
        for w in d["warnings"]:
            grouped.setdefault(w, []).append(d["name"])
    for w, who in grouped.items():
        click.echo(f"warning [{', '.join(who)}]: {w}")
    if loaded.skipped:
        click.echo(f"skipped (not 2-D): {', '.join(loaded.skipped)}")
    for path in written:
        click.echo(f"figure written to {path}")

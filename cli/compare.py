"""``dysonsgd compare``: SGD and the Langevin network model from the same seeds, side by side."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from dysonsgd import _io
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.langevin import SCHEMES
from dysonsgd.model import NetworkConfig

BASES = ("teacher", "student")


@cli.command("compare")
@click.option("--T", "T", type=c.POSITIVE, required=True, help="Temperature T = eps/|B| (> 0).")
@click.option("--sigma", type=c.POSITIVE, required=True, help="Initial width sigma_W (> 0).")
@click.option("--epochs", type=c.POSITIVE_INT, required=True, help="SGD epochs.")
@click.option("--seeds", type=c.POSITIVE_INT, default=4, show_default=True,
              help="Ensemble size (the same seeds for SGD and Langevin).")  # fmt: skip
@click.option("--batch-size", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "batch_size"),
              show_default=True, help="|B|; the learning rate is eps = T |B|.")  # fmt: skip
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option("--n-batches", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "n_batches"),
              show_default=True,
              help="Batches per epoch (training set n_batches x |B|).")  # fmt: skip
@click.option("--save-points", type=c.POSITIVE_INT,
              help="Saves incl. 0 and the end; save-points - 1 must divide --epochs "
                   "(default: the most, up to 21, that do).")  # fmt: skip
@click.option("--refresh", type=c.POSITIVE, default=1.0, show_default=True,
              help="Langevin time between coefficient measurements.")  # fmt: skip
@click.option(
    "--dt", type=c.POSITIVE, help="Largest Langevin step (default min(refresh/2, t/1000))."
)
@click.option("--scheme", type=click.Choice(list(SCHEMES)), default="semi_implicit",
              show_default=True)  # fmt: skip
@click.option("--basis", type=click.Choice(BASES), default="teacher", show_default=True,
              help="Fixed singular basis of the network model.")  # fmt: skip
@click.option("--order-eps", is_flag=True,
              help="Add the order-eps drift terms (experimental; stalls at T = 4).")  # fmt: skip
@click.option("--exchange", is_flag=True,
              help="Let adjacent Langevin levels swap basis pairs instead of jamming.")  # fmt: skip
@click.option("--shuffle", is_flag=True, help="Reshuffle SGD's batches every epoch.")
@click.option("--out", type=click.Path(), callback=c.output_path, help="Write an .npz here.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
def compare_command(
    T, sigma, epochs, seeds, batch_size, seed, n_batches, save_points, refresh, dt, scheme,
    basis, order_eps, exchange, shuffle, out, json_output, plot,
):  # fmt: skip
    """Train SGD and integrate the Langevin network model from the same seeds; compare.

    Both start from the same networks and initial matrices; the Langevin model runs over the
    same span (t = eps x steps) with saves at SGD's save epochs. Prints the phase of each
    ensemble, the KS and 1-Wasserstein distances between their final eigenvalue
    distributions and between their spacing ratios, and their level statistics against GOE.
    """
    from dysonsgd.compare import MAX_SAVE_POINTS, compare, default_save_points

    if save_points is not None:
        if save_points < 2:
            c.fail(f"Invalid value for '--save-points': {save_points}; need at least 2")
        if epochs % (save_points - 1):
            c.fail(
                f"Invalid value for '--save-points': {save_points - 1} intervals do not divide "
                f"--epochs {epochs}; use {default_save_points(epochs)} or leave it unset"
            )
    config = NetworkConfig(n_batches=n_batches, batch_size=batch_size)
    n_saves = MAX_SAVE_POINTS if save_points is None else save_points
    c.check_memory(
        seeds * (c.config_floats(config) + 4 * n_saves * config.K * config.L),
        f"--seeds {seeds} x --save-points {n_saves}",
    )  # fmt: skip
    time_ = T * batch_size * n_batches * epochs
    if dt is not None and dt >= time_:
        c.fail(f"Invalid value for '--dt': {dt:g} must be smaller than the Langevin time "
               f"{time_:g} (= T |B| n_batches epochs)")  # fmt: skip
    n_refresh = int(math.ceil(time_ / refresh))
    # SGD runs first, then the Langevin model: the bar counts SGD's seed-epochs, then is reset
    # to count the Langevin coefficient refreshes, so each count and rate has one unit
    stage = ["sgd"]
    with c.progress_bar(
        seeds * epochs, enabled=c.show_progress(json_output),
        desc="compare: SGD seed-epochs", unit=" seed-epochs",
    ) as bar:  # fmt: skip

        def on_refresh():
            if stage[0] == "sgd":
                stage[0] = "langevin"
                bar.unit = " refreshes"
                bar.set_description("compare: Langevin refreshes")
                bar.reset(total=n_refresh)
            bar.update(1)

        comp = compare(
            config,
            temperature=T,
            sigma_w=sigma,
            epochs=epochs,
            n_seeds=seeds,
            seed=seed,
            save_points=save_points,
            shuffle=shuffle,
            basis=basis,
            refresh_interval=refresh,
            dt=dt,
            scheme=scheme,
            order_eps=order_eps,
            exchange=exchange,
            on_epoch=lambda: bar.update(1),
            on_refresh=on_refresh,
        )
    summary = {**comp.to_dict(), "out": out, "plot": plot}

    if out is not None:
        per = comp.eigenvalue_distances
        _io.atomic_savez(
            out,
            save_epochs=comp.save_epochs,
            times=comp.times,
            x_sgd=comp.sgd.eigenvalues,
            x_langevin=comp.langevin.eigenvalues,
            teacher=comp.teacher_eigenvalues,
            ks_statistic=np.array([d.ks_statistic for d in per]),
            ks_pvalue=np.array([d.ks_pvalue for d in per]),
            wasserstein=np.array([d.wasserstein for d in per]),
            wasserstein_stderr=np.array([d.wasserstein_stderr for d in per]),
            ratios_sgd=comp.sgd.statistics.spacing_ratios,
            ratios_langevin=comp.langevin.statistics.spacing_ratios,
            meta=np.array(
                json.dumps(
                    c.to_jsonable(
                        {
                            k: summary[k]
                            for k in (
                                "T",
                                "sigma",
                                "lr",
                                "batch_size",
                                "n_batches",
                                "epochs",
                                "seeds",
                                "seed",
                                "K",
                                "L",
                                "langevin_settings",
                            )
                        }  # fmt: skip
                        | {
                            "sgd_phase": comp.sgd.phase,
                            "langevin_phase": comp.langevin.phase,
                            "distance": summary["distance"],
                        }
                    )
                )
            ),
        )
    if plot is not None:
        from dysonsgd.plot import compare as _plot_compare

        _plot_compare.comparison_figure(comp, plot)

    if json_output:
        c.echo_json(summary)
        return
    d = comp.final_distance
    dr = comp.ratio_distance
    click.echo(
        f"compare  T={T:g}  sigma_W={sigma:g}  eps={comp.lr:g}  |B|={batch_size}  "
        f"n_batches={n_batches}  epochs={epochs}  seeds={seeds}  Langevin t={time_:g}"
    )
    click.echo(f"{'':>9} {'phase':>17} {'<x_1>':>10} {'<x_K>':>10} {'<r>':>14}  stopped")
    for e in (comp.sgd, comp.langevin):
        st = e.statistics
        click.echo(
            f"{e.name:>9} {e.phase:>17} {e.mean[-1, 0]:>10.4g} {e.mean[-1, -1]:>10.4g} "
            f"{st.mean_ratio:>7.3f}+-{st.mean_ratio_stderr:<5.3f}  {int(np.sum(e.stopped))}"
        )
    click.echo("GOE <r>: 0.5359 (3x3 surmise), 0.5307 (large N); Poisson 0.3863")
    click.echo(
        f"final eigenvalues: KS D={d.ks_statistic:.3f} (p={d.ks_pvalue:.2g})  "
        f"W1={d.wasserstein:.4g}+-{d.wasserstein_stderr:.2g}"
    )
    click.echo(
        f"spacing ratios:    KS D={dr.ks_statistic:.3f} (p={dr.ks_pvalue:.2g})  "
        f"W1={dr.wasserstein:.4g}+-{dr.wasserstein_stderr:.2g}"
    )
    for what, path in (("results", out), ("figure", plot)):
        if path is not None:
            click.echo(f"{what} written to {path}")

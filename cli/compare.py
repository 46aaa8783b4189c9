"""``dysonsgd compare``: the ladder of models from SGD down to Dyson Brownian motion."""

from __future__ import annotations

import json

import click
import numpy as np

from dysonsgd import _io
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.langevin import SCHEMES
from dysonsgd.model import NetworkConfig

BASES = ("teacher", "student")
SAMPLINGS = ("fixed", "shuffle", "iid")


class _Refresh(click.ParamType):
    """A positive number or ``auto``."""

    name = "positive number or auto"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return c.POSITIVE.convert(value, param, ctx)


@cli.command("compare")
@click.option("--T", "T", type=c.POSITIVE, required=True, help="Temperature T = eps/|B| (> 0).")
@click.option("--sigma", type=c.POSITIVE, required=True, help="Initial width sigma_W (> 0).")
@click.option("--epochs", type=c.POSITIVE_INT, required=True, help="SGD epochs.")
@click.option("--seeds", type=c.POSITIVE_INT, default=4, show_default=True,
              help="Ensemble size (the same seeds for every rung).")  # fmt: skip
@click.option("--rungs", default="all", show_default=True,
              help="Comma-separated subset of sgd,gd,sde,dbm_rotating,dbm_frozen "
                   "(sgd always runs: it is the reference).")  # fmt: skip
@click.option("--sampling", type=click.Choice(SAMPLINGS),
              help="SGD's batches: the paper's fixed order (default), reshuffled every "
                   "epoch, or i.i.d. with replacement (the sde rung's process).")  # fmt: skip
@click.option("--shuffle", is_flag=True, help="Alias of --sampling shuffle.")
@click.option("--batch-size", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "batch_size"),
              show_default=True, help="|B|; the learning rate is eps = T |B|.")  # fmt: skip
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option("--n-batches", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "n_batches"),
              show_default=True,
              help="Batches per epoch (training set n_batches x |B|).")  # fmt: skip
@click.option("--save-points", type=c.POSITIVE_INT,
              help="Saves incl. 0 and the end; save-points - 1 must divide --epochs "
                   "(default: the most, up to 21, that do).")  # fmt: skip
@click.option("--refresh", type=_Refresh(), default="auto", show_default=True,
              help="Langevin time between coefficient measurements of the DBM rungs, or "
                   "'auto' (chosen from the dynamics).")  # fmt: skip
@click.option("--dt", type=c.POSITIVE, help="Largest Langevin step of the DBM rungs.")
@click.option("--sde-dt", type=c.POSITIVE,
              help="Euler-Maruyama step of the sde rung, at most eps (default eps).")  # fmt: skip
@click.option("--scheme", type=click.Choice(list(SCHEMES)), default="semi_implicit",
              show_default=True, help="Integrator of the DBM rungs.")  # fmt: skip
@click.option("--basis", type=click.Choice(BASES), default="teacher", show_default=True,
              help="Frozen singular basis of the dbm_frozen rung.")  # fmt: skip
@click.option("--order-eps", is_flag=True,
              help="Add the order-eps drift to the sde and DBM rungs (experimental).")  # fmt: skip
@click.option("--exchange", is_flag=True,
              help="Let adjacent DBM levels swap basis pairs instead of jamming.")  # fmt: skip
@click.option("--out", type=click.Path(), callback=c.output_path, help="Write an .npz here.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
def compare_command(
    T, sigma, epochs, seeds, rungs, sampling, shuffle, batch_size, seed, n_batches,
    save_points, refresh, dt, sde_dt, scheme, basis, order_eps, exchange, out, json_output,
    plot,
):  # fmt: skip
    """Run the ladder SGD | gd | sde | dbm_rotating | dbm_frozen from the same seeds.

    Every rung starts from the same networks and initial matrices and runs over the same
    span (Langevin time t = eps x steps) with saves at SGD's save epochs. Prints per rung its
    phase, <x_1>, <x_K>, the mean spacing ratio <r>, and the KS and 1-Wasserstein distances of
    its final eigenvalues to SGD's; then the distance between consecutive rungs, i.e. what
    each approximation (batch noise, continuous time, reduction to singular values, frozen
    singular vectors) costs. docs/tutorial-theory-vs-sgd.md walks through it.
    """
    from dysonsgd.compare import MAX_SAVE_POINTS, compare, default_save_points, parse_rungs

    if save_points is not None:
        if save_points < 2:
            c.fail(f"Invalid value for '--save-points': {save_points}; need at least 2")
        if epochs % (save_points - 1):
            c.fail(
                f"Invalid value for '--save-points': {save_points - 1} intervals do not divide "
                f"--epochs {epochs}; use {default_save_points(epochs)} or leave it unset"
            )
    if shuffle and sampling not in (None, "shuffle"):
        c.fail(f"--shuffle and --sampling {sampling} contradict each other; give one")
    sampling = "shuffle" if shuffle else (sampling or "fixed")
    try:
        names = parse_rungs(rungs)
    except ValueError as e:
        c.fail(f"Invalid value for '--rungs': {e}")
    config = NetworkConfig(n_batches=n_batches, batch_size=batch_size)
    n_saves = MAX_SAVE_POINTS if save_points is None else save_points
    c.check_memory(
        len(names) * seeds * (c.config_floats(config) + 4 * n_saves * config.K * config.L),
        f"--seeds {seeds} x --save-points {n_saves} x {len(names)} rungs",
    )  # fmt: skip
    eps = T * batch_size
    time_ = eps * n_batches * epochs
    if dt is not None and dt >= time_:
        c.fail(f"Invalid value for '--dt': {dt:g} must be smaller than the Langevin time "
               f"{time_:g} (= T |B| n_batches epochs)")  # fmt: skip
    if sde_dt is not None and sde_dt > eps:
        c.fail(f"Invalid value for '--sde-dt': {sde_dt:g} must be at most eps = {eps:g}")
    # one bar per rung: it is reset when the next rung starts, so each count has one unit
    stage = [None]
    with c.progress_bar(
        1000, enabled=c.show_progress(json_output), desc="compare: sgd", unit=" permille"
    ) as bar:

        def on_progress(rung, done, total):
            if stage[0] != rung:
                stage[0] = rung
                bar.set_description(f"compare: {rung}")
                bar.reset(total=1000)
            n = int(1000 * min(done / total, 1.0)) if total > 0 else 1000
            bar.update(max(n - bar.n, 0))

        comp = compare(
            config,
            temperature=T,
            sigma_w=sigma,
            epochs=epochs,
            n_seeds=seeds,
            seed=seed,
            save_points=save_points,
            rungs=names,
            sampling=sampling,
            basis=basis,
            refresh_interval=refresh,
            dt=dt,
            sde_dt=sde_dt,
            scheme=scheme,
            order_eps=order_eps,
            exchange=exchange,
            on_progress=on_progress,
        )
    summary = {**comp.to_dict(), "out": out, "plot": plot}

    if out is not None:
        arrays = {f"x_{r.name}": r.eigenvalues for r in comp.rungs}
        arrays |= {f"ratios_{r.name}": r.statistics.spacing_ratios for r in comp.rungs}
        for d in comp.distances_to_sgd:
            per = d.per_save_point
            arrays[f"ks_statistic_{d.rung}"] = np.array([p.ks_statistic for p in per])
            arrays[f"ks_pvalue_{d.rung}"] = np.array([p.ks_pvalue for p in per])
            arrays[f"wasserstein_{d.rung}"] = np.array([p.wasserstein for p in per])
        keys = ("T", "sigma", "lr", "batch_size", "n_batches", "epochs", "seeds", "seed",
                "sampling", "K", "L")  # fmt: skip
        meta = {k: summary[k] for k in keys}
        meta["rungs"] = [
            {k: r[k] for k in ("name", "phase", "settings", "seconds")}
            | ({"distance_to_sgd": r["distance_to_sgd"]} if "distance_to_sgd" in r else {})
            for r in summary["rungs"]
        ]
        _io.atomic_savez(
            out,
            save_epochs=comp.save_epochs,
            times=comp.times,
            teacher=comp.teacher_eigenvalues,
            meta=np.array(json.dumps(c.to_jsonable(meta))),
            **arrays,
        )
    if plot is not None:
        from dysonsgd.plot import compare as _plot_compare

        _plot_compare.comparison_figure(comp, plot)

    if json_output:
        c.echo_json(summary)
        return
    click.echo(
        f"compare  T={T:g}  sigma_W={sigma:g}  eps={comp.lr:g}  |B|={batch_size}  "
        f"n_batches={n_batches}  epochs={epochs}  seeds={seeds}  sampling={comp.sampling}  "
        f"Langevin t={time_:g}"
    )
    click.echo(
        f"{'rung':>13} {'phase':>17} {'<x_1>':>10} {'sd x_1':>9} {'<x_K>':>10} "
        f"{'<r>':>13}  {'KS D to SGD (p)':>18} {'W1 to SGD':>10} {'stopped':>7} {'s':>6}"
    )
    to_sgd = {d.rung: d.eigenvalues for d in comp.distances_to_sgd}
    for r in comp.rungs:
        st = r.statistics
        d = to_sgd.get(r.name)
        dist = "" if d is None else f"{d.ks_statistic:.3f} ({d.ks_pvalue:.2g})"
        w1 = "" if d is None else f"{d.wasserstein:.4g}"
        click.echo(
            f"{r.name:>13} {r.phase:>17} {r.mean[-1, 0]:>10.4g} {r.std[-1, 0]:>9.3g} "
            f"{r.mean[-1, -1]:>10.4g} {st.mean_ratio:>6.3f}+-{st.mean_ratio_stderr:<5.3f} "
            f"{dist:>18} {w1:>10} {int(np.sum(r.stopped)):>7} {r.seconds:>6.1f}"
        )
    click.echo("GOE <r>: 0.5359 (3x3 surmise), 0.5307 (large N); Poisson 0.3863")
    click.echo("what each step down the ladder costs (final eigenvalues):")
    for s in comp.steps:
        e = s.eigenvalues
        click.echo(
            f"  {s.reference:>12} -> {s.rung:<12}  KS D={e.ks_statistic:.3f} "
            f"(p={e.ks_pvalue:.2g})  W1={e.wasserstein:.4g}  [{s.approximation}]"
        )
    for what, path in (("results", out), ("figure", plot)):
        if path is not None:
            click.echo(f"{what} written to {path}")

"""``dysonsgd phase-diagram``: a resumable (T, sigma_W) sweep on Dask into a Zarr store."""

from __future__ import annotations

import errno
import sys
import textwrap
from pathlib import Path

import click

from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.cli.train import one_line_warnings
from dysonsgd.model import NetworkConfig
from dysonsgd.sgd import SAMPLINGS
from dysonsgd.sgd.api import SAVE_SCHEDULES
from dysonsgd.sweep.config import ENGINES, SweepConfig


class _BatchSizes(click.ParamType):
    """A comma-separated list of positive integers (batch sizes |B|)."""

    name = "list"

    def convert(self, value, param, ctx):
        if isinstance(value, (list, tuple)):
            return tuple(value)
        parts = [p.strip() for p in str(value).split(",")]
        out = []
        for p in parts:
            try:
                b = int(p)
            except ValueError:
                self.fail(f"{p!r} in {value!r} is not an integer batch size", param, ctx)
            if b < 1:
                self.fail(f"{p!r} in {value!r} must be a positive integer", param, ctx)
            out.append(b)
        return tuple(out)


@cli.command("phase-diagram")
@click.option(
    "--grid",
    type=click.Choice(["paper", "small"]),
    default=None,
    help="Named grid: paper (12 x 12) or small (3 T x 4 sigma_W, all three phases). "
    "Default: small, unless --T-values/--sigma-values are given.",
)
@click.option("--T-values", "T_values", type=c.FloatList(), help="Temperatures, e.g. 0.03125,4.")
@click.option("--sigma-values", type=c.FloatList(), help="Initial widths sigma_W, e.g. 0.125,256.")
# unset options take the stored sweep's settings with --resume, else SweepConfig's defaults
@click.option("--epochs", type=c.POSITIVE_INT, default=None,
              help=f"Epochs per seed [{c.default(SweepConfig, 'epochs')}].")  # fmt: skip
@click.option("--seeds", type=c.POSITIVE_INT, default=None,
              help=f"Seeds per cell [{c.default(SweepConfig, 'n_seeds')}].")  # fmt: skip
@click.option("--seed", type=c.SEED, default=None,
              help=f"Base seed [{c.default(SweepConfig, 'seed')}].")  # fmt: skip
@click.option("--n-batches", type=c.POSITIVE_INT, default=None,
              help=f"Batches per epoch [{c.default(NetworkConfig, 'n_batches')}].")  # fmt: skip
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="Training engine: numba or numpy (SGD), gd (full-batch gradient descent at "
              f"the same step eps = T |B|) [{c.default(SweepConfig, 'engine')}].")  # fmt: skip
@click.option("--batch-sizes", type=_BatchSizes(), default=None,
              help="Run the grid at each of these batch sizes |B|, e.g. 1,4,16,64, on the same "
              "training set (--n-batches x 4 samples, cut into n/|B| batches) with eps = T |B|, "
              "into one store (a child store b<|B|>/ per batch size). Default: |B| = 4 "
              "only.")  # fmt: skip
@click.option("--sampling", type=click.Choice(SAMPLINGS), default=None,
              help="Which samples each batch sees: fixed (the paper's), shuffle (a permutation "
              "every epoch) or iid (drawn with replacement, the process of the SDE) "
              f"[{c.default(SweepConfig, 'sampling')}].")  # fmt: skip
@click.option("--save-schedule", type=click.Choice(SAVE_SCHEDULES), default=None,
              help="When the 21 saves fall: even (epoch 0 and every epochs/20) or paper (the "
              "published runs' timing: epoch 0 and after epoch (k-1) epochs/20 + 1; epochs a "
              f"multiple of 20) [{c.default(SweepConfig, 'save_schedule')}].")  # fmt: skip
@click.option("--store", type=click.Path(), help="Zarr store (default: named after the grid).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the sweep in --store with the settings recorded there.",
)
@click.option(
    "--scheduler",
    help="A running Dask scheduler, tcp://HOST:PORT ('inprocess': no Dask, cells in turn).",
)
@click.option(
    "--cluster",
    type=click.Choice(["slurm", "pbs"]),
    help="Start workers through dask-jobqueue (pip install 'dysonsgd[cluster]').",
)
@click.option("--cluster-cores", type=c.POSITIVE_INT, default=1, show_default=True)
@click.option("--cluster-memory", default="2GB", show_default=True)
@click.option("--cluster-walltime", default="01:00:00", show_default=True)
@click.option("--cluster-queue", default=None, help="Queue/partition of the batch system.")
@click.option("--cluster-account", default=None, help="Account/project to charge.")
@click.option(
    "--workers",
    type=c.POSITIVE_INT,
    help="Worker processes of the local cluster (default: cores) or jobs of --cluster.",
)
@click.option("--plot", "plot_dir", type=click.Path(), help="Write the figures to this directory.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON summary.")
def phase_diagram_command(
    grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, batch_sizes, sampling,
    save_schedule, store, resume, scheduler, cluster, cluster_cores, cluster_memory,
    cluster_walltime, cluster_queue, cluster_account, workers, plot_dir, json_output,
):  # fmt: skip
    """Sweep a grid of temperatures T and initial widths sigma_W (paper Figs 1-9).

    Every cell trains its seeds with SGD, measures the observables (test loss, gradient,
    overlap G, alignment, eigenvalue flows, spacing growth) and the Langevin criterion, and
    is written into a Zarr store as soon as it finishes. Rerunning the same command, or
    --resume, continues an interrupted sweep: finished cells are never recomputed.
    """
    from dysonsgd import sweep

    try:
        _phase_diagram(
            grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, batch_sizes,
            sampling, save_schedule, store, resume,
            scheduler, cluster, cluster_cores, cluster_memory, cluster_walltime, cluster_queue,
            cluster_account, workers, plot_dir, json_output,
        )  # fmt: skip
    except (sweep.StoreFullError, sweep.CellsFailedError) as exc:
        # runtime failures whose message says what is kept and how to continue: one line
        raise click.ClickException(str(exc)) from None


def _phase_diagram(
    grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, batch_sizes, sampling,
    save_schedule, store, resume, scheduler, cluster, cluster_cores, cluster_memory,
    cluster_walltime, cluster_queue, cluster_account, workers, plot_dir, json_output,
):  # fmt: skip
    from dysonsgd import boundaries, sweep

    if scheduler is not None and cluster is not None:
        c.fail("give at most one of --scheduler and --cluster")
    if scheduler is not None and workers is not None:
        c.fail("--workers sizes a cluster this command starts; it does not apply to --scheduler")
    if resume:
        if store is None:
            c.fail("--resume needs --store PATH.zarr (the sweep to continue)")
        given = {
            "--grid": grid,
            "--T-values": T_values,
            "--sigma-values": sigma_values,
            "--epochs": epochs,
            "--seeds": seeds,
            "--seed": seed,
            "--n-batches": n_batches,
            "--engine": engine,
            "--batch-sizes": batch_sizes,
            "--sampling": sampling,
            "--save-schedule": save_schedule,
        }
        config = c.checked_store(store)
        clash = [k for k, v in given.items() if v is not None]
        if clash:
            # Options given with --resume must agree with the store (checked below).
            config_req = _config_from_options(
                grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, config,
                sampling, save_schedule, batch_sizes,
            )  # fmt: skip
            if config_req != config:
                c.fail(
                    f"{', '.join(clash)} differ from the settings of {store}; drop them to "
                    "continue the stored sweep, or use another --store"
                )
    else:
        config = _config_from_options(
            grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, None, sampling,
            save_schedule, batch_sizes,
        )  # fmt: skip
    net = config.network
    c.check_memory(
        config.n_seeds
        * (c.config_floats(net) + 3 * config.save_points * net.K * net.L),
        f"a cell of {config.n_seeds} seeds",
    )  # fmt: skip
    store = Path(store) if store is not None else Path(config.default_store_name())
    sweep.check_store_path(store)
    if store.is_dir() and any(store.iterdir()):
        c.checked_store(store, config)  # refuses another configuration before any work
    if plot_dir is not None:
        c.check_output_dir("--plot", plot_dir, " for the figures")
    cluster_options = None
    if cluster is not None:
        cluster_options = {
            "cores": cluster_cores,
            "memory": cluster_memory,
            "walltime": cluster_walltime,
        }
        if cluster_queue:
            cluster_options["queue"] = cluster_queue
        if cluster_account:
            cluster_options["account"] = cluster_account
        try:
            import dask_jobqueue  # noqa: F401
        except ImportError:
            c.fail(f"--cluster {cluster} needs dask-jobqueue: {sweep.CLUSTER_EXTRA}")

    client, close = sweep.connect(
        scheduler, cluster=cluster, workers=workers, cluster_options=cluster_options
    )
    bar = _SweepBar(config, enabled=c.show_progress(json_output))
    finished = False
    try:
        try:
            with one_line_warnings():
                report = sweep.run_sweep(
                    config, store, client=client, progress=bar.cells, on_steps=bar.steps
                )
            finished = True
        finally:
            bar.close()
            close()
        if config.batch_sizes is None:
            ds = sweep.load(store)
            summ = boundaries.summary(ds)
            written = [] if plot_dir is None else _plot(ds, store, plot_dir)
        else:
            per_batch, written = {}, []
            for b, child in sweep.batch_stores(store).items():
                ds = sweep.load(child)
                per_batch[b] = (
                    boundaries.summary(ds),
                    boundaries.onset_temperatures(boundaries.cell_phases(ds)),
                )
                if plot_dir is not None:
                    written += _plot(ds, store, Path(plot_dir) / child.name)
    except KeyboardInterrupt:
        bar.close()
        if finished:
            message = (
                f"Interrupted: the sweep is complete in {store}; rerun the command (or "
                f"--resume --store {store}) for its summary, dysonsgd plot {store} for figures."
            )
        else:
            message = (
                f"Interrupted: finished cells are kept in {store}, and the cells in progress "
                "continue from their last save point; rerun the command (or --resume --store "
                f"{store}) to continue."
            )
        click.echo(message, err=True)
        c.quiet_abandoned_async_work()
        sys.exit(130)
    run = {
        "store": str(store),
        "cells_computed": len(report.computed),
        "cells_already_done": report.already_done,
        "seconds": report.seconds,
        "compute_seconds": report.compute_seconds,
        "config": config.to_dict(),
    }
    if config.batch_sizes is not None:
        _report_batch_sizes(run, per_batch, config, store, report, written, plot_dir, json_output)
        return
    if json_output:
        c.echo_json({**run, **summ.to_dict(), "figures": [str(p) for p in written]})
        return
    click.echo(
        f"phase diagram: {summ['cells_done']}/{summ['cells']} cells in {store} "
        f"({len(report.computed)} computed now, {report.already_done} already done; "
        f"{report.seconds:.1f} s)"
    )
    _print_map(summ, config)
    _print_boundary(summ)
    _print_disorder_line(summ)
    if written:
        click.echo(f"figures written to {plot_dir} ({len(written)} files)")


def _report_batch_sizes(run, per_batch, config, store, report, written, plot_dir, json_output):
    """The summary of a sweep over batch sizes: one block (JSON object) per batch size."""
    blocks = []
    for b, (summ, onset) in per_batch.items():
        blocks.append(
            {
                "batch_size": b,
                "n_batches": config.batch_size_configs()[b].network.n_batches,
                **summ.to_dict(),
                "onset_T": onset,
            }
        )
    cells = sum(s["cells"] for s, _ in per_batch.values())
    cells_done = sum(s["cells_done"] for s, _ in per_batch.values())
    if json_output:
        c.echo_json(
            {
                **run,
                "cells": cells,
                "cells_done": cells_done,
                "batch_sizes": blocks,
                "figures": [str(p) for p in written],
            }
        )
        return
    click.echo(
        f"phase diagram over batch sizes {', '.join(map(str, config.batch_sizes))}: "
        f"{cells_done}/{cells} cells in {store} ({len(report.computed)} computed now, "
        f"{report.already_done} already done; {report.seconds:.1f} s)"
    )
    for b, (summ, onset) in per_batch.items():
        inv = summ["inv_sigma_values"]
        click.echo("")
        click.echo(
            f"|B| = {b} (eps = {b} T): onset of the high-temperature phase at T = "
            + ", ".join("none" if t != t else f"{t:g}" for t in onset)
            + " for 1/sigma_W = "
            + ", ".join(f"{v:g}" for v in inv)
        )
        _print_map(summ, config)
        _print_boundary(summ)
    click.echo("")
    _print_disorder_line(next(iter(per_batch.values()))[0])
    if written:
        click.echo(f"figures written to {plot_dir}/b<|B|>/ ({len(written)} files)")


def _print_boundary(summ) -> None:
    n = summ["boundary_T_seeds"]
    click.echo(
        f"predicted high-T boundary, Langevin criterion (exact estimator), {n} seeds per cell:"
    )
    click.echo(textwrap.fill(summ["boundary_T_question"], width=95, initial_indent="  ",
                             subsequent_indent="  "))  # fmt: skip
    b = summ["boundary_T"]["exact"]
    for lv, res in summ["boundary_T_resolution"].items():
        if not res["resolved"]:
            click.echo(f"  level {lv}: {res['note']}")
            continue
        click.echo(
            f"  level {lv}: "
            + "  ".join(
                f"1/sigma_W={inv:g}: {t:.3g}"
                for inv, t in zip(summ["inv_sigma_values"], b[lv], strict=True)
            )
        )


def _print_disorder_line(summ) -> None:
    lines = summ["disorder_line_inv_sigma"]
    actual = ""
    if "actual" in lines:
        err = lines["actual_stderr"]
        actual = (
            f"; actual width line {lines['actual']:.3f}"
            + (f" +- {err:.2g}" if err == err else "")
            + f" (sqrt 2 x rms(a) of the training features over the {lines['actual_seeds']} "
            "seeds)"
        )
    click.echo("disorder line 1/sigma_W = sqrt 2 = 1.414 (paper)" + actual)


class _SweepBar:
    """One progress bar over the whole sweep in SGD steps, with rate and ETA.

    Work already done when the sweep starts (cells in the store, cells' checkpoints) starts
    the bar, out of the rate and ETA; cells done are shown beside it.
    """

    def __init__(self, config, *, enabled: bool) -> None:
        self.bar = c.progress_bar(config.sgd_steps, enabled=enabled, desc="sweep", unit="step")
        self.bar.unit_scale = True  # 1.2G/12G steps, 3.4M step/s
        self.started = False

    def steps(self, done: int, total: int) -> None:
        if not self.started:
            self.bar.initial = self.bar.n = done
            self.started = True
            self.bar.refresh()
        else:
            self.bar.update(done - self.bar.n)

    def cells(self, done: int, total: int) -> None:
        self.bar.set_postfix_str(f"{done}/{total} cells")

    def close(self) -> None:
        self.bar.close()


def _plot(ds, store, plot_dir) -> list:
    """The phase-diagram figures of a finished sweep; a full disk is one line, exit 1."""
    from dysonsgd.plot import phase as _plot_phase

    try:
        return _plot_phase.plot_store(ds, plot_dir)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise click.ClickException(
            f"{exc.strerror} writing the figures to {plot_dir}; the sweep is complete in "
            f"{store}: free space and run dysonsgd plot {store} --out {plot_dir}"
        ) from None


def _config_from_options(
    grid, T_values, sigma_values, epochs, seeds, seed, n_batches, engine, base, sampling=None,
    save_schedule=None, batch_sizes=None,
):  # fmt: skip
    """A SweepConfig from the options; unset options come from ``base`` (or the defaults)."""
    from dysonsgd import sweep

    if grid is not None and (T_values is not None or sigma_values is not None):
        c.fail("give either --grid or --T-values/--sigma-values, not both")
    if grid is not None:
        T_values, sigma_values = sweep.GRIDS[grid]
    elif base is not None:
        T_values = base.T_values if T_values is None else T_values
        sigma_values = base.sigma_values if sigma_values is None else sigma_values
    elif (T_values is None) != (sigma_values is None):
        c.fail("give both --T-values and --sigma-values (or a --grid)")
    elif T_values is None:
        T_values, sigma_values = sweep.GRIDS["small"]
    defaults = {
        "epochs": c.default(SweepConfig, "epochs"),
        "seeds": c.default(SweepConfig, "n_seeds"),
        "seed": c.default(SweepConfig, "seed"),
        "n_batches": c.default(NetworkConfig, "n_batches"),
        "engine": c.default(SweepConfig, "engine"),
        "sampling": c.default(SweepConfig, "sampling"),
        "save_schedule": c.default(SweepConfig, "save_schedule"),
        "batch_sizes": c.default(SweepConfig, "batch_sizes"),
    }
    if base is not None:
        defaults = {
            "epochs": base.epochs,
            "seeds": base.n_seeds,
            "seed": base.seed,
            "n_batches": base.network.n_batches,
            "engine": base.engine,
            "sampling": base.sampling,
            "save_schedule": base.save_schedule,
            "batch_sizes": base.batch_sizes,
        }
    epochs = defaults["epochs"] if epochs is None else epochs
    save_schedule = defaults["save_schedule"] if save_schedule is None else save_schedule
    try:
        return sweep.SweepConfig(
            T_values=T_values,
            sigma_values=sigma_values,
            epochs=epochs,
            n_seeds=defaults["seeds"] if seeds is None else seeds,
            seed=defaults["seed"] if seed is None else seed,
            network=NetworkConfig(
                n_batches=defaults["n_batches"] if n_batches is None else n_batches
            ),
            engine=defaults["engine"] if engine is None else engine,
            sampling=defaults["sampling"] if sampling is None else sampling,
            save_schedule=save_schedule,
            batch_sizes=defaults["batch_sizes"] if batch_sizes is None else batch_sizes,
        )
    except ValueError as exc:
        if "batch size" in str(exc):
            c.fail(f"Invalid value for '--batch-sizes': {exc}")
        if "save schedule" not in str(exc):
            raise
        c.fail(f"Invalid value for '--save-schedule': {exc}")


def _print_map(summ, config) -> None:
    # one letter per label of dysonsgd.phases.LABELS (a label added there shows its initial)
    abbrev = {"ordered": "O", "disordered": "D", "high-temperature": "H", "crossover": "X",
              "undetermined": "?"}  # fmt: skip
    cells = {(p["T"], p["sigma_w"]): abbrev.get(p["phase"], p["phase"][:1].upper())
             for p in summ["phases"]}  # fmt: skip
    click.echo("phases (O ordered, D disordered, H high-temperature, X crossover, "
               "? undetermined, . not done); rows T, columns 1/sigma_W:")  # fmt: skip
    sig = sorted(config.sigma_values, reverse=True)  # ascending 1/sigma_W
    click.echo(f"{'T':>10} " + " ".join(f"{1 / s:>7.3g}" for s in sig))
    for T in sorted(config.T_values, reverse=True):
        click.echo(f"{T:>10.4g} " + " ".join(f"{cells.get((T, s), '.'):>7}" for s in sig))

"""``dysonsgd train``: SGD, or full-batch gradient descent, on the teacher-student network."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

import click
import numpy as np

from dysonsgd import ACTIVATIONS, NetworkConfig, observables
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.phases import classify_sgd
from dysonsgd.sgd import ENGINES, SAMPLINGS, save_schedule, train
from dysonsgd.sgd.api import CHECKPOINT_ENGINES, SAVE_SCHEDULES
from dysonsgd.sgd.engine import CheckpointError


@cli.command("train")
@click.option("--T", "T", type=c.POSITIVE, help="Temperature T = lr / batch size (> 0).")
@click.option("--lr", type=c.POSITIVE, help="Learning rate eps (> 0); give --T or --lr.")
@click.option("--sigma", type=c.POSITIVE, required=True, help="Initial width sigma_W (> 0).")
@click.option(
    "--batch-size",
    type=c.POSITIVE_INT,
    default=c.default(NetworkConfig, "batch_size"),
    show_default=True,
)
@click.option("--epochs", type=c.POSITIVE_INT, default=100, show_default=True)
@click.option("--seeds", type=c.POSITIVE_INT, default=1, show_default=True, help="Ensemble size.")
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="numba",
    show_default=True,
    help="numba: compiled engine; numpy: the readable reference (same records); gd: "
    "full-batch gradient descent at the same step eps = T * batch size, every step on the "
    "whole training set, n-batches steps per epoch (same records; needs --sampling fixed).",
)
@click.option(
    "--save-points",
    type=c.POSITIVE_INT,
    help="Evenly spaced saves incl. epoch 0 and the end, 2 to epochs + 1 "
    "(default: 21, or every epoch when --epochs < 20).",
)
@click.option(
    "--save-schedule",
    "schedule",
    type=click.Choice(SAVE_SCHEDULES),
    default="even",
    show_default=True,
    help="even: epoch 0 and evenly spaced to the end; paper: the published runs' timing, "
    "epoch 0 and after epoch (k-1) E/(P-1) + 1 for E epochs and P save points (E a "
    "multiple of P - 1; the last save is after epoch 95,001 of 100,000).",
)
@click.option(
    "--sampling",
    type=click.Choice(SAMPLINGS),
    default="fixed",
    show_default=True,
    help="Which samples each batch sees: fixed (the paper's: the training set in order), "
    "shuffle (a fresh permutation every epoch) or iid (every batch drawn uniformly with "
    "replacement, the process of the SDE of SGD).",
)
@click.option("--shuffle", is_flag=True, help="Same as --sampling shuffle.")
@click.option(
    "--K", "K", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "K"), show_default=True
)
@click.option(
    "--L", "L", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "L"), show_default=True
)
@click.option(
    "--d-in", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "d_in"), show_default=True
)
@click.option(
    "--activation",
    type=click.Choice(ACTIVATIONS),
    default=c.default(NetworkConfig, "activation"),
    show_default=True,
)
@click.option(
    "--n-batches",
    type=c.POSITIVE_INT,
    default=c.default(NetworkConfig, "n_batches"),
    show_default=True,
)
@click.option("--out", type=click.Path(), callback=c.output_path, help="Write an .npz here.")
@click.option(
    "--checkpoint",
    type=click.Path(),
    callback=c.output_path,
    help="A resumable state file (numba or gd engine): written after every save point; if it "
    "holds this run's state the run continues from there (to the same result). Removed "
    "when the command ends.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
@click.option(
    "--sharpness",
    is_flag=True,
    help="After training, the top Hessian eigenvalue lambda_max of the training loss at every "
    "save (dysonsgd.observables.sharpness) against the edge of stability eps * lambda_max = 2. "
    "Adds ~30-60 ms per save point per seed at the paper's size.",
)
def train_command(
    T, lr, sigma, batch_size, epochs, seeds, seed, engine, save_points, schedule, sampling,
    shuffle, K, L, d_in, activation, n_batches, out, checkpoint, json_output, plot, sharpness,
):  # fmt: skip
    """Train an ensemble of students with SGD (paper protocol: fixed data, batches in order).

    With --engine gd: full-batch gradient descent on the same networks and data, at the same
    step eps, every step on the whole training set (no noise), n-batches steps per epoch.

    Records W, the epoch-mean gradient and loss at the save points (evenly spaced, or the
    published runs' timing with --save-schedule paper), and prints the observables of the
    last saved networks (test loss, gradient norm, overlap G, alignment, eigenvalues of
    X = W W^T against the teacher's).
    """
    if (T is None) == (lr is None):
        c.fail("give exactly one of --T and --lr (T = lr / batch size)")
    if shuffle:
        given = click.get_current_context().get_parameter_source("sampling")
        if sampling != "shuffle" and given is not click.core.ParameterSource.DEFAULT:
            c.fail(f"--shuffle (same as --sampling shuffle) conflicts with --sampling {sampling}")
        sampling = "shuffle"
    if engine == "gd" and sampling != "fixed":
        c.fail(
            f"--engine gd (full-batch gradient descent) uses every training sample at every "
            f"step, so --sampling {sampling} has no meaning; drop it (fixed) or use an SGD "
            "engine"
        )
    if save_points is not None and not 2 <= save_points <= epochs + 1:
        c.fail(
            f"Invalid value for '--save-points': {save_points} needs 2 <= save points <= "
            f"epochs + 1 = {epochs + 1} (or leave it unset)"
        )
    try:
        config = NetworkConfig(
            d_in=d_in, K=K, L=L, activation=activation, n_batches=n_batches, batch_size=batch_size
        )
    except ValueError as exc:
        c.fail(str(exc))
    try:
        save_points = len(save_schedule(epochs, save_points, schedule))
    except ValueError as exc:
        c.fail(f"Invalid value for '--save-schedule': {exc}")
    # Per seed: the network and data, W and grad at each save point, and the per-epoch
    # loss (epochs + 1 values: 8 GB per seed at --epochs 10**9, filled as epochs run).
    c.check_memory(
        seeds * (c.config_floats(config) + 3 * save_points * K * L + (epochs + 1)),
        f"--seeds {seeds} x (--epochs {epochs} per-epoch losses + --save-points "
        f"{save_points} of a {K} x {L} network)",
    )

    if checkpoint is not None and engine not in CHECKPOINT_ENGINES:
        c.fail("--checkpoint needs the numba engine (--engine numba; or gd for gradient descent)")
    resumed = _checkpoint_epoch(checkpoint)

    with c.progress_bar(
        seeds * epochs, enabled=c.show_progress(json_output), desc="train", unit="epoch"
    ) as bar:
        bar.initial = bar.n = seeds * resumed  # out of the rate and ETA
        try:
            with one_line_warnings():
                result = train(
                    config,
                    sigma_w=sigma,
                    temperature=T,
                    lr=lr,
                    epochs=epochs,
                    n_seeds=seeds,
                    seed=seed,
                    engine=engine,
                    save_points=save_points,
                    save_schedule=schedule,
                    sampling=sampling,
                    on_epoch=lambda: bar.update(1),
                    checkpoint=checkpoint,
                )
        except CheckpointError as exc:  # another run's, or not a checkpoint
            c.fail(f"--checkpoint: {exc}")
        except KeyboardInterrupt:
            if checkpoint is None or not os.path.exists(checkpoint):
                raise  # "nothing was written"
            bar.close()
            click.echo(
                f"Interrupted: the run's state at its last save point is in {checkpoint}; "
                "rerun the command to continue from there.",
                err=True,
            )
            sys.exit(130)
    obs = observables.summarize(result)
    labels = classify_sgd(result)
    if out is not None:
        result.save(out)
    if plot is not None:
        from dysonsgd.plot.training import training_figure

        training_figure(result, obs, plot)

    if checkpoint is not None:  # the run's results are out: its state is not needed
        with contextlib.suppress(FileNotFoundError):
            os.unlink(checkpoint)
    # after the results are written: a long run is not lost if this fails
    lambda_max = observables.sharpness(result) if sharpness else None
    if json_output:
        summary = result.summary(obs, labels, save_schedule=schedule)
        extra = {} if lambda_max is None else {"sharpness": _sharpness_json(result, lambda_max)}
        c.echo_json({**summary, "out": out, "plot": plot, **extra})
        return
    if engine == "gd":
        click.echo(
            f"full-batch gradient descent at step eps={result.lr:g} (the SGD step at "
            f"T={result.temperature:g}, |B|={config.batch_size}), {config.n_batches} steps "
            f"per epoch  sigma_W={sigma:g}  epochs={epochs}  seeds={seeds}  engine=gd"
        )
    else:
        click.echo(
            f"SGD  T={result.temperature:g}  lr={result.lr:g}  |B|={config.batch_size}  "
            f"sigma_W={sigma:g}  epochs={epochs}  seeds={seeds}  engine={engine}  "
            f"sampling={result.sampling}"
        )
    header = (
        f"{'seed':>4} {'loss(0)':>10} {'loss(end)':>10} {'test loss':>10} {'|grad|':>10} "
        f"{'G(tf,0)':>8} {'align':>7} {'x_1':>10} {'x_1*':>10} {'phase':>16}  diverged"
    )
    click.echo(header)
    for k in range(seeds):
        div = f"yes at step {result.records.diverged_step[k]}" if obs["diverged"][k] else "no"
        click.echo(
            f"{k:>4} {result.records.loss[k, 0]:>10.3e} {obs['final_loss'][k]:>10.3e} "
            f"{obs['test_loss'][k]:>10.3e} {obs['grad_norm'][k]:>10.3e} "
            f"{obs['overlap_G'][k]:>8.4f} {obs['alignment'][k]:>7.4f} "
            f"{obs['eigenvalues'][k, -1, 0]:>10.4g} {obs['teacher_eigenvalues'][k, 0]:>10.4g}"
            f" {labels.phases[k]:>16}  {div}"
        )
    click.echo(f"spacing growth rate lambda = {obs['spacing_growth_rate']:.4g} per epoch")
    if resumed:
        click.echo(f"continued from epoch {resumed} of checkpoint {checkpoint} (now removed)")
    click.echo(f"phase: {labels.phase}")
    if lambda_max is not None:
        _print_sharpness(result, lambda_max)
    for what, path in (("results", out), ("figure", plot)):
        if path is not None:
            click.echo(f"{what} written to {path}")


EDGE_OF_STABILITY = (
    "gradient descent at this step is stable near a minimum only while eps * lambda_max < 2 "
    "(edge of stability, Cohen et al. 2021)"
)


def _sharpness_json(result, lambda_max) -> dict:
    """The ``sharpness`` key of --json: lambda_max per seed and save, the step, 2 / eps."""
    return {"lambda_max": lambda_max, "eps": result.lr, "edge": 2.0 / result.lr}


def _print_sharpness(result, lambda_max) -> None:
    """Per save epoch, the median over seeds of lambda_max and of eps * lambda_max."""
    n_seeds = lambda_max.shape[0]
    finite = np.isfinite(lambda_max)
    what = f"median over {n_seeds} seeds" if n_seeds > 1 else "one seed"
    if not finite.all():
        what += "; seeds whose W is not finite left out"
    click.echo(f"sharpness: top Hessian eigenvalue of the training loss ({what})")
    click.echo(f"{'epoch':>10} {'lambda_max':>12} {'eps*lambda_max':>15}")
    for s, epoch in enumerate(result.save_epochs):
        col = lambda_max[finite[:, s], s]
        med = float(np.median(col)) if col.size else float("nan")
        click.echo(f"{int(epoch):>10} {med:>12.4g} {result.lr * med:>15.4g}")
    click.echo(EDGE_OF_STABILITY)


@contextlib.contextmanager
def one_line_warnings():
    """Show checkpoint warnings as one ``warning: ...`` line on stderr, not Python's two.

    (A damaged checkpoint ignored, a checkpoint that cannot be written; the run goes on.)
    """
    from dysonsgd.sgd.engine import CheckpointWarning

    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, CheckpointWarning):
                click.echo(f"warning: {message}", err=True)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        yield


def _checkpoint_epoch(path) -> int:
    """Epochs done in the checkpoint at ``path`` (0: none; train() judges whether it is
    this run's and whether it is whole)."""
    if path is None:
        return 0
    from dysonsgd.sgd.engine import read_checkpoint

    try:
        return read_checkpoint(path).epoch
    except (OSError, CheckpointError):
        return 0

"""``dysonsgd advise``: the largest temperature (and learning rates) predicted to stay ordered."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from dysonsgd.boundaries import PROBE_EPOCHS
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.model import NetworkConfig


def _batch_sizes(ctx, param, value):
    if value is None:
        return [1, 2, 4, 8, 16, 32]
    out = []
    for part in str(value).split(","):
        part = part.strip()
        try:
            b = int(part)
        except ValueError:
            raise click.BadParameter(f"{part!r} in {value!r} is not an integer") from None
        if b < 1:
            raise click.BadParameter(f"{part!r} in {value!r} must be a positive integer")
        out.append(b)
    return out


@cli.command("advise")
@click.option("--sigma", type=c.POSITIVE, help="Initial width sigma_W (> 0).")
@click.option(
    "--checkpoint",
    type=click.Path(),
    help="A network checkpoint .npz from 'dysonsgd train --out' (its sigma_W is used).",
)
@click.option(
    "--batch-sizes",
    callback=_batch_sizes,
    help="Comma-separated batch sizes for the learning rates [1,2,4,8,16,32].",
)
@click.option("--estimator", type=click.Choice(["exact", "paper"]), default="exact")
@click.option("--seeds", type=c.POSITIVE_INT, default=10, show_default=True, help="Probe seeds.")
@click.option(
    "--epochs",
    type=c.POSITIVE_INT,
    default=PROBE_EPOCHS,
    show_default=True,
    help="Probe epochs (>= 20). At 1/sigma_W = 8 shorter probes' T_max(0.68) was 0.1-0.25 x "
    "the converged one (docs/reproduction.md); 10^4 epochs x 10 seeds are 10^8 SGD steps, "
    "~70 s of CPU.",
)
@click.option(
    "--n-batches",
    type=c.POSITIVE_INT,
    default=c.default(NetworkConfig, "n_batches"),
    show_default=True,
)
@click.option("--seed", type=c.SEED, default=0, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
def advise_command(
    sigma, checkpoint, batch_sizes, estimator, seeds, epochs, n_batches, seed, json_output
):
    """Largest T the Langevin criterion predicts ordered at sigma_W, and its learning rates.

    Evaluates the criterion (paper Fig 8) per seed on networks trained at one temperature --
    the checkpoint's, or fresh ones trained briefly at T = 2^-5 -- giving T_c = S Delta / N
    per seed. T_max(p) is the largest T at which a fraction p of the seeds has T <= T_c; the
    learning rate is lr = T |B|. With n seeds, p is resolved only if n >= ceil(1/(1-p)) (4
    for 0.68, 20 for 0.95, 334 for 0.997); other rows are flagged, not printed. A
    prediction of the criterion, not the flow-rule phase label of phase-diagram, compare and
    simulate. Also says whether sigma_W is on the jammed side of 1/sigma_W = sqrt 2.
    """
    from dysonsgd import boundaries
    from dysonsgd.sgd import SGDResult
    from dysonsgd.sgd.api import default_save_points

    if sigma is None and checkpoint is None:
        c.fail("give --sigma (the initial width) or --checkpoint")
    probe = NetworkConfig(n_batches=n_batches)  # the probe run's network (boundaries.advise)
    saves = default_save_points(epochs)
    c.check_memory(
        seeds * (c.config_floats(probe) + 3 * saves * probe.K * probe.L),
        f"--seeds {seeds} probe networks",
    )
    result = None
    if checkpoint is not None:
        p = Path(checkpoint)
        if not p.is_file():
            c.fail(f"--checkpoint {p}: no such file")
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic != b"PK\x03\x04":  # an .npz is a zip file; .npy, text and empty files not
            c.fail(f"--checkpoint {p} is not an .npz file (write one with dysonsgd train --out)")
        try:
            result = SGDResult.load(p)
        except Exception as exc:  # truncated zip, missing keys, bad JSON, pickles, ...
            c.fail(
                f"--checkpoint {p} is not a dysonsgd training result ({type(exc).__name__}: {exc})"
            )
    probing = result is None
    with c.progress_bar(
        seeds * epochs if probing else 0,
        enabled=probing and c.show_progress(json_output),
        desc="probe",
        unit="epoch",
    ) as bar:
        adv = boundaries.advise(
            sigma,
            result=result,
            batch_sizes=batch_sizes,
            n_seeds=seeds,
            epochs=epochs,
            n_batches=n_batches,
            seed=seed,
            estimator=estimator,
            on_epoch=lambda: bar.update(1),
        )
    if json_output:
        c.echo_json(adv.to_dict())
        return
    s = adv["sigma_w"]
    n, T0 = adv["n_seeds"], adv["trained_at_T"]
    click.echo(f"sigma_W = {s:g} (1/sigma_W = {1 / s:g}); Langevin criterion ({estimator})")
    click.echo(f"networks: {adv['source']}")
    click.echo(
        f"T_c = S Delta / N per seed: median {adv['Tc_median']:.3g} "
        f"(16-84%: {adv['Tc_16']:.3g} .. {adv['Tc_84']:.3g}); at T = {T0:g} itself the "
        f"criterion calls {adv['ordered_at_trained_T']} of {n} seeds ordered"
    )
    if adv["Tc_undefined"]:
        click.echo(
            f"warning: {adv['Tc_undefined']} of {len(adv['Tc'])} seeds have no T_c (their W "
            "overflowed); the quantiles use the others"
        )
    click.echo(f"largest T at which a fraction p of these {n} seeds has T <= T_c, and lr = T |B|:")
    click.echo(f"{'p':>9} {'T_max':>10}  " + " ".join(f"{'|B|=' + str(b):>9}" for b in batch_sizes))
    for lv, t in adv["T_max"].items():
        res = adv["T_max_resolution"][lv]
        if not res["resolved"]:
            click.echo(f"{lv:>9} {'--':>10}  {res['note']} (lowest T_c: {t:.3g})")
            continue
        click.echo(
            f"{lv:>9} {t:>10.3g}  " + " ".join(f"{adv['lr'][lv][b]:>9.3g}" for b in batch_sizes)
        )
    note = (
        f"T_max is a prediction of the Langevin criterion from networks trained at T = {T0:g} "
        "(S, N, Delta held there), not a phase label: phase-diagram, compare and simulate "
        "label phases by the eigenvalue flow, and phase-diagram's boundary uses seeds trained "
        f"at each grid T. A seed with T_c < {T0:g} is predicted to leave the ordered phase at "
        f"T = {T0:g} even where its flow there is labelled ordered."
    )
    click.echo(textwrap.fill(note, width=95))
    click.echo(textwrap.fill(adv["convergence"]["note"] + ".", width=95))
    lines = adv["disorder_lines"]
    if adv["jammed"]:
        click.echo(
            f"warning: 1/sigma_W = {1 / s:g} < sqrt 2: jammed (disordered) side; tanh units "
            "saturate and SGD barely moves the weights. Start with a smaller sigma_W."
        )
    else:
        click.echo(f"1/sigma_W = {1 / s:g} >= sqrt 2: not on the jammed side.")
    err = lines["actual_stderr"]
    click.echo(
        f"(actual pre-activation width line: 1/sigma_W = {lines['actual']:.3g}"
        + (f" +- {err:.2g}" if err == err else "")
        + f", sqrt 2 x rms(a) of the training features averaged over these "
        f"{lines['actual_seeds']} seeds; "
        f"{'jammed' if adv['jammed_actual_width'] else 'not jammed'} by that measure)"
    )

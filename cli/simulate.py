"""``dysonsgd simulate``: integrate the eigenvalue Langevin equation of an ensemble.

The models come from the registry of :mod:`dysonsgd.langevin` (``MODELS``): each starts
itself from the generic options (``from_options``) and summarises its run (``summarize``);
this command parses, dispatches and prints.
"""

from __future__ import annotations

import json
import math

import click
import numpy as np

from dysonsgd import _io, _seeding
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.langevin import (
    DEFAULT_MODEL,
    MODELS,
    SCHEMES,
    STATUS,
    FreeModel,
    HarmonicModel,
    ModelOptions,
    OptionError,
    integrate,
)
from dysonsgd.langevin.network import DEFAULT_REFRESH_INTERVAL
from dysonsgd.model import NetworkConfig

#: Steps per run when --dt is not given: dt = time / DEFAULT_STEPS.
DEFAULT_STEPS = 5000

#: Default save points: 101 shows the early dip of the ordered flow (the first 1% of the run),
#: which 21 saves step over; the extra saves cost nothing measurable (docs/cli.md).
DEFAULT_SAVE_POINTS = 101

#: The option of each field of ModelOptions, for the messages of OptionError.
FLAGS = {"sigma": "--sigma", "targets": "--targets", "kappa": "--kappa", "noise": "--noise",
         "refresh": "--refresh"}  # fmt: skip


def _models_help() -> str:
    """One line per registered model: its name and the first line of its docstring."""
    return "\b\nModels (--model):\n" + "\n".join(
        f"  {name}: {(cls.__doc__ or '').strip().splitlines()[0]}" for name, cls in MODELS.items()
    )


def _choices() -> list[str]:
    """The registered models, the default first."""
    return [DEFAULT_MODEL, *(n for n in MODELS if n != DEFAULT_MODEL)]


def _uses(option: str) -> str:
    return ", ".join(n for n, m in MODELS.items() if option in m.option_names)


@cli.command("simulate", epilog=_models_help())
@click.option("--T", "T", type=c.POSITIVE, required=True, help="Temperature T = eps/|B| (> 0).")
@click.option(
    "--sigma",
    type=c.POSITIVE,
    help="Initial width sigma_W (> 0): W(0) has entries N(0, sigma_W^2/L); required for "
    + ", ".join(f"--model {n}" for n, m in MODELS.items() if m.default_sigma is None)
    + f", default {FreeModel.default_sigma:g} otherwise.",
)
@click.option("--model", type=click.Choice(_choices()), default=DEFAULT_MODEL,
              show_default=True)  # fmt: skip
@click.option("--K", "K", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "K"),
              show_default=True)  # fmt: skip
@click.option("--L", "L", type=c.POSITIVE_INT, default=c.default(NetworkConfig, "L"),
              show_default=True)  # fmt: skip
@click.option(
    "--time",
    "time_",
    type=c.POSITIVE,
    help="Langevin time t = eps x SGD steps (network: t / (T |B| n_batches) paper epochs). "
    "Default: "
    + ", ".join(f"{m.default_time:g} for {n}" for n, m in MODELS.items())
    + " (4 paper epochs of network at T = 2^-5).",
)
@click.option(
    "--epochs",
    type=c.POSITIVE,
    help="Network model: run length in paper epochs instead of --time "
    "(t = epochs x T x |B| x n_batches of the paper's protocol, |B| = 4, n_batches = 1000).",
)
@click.option("--dt", type=c.POSITIVE, help=f"Largest step (default: time / {DEFAULT_STEPS}).")
@click.option("--scheme", type=click.Choice(list(SCHEMES)), default="semi_implicit",
              show_default=True)  # fmt: skip
@click.option("--seeds", type=c.POSITIVE_INT, default=4, show_default=True, help="Ensemble size.")
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option("--save-points", type=c.POSITIVE_INT, default=DEFAULT_SAVE_POINTS,
              show_default=True, help="Saves of the flow, incl. t = 0 and the end.")  # fmt: skip
@click.option("--targets", type=c.FloatList(positive=True),
              help=f"Target eigenvalues x* ({_uses('targets')}): harmonic takes K "
                   "comma-separated positive numbers (default: the K levels of a teacher "
                   "drawn like the network's).")  # fmt: skip
@click.option("--kappa", type=c.POSITIVE,
              help=f"Harmonic stiffness ({_uses('kappa')}; default "
                   f"{c.default(HarmonicModel, 'kappa'):g}).")  # fmt: skip
@click.option("--noise", type=c.POSITIVE,
              help=f"Gradient-noise variance ({_uses('noise')}; default "
                   f"{c.default(FreeModel, 'noise'):g}): harmonic A, free a.")  # fmt: skip
@click.option("--refresh", type=c.POSITIVE,
              help=f"Langevin time between coefficient measurements ({_uses('refresh')}; "
                   f"default {DEFAULT_REFRESH_INTERVAL:g}).")  # fmt: skip
@click.option("--out", type=click.Path(), callback=c.output_path, help="Write an .npz here.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
def simulate_command(
    T, sigma, model, K, L, time_, epochs, dt, scheme, seeds, seed, save_points, targets, kappa,
    noise, refresh, out, json_output, plot,
):  # fmt: skip
    """Integrate dx_i = [-Kt_ii + T (C_ii + sum_j Vt_ij/(x_i - x_j))] dt + sqrt(T Vt_ii) dB_i.

    Prints the final spectra; for ``network`` the phase read off the flow and the loss, for
    the exact test cases their exact law (docs/theory.md, section 2) and a KS p-value.
    """
    if K < 2:
        c.fail(f"Invalid value for '--K': {K}; need K >= 2 levels")
    if K > L:
        c.fail(f"Invalid value for '--K': K={K} exceeds L={L}; need K <= L")
    cls = MODELS[model]
    options = ModelOptions(
        temperature=T, K=K, L=L, n_systems=seeds, entropy=_seeding.base_entropy(seed),
        sigma=sigma, targets=targets, kappa=kappa, noise=noise, refresh=refresh,
    )  # fmt: skip
    _check(options.check_for, cls)
    if save_points < 2:
        c.fail(f"Invalid value for '--save-points': {save_points}; need at least 2")
    if epochs is not None and time_ is not None:
        c.fail("Invalid value for '--epochs': give --epochs or --time, not both")
    epoch_time = cls.epoch_time(options)  # Langevin time of one paper epoch, or None
    if epochs is not None and epoch_time is None:
        c.fail(f"Invalid value for '--epochs': --model {model} has no epochs; use --time")
    per_seed = 2 * save_points * K + 2 * K * L
    config = cls.network_config(options)
    if config is not None:
        per_seed += c.config_floats(config)
    c.check_memory(seeds * per_seed, f"--seeds {seeds} x --save-points {save_points} at K={K}")
    if epochs is not None:
        time_ = epochs * epoch_time
        if not math.isfinite(time_):
            c.fail(f"Invalid value for '--epochs': {epochs:g} epochs overflow the Langevin time")
    time_ = cls.default_time if time_ is None else time_
    dt = time_ / DEFAULT_STEPS if dt is None else dt
    if dt >= time_:
        c.fail(f"Invalid value for '--dt': {dt:g} must be smaller than --time {time_:g}")

    start = _check(cls.from_options, options)
    drift = start.model
    n_refresh = (
        0 if math.isinf(drift.refresh_interval) else math.ceil(time_ / drift.refresh_interval)
    )
    with c.progress_bar(
        n_refresh, enabled=c.show_progress(json_output) and n_refresh > 0, desc="simulate"
    ) as bar:

        def progress(t, end):
            if t < end:  # once per coefficient refresh, not at the end
                bar.update(1)

        result = integrate(
            drift,
            start.x0,
            time_,
            temperature=T,
            dt=dt,
            scheme=scheme,
            save_points=save_points,
            seed=options.entropy,
            progress=progress if n_refresh else None,
        )
    report = drift.summarize(start, result)
    teacher = start.reference
    x_final = result.final
    summary = {
        "T": T,
        "sigma": start.sigma,
        "model": model,
        "scheme": scheme,
        "seeds": seeds,
        "seed": result.seed,
        "K": K,
        "L": L,
        "time": time_,
        "dt": dt,
        "paper_epochs": None if epoch_time is None else time_ / epoch_time,
        "save_points": save_points,
        "times": result.times,
        "initial_eigenvalues": result.x[:, 0],
        "final_eigenvalues": x_final,
        "final_singular_values": (
            np.sqrt(np.clip(x_final, 0.0, None)) if result.domain == "positive" else None
        ),
        "teacher_eigenvalues": None if teacher is None else np.asarray(teacher),
        **report.to_dict(),
        "steps": result.steps,
        "rejected_steps": result.rejected_steps,
        "fallback_steps": result.fallback_steps,
        "min_gap": result.min_gap,
        "status": [STATUS.get(int(s), f"code {int(s)}") for s in result.status],
        "stopped": result.stopped,
        "blown_up": result.blown_up,
        "finite": np.all(np.isfinite(result.x), axis=(1, 2)),
        "out": out,
        "plot": plot,
    }
    if out is not None:
        _write(out, result, teacher, summary)
    if plot is not None:
        from dysonsgd.plot import langevin as _plot_langevin

        _plot_langevin.langevin_flow_figure(
            result, plot, teacher=teacher, sigma_w=start.sigma, phases=summary["phases"]
        )
    if json_output:
        c.echo_json(summary)
        return
    _print_text(summary, result, report)


def _check(function, *args):
    """``function(*args)``, an :class:`OptionError` or ``ValueError`` turned into a user error."""
    try:
        return function(*args)
    except OptionError as e:
        flag = FLAGS[e.option]
        c.fail(f"Missing option '{flag}': {e}" if e.missing else f"Invalid value for '{flag}': {e}")
    except ValueError as e:
        c.fail(str(e))


#: The summary keys recorded in the .npz file's ``meta``.
META_KEYS = ("T", "sigma", "model", "scheme", "seeds", "seed", "K", "L", "time", "dt", "phase",
             "phases", "status")  # fmt: skip


def _write(out, result, teacher, summary: dict) -> None:
    """The flow, the teacher's eigenvalues and the run's settings as an .npz file."""
    _io.atomic_savez(
        out,
        times=result.times,
        x=result.x,
        teacher=np.zeros((0,)) if teacher is None else np.asarray(teacher),
        steps=result.steps,
        rejected_steps=result.rejected_steps,
        fallback_steps=result.fallback_steps,
        min_gap=result.min_gap,
        status=result.status,
        meta=np.array(json.dumps(c.to_jsonable({k: summary[k] for k in META_KEYS}))),
    )


def _print_text(summary: dict, result, report) -> None:
    """The human-readable report: a header, one row per seed, the summary's lines."""
    s = summary
    E = s["paper_epochs"]
    epochs_note = "" if E is None else f" ({E:.3g} paper epochs)"
    click.echo(
        f"Langevin  model={s['model']}  T={s['T']:g}  sigma_W={s['sigma']:g}  K={s['K']}  "
        f"L={s['L']}  time={s['time']:g}{epochs_note}  dt={s['dt']:g}  scheme={s['scheme']}  "
        f"seeds={s['seeds']}"
    )
    extra_head, extra_rows = report.table()
    head = f"{'seed':>4} {'x_1(0)':>10} {'x_1(t)':>10} {'x_K(t)':>10} {'min gap':>10} {'steps':>8}"
    click.echo(head + extra_head + "  status")
    x_final = result.final
    for k in range(s["seeds"]):
        row = (
            f"{k:>4} {result.x[k, 0, 0]:>10.4g} {x_final[k, 0]:>10.4g} {x_final[k, -1]:>10.4g} "
            f"{result.min_gap[k]:>10.3g} {result.steps[k]:>8d}"
        )
        click.echo(row + (extra_rows[k] if extra_rows else "") + f"  {s['status'][k]}")
    for line in report.lines():
        click.echo(line)
    stopped = result.stopped
    if np.any(stopped):
        click.echo(f"warning: {int(np.sum(stopped))} seed(s) stopped early; see status", err=True)
    for what, path in (("results", s["out"]), ("figure", s["plot"])):
        if path is not None:
            click.echo(f"{what} written to {path}")

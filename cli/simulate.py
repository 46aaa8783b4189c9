"""``dysonsgd simulate``: integrate the eigenvalue Langevin equation of an ensemble."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from dysonsgd import _io, _seeding
from dysonsgd.cli import _common as c
from dysonsgd.cli.main import cli
from dysonsgd.langevin import SCHEMES, STATUS, FreeModel, HarmonicModel, integrate
from dysonsgd.langevin.models import (
    EXACT_LAW_ENTROPY,
    free_model_law,
    harmonic_relaxation_time,
    harmonic_stationary_law,
    ks_exact_law,
)
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.phases import LOSS_DROP, classify

MODELS = ("network", "harmonic", "free")

#: Default Langevin time per model. For ``network`` t = 500 is 500 / (T |B| n_batches)
#: paper epochs (4 epochs at T = 2^-5, 1/32 epoch at T = 4): long enough for the ordered
#: flow to cover most of the way to the teacher (docs/theory-network.md), for a
#: high-temperature flow to grow past 10 x*_1 and a disordered one to show it is frozen.
DEFAULT_TIME = {"network": 500.0, "harmonic": 10.0, "free": 10.0}

#: Steps per run when --dt is not given: dt = time / DEFAULT_STEPS.
DEFAULT_STEPS = 5000

#: Default save points: 101 shows the early dip of the ordered flow (the first 1% of the run),
#: which 21 saves step over; the extra saves cost nothing measurable (docs/cli.md).
DEFAULT_SAVE_POINTS = 101

#: The harmonic model's stationary law is compared with a run only after this many
#: relaxation times 1/kappa: the start's imprint decays as exp(-kappa t), e^-10 = 4.5e-5.
RELAXATION_TIMES = 10.0

#: ... and only once that imprint, exp(-kappa t) max_i |x_i(0) - x*|, is below this fraction
#: of the law's width sqrt(T A / (2 kappa)): a shift of 1% of the width moves the CDF by
#: ~0.4%, below the KS resolution of any ensemble under ~10^5 levels.
RESIDUAL_FRACTION = 0.01


def initial_spectrum(K: int, L: int, sigma: float, n: int, entropy: int) -> np.ndarray:
    """Eigenvalues of ``W W^T`` for K x L matrices with entries N(0, sigma^2/L), shape (n, K).

    System k's matrix comes from the ``LANGEVIN_INIT`` stream of (entropy, k) alone.
    """
    out = np.empty((n, K))
    for k in range(n):
        rng = _seeding.stream(entropy, k, _seeding.LANGEVIN_INIT)
        W = rng.standard_normal((K, L)) * (sigma / math.sqrt(L))
        out[k] = np.linalg.eigvalsh(W @ W.T)[::-1]
    return out


def exact_law_test(model: str, drift, result, *, T: float, sigma: float, L: int) -> dict:
    """The exact law a free or harmonic run follows, and a KS p-value of its final levels.

    Returns the ``--json`` keys ``exact_law`` (``name`` and ``parameters``, or None),
    ``ks_statistic``, ``ks_pvalue`` (None when no law applies, with ``ks_reason`` saying why)
    and ``ks_reference`` (how many systems the reference and the null groups hold).
    """
    out = {"exact_law": None, "ks_statistic": None, "ks_pvalue": None, "ks_reason": None,
           "ks_reference": None}  # fmt: skip
    if model == "network":
        out["ks_reason"] = "the network model has no closed-form law"
        return out
    t = float(result.times[-1])
    if model == "free":
        # the CLI starts W(0) with entries N(0, sigma^2 / L) (initial_spectrum)
        law = free_model_law(drift, T, t, initial_variance=sigma * sigma / L)
    else:
        try:
            law = harmonic_stationary_law(drift, T)
        except ValueError:
            out["ks_reason"] = (
                "unequal targets: no closed-form stationary law; give equal --targets"
            )
            return out
        x0 = result.x[:, 0]
        width = math.sqrt(law.variance)
        residual = float(np.max(np.abs(x0 - law.center)))
        tau = harmonic_relaxation_time(drift)
        need = tau * max(RELAXATION_TIMES, math.log(max(residual / (RESIDUAL_FRACTION * width), 1)))
        if t < need:
            out["exact_law"] = {"name": law.name, "parameters": law.parameters}
            out["ks_reason"] = (
                f"the run (t = {t:.3g}) is shorter than the time to forget its start "
                f"(t >= {need:.3g}, {need / tau:.3g} relaxation times 1/kappa); use --time "
                f"{need:.3g} or more"
            )
            return out
    out["exact_law"] = {"name": law.name, "parameters": law.parameters}
    bad = int(np.sum(result.status != 0))
    if bad:
        out["ks_reason"] = f"{bad} system(s) did not finish (see status): no sample of the law"
        return out
    test = ks_exact_law(result.final, law)
    out["ks_statistic"] = test.statistic
    out["ks_pvalue"] = test.pvalue
    out["ks_reference"] = {"systems": test.n_reference, "null_groups": test.n_null,
                           "seed": EXACT_LAW_ENTROPY}  # fmt: skip
    return out


def describe_law(law: dict) -> str:
    """One line naming an exact law and its parameters."""
    p = law["parameters"]
    if law["name"] == "wishart":
        return (
            f"Wishart: X = W W^T, W {p['K']} x {p['L']} with i.i.d. N(0, {p['entry_variance']:.4g})"
            f" entries (sigma_W^2/L + T a t); Marchenko-Pastur ratio {p['mp_ratio']:.3g}, "
            f"scale {p['mp_scale']:.4g} for large K"
        )
    return (
        f"GOE about x* = {p['center']:.4g}, off-diagonal variance T A/(2 kappa) = "
        f"{p['offdiagonal_variance']:.4g}"
        + (f" (Wigner spacing, sig = {p['pair_sig']:.4g})" if p["K"] == 2 else
           f" (semicircle radius {p['semicircle_radius']:.4g} for large K)")
    )  # fmt: skip


@cli.command("simulate")
@click.option("--T", "T", type=c.POSITIVE, required=True, help="Temperature T = eps/|B| (> 0).")
@click.option(
    "--sigma",
    type=c.POSITIVE,
    help="Initial width sigma_W (> 0); required for --model network, default 1 otherwise.",
)
@click.option("--model", type=click.Choice(MODELS), default="network", show_default=True)
@click.option("--K", "K", type=c.POSITIVE_INT, default=16, show_default=True)
@click.option("--L", "L", type=c.POSITIVE_INT, default=32, show_default=True)
@click.option(
    "--time",
    "time_",
    type=c.POSITIVE,
    help="Langevin time t = eps x SGD steps (network: t / (T |B| n_batches) paper epochs). "
    "Default: 500 for network (4 paper epochs at T = 2^-5), 10 otherwise.",
)
@click.option(
    "--epochs",
    type=c.POSITIVE,
    help="Network model: run length in paper epochs instead of --time "
    "(t = epochs x T x |B| x n_batches of the paper's protocol, |B| = 4, n_batches = 1000).",
)
@click.option("--dt", type=c.POSITIVE, help="Largest step (default: time / 5000).")
@click.option("--scheme", type=click.Choice(list(SCHEMES)), default="semi_implicit",
              show_default=True)  # fmt: skip
@click.option("--seeds", type=c.POSITIVE_INT, default=4, show_default=True, help="Ensemble size.")
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option("--save-points", type=c.POSITIVE_INT, default=DEFAULT_SAVE_POINTS,
              show_default=True, help="Saves of the flow, incl. t = 0 and the end.")  # fmt: skip
@click.option("--targets", type=c.FloatList(positive=True),
              help="Harmonic targets x*, K comma-separated positive numbers "
                   "(default: the K levels of a teacher drawn like the network's).")  # fmt: skip
@click.option("--kappa", type=c.POSITIVE, default=1.0, show_default=True,
              help="Harmonic stiffness.")  # fmt: skip
@click.option("--noise", type=c.POSITIVE, default=1.0, show_default=True,
              help="Harmonic noise A, or the free model's gradient variance a.")  # fmt: skip
@click.option("--refresh", type=c.POSITIVE, default=1.0, show_default=True,
              help="Network: Langevin time between coefficient measurements.")  # fmt: skip
@click.option("--out", type=click.Path(), callback=c.output_path, help="Write an .npz here.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(), callback=c.plot_path, help="Write a figure here.")
def simulate_command(
    T, sigma, model, K, L, time_, epochs, dt, scheme, seeds, seed, save_points, targets, kappa,
    noise, refresh, out, json_output, plot,
):  # fmt: skip
    """Integrate dx_i = [-Kt_ii + T (C_ii + sum_j Vt_ij/(x_i - x_j))] dt + sqrt(T Vt_ii) dB_i.

    Models: ``network`` (the paper's tanh teacher-student reduced to its singular values in
    the teacher's basis, coefficients measured on the fly), ``harmonic`` (targets x*,
    stiffness kappa, noise A) and ``free`` (no drift, isotropic noise: the Wishart process).
    Prints the final spectra; for ``network`` the phase read off the flow and the loss, for
    ``free`` and ``harmonic`` their exact law (docs/theory.md, section 2) and a KS p-value.
    """
    if K < 2:
        c.fail(f"Invalid value for '--K': {K}; need K >= 2 levels")
    if K > L:
        c.fail(f"Invalid value for '--K': K={K} exceeds L={L}; need K <= L")
    if model == "network" and sigma is None:
        c.fail("Missing option '--sigma': the network model needs the initial width sigma_W")
    if targets is not None and model != "harmonic":
        c.fail("Invalid value for '--targets': only --model harmonic has targets")
    if targets is not None and len(targets) != K:
        c.fail(f"Invalid value for '--targets': got {len(targets)} values, need K = {K}")
    if save_points < 2:
        c.fail(f"Invalid value for '--save-points': {save_points}; need at least 2")
    if epochs is not None and time_ is not None:
        c.fail("Invalid value for '--epochs': give --epochs or --time, not both")
    if epochs is not None and model != "network":
        c.fail(f"Invalid value for '--epochs': --model {model} has no epochs; use --time")
    # the paper's protocol (|B|, n_batches, d_in) from NetworkConfig's defaults, one place
    config = NetworkConfig(K=K, L=L)
    epoch_time = T * config.batch_size * config.n_batches  # Langevin time of one paper epoch
    per_seed = 2 * save_points * K + 2 * K * L
    if model == "network":
        per_seed += c.network_floats(config.n_batches, config.batch_size, config.d_in, K, L)
    c.check_memory(seeds * per_seed, f"--seeds {seeds} x --save-points {save_points} at K={K}")
    sigma = 1.0 if sigma is None else sigma
    if epochs is not None:
        time_ = epochs * epoch_time
        if not math.isfinite(time_):
            c.fail(f"Invalid value for '--epochs': {epochs:g} epochs overflow the Langevin time")
    time_ = DEFAULT_TIME[model] if time_ is None else time_
    dt = time_ / DEFAULT_STEPS if dt is None else dt
    if dt >= time_:
        c.fail(f"Invalid value for '--dt': {dt:g} must be smaller than --time {time_:g}")
    entropy = _seeding.base_entropy(seed)

    teacher = None
    if model == "network":
        from dysonsgd.langevin.network import NetworkModel

        drift = NetworkModel(
            make_instances(config, sigma, seeds, entropy), refresh_interval=refresh
        )
        x0 = drift.x0
        teacher = drift.teacher_eigenvalues
    elif model == "harmonic":
        if targets is None:
            teacher_x = initial_spectrum(K, L, 1.0, 1, entropy + 1)[0]
        else:
            teacher_x = np.sort(np.asarray(targets, dtype=np.float64))[::-1]
        drift = HarmonicModel(targets=teacher_x, kappa=kappa, noise=noise)
        x0 = initial_spectrum(K, L, sigma, seeds, entropy)
        teacher = np.broadcast_to(teacher_x, (seeds, K))
    else:
        drift = FreeModel(K=K, L=L, noise=noise)
        x0 = initial_spectrum(K, L, sigma, seeds, entropy)

    loss0 = drift.training_loss(x0) if model == "network" else None
    n_refresh = int(math.ceil(time_ / drift.refresh_interval)) if model == "network" else 0
    with c.progress_bar(
        n_refresh, enabled=c.show_progress(json_output) and n_refresh > 0, desc="simulate"
    ) as bar:

        def progress(t, end):
            if t < end:  # once per coefficient refresh, not at the end
                bar.update(1)

        result = integrate(
            drift,
            x0,
            time_,
            temperature=T,
            dt=dt,
            scheme=scheme,
            save_points=save_points,
            seed=entropy,
            progress=progress if n_refresh else None,
        )

    flow_ok = np.all(np.isfinite(result.x), axis=(1, 2))
    phases = None
    if model == "network":
        loss = np.stack([loss0, drift.training_loss(result.final)], axis=1)
        phases = classify(result.x, teacher, diverged=result.blown_up, loss=loss)
    status = [STATUS.get(int(s), f"code {int(s)}") for s in result.status]
    law_test = exact_law_test(model, drift, result, T=T, sigma=sigma, L=L)
    stopped = result.stopped
    x_final = result.final
    s_final = np.sqrt(np.clip(x_final, 0.0, None)) if result.domain == "positive" else None

    summary = {
        "T": T,
        "sigma": sigma,
        "model": model,
        "scheme": scheme,
        "seeds": seeds,
        "seed": result.seed,
        "K": K,
        "L": L,
        "time": time_,
        "dt": dt,
        "paper_epochs": time_ / epoch_time if model == "network" else None,
        "save_points": save_points,
        "times": result.times,
        "initial_eigenvalues": result.x[:, 0],
        "final_eigenvalues": x_final,
        "final_singular_values": s_final,
        "teacher_eigenvalues": None if teacher is None else np.asarray(teacher),
        "phase": None if phases is None else phases.phase,
        "phases": None if phases is None else list(phases.phases),
        "growth": None if phases is None else phases.growth,
        "scale": None if phases is None else phases.scale,
        "progress": None if phases is None else phases.progress,
        "loss_ratio": None if phases is None else phases.loss_ratio,
        **law_test,
        "steps": result.steps,
        "rejected_steps": result.rejected_steps,
        "fallback_steps": result.fallback_steps,
        "min_gap": result.min_gap,
        "status": status,
        "stopped": stopped,
        "blown_up": result.blown_up,
        "finite": flow_ok,
        "out": out,
        "plot": plot,
    }
    if out is not None:
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
            meta=np.array(
                json.dumps(
                    c.to_jsonable(
                        {
                            k: summary[k]
                            for k in (
                                "T",
                                "sigma",
                                "model",
                                "scheme",
                                "seeds",
                                "seed",
                                "K",
                                "L",
                                "time",
                                "dt",
                                "phase",
                                "phases",
                                "status",
                            )
                        }  # fmt: skip
                    )
                )
            ),
        )
    if plot is not None:
        from dysonsgd.plot import langevin as _plot_langevin

        _plot_langevin.langevin_flow_figure(
            result,
            plot,
            teacher=teacher,
            sigma_w=sigma,
            phases=None if phases is None else list(phases.phases),
        )

    if json_output:
        c.echo_json(summary)
        return
    epochs_note = f" ({summary['paper_epochs']:.3g} paper epochs)" if model == "network" else ""
    click.echo(
        f"Langevin  model={model}  T={T:g}  sigma_W={sigma:g}  K={K}  L={L}  time={time_:g}"
        f"{epochs_note}  dt={dt:g}  scheme={scheme}  seeds={seeds}"
    )
    head = f"{'seed':>4} {'x_1(0)':>10} {'x_1(t)':>10} {'x_K(t)':>10} {'min gap':>10} {'steps':>8}"
    if phases is not None:
        head += f" {'x_1/x*_1':>9} {'loss ratio':>10} {'progress':>8} {'phase':>17}"
    click.echo(head + "  status")
    for k in range(seeds):
        row = (
            f"{k:>4} {result.x[k, 0, 0]:>10.4g} {x_final[k, 0]:>10.4g} {x_final[k, -1]:>10.4g} "
            f"{result.min_gap[k]:>10.3g} {result.steps[k]:>8d}"
        )
        if phases is not None:
            row += (
                f" {phases.scale[k]:>9.3g} {phases.loss_ratio[k]:>10.3g} "
                f"{phases.progress[k]:>8.0%} {phases.phases[k]:>17}"
            )
        click.echo(row + f"  {status[k]}")
    if phases is not None:
        click.echo(f"phase: {phases.phase}")
        if phases.phase == "undetermined":
            E = summary["paper_epochs"]
            longer = max(10.0 * E, DEFAULT_TIME["network"] / epoch_time)
            pr, sc, lr = phases.progress, phases.scale, phases.loss_ratio
            click.echo(
                f"the run ({E:.3g} paper epochs) is too short for the phase rule to decide: "
                f"the flow got {np.nanmin(pr):.0%} to {np.nanmax(pr):.0%} of the way to the "
                f"teacher's spectrum, x_1/x*_1 is {np.nanmin(sc):.3g} to {np.nanmax(sc):.3g} "
                f"and the loss ratio {np.nanmin(lr):.2g} to {np.nanmax(lr):.2g} (ordered needs "
                f"< {LOSS_DROP:g}); run longer, e.g. --epochs {longer:.3g}"
            )
    else:
        law = summary["exact_law"]
        click.echo("exact law: " + ("none" if law is None else describe_law(law)))
        if summary["ks_pvalue"] is None:
            click.echo(f"KS p-value: none ({summary['ks_reason']})")
        else:
            ref = summary["ks_reference"]
            click.echo(
                f"KS vs exact law: D={summary['ks_statistic']:.3f}  "
                f"p={summary['ks_pvalue']:.3g}  (pooled {seeds} x {K} final levels against "
                f"{ref['systems']} systems drawn from the law; p from {ref['null_groups']} "
                f"groups of {seeds} drawn from it, seed {ref['seed']:#x})"
            )
    if np.any(stopped):
        click.echo(f"warning: {int(np.sum(stopped))} seed(s) stopped early; see status", err=True)
    for what, path in (("results", out), ("figure", plot)):
        if path is not None:
            click.echo(f"{what} written to {path}")

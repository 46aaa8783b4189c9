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
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.phases import classify_flow

MODELS = ("network", "harmonic", "free")

#: Default Langevin time per model. For ``network`` t = 500 is 500 / (T |B| n_batches)
#: paper epochs (4 epochs at T = 2^-5, 1/32 epoch at T = 4): long enough for the ordered
#: flow to cover most of the way to the teacher (docs/theory-network.md), for a
#: high-temperature flow to grow past 10 x*_1 and a disordered one to show it is frozen.
DEFAULT_TIME = {"network": 500.0, "harmonic": 10.0, "free": 10.0}

#: Steps per run when --dt is not given: dt = time / DEFAULT_STEPS.
DEFAULT_STEPS = 5000


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
    help="Langevin time t = eps x SGD steps (network: t / (T |B| 1000) paper epochs). "
    "Default: 500 for network (4 paper epochs at T = 2^-5), 10 otherwise.",
)
@click.option("--dt", type=c.POSITIVE, help="Largest step (default: time / 5000).")
@click.option("--scheme", type=click.Choice(list(SCHEMES)), default="semi_implicit",
              show_default=True)  # fmt: skip
@click.option("--seeds", type=c.POSITIVE_INT, default=4, show_default=True, help="Ensemble size.")
@click.option("--seed", type=c.SEED, default=0, show_default=True, help="Base seed.")
@click.option("--save-points", type=c.POSITIVE_INT, default=21, show_default=True)
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
    T, sigma, model, K, L, time_, dt, scheme, seeds, seed, save_points, targets, kappa, noise,
    refresh, out, json_output, plot,
):  # fmt: skip
    """Integrate dx_i = [-Kt_ii + T (C_ii + sum_j Vt_ij/(x_i - x_j))] dt + sqrt(T Vt_ii) dB_i.

    Models: ``network`` (the paper's tanh teacher-student reduced to its singular values in
    the teacher's basis, coefficients measured on the fly), ``harmonic`` (targets x*,
    stiffness kappa, noise A) and ``free`` (no drift, isotropic noise: the Wishart process).
    Prints the final spectra and the phase read off the flow.
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
    per_seed = 2 * save_points * K + 2 * K * L
    if model == "network":
        per_seed += c.network_floats(1000, 4, 3, K, L)
    c.check_memory(seeds * per_seed, f"--seeds {seeds} x --save-points {save_points} at K={K}")
    sigma = 1.0 if sigma is None else sigma
    time_ = DEFAULT_TIME[model] if time_ is None else time_
    dt = time_ / DEFAULT_STEPS if dt is None else dt
    if dt >= time_:
        c.fail(f"Invalid value for '--dt': {dt:g} must be smaller than --time {time_:g}")
    entropy = _seeding.base_entropy(seed)

    teacher = None
    if model == "network":
        from dysonsgd.langevin.network import NetworkModel

        config = NetworkConfig(K=K, L=L)
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

    n_refresh = int(math.ceil(time_ / drift.refresh_interval)) if model == "network" else 0
    with c.progress_bar(
        n_refresh, enabled=c.show_progress(json_output) and n_refresh > 0, desc="simulate"
    ) as bar:
        if n_refresh:
            measure = drift.coefficients

            def coefficients(x, t):
                bar.update(1)
                return measure(x, t)

            drift.coefficients = coefficients
        result = integrate(
            drift,
            x0,
            time_,
            temperature=T,
            dt=dt,
            scheme=scheme,
            save_points=save_points,
            seed=entropy,
        )

    flow_ok = np.all(np.isfinite(result.x), axis=(1, 2))
    phases = None
    if teacher is not None and model == "network":
        phases = classify_flow(result.x, teacher)
    elif teacher is not None:
        phases = classify_flow(result.x, np.abs(teacher))
    status = [STATUS.get(int(s), f"code {int(s)}") for s in result.status]
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
        "paper_epochs": time_ / (T * 4 * 1000) if model == "network" else None,
        "save_points": save_points,
        "times": result.times,
        "initial_eigenvalues": result.x[:, 0],
        "final_eigenvalues": x_final,
        "final_singular_values": s_final,
        "teacher_eigenvalues": None if teacher is None else np.asarray(teacher),
        "phase": None if phases is None else phases.phase,
        "phases": None if phases is None else list(phases.phases),
        "growth": None if phases is None else phases.growth,
        "progress": None if phases is None else phases.progress,
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
            title=f"{model}: T={T:g}, sigma_W={sigma:g}"
            + ("" if phases is None else f"  ({phases.phase})"),
        )

    if json_output:
        c.echo_json(summary)
        return
    click.echo(
        f"Langevin  model={model}  T={T:g}  sigma_W={sigma:g}  K={K}  L={L}  time={time_:g}"
        f"  dt={dt:g}  scheme={scheme}  seeds={seeds}"
    )
    click.echo(f"{'seed':>4} {'x_1(0)':>10} {'x_1(t)':>10} {'x_K(t)':>10} {'min gap':>10} "
               f"{'steps':>8} {'phase':>17}  status")  # fmt: skip
    for k in range(seeds):
        ph = "-" if phases is None else phases.phases[k]
        click.echo(
            f"{k:>4} {result.x[k, 0, 0]:>10.4g} {x_final[k, 0]:>10.4g} {x_final[k, -1]:>10.4g} "
            f"{result.min_gap[k]:>10.3g} {result.steps[k]:>8d} {ph:>17}  {status[k]}"
        )
    if phases is not None:
        click.echo(f"phase: {phases.phase}")
    if np.any(stopped):
        click.echo(f"warning: {int(np.sum(stopped))} seed(s) stopped early; see status", err=True)
    for what, path in (("results", out), ("figure", plot)):
        if path is not None:
            click.echo(f"{what} written to {path}")

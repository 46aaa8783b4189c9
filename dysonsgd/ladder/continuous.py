"""Continuous-time rungs of the ladder between SGD and Dyson Brownian motion: GD and the SDE.

Both act on the same networks and data as SGD (:class:`dysonsgd.model.Instance`, one per
seed) with SGD's conventions: the training loss is ``L(W) = (1/2n) sum_n |y_n - Z phi(W
a_n)|^2`` over the ``n = n_batches * batch_size`` training samples, ``g_n`` is the
per-sample gradient, an SGD step is ``W <- W - lr g_B`` with ``g_B`` the mean over a batch,
the temperature is ``T = lr / |B|`` and the Langevin time is ``t = lr * (SGD steps)`` (one
epoch is ``t = lr * n_batches``).

- :func:`run_gd`: full-batch gradient descent ``W_{k+1} = W_k - lr gbar(W_k)``, ``t = lr k``
  (gradient flow in the limit of small lr).
- :func:`run_sde`: the SDE of SGD, ``dW = -gbar dt + sqrt(T Sigma) dB`` with Sigma the
  per-sample gradient covariance over the training set (population, 1/n), by
  Euler-Maruyama at step ``dt <= lr``; optionally with the order-lr drift correction of the
  stochastic modified equation, ``-(lr/4) grad |gbar|^2 = -(lr/2) H gbar``.

The noise is drawn as a random combination of the centred per-sample gradients,
``xi = n^{-1/2} sum_n z_n (g_n - gbar)`` with ``z_n`` iid N(0, 1), so that ``Cov(xi) =
Sigma`` exactly without forming the (KL x KL) matrix, and the whole step is one weighted
pass over the training set, ``W <- W - sum_n c_n g_n`` with

    c_n = dt/n + sqrt(T dt / n) (z_n - zbar)

(the sign of the noise term is immaterial: xi and -xi have the same law). SGD's own noise
has the same covariance: the mean gradient of |B| samples drawn iid with replacement has
covariance ``Sigma / |B|``, so ``lr^2 Cov(g_B) = lr T Sigma``, the SDE's ``T Sigma dt`` at
``dt = lr``.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), sections 2 and 4.
Q. Li, C. Tai, W. E, "Stochastic modified equations and adaptive stochastic gradient
algorithms", ICML 2017; J. Mach. Learn. Res. 20 (2019) 1-47, Theorem 1 (the first-order SME
``dX = -grad(f + (eta/4)|grad f|^2) dt + sqrt(eta Sigma) dW``).
P. E. Kloeden, E. Platen, "Numerical Solution of Stochastic Differential Equations",
Springer (1992), section 14.1 (Euler-Maruyama, weak order 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dysonsgd import _seeding
from dysonsgd._records import FieldsAsMapping
from dysonsgd._validate import MAX_COUNT, positive_float, positive_int
from dysonsgd.model import Instance

#: Stream purpose of the SDE's normals (``SeedSequence(entropy, spawn_key=(k, 5))`` for seed
#: k). The next free number after ``dysonsgd._seeding``'s; it belongs there.
NOISE = 5

#: Samples processed per kernel call, summed over systems and passes (~0.1 s on one thread
#: at ~0.4 us per sample-pass): Python sees a Ctrl-C, and progress is reported, between calls.
_SAMPLES_PER_BLOCK = 1_000_000

#: A save time must be within this many steps of a whole step.
_STEP_TOL = 1e-6


@dataclass(frozen=True)
class ContinuousResult(FieldsAsMapping):
    """A run of an ensemble of seeds on one continuous-time rung.

    Attributes
    ----------
    name : {"gd", "sde"}
    times : ndarray of float64, shape (n_saves,)
        Langevin times of the saves (whole steps: ``k * dt``).
    W : ndarray of float64, shape (n_seeds, n_saves, K, L)
    loss : ndarray of float64, shape (n_seeds, n_saves)
        Full training loss at the saves.
    diverged : ndarray of bool, shape (n_seeds,)
        The loss exceeded ``config.divergence_threshold`` or was not finite; the state is
        frozen from then on (it repeats in every later save), as in SGD.
    runaway : ndarray of bool, shape (n_seeds,)
        Stopped because ``x_1 = s_1(W)^2`` exceeded ``runaway_factor * max(x_1(W*),
        x_1(W0))``; the state is frozen from then on.
    stop_time : ndarray of float64, shape (n_seeds,)
        Time at which a seed was stopped (diverged or runaway), ``inf`` if never.
    steps : int
        Steps of the run (``time / dt``).
    dt : float
        The step.
    settings : dict
        The run's parameters (JSON-ready).
    """

    name: str
    times: np.ndarray
    W: np.ndarray
    loss: np.ndarray
    diverged: np.ndarray
    runaway: np.ndarray
    stop_time: np.ndarray
    steps: int
    dt: float
    settings: dict

    @property
    def n_seeds(self) -> int:
        """Number of seeds."""
        return self.W.shape[0]


# --------------------------------------------------------------------------- validation


def _kernels():
    from dysonsgd.ladder import _kernels

    return _kernels


def _check_instances(instances) -> list[Instance]:
    try:
        insts = list(instances)
    except TypeError:
        raise ValueError(
            "instances must be a sequence of dysonsgd.model.Instance (see make_instances)"
        ) from None
    if len(insts) == 0:
        raise ValueError("instances must hold at least one Instance")
    if not all(isinstance(i, Instance) for i in insts):
        raise ValueError(
            "instances must be dysonsgd.model.Instance objects (see make_instances or "
            "SGDResult.instances())"
        )
    c = insts[0].config
    if any(i.config != c for i in insts):
        raise ValueError(
            "all instances of one call must share a NetworkConfig; run differing configs "
            "in separate calls"
        )
    return insts


def _whole_steps(name: str, value: float, dt: float) -> int:
    k = round(value / dt)
    if abs(value / dt - k) > _STEP_TOL:
        lo = math.floor(value / dt)
        raise ValueError(
            f"{name}={value!r} is not a whole number of steps of dt={dt!r} "
            f"({value / dt!r} steps); use a multiple of dt such as {lo * dt!r} or "
            f"{(lo + 1) * dt!r}"
        )
    return int(k)


def _check_schedule(time, save_times, dt: float) -> tuple[int, np.ndarray]:
    time = positive_float("time", time)
    steps = _whole_steps("time", time, dt)
    if steps < 1 or steps > MAX_COUNT:
        raise ValueError(f"time / dt must be from 1 to {MAX_COUNT} steps, got {steps}")
    try:
        st = np.asarray(save_times, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"save_times must be a 1-d array of times, got {save_times!r}") from None
    if st.ndim != 1 or st.size == 0 or not np.all(np.isfinite(st)):
        raise ValueError(f"save_times must be a non-empty 1-d array of finite times, got {st!r}")
    if st.min() < 0 or st.max() > time * (1 + 1e-12) or np.any(np.diff(st) <= 0):
        raise ValueError(
            f"save_times must be strictly increasing times in [0, time={time!r}], got {st.tolist()}"
        )
    ks = np.array([_whole_steps("save time", float(t), dt) for t in st], dtype=np.int64)
    if np.any(np.diff(ks) <= 0):
        raise ValueError(f"save_times fall on the same step of dt={dt!r}: {st.tolist()}")
    return steps, ks


def _check_runaway(factor) -> float:
    try:
        f = float(factor)
    except (TypeError, ValueError):
        raise ValueError(f"runaway_factor must be a number > 1 (or inf), got {factor!r}") from None
    if math.isnan(f) or not f > 1:
        raise ValueError(
            f"runaway_factor must be > 1 (inf switches the runaway stop off), got {factor!r}"
        )
    return f


def _check_threads(threads):
    from dysonsgd.sgd.engine import _check_threads as check

    return check(threads)


# --------------------------------------------------------------------------- the runner


def _stack(instances: list[Instance]):
    a = np.ascontiguousarray(np.stack([i.a_train for i in instances]), dtype=np.float64)
    aT = np.ascontiguousarray(a.transpose(0, 2, 1))
    y = np.ascontiguousarray(np.stack([i.y_train for i in instances]), dtype=np.float64)
    Z = np.ascontiguousarray(np.stack([i.Z for i in instances]), dtype=np.float64)
    return a, aT, y, Z


def _runaway_bounds(instances: list[Instance], factor: float) -> np.ndarray:
    if math.isinf(factor):
        return np.full(len(instances), np.inf)
    bound = np.empty(len(instances))
    for j, inst in enumerate(instances):
        s_t = np.linalg.svd(inst.W_teacher, compute_uv=False)[0]
        s_0 = np.linalg.svd(inst.W0, compute_uv=False)[0]
        bound[j] = factor * max(s_t * s_t, s_0 * s_0)
    return bound


def _run(
    name: str,
    instances: list[Instance],
    *,
    dt: float,
    steps: int,
    save_steps: np.ndarray,
    temperature: float,
    lr: float,
    order_eps: bool,
    runaway_factor: float,
    draw: Callable[[int, np.ndarray], None] | None = None,
    rng_states: np.ndarray | None = None,
    on_progress: Callable[[int, int], None] | None,
    threads: int | None,
    settings: dict,
) -> ContinuousResult:
    """Integrate validated arguments. The normals z of a step come from one of:

    - ``draw(j, out)``: fills ``out`` (count, n_samples) with system j's z of the next
      ``count`` steps (supplied normals: the tests' nested grids and oracles); systems that
      have stopped are not asked for more;
    - ``rng_states`` uint64 (n_sys, 4): the kernel draws them itself with system j's
      xoshiro256** state (advanced in place), in parallel;
    - neither: no noise (gradient descent).
    """
    kern = _kernels()
    c = instances[0].config
    n_sys, K, L, n = len(instances), c.K, c.L, c.n_samples
    a, aT, y, Z = _stack(instances)
    W = np.ascontiguousarray(np.stack([i.W0 for i in instances]), dtype=np.float64)
    n_saves = len(save_steps)
    W_rec = np.empty((n_sys, n_saves, K, L))
    loss_rec = np.empty((n_sys, n_saves))
    state = np.zeros((n_sys, 2), dtype=np.int64)
    bound = _runaway_bounds(instances, runaway_factor)
    base = dt / n
    noise = math.sqrt(temperature * dt / n)
    h_eps = dt * lr / (2 * n) if order_eps else 0.0
    passes = 2 if order_eps else 1
    block = max(1, _SAMPLES_PER_BLOCK // (n_sys * n * passes))
    no_z = np.zeros((n_sys, 0, 0))
    if draw is None and rng_states is not None:
        rng = rng_states
    else:
        rng = np.zeros((n_sys, 0), dtype=np.uint64)
    total = steps + 1  # evaluations: the states W_0 .. W_steps
    reported = 0

    import numba

    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        for k_start in range(0, total, block):
            k_stop = min(k_start + block, total)
            n_draw = min(k_stop, steps) - k_start
            if draw is None or n_draw == 0:
                zs = no_z
            else:
                zs = np.empty((n_sys, n_draw, n))
                for j in range(n_sys):
                    if state[j, 0] == 0:
                        draw(j, zs[j])
                    else:
                        zs[j] = 0.0
            kern.run_systems(
                c.activation_code,
                a,
                aT,
                y,
                Z,
                float(c.divergence_threshold),
                bound,
                base,
                noise,
                h_eps,
                bool(order_eps),
                k_start,
                k_stop,
                steps,
                zs,
                rng,
                save_steps,
                W,
                W_rec,
                loss_rec,
                state,
            )
            done = min(k_stop, steps)
            if on_progress is not None and done > reported:
                on_progress(done, steps)
                reported = done
    finally:
        if threads is not None:
            numba.set_num_threads(previous)
    stopped = state[:, 0] != 0
    return ContinuousResult(
        name=name,
        times=save_steps * dt,
        W=W_rec,
        loss=loss_rec,
        diverged=state[:, 0] == 1,
        runaway=state[:, 0] == 2,
        stop_time=np.where(stopped, state[:, 1] * dt, np.inf),
        steps=steps,
        dt=dt,
        settings=settings,
    )


# --------------------------------------------------------------------------- public API


def run_gd(
    instances: Sequence[Instance],
    *,
    lr: float,
    time: float,
    save_times,
    runaway_factor: float = 1e3,
    on_progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> ContinuousResult:
    """Full-batch gradient descent on each seed's training set, seeds in parallel.

    ``W_{k+1} = W_k - lr gbar(W_k)``, with ``gbar`` the mean per-sample gradient over the
    whole training set, at Langevin time ``t = lr k`` (SGD's time: one epoch is ``lr *
    n_batches``). With a small lr this is the gradient flow ``dW/dt = -gbar``; the step is
    stable along a Hessian direction only below ``lr = 2 / lambda`` (see
    :func:`top_hessian_eigenvalue`).

    Parameters
    ----------
    instances : sequence of Instance, length n_seeds
        The seeds' networks and data (e.g. :func:`dysonsgd.model.make_instances` or
        ``SGDResult.instances()``), all with one NetworkConfig.
    lr : float
        Learning rate, > 0; the step in time is ``dt = lr``.
    time : float
        Length of the run, a whole number of steps ``lr * steps``.
    save_times : array_like of float, shape (n_saves,)
        Strictly increasing times in [0, time], each a whole number of steps.
    runaway_factor : float
        A seed stops when ``x_1 = s_1(W)^2`` exceeds ``runaway_factor * max(x_1(W*),
        x_1(W0))`` (> 1; ``inf`` switches it off).
    on_progress : callable, optional
        ``on_progress(steps_done, steps)``, called after each block of steps (about 0.1 s of
        work each).
    threads : int, optional
        numba threads for this call; the result does not depend on it.

    Returns
    -------
    ContinuousResult
        ``name = "gd"``.

    Raises
    ------
    ValueError
        A bad argument; the message names the value and the fix.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 2 (network, loss and time conventions).
    """
    insts = _check_instances(instances)
    lr = positive_float("lr", lr)
    steps, save_steps = _check_schedule(time, save_times, lr)
    factor = _check_runaway(runaway_factor)
    threads = _check_threads(threads)
    settings = {
        "config": insts[0].config.to_dict(),
        "n_seeds": len(insts),
        "lr": lr,
        "dt": lr,
        "time": float(time),
        "runaway_factor": factor,
    }
    return _run(
        "gd",
        insts,
        dt=lr,
        steps=steps,
        save_steps=save_steps,
        temperature=0.0,
        lr=lr,
        order_eps=False,
        runaway_factor=factor,
        draw=None,
        on_progress=on_progress,
        threads=threads,
        settings=settings,
    )


def run_sde(
    instances: Sequence[Instance],
    *,
    temperature: float,
    lr: float,
    time: float,
    save_times,
    dt: float | None = None,
    seed: int | np.random.Generator | None = 0,
    order_eps: bool = False,
    runaway_factor: float = 1e3,
    on_progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> ContinuousResult:
    """The SDE of SGD, ``dW = -gbar dt + sqrt(T Sigma) dB``, by Euler-Maruyama, seeds in parallel.

    Sigma is the population covariance of the per-sample gradients over the training set,
    the covariance of SGD's noise per unit time (``|B| Cov(g_B) = Sigma`` for batches drawn
    with replacement). One step is ``W <- W - sum_n c_n g_n`` with ``c_n = dt/n + sqrt(T dt
    / n) (z_n - zbar)``, z_n iid N(0, 1): the noise ``sqrt(T dt) xi`` with ``xi = n^{-1/2}
    sum_n z_n (g_n - gbar)`` has covariance ``T dt Sigma`` exactly, and a step costs one
    pass over the training set, as a GD step does. Weak order 1 in dt (Kloeden & Platen
    14.1); at ``T = 0`` and ``dt = lr`` it is :func:`run_gd` exactly.

    Parameters
    ----------
    instances : sequence of Instance, length n_seeds
        As in :func:`run_gd`.
    temperature : float
        T >= 0 (SGD's ``lr / batch_size``).
    lr : float
        SGD's learning rate, > 0: the default step, the bound ``dt <= lr`` and the scale of
        the ``order_eps`` correction.
    time : float
        Length of the run, a whole number of steps of ``dt``.
    save_times : array_like of float, shape (n_saves,)
        Strictly increasing times in [0, time], each a whole number of steps.
    dt : float, optional
        Euler-Maruyama step, ``0 < dt <= lr``; default ``lr``.
    seed : int, Generator or None
        Base seed. Seed k's normals come from a xoshiro256** generator seeded by
        ``SeedSequence(entropy, spawn_key=(k, NOISE)).generate_state(4)`` alone, drawn
        inside the kernel (the Langevin integrator's ziggurat, 3 ns per draw) n per step in
        order, so the result depends on neither the number of seeds, nor threads, nor
        blocks.
    order_eps : bool
        Add the order-lr drift of the stochastic modified equation, ``-(lr/4) grad
        |gbar|^2 = -(lr/2) H gbar`` (exact Hessian-vector product; a step then costs about
        two passes).
    runaway_factor : float
        As in :func:`run_gd`.
    on_progress : callable, optional
        ``on_progress(steps_done, steps)`` after each block of steps.
    threads : int, optional
        numba threads; the result does not depend on it.

    Returns
    -------
    ContinuousResult
        ``name = "sde"``; ``settings["seed"]`` is the base entropy.

    Raises
    ------
    ValueError
        A bad argument; the message names the value and the fix.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349, section 4 (the Langevin description of SGD).
    Li, Tai & E, "Stochastic modified equations and adaptive stochastic gradient
    algorithms", ICML 2017 / JMLR 2019, Theorem 1 (the SME and its order-eta drift).
    """
    insts = _check_instances(instances)
    try:
        T = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}") from None
    if not (math.isfinite(T) and T >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    lr = positive_float("lr", lr)
    dt = lr if dt is None else positive_float("dt", dt)
    if dt > lr:
        raise ValueError(
            f"dt={dt!r} exceeds lr={lr!r}: the SDE approximates SGD only for dt <= lr "
            "(leave dt unset for dt = lr)"
        )
    if not isinstance(order_eps, (bool, np.bool_)):
        raise ValueError(f"order_eps must be True or False, got {order_eps!r}")
    steps, save_steps = _check_schedule(time, save_times, dt)
    factor = _check_runaway(runaway_factor)
    entropy = _seeding.base_entropy(seed)
    threads = _check_threads(threads)
    states = np.stack(
        [
            np.random.SeedSequence(entropy, spawn_key=(k, NOISE)).generate_state(4, np.uint64)
            for k in range(len(insts))
        ]
    )
    settings = {
        "config": insts[0].config.to_dict(),
        "n_seeds": len(insts),
        "temperature": T,
        "lr": lr,
        "dt": dt,
        "time": float(time),
        "seed": entropy,
        "order_eps": bool(order_eps),
        "runaway_factor": factor,
    }
    return _run(
        "sde",
        insts,
        dt=dt,
        steps=steps,
        save_steps=save_steps,
        temperature=T,
        lr=lr,
        order_eps=bool(order_eps),
        runaway_factor=factor,
        rng_states=states,
        on_progress=on_progress,
        threads=threads,
        settings=settings,
    )


# --------------------------------------------------------------------------- curvature


def _check_W(W, instance: Instance, name: str = "W") -> np.ndarray:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"instance must be a dysonsgd.model.Instance, got {type(instance).__name__}"
        )
    c = instance.config
    arr = np.ascontiguousarray(W, dtype=np.float64)
    if arr.shape != (c.K, c.L):
        raise ValueError(f"{name} must have shape (K, L) = ({c.K}, {c.L}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _loss_grad_hvp(W: np.ndarray, instance: Instance, V: np.ndarray | None):
    c = instance.config
    a = np.ascontiguousarray(instance.a_train, dtype=np.float64)
    aT = np.ascontiguousarray(a.T)
    y = np.ascontiguousarray(instance.y_train, dtype=np.float64)
    Z = np.ascontiguousarray(instance.Z, dtype=np.float64)
    grad = np.empty((c.K, c.L))
    hv = np.empty((c.K, c.L)) if V is not None else np.empty((0, 0))
    Vk = V if V is not None else np.empty((0, 0))
    loss = _kernels().loss_gradient_hvp(c.activation_code, a, aT, y, Z, W, Vk, grad, hv)
    return loss, grad, hv


def hessian_vector_product(W: np.ndarray, instance: Instance, V: np.ndarray) -> np.ndarray:
    """Exact Hessian of the full training loss in W, applied to V.

    Differentiates the backward pass along V (forward-over-reverse): with ``z = W a_n``,
    ``dz = V a_n``, ``dphi = phi'(z) dz``, ``de = -Z dphi`` and ``d delta = (Z^T de)
    phi'(z) + (Z^T e) phi''(z) dz``, ``H V = -(1/n) sum_n d delta_n a_n^T`` (the
    Gauss-Newton part and the residual part, no approximation).

    Parameters
    ----------
    W : ndarray of float64, shape (K, L)
    instance : Instance
        The network and training set (``a_train``, ``y_train``, Z).
    V : ndarray of float64, shape (K, L)

    Returns
    -------
    ndarray of float64, shape (K, L)

    References
    ----------
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6
    (1994) 147; Li, Tai & E (JMLR 2019), the drift ``-(eta/2) H grad f`` of the SME.
    """
    W = _check_W(W, instance)
    V = _check_W(V, instance, "V")
    return _loss_grad_hvp(W, instance, V)[2]


def top_hessian_eigenvalue(
    W: np.ndarray, instance: Instance, *, iters: int = 500, tol: float = 1e-8
) -> float:
    """Largest (algebraic) eigenvalue of the Hessian of the full training loss at W.

    Lanczos (ARPACK's implicitly restarted, ``scipy.sparse.linalg.eigsh``, ``which="LA"``)
    on exact Hessian-vector products; the Hessian is never formed. Gradient descent at
    learning rate lr is stable near a minimum only while ``lambda_max < 2 / lr`` (the
    "edge of stability").

    Parameters
    ----------
    W : ndarray of float64, shape (K, L)
    instance : Instance
    iters : int
        Maximum number of Arnoldi restarts.
    tol : float
        Relative accuracy of the eigenvalue (ARPACK's ``tol``), > 0.

    Returns
    -------
    float

    References
    ----------
    J. Cohen et al., "Gradient descent on neural networks typically occurs at the edge of
    stability", ICLR 2021; ARPACK (scipy.sparse.linalg.eigsh documentation).
    """
    from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

    W = _check_W(W, instance)
    iters = positive_int("iters", iters)
    tol = positive_float("tol", tol)
    K, L = W.shape

    def matvec(v):
        V = np.ascontiguousarray(np.asarray(v, dtype=np.float64).reshape(K, L))
        return _loss_grad_hvp(W, instance, V)[2].ravel()

    op = LinearOperator((K * L, K * L), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(K * L)  # fixed start: deterministic
    try:
        vals = eigsh(op, k=1, which="LA", v0=v0, maxiter=iters, tol=tol, return_eigenvectors=False)
        return float(vals[0])
    except ArpackError:
        # A degenerate Hessian (e.g. every unit saturated, so H v0 = 0) stops ARPACK
        # ("starting vector is zero"); form H from K L exact products instead.
        H = np.column_stack([matvec(e) for e in np.eye(K * L)])
        return float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1])

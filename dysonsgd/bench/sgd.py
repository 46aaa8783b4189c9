"""SGD speed: naive einsum numpy vs the numpy reference vs the numba engine, side by side.

Reports microseconds per SGD step per seed on the paper's configuration (K=16, L=32,
|B|=4, tanh), the machine's measured arithmetic peak and tanh throughput, the resulting
lower bound on a step, projected CPU-hours of the paper's full grid, the scaling on all
threads, and the memory of a 10-seed, 21-save run. See docs/performance.md.
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc

import numpy as np

from dysonsgd._jit import njit, prange
from dysonsgd.bench import naive_sgd
from dysonsgd.bench._tables import Table, best_time
from dysonsgd.model import NetworkConfig, make_instances
from dysonsgd.sgd import _kernels, engine, reference, train

NAME = "sgd"

PAPER = NetworkConfig()
GRID_STEPS = 144 * 10 * 10**8  # cells x seeds x steps per seed (paper: 100,000 epochs)
ENTROPY = 1
LR = 0.125  # T = 2^-5, the ordered corner: no divergence, every step does full work
SIGMA_W = 1.0


# --------------------------------------------------------------------------- peak loops


@njit(cache=True)
def _muladd_peak(x, a, b, reps):
    # Innermost loop over independent elements (vectorised); each element does 8
    # dependent mul+add in registers per load/store, enough to be arithmetic-bound.
    # No fastmath: a separate multiply and add, as in the engine.
    for _ in range(reps):
        for i in range(x.size):
            v = x[i]
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            x[i] = v


@njit(cache=True, parallel=True)
def _muladd_peak_par(x, a, b, reps):
    n = x.shape[1]
    for c in prange(x.shape[0]):
        for _ in range(reps):
            for i in range(n):
                v = x[c, i]
                v = v * a + b
                v = v * a + b
                v = v * a + b
                v = v * a + b
                v = v * a + b
                v = v * a + b
                v = v * a + b
                v = v * a + b
                x[c, i] = v


@njit(cache=True)
def _libm_tanh_loop(x, out, reps):
    for _ in range(reps):
        for i in range(x.size):
            out[i] = math.tanh(x[i])


def flops_per_step(c: NetworkConfig) -> dict:
    """Floating-point work of one SGD step of the engine (multiply and add counted apart)."""
    B, K, L, d = c.batch_size, c.K, c.L, c.d_out
    forward = 2 * B * K * L  # z = W a
    output = 2 * B * K * d + 2 * B * d  # yhat = Z f, e, |e|^2
    act = 2 * B * K  # phi'(z) = 1 - f^2
    delta = B * K * (2 * d)  # (Z^T e) * phi'
    backward = 2 * B * K * L  # sum_n delta_n a_n^T
    update = 3 * K * L  # epoch sum += acc; W += (lr/B) acc
    total = forward + output + act + delta + backward + update
    return {"flops": total, "tanh": B * K, "fma_like": forward // 2 + backward // 2 + K * L}


def _cpu_best(fn, repeat: int) -> float:
    """Best CPU time (process_time) of ``fn()`` over ``repeat`` calls, seconds.

    CPU time rather than wall time: on a shared machine a single-threaded run is
    descheduled part of the time, which wall time would count.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _peak_flops(threads: int, quick: bool) -> float:
    """Measured mul+add throughput, flop/s, data in L1.

    One thread: CPU time; ``threads`` threads: wall time (what a parallel run gets).
    """
    n, reps = 256, (2000 if quick else 20000)
    if threads == 1:
        x = np.random.default_rng(0).random(n) * 1e-3
        _muladd_peak(x, 0.999, 1e-6, 1)
        return 16 * n * reps / _cpu_best(lambda: _muladd_peak(x, 0.999, 1e-6, reps), 7)
    x = np.random.default_rng(0).random((threads, n)) * 1e-3
    _muladd_peak_par(x, 0.999, 1e-6, 1)
    t = best_time(lambda: _muladd_peak_par(x, 0.999, 1e-6, reps), repeat=7)
    return 16 * n * reps * threads / t


def _tanh_ns() -> tuple[float, float]:
    """ns per element: libm's tanh (numba math.tanh) and the engine's vectorisable tanh."""
    x = np.random.default_rng(0).standard_normal(4096) * 0.7
    out = np.empty_like(x)
    _libm_tanh_loop(x, out, 1)
    t_libm = _cpu_best(lambda: _libm_tanh_loop(x, out, 50), 7) / (50 * x.size)
    _kernels.tanh_array(x, out)
    t_ours = _cpu_best(lambda: [_kernels.tanh_array(x, out) for _ in range(50)], 7)
    return t_libm * 1e9, t_ours / (50 * x.size) * 1e9


def _interleaved_us(fns: dict, rounds: int) -> dict:
    """Best microseconds per step of each ``(fn, steps, clock)`` over interleaved rounds.

    ``clock`` is ``time.process_time`` for single-threaded runs (CPU cost) and
    ``time.perf_counter`` for multi-threaded ones (wall time).
    """
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, (fn, steps, clock) in fns.items():
            t0 = clock()
            fn()
            best[k] = min(best[k], (clock() - t0) / steps * 1e6)
    return best


def _memory_mb(quick: bool) -> tuple[float, float]:
    """Peak traced memory of train(engine="numba"), 10 seeds, 21 saves, paper config.

    Runs 20 epochs (the shortest run with 21 distinct save epochs); the only array whose
    size grows with the run length is the per-epoch loss, 10 x (epochs + 1) float64, so the
    paper's 100,000 epochs add 10 * 99,980 * 8 bytes = 8.0 MB, reported separately.
    """
    tracemalloc.start()
    train(PAPER, sigma_w=SIGMA_W, lr=LR, epochs=20, n_seeds=10, seed=ENTROPY, engine="numba")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    extra = 10 * (100_001 - 21) * 8
    return peak / 2**20, (peak + extra) / 2**20


def run(quick: bool = False) -> Table:
    """Measure; return the table."""
    import numba

    c = PAPER
    nb = c.n_batches
    n_threads = numba.config.NUMBA_NUM_THREADS
    one = make_instances(c, SIGMA_W, 1, ENTROPY)
    four = make_instances(c, SIGMA_W, 2 * n_threads, ENTROPY)
    save1 = np.array([0, 1])

    # The naive baseline must be the same computation as the reference (1 epoch).
    ref1 = reference.run(one, LR, 1, save1, None)
    W_naive, _ = naive_sgd.run_seed(one[0], LR, 1)
    np.testing.assert_allclose(W_naive, ref1.W[0, -1], rtol=1e-9, atol=1e-12)

    # All implementations are timed in interleaved rounds (best of each), so that load from
    # other processes on a shared machine hits them alike.
    slow_epochs = 1 if quick else 2
    fast_epochs = 10 if quick else 40
    ns = len(four)
    save_s, save_f = np.array([0, slow_epochs]), np.array([0, fast_epochs])
    engine.run(one, LR, 1, save1, None, threads=1)  # compile / load from cache
    cpu, wall = time.process_time, time.perf_counter
    t = _interleaved_us(
        {
            "naive": (lambda: naive_sgd.run_seed(one[0], LR, slow_epochs), slow_epochs * nb, cpu),
            "ref": (
                lambda: reference.run(one, LR, slow_epochs, save_s, None),
                slow_epochs * nb,
                cpu,
            ),
            "nb1": (
                lambda: engine.run(one, LR, fast_epochs, save_f, None, threads=1),
                fast_epochs * nb,
                cpu,
            ),
            "nb1_many": (
                lambda: engine.run(four, LR, fast_epochs, save_f, None, threads=1),
                fast_epochs * nb * ns,
                cpu,
            ),
            "nb1_many_wall": (
                lambda: engine.run(four, LR, fast_epochs, save_f, None, threads=1),
                fast_epochs * nb * ns,
                wall,
            ),
            "nbN_many": (
                lambda: engine.run(four, LR, fast_epochs, save_f, None, threads=n_threads),
                fast_epochs * nb * ns,
                wall,
            ),
            "nbN_many_cpu": (
                lambda: engine.run(four, LR, fast_epochs, save_f, None, threads=n_threads),
                fast_epochs * nb * ns,
                cpu,
            ),
        },
        rounds=3 if quick else 5,
    )
    t_naive, t_ref, t_nb1 = t["naive"], t["ref"], t["nb1"]
    t_nb1_many, t_nbN_many = t["nb1_many"], t["nbN_many"]
    scaling = t["nb1_many_wall"] / t_nbN_many
    # CPU time of the same work on N threads over 1 thread: the cost of going parallel,
    # measurable even when the other cores are busy (wall-time scaling then is not).
    parallel_cpu = t["nbN_many_cpu"] / t_nb1_many
    load = os.getloadavg()[0]

    work = flops_per_step(c)
    peak1 = _peak_flops(1, quick)
    peakN = _peak_flops(n_threads, quick)
    libm_ns, tanh_ns = _tanh_ns()
    arith_us = work["flops"] / peak1 * 1e6
    bound_us = arith_us + work["tanh"] * tanh_ns * 1e-3
    mem_measured, mem_paper = _memory_mb(quick)

    def cpu_hours(us):
        return GRID_STEPS * us * 1e-6 / 3600

    rows = [
        ["naive einsum numpy (1 seed)", t_naive, 1.0, cpu_hours(t_naive)],
        ["numpy reference (1 seed)", t_ref, t_naive / t_ref, cpu_hours(t_ref)],
        ["numba, 1 thread, 1 seed", t_nb1, t_naive / t_nb1, cpu_hours(t_nb1)],
        [f"numba, 1 thread, {ns} seeds", t_nb1_many, t_naive / t_nb1_many, cpu_hours(t_nb1_many)],
        [
            f"numba, {n_threads} threads, {ns} seeds (wall per seed-step; CPU-hours from CPU time)",
            t_nbN_many,
            t_naive / t_nbN_many,
            cpu_hours(t["nbN_many_cpu"]),
        ],
        ["physical limit, 1 thread: flops at peak + our tanh", bound_us, t_naive / bound_us, ""],
    ]
    notes = [
        f"paper configuration K={c.K}, L={c.L}, |B|={c.batch_size}, {c.activation}, "
        f"{nb} batches/epoch; T = {LR / c.batch_size:g}, sigma_w = {SIGMA_W:g}; "
        f"{'quick' if quick else 'full'} mode; best of interleaved rounds; 1-thread times are "
        f"CPU time (process_time), multi-thread times wall time; load average {load:.1f} "
        f"on {os.cpu_count()} cores during the run",
        f"work per step: {work['flops']} flops (multiply and add counted apart) + "
        f"{work['tanh']} tanh",
        f"measured mul+add peak (numba, no fastmath, data in L1): {peak1 / 1e9:.1f} Gflop/s "
        f"on 1 thread, {peakN / 1e9:.1f} Gflop/s on {n_threads}",
        f"tanh: libm (numba math.tanh) {libm_ns:.2f} ns, the engine's vectorisable tanh "
        f"{tanh_ns:.2f} ns per element",
        f"physical limit per step: {arith_us:.3f} us arithmetic + "
        f"{work['tanh'] * tanh_ns * 1e-3:.3f} us tanh = {bound_us:.3f} us (with libm tanh: "
        f"{arith_us + work['tanh'] * libm_ns * 1e-3:.3f} us); the engine (1 thread, {ns} "
        f"seeds) runs at {bound_us / t_nb1_many:.0%} of the limit",
        f"speed-up, numba 1 thread vs naive: {t_naive / t_nb1_many:.0f}x, vs reference: "
        f"{t_ref / t_nb1_many:.0f}x; {n_threads} threads vs 1 ({ns} seeds): wall-time "
        f"speed-up {scaling:.2f}x, CPU time {parallel_cpu:.2f}x that of 1 thread (wall-time "
        f"scaling needs {n_threads} idle cores: with sched_autogroup a busy machine gives a "
        "process one share however many threads it runs)",
        "last column: CPU-hours of the paper grid (144 cells x 10 seeds x 1e8 steps), "
        f"projected from times measured at load average {load:.2f} on {os.cpu_count()} cores "
        "(CPU time per step grows with the load: busy cores share caches and memory "
        "bandwidth); the original study reports ~56 CPU-hours per cell = "
        f"{56 * 144:.0f} CPU-hours",
        f"memory, train(engine='numba'), 10 seeds, 21 saves, 20 epochs: {mem_measured:.1f} MB "
        f"peak (tracemalloc); with the per-epoch loss of 100,000 epochs: {mem_paper:.1f} MB",
    ]
    return Table(
        NAME,
        "SGD step time (us per step per seed) and projected paper-grid cost",
        ["implementation", "us/step/seed", "speed-up vs naive", "grid CPU-hours"],
        rows,
        notes,
    )

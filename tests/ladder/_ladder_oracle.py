"""Plain numpy oracles of the continuous-time rungs (the slow, readable definitions).

Written from the formulas, independently of the kernels: per-sample gradients from
:func:`dysonsgd.model.per_sample_gradients`, the noise as ``sqrt(T dt / n) sum_n (z_n - zbar)
g_n`` and the exact Hessian-vector product as the derivative of the backward pass.
"""

from __future__ import annotations

import numpy as np

from dysonsgd.model import Instance, loss_and_gradient, per_sample_gradients, phi, phi_prime


def loss_grad(W: np.ndarray, inst: Instance) -> tuple[float, np.ndarray]:
    """Full training loss and mean gradient."""
    c = inst.config
    return loss_and_gradient(W, inst.a_train, inst.y_train, inst.Z, c.activation)


def hvp(W: np.ndarray, inst: Instance, V: np.ndarray) -> np.ndarray:
    """Exact ``H V`` of the full training loss (forward-over-reverse, in numpy)."""
    act = inst.config.activation
    a, y, Z = inst.a_train, inst.y_train, inst.Z
    z = a @ W.T
    f = phi(z, act)
    p = phi_prime(z, act)
    q = -2.0 * f * p if act == "tanh" else np.zeros_like(z)
    e = y - f @ Z.T
    s = e @ Z
    dz = a @ V.T
    de = -(p * dz) @ Z.T
    ddelta = (de @ Z) * p + s * q * dz
    return -(ddelta.T @ a) / a.shape[0]


def gd(inst: Instance, lr: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """States W_0 .. W_steps (steps + 1, K, L) and their losses of full-batch GD."""
    W = inst.W0.copy()
    Ws, losses = [], []
    for k in range(steps + 1):
        loss, g = loss_grad(W, inst)
        Ws.append(W.copy())
        losses.append(loss)
        if k < steps:
            W = W - lr * g
    return np.array(Ws), np.array(losses)


def sde(
    inst: Instance, temperature: float, dt: float, lr: float, zs: np.ndarray, order_eps: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Euler-Maruyama states and losses for the normals ``zs`` (steps, n)."""
    c = inst.config
    n = c.n_samples
    W = inst.W0.copy()
    Ws, losses = [], []
    steps = zs.shape[0]
    for k in range(steps + 1):
        loss, gbar = loss_grad(W, inst)
        Ws.append(W.copy())
        losses.append(loss)
        if k == steps:
            break
        g = per_sample_gradients(W, inst.a_train, inst.y_train, inst.Z, c.activation)
        z = zs[k]
        noise = np.sqrt(temperature * dt / n) * np.tensordot(z - z.mean(), g, axes=1)
        drift = gbar + (0.5 * lr * hvp(W, inst, gbar) if order_eps else 0.0)
        W = W - dt * drift - noise
    return np.array(Ws), np.array(losses)

"""The teacher-student network of Park, Lucini & Aarts (section 2; docs/model.md), in plain numpy.

Forward pass ``a = phi(M x)``, ``f = phi(W a)``, ``y = Z f``; only the middle matrix W
(K x L) is trained. :class:`NetworkConfig` describes the architecture and the data protocol
(frozen, validated, paper values as defaults); :func:`make_instance` draws one seed's
network and data; the functions below it give losses and analytic gradients.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025), section 2.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from dysonsgd import _seeding
from dysonsgd._validate import positive_float

#: Activations offered, in the order of their integer codes used by the numba kernels.
ACTIVATIONS: tuple[str, ...] = ("tanh", "identity", "relu")


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture and data protocol of the teacher-student network.

    Parameters
    ----------
    d_in : int
        Input dimension; inputs are x ~ N(0, I).
    K : int
        Second hidden width: rows of the trained matrix W.
    L : int
        First hidden width: columns of W (the paper uses L = 2 K). Must satisfy K <= L.
    d_out : int
        Output dimension.
    activation : {"tanh", "identity", "relu"}
        The nonlinearity phi of both hidden layers.
    n_batches : int
        Batches per epoch; the training set holds ``n_batches * batch_size`` inputs.
    batch_size : int
        Samples per batch, |B|. The temperature is ``T = lr / batch_size``.
    n_test : int
        Size of the probe set of fresh inputs used by the observables.
    divergence_threshold : float
        A batch loss above this stops the seed as diverged.
    """

    d_in: int = 3
    K: int = 16
    L: int = 32
    d_out: int = 1
    activation: str = "tanh"
    n_batches: int = 1000
    batch_size: int = 4
    n_test: int = 128
    divergence_threshold: float = 100.0

    def __post_init__(self) -> None:
        for name in ("d_in", "K", "L", "d_out", "n_batches", "batch_size", "n_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.K < 2:
            raise ValueError(f"K must be at least 2 to have a spectrum, got {self.K}")
        if self.K > self.L:
            raise ValueError(
                f"K must not exceed L (X = W W^T would be singular), got K={self.K}, L={self.L}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        thr = self.divergence_threshold
        if not (isinstance(thr, (int, float)) and math.isfinite(thr) and thr > 0):
            raise ValueError(f"divergence_threshold must be a positive number, got {thr!r}")

    @property
    def n_samples(self) -> int:
        """Size of the fixed training set, ``n_batches * batch_size``."""
        return self.n_batches * self.batch_size

    @property
    def activation_code(self) -> int:
        """Integer code of the activation for the numba kernels."""
        return ACTIVATIONS.index(self.activation)

    def replace(self, **changes) -> NetworkConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The configuration as plain JSON-serialisable values."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- activations


def phi(z: np.ndarray, activation: str) -> np.ndarray:
    """Apply the activation element-wise."""
    if activation == "tanh":
        return np.tanh(z)
    if activation == "identity":
        return np.array(z, dtype=np.float64, copy=True)
    if activation == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")


def phi_prime(z: np.ndarray, activation: str) -> np.ndarray:
    """Derivative of the activation (relu: 0 at z = 0)."""
    if activation == "tanh":
        t = np.tanh(z)
        return 1.0 - t * t
    if activation == "identity":
        return np.ones_like(z, dtype=np.float64)
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    raise ValueError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")


# --------------------------------------------------------------------------- one seed


@dataclass(frozen=True, eq=False)
class Instance:
    """One seed's network and data (paper section 2; docs/model.md).

    Attributes
    ----------
    config : NetworkConfig
    sigma_w : float
        Width of the student's initial weights: entries N(0, sigma_w^2 / L).
    M : ndarray of float64, shape (L, d_in)
        Fixed first layer, entries N(0, 1/d_in).
    Z : ndarray of float64, shape (d_out, K)
        Fixed read-out, entries N(0, 1/K).
    W_teacher : ndarray of float64, shape (K, L)
        Teacher's middle matrix, entries N(0, 1/L).
    W0 : ndarray of float64, shape (K, L)
        Student's initial matrix.
    x_train : ndarray of float64, shape (n_samples, d_in)
        Fixed training inputs, batch b is rows ``b*|B| : (b+1)*|B|``.
    x_probe : ndarray of float64, shape (n_test, d_in)
        Fresh probe inputs for the observables.
    a_train, a_probe : ndarray of float64, shape (n, L)
        First-layer features ``phi(M x)`` (fixed, since M is not trained).
    y_train, y_probe : ndarray of float64, shape (n, d_out)
        Teacher outputs.
    """

    config: NetworkConfig
    sigma_w: float
    M: np.ndarray
    Z: np.ndarray
    W_teacher: np.ndarray
    W0: np.ndarray
    x_train: np.ndarray
    x_probe: np.ndarray
    a_train: np.ndarray
    a_probe: np.ndarray
    y_train: np.ndarray
    y_probe: np.ndarray


def check_sigma_w(sigma_w: float) -> float:
    """Validate the initial weight width and return it as a float."""
    return positive_float("sigma_w", sigma_w)


def make_instance(config: NetworkConfig, sigma_w: float, rng: np.random.Generator) -> Instance:
    """Draw one seed's network and data.

    The draws come in a fixed order (M, W*, Z, a standard normal matrix G, training inputs,
    probe inputs) and the student starts at ``W0 = sigma_w G / sqrt(L)``: seeds with the same
    stream share everything but the scale of W0, so cells of a sweep differ only in
    (T, sigma_w).

    Parameters
    ----------
    config : NetworkConfig
    sigma_w : float
        Initial width, > 0.
    rng : numpy.random.Generator
        The seed's network stream.

    Returns
    -------
    Instance
    """
    sigma_w = check_sigma_w(sigma_w)
    c = config
    M = rng.standard_normal((c.L, c.d_in)) / math.sqrt(c.d_in)
    W_teacher = rng.standard_normal((c.K, c.L)) / math.sqrt(c.L)
    Z = rng.standard_normal((c.d_out, c.K)) / math.sqrt(c.K)
    G = rng.standard_normal((c.K, c.L))
    x_train = rng.standard_normal((c.n_samples, c.d_in))
    x_probe = rng.standard_normal((c.n_test, c.d_in))
    W0 = (sigma_w / math.sqrt(c.L)) * G
    a_train = phi(x_train @ M.T, c.activation)
    a_probe = phi(x_probe @ M.T, c.activation)
    y_train = output(W_teacher, a_train, Z, c.activation)
    y_probe = output(W_teacher, a_probe, Z, c.activation)
    return Instance(
        config=c,
        sigma_w=sigma_w,
        M=M,
        Z=Z,
        W_teacher=W_teacher,
        W0=W0,
        x_train=x_train,
        x_probe=x_probe,
        a_train=np.ascontiguousarray(a_train),
        a_probe=np.ascontiguousarray(a_probe),
        y_train=np.ascontiguousarray(y_train),
        y_probe=np.ascontiguousarray(y_probe),
    )


def make_instances(
    config: NetworkConfig, sigma_w: float, n_seeds: int, entropy: int
) -> list[Instance]:
    """The instances of seeds ``0 .. n_seeds-1`` of a run with base ``entropy``."""
    return [
        make_instance(config, sigma_w, _seeding.stream(entropy, k, _seeding.NETWORK))
        for k in range(n_seeds)
    ]


# --------------------------------------------------------------------------- network maps


def features(W: np.ndarray, a: np.ndarray, activation: str) -> np.ndarray:
    """Second-layer features ("soft spins") ``f = phi(W a)``, shape (n, K)."""
    return phi(a @ W.T, activation)


def output(W: np.ndarray, a: np.ndarray, Z: np.ndarray, activation: str) -> np.ndarray:
    """Network output ``y = Z phi(W a)`` for first-layer features ``a`` of shape (n, L)."""
    return features(W, a, activation) @ Z.T


def per_sample_loss(
    W: np.ndarray, a: np.ndarray, y: np.ndarray, Z: np.ndarray, activation: str
) -> np.ndarray:
    """Per-sample losses ``l_n = |y_n - yhat_n|^2 / 2``, shape (n,)."""
    e = y - output(W, a, Z, activation)
    return 0.5 * np.sum(e * e, axis=1)


def _deltas(W, a, y, Z, activation):
    z = a @ W.T
    e = y - phi(z, activation) @ Z.T
    return (e @ Z) * phi_prime(z, activation), e


def per_sample_gradients(
    W: np.ndarray, a: np.ndarray, y: np.ndarray, Z: np.ndarray, activation: str
) -> np.ndarray:
    """Per-sample gradients ``g_n = dl_n/dW = -delta_n a_n^T``.

    Parameters
    ----------
    W : ndarray of float64, shape (K, L)
    a : ndarray of float64, shape (n, L)
        First-layer features.
    y : ndarray of float64, shape (n, d_out)
        Targets.
    Z : ndarray of float64, shape (d_out, K)
    activation : str

    Returns
    -------
    ndarray of float64, shape (n, K, L)
    """
    delta, _ = _deltas(W, a, y, Z, activation)
    return -delta[:, :, None] * a[:, None, :]


def loss_and_gradient(
    W: np.ndarray, a: np.ndarray, y: np.ndarray, Z: np.ndarray, activation: str
) -> tuple[float, np.ndarray]:
    """Mean loss and mean gradient over the samples ``a, y``.

    Returns
    -------
    loss : float
        ``mean_n |y_n - yhat_n|^2 / 2``.
    grad : ndarray of float64, shape (K, L)
        ``mean_n g_n = -(1/n) Delta^T A``.
    """
    delta, e = _deltas(W, a, y, Z, activation)
    n = a.shape[0]
    loss = 0.5 * float(np.sum(e * e)) / n
    return loss, -(delta.T @ a) / n

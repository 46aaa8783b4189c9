"""Langevin coefficients measured from a network state (paper section 4; docs/theory-network.md).

Given the student's matrix W and a set of samples (training or probe set), the per-sample
symmetric updates of ``X = W W^T`` are ``D_n = W g_n^T + g_n W^T`` with ``g_n = dl_n/dW``.
Rotated into an orthonormal basis ``U`` (by default the eigenvectors of X, eigenvalues
descending) they give the coefficients of the eigenvalue Langevin equation

    dx_i = [ -Kt_ii + T ( C_ii + sum_{j != i} Vt_ij / (x_i - x_j) ) ] dt + sqrt(T Vt_ii) dB_i

(time ``t = eps * steps``, temperature ``T = eps / |B|``), with

- drift ``Kt_ij = u_i^T E_n[D_n] u_j`` (the equation uses the diagonal),
- fluctuation ``Vt_ij = Var_n(u_i^T D_n u_j)``, computed exactly component by component,
- second-order term ``C_ii = E_n |u_i^T (g_n - gbar)|^2`` (summed over the L columns).

The published analysis's estimator ``Vt_paper = U^T Var_n(D_n) U`` (element-wise variance,
then rotated) takes U from ``numpy.linalg.svd(X)`` (:func:`paper_basis`); unlike the exact
quantities it depends on the signs of the basis vectors.

Averages and variances are over the given samples with weight 1/n (population variance,
``ddof = 0``): SGD draws its batches from a fixed finite set, so the set is the population.

The rotated update is formed for all samples at once, ``U^T D_n U = A_n + A_n^T`` with
``A_n = (U^T g_n)(U^T W)^T``, from the per-sample gradients of
:func:`dysonsgd.model.per_sample_gradients` (memory n K L floats).

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 4 and appendix (Langevin
equation, the criterion of Fig 8).
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dysonsgd.model import ACTIVATIONS, per_sample_gradients

#: Estimators of the fluctuation matrix Vt.
VT_ESTIMATORS: tuple[str, ...] = ("exact", "paper")


@dataclass(frozen=True)
class LangevinCoefficients:
    """Coefficients of the eigenvalue Langevin equation measured at one network state.

    Attributes
    ----------
    x : ndarray of float64, shape (K,)
        Eigenvalues of ``X = W W^T`` in descending order (with a user ``basis``: the diagonal
        ``u_i^T X u_i`` in that basis).
    U : ndarray of float64, shape (K, K)
        The basis: column i is u_i.
    Kt : ndarray of float64, shape (K,)
        Drift, ``u_i^T E_n[D_n] u_i``.
    Vt : ndarray of float64, shape (K, K)
        Exact rotated fluctuations ``Var_n(u_i^T D_n u_j)`` (symmetric).
    C : ndarray of float64, shape (K,)
        Second-order term ``E_n |u_i^T (g_n - gbar)|^2``.
    Vt_paper : ndarray of float64, shape (K, K)
        The published estimator: the element-wise variance matrix rotated,
        ``U_paper^T Var_n(D_n) U_paper`` (``Var_n`` taken entry by entry in the original
        basis). It is not a matrix of variances: entries, even diagonal ones, can be
        negative, and entry (i, j) changes sign with ``sign(u_i) sign(u_j)``, so it depends
        on the signs of the basis vectors (see :func:`paper_basis`).
    Kt_full : ndarray of float64, shape (K, K)
        The whole rotated mean update ``U^T E_n[D_n] U`` (its diagonal is ``Kt``).
    gbar_sq : ndarray of float64, shape (K,)
        ``(gbar gbar^T)~_ii = |u_i^T gbar|^2``, the order-eps term of the mean step.
    n_samples : int
        Number of samples averaged over.
    U_paper : ndarray of float64, shape (K, K)
        The basis of ``Vt_paper``: the published analysis's (:func:`paper_basis`, U of
        ``numpy.linalg.svd(W W^T)``), or the user's ``basis`` when one was given. Its
        columns span the same lines as ``U``'s; their signs can differ.
    """

    x: np.ndarray
    U: np.ndarray
    Kt: np.ndarray
    Vt: np.ndarray
    C: np.ndarray
    Vt_paper: np.ndarray
    Kt_full: np.ndarray
    gbar_sq: np.ndarray
    n_samples: int
    U_paper: np.ndarray

    @property
    def K(self) -> int:
        """Number of eigenvalues."""
        return self.x.shape[0]

    def vt(self, estimator: str = "exact") -> np.ndarray:
        """The fluctuation matrix of the named estimator (``exact`` or ``paper``)."""
        if estimator == "exact":
            return self.Vt
        if estimator == "paper":
            return self.Vt_paper
        raise ValueError(f"estimator must be one of {', '.join(VT_ESTIMATORS)}, got {estimator!r}")

    def order_eps_drift(self) -> np.ndarray:
        """The order-eps drift per unit learning rate, shape (K,).

        ``sum_{j != i} Kt_ij^2 / (x_i - x_j) + |u_i^T gbar|^2``: the terms of the second-order
        expansion that do not scale with 1/|B| (docs/theory.md, section 1). The full drift of
        ``x_i`` is ``-Kt_ii + T (C_ii + Coulomb) + eps * order_eps_drift()_i``. Degenerate
        eigenvalues (``x_i == x_j``) give an infinite term, as perturbation theory does.
        """
        diff = self.x[:, None] - self.x[None, :]
        np.fill_diagonal(diff, np.inf)
        with np.errstate(divide="ignore"):
            coulomb = np.sum(self.Kt_full**2 / diff, axis=1)
        return coulomb + self.gbar_sq

    def drift(self, temperature: float, *, lr: float | None = None) -> np.ndarray:
        """The deterministic part of dx_i/dt, shape (K,).

        ``-Kt_ii + T (C_ii + sum_{j != i} Vt_ij / (x_i - x_j))``, plus the order-eps terms
        ``lr * order_eps_drift()`` when the learning rate ``lr`` is given.
        """
        diff = self.x[:, None] - self.x[None, :]
        np.fill_diagonal(diff, np.inf)
        out = -self.Kt + temperature * (self.C + np.sum(self.Vt / diff, axis=1))
        if lr is not None:
            out = out + lr * self.order_eps_drift()
        return out


def _as_matrix(name: str, value, ndim: int) -> np.ndarray:
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; pass finite values")
    return arr


def eigen_basis(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of ``X = W W^T``.

    Returns
    -------
    x : ndarray of float64, shape (K,)
    U : ndarray of float64, shape (K, K)
        Column i is the eigenvector of x_i.
    """
    x, U = np.linalg.eigh(W @ W.T)
    return np.ascontiguousarray(x[::-1]), np.ascontiguousarray(U[:, ::-1])


def paper_basis(W: np.ndarray) -> np.ndarray:
    """The basis of the published analysis: U of ``numpy.linalg.svd(X)``, ``X = W W^T``.

    Columns in the order the SVD returns them (singular values descending, which for the
    positive semi-definite X are the eigenvalues descending, as in :func:`eigen_basis`),
    with the signs the SVD gives them. Those signs are a convention of the LAPACK routine,
    unrelated to the ones of ``numpy.linalg.eigh``; the exact estimator does not see them,
    the ``paper`` one does (entry (i, j) of ``U^T Var_n(D_n) U`` flips with
    ``sign(u_i) sign(u_j)``). How much that moves the criterion's ordered fraction is
    measured in docs/theory-network.md, "The Langevin criterion".

    Returns
    -------
    U : ndarray of float64, shape (K, K)
        Column i is the left singular vector of the i-th largest singular value of X.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 5 and Fig 8.
    """
    U, _, _ = np.linalg.svd(W @ W.T)
    return np.ascontiguousarray(U)


def measure_coefficients(
    W: np.ndarray,
    a: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    activation: str = "tanh",
    *,
    basis: np.ndarray | None = None,
) -> LangevinCoefficients:
    """Measure Kt, Vt, C (and the order-eps terms) at the state W on the samples (a, y).

    Parameters
    ----------
    W : ndarray of float64, shape (K, L)
        The student's matrix.
    a : ndarray of float64, shape (n, L)
        First-layer features ``phi(M x_n)`` of the samples (training or probe set).
    y : ndarray of float64, shape (n, d_out)
        Teacher outputs of the samples.
    Z : ndarray of float64, shape (d_out, K)
        The fixed read-out.
    activation : {"tanh", "identity", "relu"}
    basis : ndarray of float64, shape (K, K), optional
        An orthonormal basis (columns) to rotate into instead of the eigenvectors of X;
        ``x`` then holds the diagonal of X in that basis, in the given order. Without it,
        the exact quantities use the eigenvectors of ``numpy.linalg.eigh`` (they do not
        depend on the vectors' signs) and ``Vt_paper`` the SVD basis of the published
        analysis (:func:`paper_basis`); with it, both use the given basis.

    Returns
    -------
    LangevinCoefficients

    Raises
    ------
    ValueError
        On inconsistent shapes, non-finite entries, an unknown activation, fewer than two
        samples, or a basis that is not orthonormal.

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), the Langevin equation of section 4.
    """
    W = _as_matrix("W", W, 2)
    a = _as_matrix("a", a, 2)
    y = _as_matrix("y", y, 2)
    Z = _as_matrix("Z", Z, 2)
    K, L = W.shape
    n = a.shape[0]
    if a.shape[1] != L:
        raise ValueError(f"a must have L = {L} columns (W is {K} x {L}), got shape {a.shape}")
    if y.shape[0] != n:
        raise ValueError(f"y must have one row per sample ({n}), got shape {y.shape}")
    if Z.shape != (y.shape[1], K):
        raise ValueError(f"Z must have shape (d_out, K) = {(y.shape[1], K)}, got {Z.shape}")
    if n < 2:
        raise ValueError(f"need at least 2 samples to measure a variance, got {n}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if basis is None:
        x, U = eigen_basis(W)
        U_paper = paper_basis(W)
    else:
        U = _as_matrix("basis", basis, 2)
        if U.shape != (K, K):
            raise ValueError(f"basis must have shape ({K}, {K}), got {U.shape}")
        if not np.allclose(U.T @ U, np.eye(K), atol=1e-10):
            raise ValueError("basis must be orthonormal (U^T U = I); orthonormalise it first")
        x = np.einsum("ki,kl,li->i", U, W @ W.T, U)
        U_paper = U

    g = per_sample_gradients(W, a, y, Z, activation)  # (n, K, L)
    h = np.matmul(U.T, g)  # h_n = U^T g_n: row i is u_i^T g_n
    P = U.T @ W  # row j is u_j^T W
    A = np.matmul(h, P.T)  # A_n,ij = u_i^T g_n W^T u_j
    Dt = A + np.swapaxes(A, 1, 2)  # U^T D_n U
    Kt_full = Dt.mean(axis=0)
    Vt = Dt.var(axis=0)

    # Paper estimator: element-wise variance in the original basis, then rotated into the
    # published analysis's SVD basis (its signs matter: see paper_basis).
    GW = np.matmul(g, W.T)  # g_n W^T
    Vt_paper = U_paper.T @ (GW + np.swapaxes(GW, 1, 2)).var(axis=0) @ U_paper

    # C_ii = E_n |u_i^T g_n - u_i^T gbar|^2, summed over the L columns.
    hbar = h.mean(axis=0)
    C = np.mean(np.sum((h - hbar) ** 2, axis=2), axis=0)
    gbar_sq = np.sum(hbar**2, axis=1)
    return LangevinCoefficients(
        x=np.ascontiguousarray(x),
        U=np.ascontiguousarray(U),
        Kt=np.ascontiguousarray(np.diagonal(Kt_full)),
        Vt=np.ascontiguousarray(0.5 * (Vt + Vt.T)),
        C=np.ascontiguousarray(C),
        Vt_paper=np.ascontiguousarray(0.5 * (Vt_paper + Vt_paper.T)),
        Kt_full=np.ascontiguousarray(0.5 * (Kt_full + Kt_full.T)),
        gbar_sq=np.ascontiguousarray(gbar_sq),
        n_samples=n,
        U_paper=np.ascontiguousarray(U_paper),
    )

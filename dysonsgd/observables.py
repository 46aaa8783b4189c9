"""Observables of a trained ensemble (paper Figs 2-9; docs/model.md), vectorised over seeds.

Every function takes arrays with a leading seed axis (and broadcasts over further leading
axes where it says so); :func:`summarize` evaluates all of them on an :class:`SGDResult`
into an :class:`Observables`.

References
----------
Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 3 (Figs 2-9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dysonsgd._records import FieldsAsMapping
from dysonsgd.model import phi


def eigenvalues_of_X(W: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``X = W W^T``, descending, as squared singular values.

    Parameters
    ----------
    W : ndarray of float64, shape (..., K, L) with K <= L

    Returns
    -------
    ndarray of float64, shape (..., K)
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2:
        raise ValueError(f"W must have at least 2 dimensions (..., K, L), got shape {W.shape}")
    s = np.linalg.svd(W, compute_uv=False)  # descending
    return s * s


def _student_features(W: np.ndarray, a: np.ndarray, activation: str) -> np.ndarray:
    # W (..., K, L), a (..., n, L) -> f (..., n, K)
    return phi(np.einsum("...nl,...kl->...nk", a, W), activation)


def _student_output(W, a, Z, activation):
    return np.einsum("...nk,...ok->...no", _student_features(W, a, activation), Z)


def test_loss(
    W: np.ndarray, a_probe: np.ndarray, y_probe: np.ndarray, Z: np.ndarray, activation: str
) -> np.ndarray:
    """Test loss ``mean_n |y_teacher - y_student|^2`` on the probe set (no factor 1/2).

    Parameters
    ----------
    W : ndarray, shape (n_seeds, K, L)
    a_probe : ndarray, shape (n_seeds, n_test, L)
        First-layer features of the probe inputs.
    y_probe : ndarray, shape (n_seeds, n_test, d_out)
        Teacher outputs.
    Z : ndarray, shape (n_seeds, d_out, K)
    activation : str

    Returns
    -------
    ndarray of float64, shape (n_seeds,)
    """
    e = y_probe - _student_output(W, a_probe, Z, activation)
    return np.sum(e * e, axis=(-2, -1)) / e.shape[-2]


test_loss.__test__ = False  # a physics name, not a pytest test


def training_loss(W: np.ndarray, instances) -> np.ndarray:
    """Training loss ``mean_n 1/2 |y_n - yhat_n|^2`` over each seed's whole training set.

    The loss SGD descends (its records at the save points), for matrices that SGD did not
    produce, e.g. the Langevin network model's ``W(s)``.

    Parameters
    ----------
    W : ndarray of float64, shape (n_seeds, K, L)
    instances : sequence of Instance, length n_seeds

    Returns
    -------
    ndarray of float64, shape (n_seeds,)
    """
    W = np.asarray(W, dtype=np.float64)
    instances = list(instances)
    if W.ndim != 3 or W.shape[0] != len(instances):
        raise ValueError(
            f"W must have shape (n_seeds, K, L) with n_seeds = {len(instances)}, got {W.shape}"
        )
    out = np.empty(len(instances))
    for m, inst in enumerate(instances):
        out[m] = 0.5 * test_loss(W[m], inst.a_train, inst.y_train, inst.Z, inst.config.activation)
    return out


def gradient_norm(grad: np.ndarray) -> np.ndarray:
    """Frobenius norm of (epoch-mean) gradients, over the last two axes."""
    return np.linalg.norm(np.asarray(grad, dtype=np.float64), axis=(-2, -1))


def feature_overlap(
    W_init: np.ndarray, W_final: np.ndarray, a_probe: np.ndarray, activation: str
) -> np.ndarray:
    """Overlap ``G(t_f, 0) = (1/(n_test K)) sum_{n,k} f_init[n,k] f_final[n,k]``.

    Parameters
    ----------
    W_init, W_final : ndarray, shape (n_seeds, K, L)
    a_probe : ndarray, shape (n_seeds, n_test, L)

    Returns
    -------
    ndarray of float64, shape (n_seeds,)
    """
    f0 = _student_features(W_init, a_probe, activation)
    f1 = _student_features(W_final, a_probe, activation)
    return np.mean(f0 * f1, axis=(-2, -1))


def alignment(
    W: np.ndarray,
    a_probe: np.ndarray,
    y_probe: np.ndarray,
    Z: np.ndarray,
    activation: str,
    *,
    per_sample: bool = False,
) -> np.ndarray:
    """Alignment of the features ``f`` with the external field ``h = Z^T y_teacher``.

    The cosine similarity of ``h`` and ``f`` (each an n_test x K array, flattened). The
    paper's figures show this divided by n_test: ``per_sample=True`` returns that. It is 0
    where f vanishes and finite for any finite f (f is rescaled first, so |f| ~ 1e152 from a
    diverged identity or relu network neither overflows nor underflows); NaN only where f is
    not finite.

    Returns
    -------
    ndarray of float64, shape (n_seeds,)
    """
    f = _student_features(W, a_probe, activation)
    h = np.einsum("...no,...ok->...nk", y_probe, Z)
    # The cosine does not depend on the scale of f: divide f by a power of two near its
    # largest entry (exact in binary, so results are unchanged) so that f * f can neither
    # overflow (a diverged identity/relu network has |f| ~ 1e152) nor underflow.
    with np.errstate(divide="ignore", over="ignore"):
        top = np.max(np.abs(f), axis=(-2, -1), keepdims=True)
        _, e = np.frexp(np.where(np.isfinite(top) & (top > 0), top, 1.0))
    f = np.ldexp(f, -e)
    num = np.sum(f * h, axis=(-2, -1))
    den = np.sqrt(np.sum(f * f, axis=(-2, -1)) * np.sum(h * h, axis=(-2, -1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return cos / f.shape[-2] if per_sample else cos


def mean_spacing(eigenvalues: np.ndarray) -> np.ndarray:
    """Mean nearest-neighbour spacing of sorted levels, ``(x_max - x_min)/(K - 1)``.

    Parameters
    ----------
    eigenvalues : ndarray, shape (..., K)
    """
    x = np.sort(np.asarray(eigenvalues, dtype=np.float64), axis=-1)
    return (x[..., -1] - x[..., 0]) / (x.shape[-1] - 1)


def spacing_growth_rate(flow: np.ndarray, epochs: np.ndarray) -> float:
    """Growth rate ``lambda = log(ubar(t_f) / ubar(0)) / t_f`` of the mean level spacing.

    ``ubar(t)`` is the mean nearest-neighbour spacing of the eigenvalues of X averaged over
    seeds; t is in epochs.

    Parameters
    ----------
    flow : ndarray, shape (n_seeds, n_saves, K)
        Eigenvalues of X at the save points.
    epochs : ndarray, shape (n_saves,)
        Save epochs, first 0.

    Returns
    -------
    float
        NaN when the initial spectra are exactly degenerate (``ubar(0) = 0``: no rate is
        defined) or ``ubar`` is not finite; ``-inf`` when the final spectra collapse to one
        level; ``+inf`` when ``ubar(t_f)`` overflows (a diverged run). No warning is raised.
    """
    ubar = np.mean(mean_spacing(flow), axis=0)  # (n_saves,)
    t_f = float(epochs[-1] - epochs[0])
    if not (ubar[0] > 0 and math.isfinite(ubar[0])) or math.isnan(ubar[-1]):
        return math.nan
    with np.errstate(divide="ignore"):
        return float(np.log(ubar[-1] / ubar[0]) / t_f)


def sharpness(result, *, tol: float = 1e-6) -> np.ndarray:
    """Top eigenvalue of the Hessian of the full training loss in W at every save point.

    Gradient descent at learning rate eps is stable near a minimum only while this
    ``lambda_max < 2 / eps`` (the edge of stability); SGD at the same eps may sit above it.
    Computed by Lanczos on exact Hessian-vector products
    (:func:`dysonsgd.ladder.top_hessian_eigenvalue`), the Hessian never formed.

    Parameters
    ----------
    result : SGDResult
        From :func:`dysonsgd.sgd.train` (any engine).
    tol : float
        Relative accuracy of each eigenvalue (ARPACK's ``tol``).

    Returns
    -------
    ndarray of float64, shape (n_seeds, n_saves)
        NaN where W is not finite (a diverged seed's overflowed matrix).

    References
    ----------
    J. Cohen et al., "Gradient descent on neural networks typically occurs at the edge of
    stability", ICLR 2021; Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 2.
    """
    from dysonsgd.ladder import top_hessian_eigenvalue

    W = result.W
    out = np.full(W.shape[:2], np.nan)
    for k, inst in enumerate(result.instances()):
        for s in range(W.shape[1]):
            if np.all(np.isfinite(W[k, s])):
                out[k, s] = top_hessian_eigenvalue(W[k, s], inst, tol=tol)
    return out


@dataclass(frozen=True, eq=False)
class Observables(FieldsAsMapping):
    """Every observable of docs/model.md (paper Figs 2-9) of an SGD ensemble.

    ``obs["test_loss"]`` reads a field like ``obs.test_loss``, so code written for the plain
    dict this used to be keeps working.

    Attributes
    ----------
    final_loss : ndarray of float64, shape (n_seeds,)
        Epoch-mean training loss at the last save.
    test_loss : ndarray of float64, shape (n_seeds,)
        :func:`test_loss` of the last saved W on the probe set.
    grad_norm : ndarray of float64, shape (n_seeds,)
        :func:`gradient_norm` of the epoch-mean gradient at the last save.
    overlap_G : ndarray of float64, shape (n_seeds,)
        :func:`feature_overlap` ``G(t_f, 0)``.
    alignment : ndarray of float64, shape (n_seeds,)
        :func:`alignment`, the cosine.
    alignment_per_sample : ndarray of float64, shape (n_seeds,)
        The cosine / n_test (the paper's figures).
    eigenvalues : ndarray of float64, shape (n_seeds, n_saves, K)
        The flow of the eigenvalues of X = W W^T, descending.
    teacher_eigenvalues : ndarray of float64, shape (n_seeds, K)
    spacing_growth_rate : float
        :func:`spacing_growth_rate`, per epoch.
    diverged : ndarray of bool, shape (n_seeds,)

    References
    ----------
    Park, Lucini & Aarts, arXiv:2509.01349 (2025), section 3 (Figs 2-9).
    """

    final_loss: np.ndarray
    test_loss: np.ndarray
    grad_norm: np.ndarray
    overlap_G: np.ndarray
    alignment: np.ndarray
    alignment_per_sample: np.ndarray
    eigenvalues: np.ndarray
    teacher_eigenvalues: np.ndarray
    spacing_growth_rate: float
    diverged: np.ndarray


def summarize(result) -> Observables:
    """Every observable of docs/model.md (paper Figs 2-9) for an :class:`~dysonsgd.sgd.SGDResult`.

    Returns
    -------
    Observables
        ``final_loss``, ``test_loss``, ``grad_norm``, ``overlap_G``, ``alignment`` (cosine),
        ``alignment_per_sample`` (cosine / n_test, the paper's figures), ``eigenvalues``
        (flow, (n_seeds, n_saves, K)), ``teacher_eigenvalues``, ``spacing_growth_rate``
        (per epoch), ``diverged``; ``obs["key"]`` works as for a dict.
    """
    inst = result.instances()
    act = result.config.activation
    a_p = np.stack([i.a_probe for i in inst])
    y_p = np.stack([i.y_probe for i in inst])
    W = result.records.W
    W0, Wf = W[:, 0], W[:, -1]
    flow = eigenvalues_of_X(W)
    return Observables(
        final_loss=result.records.loss[:, -1],
        test_loss=test_loss(Wf, a_p, y_p, result.Z, act),
        grad_norm=gradient_norm(result.records.grad[:, -1]),
        overlap_G=feature_overlap(W0, Wf, a_p, act),
        alignment=alignment(Wf, a_p, y_p, result.Z, act),
        alignment_per_sample=alignment(Wf, a_p, y_p, result.Z, act, per_sample=True),
        eigenvalues=flow,
        teacher_eigenvalues=eigenvalues_of_X(result.W_teacher),
        spacing_growth_rate=spacing_growth_rate(flow, result.save_epochs),
        diverged=result.records.diverged,
    )

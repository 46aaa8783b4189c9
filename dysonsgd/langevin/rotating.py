"""The rotating frame of the ``network`` model: Dyson Brownian motion with moving singular vectors.

``NetworkModel(instances, rotate=True, temperature=T)`` reduces the matrix SDE of SGD,

    dW = F dt + sqrt(T Sigma) dB,     F = -grad L_train(W),  Sigma = Cov_n(g_n),

to the singular values s of ``W = U diag(s) V^T`` AND its singular vectors (derivation, the
scheme and what it drops: docs/theory-network.md, "Rotating singular vectors"). The levels
evolve in the order-preserving integrator of :func:`dysonsgd.langevin.integrate` (drift,
Coulomb repulsion, Ito terms) with coefficients measured in the current frame at every
refresh; this module carries the frame from one refresh to the next. At the refresh at t_k
(interval Delta to the next) it

1. measures, in the current frame at s(t_k), the mean gradient over the drift set
   (``G = U^T gbar``), a matrix noise ``Xi = U^T xi`` with
   ``xi = n^{-1/2} sum_m z_m (g_m - gbar)`` (z_m iid N(0, 1): ``Cov(xi) = Sigma`` exactly,
   no LK x LK matrix) and the Gauss-Newton Hessian H of the loss on the stiff block
   ``dW = X P^T`` (P: the feature directions whose curvature an explicit step of Delta
   cannot follow, :func:`stiff_directions`);
2. takes the increment of W over Delta to be one linearly implicit Euler-Maruyama step,
   ``dW = (1 + Delta H)^{-1}_stiff [-gbar Delta + sqrt(T Delta) xi]`` (the identity off the
   stiff block), and hands the integrator the coefficients OF THAT STEP: the levels' drift
   ``Kt_ii = 2 s_i (U^T dW_drift V)_ii / Delta`` (as a secant through 0), and Vt and C of
   the per-sample gradients as the step sees them (``(1 + Delta H)^{-1}`` applied to each);
3. drives the levels with the diagonal of the same noise draw: the Brownian increments of
   level i over the block sum to ``sqrt(Delta) zeta_i``, ``zeta_i`` the standardised
   ``(U^T xi~ V)_ii`` (:meth:`RotatingFrame.block_increments`), so a level moves by
   ``2 s_i E_ii`` when the frame moves by E (with level i's noise correlated with level
   j's as the diagonal of SGD's noise is);
4. at the next refresh moves the frame by that step: the SVD of ``U diag(s_k) V^T + dW``,
   columns in the order of its singular values, signs with ``diag(U_old^T U_new) >= 0``;
   its singular values are discarded (the levels come from the integrator).

The frame noise draws from one Generator per system,
``SeedSequence(entropy, spawn_key=(m, LANGEVIN, FRAME_NOISE))``: the same for any ensemble
size or thread count, restarted by ``reset()``.

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), sections 2 and 4.
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024) (Dyson Brownian motion of weights).
P. E. Kloeden, E. Platen, Numerical Solution of Stochastic Differential Equations (Springer,
1992), section 12.2 (drift-implicit Euler-Maruyama for stiff SDEs).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dysonsgd import _seeding
from dysonsgd.langevin import _kernels_network as _kn
from dysonsgd.langevin.models import Coefficients

if TYPE_CHECKING:
    from dysonsgd.langevin.network import NetworkModel

#: Third element of the frame noise's spawn key ``(system, LANGEVIN, FRAME_NOISE)``: apart
#: from the integrator's streams ``(system, LANGEVIN)``.
FRAME_NOISE = 1
#: Eigen-components of the stiff block with ``Delta mu_k`` below this stay explicit.
STIFF_CUTOFF = 0.05


def stiff_directions(a: np.ndarray, Z: np.ndarray, max_interval: float) -> np.ndarray:
    """The feature directions treated implicitly by the frame step, shape (L, r).

    For any direction X (K x L) the Gauss-Newton curvature of the loss is
    ``E_n |Z diag(phi'_n) X a_n|^2 <= |Z|_2^2 max phi'^2 tr(X Sigma_a X^T)`` with
    ``Sigma_a = E[a a^T]``; tanh, relu and identity have ``|phi'| <= 1``. So a W-direction
    whose rows lie in the span of the eigenvectors of Sigma_a with eigenvalues
    ``beta_j < 1 / (|Z|_2^2 max_interval)`` has curvature below ``1 / max_interval``: an
    explicit Euler step of any refresh interval up to ``max_interval`` is stable there. The
    eigenvectors with ``beta_j |Z|_2^2 max_interval >= 1`` are the stiff ones.

    Parameters
    ----------
    a : ndarray of float64, shape (n, L)
        Features of the drift set.
    Z : ndarray of float64, shape (d_out, K)
    max_interval : float
        The longest refresh interval.

    Returns
    -------
    ndarray of float64, shape (L, r)
        Orthonormal columns, largest eigenvalue first (r may be 0).
    """
    beta, Q = np.linalg.eigh(a.T @ a / a.shape[0])
    order = np.argsort(beta)[::-1]
    z2 = np.linalg.norm(Z, 2) ** 2
    keep = order[beta[order] * z2 * max_interval >= 1.0]
    return np.ascontiguousarray(Q[:, keep])


def implicit_components(
    mu: np.ndarray, w: np.ndarray, K: int, interval: float
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``(1 + interval H)^{-1}`` the frame step applies, as a low-rank update.

    ``(1 + Delta H)^{-1} = 1 - sum_k omega_k w_k w_k^T`` with ``omega_k = Delta mu_k /
    (1 + Delta mu_k)`` over the eigenpairs ``(mu_k, w_k)`` of the stiff block H; the
    components with ``Delta mu_k < STIFF_CUTOFF`` are left explicit (their explicit step is
    stable and within a few per cent of the implicit one).

    Parameters
    ----------
    mu : ndarray of float64, shape (K r,)
        Eigenvalues of H.
    w : ndarray of float64, shape (K r, K r)
        Its eigenvectors (columns).
    K : int
    interval : float

    Returns
    -------
    Wk : ndarray of float64, shape (nc, K, r)
        The kept eigenvectors as K x r matrices (rows in the original K coordinates).
    omega : ndarray of float64, shape (nc,)
    """
    r = mu.shape[0] // K
    keep = interval * mu >= STIFF_CUTOFF
    dm = interval * mu[keep]
    Wk = np.ascontiguousarray(w[:, keep].T.reshape(dm.shape[0], K, r))
    return Wk, np.ascontiguousarray(dm / (1.0 + dm))


def implicit_increment(
    R: np.ndarray, U: np.ndarray, P: np.ndarray, Wk: np.ndarray, omega: np.ndarray
) -> np.ndarray:
    """Apply the implicit operator (:func:`implicit_components`) to an increment.

    Parameters
    ----------
    R : ndarray of float64, shape (K, L)
        ``U^T dW``: rows in the frame, columns in the original L coordinates.
    U : ndarray of float64, shape (K, K)
    P : ndarray of float64, shape (L, r)
        Stiff directions (:func:`stiff_directions`).
    Wk, omega : from :func:`implicit_components`

    Returns
    -------
    ndarray of float64, shape (K, L)
        ``U^T dW'``: ``dW' P = dW P - sum_k omega_k <W_k, dW P> W_k`` and
        ``dW' (1 - P P^T) = dW (1 - P P^T)``.
    """
    if omega.shape[0] == 0:
        return R
    X = U @ (R @ P)  # dW P, rows in the original K coordinates
    alpha = omega * np.einsum("kip,ip->k", Wk, X)
    return R - (U.T @ np.einsum("k,kip->ip", alpha, Wk)) @ P.T


class RotatingFrame:
    """The moving singular frame of a :class:`~dysonsgd.langevin.network.NetworkModel`.

    Created by ``NetworkModel(..., rotate=True)``; it owns the model's per-system U, V and
    the projections ``b_m = V^T a_m`` and replaces the fixed-basis measurement. See the
    module docstring and docs/theory-network.md, "Rotating singular vectors".

    Parameters
    ----------
    model : NetworkModel
    seed : int, Generator, SeedSequence or None
        Base entropy of the frame noise (one Generator per system).
    n_precond : int
        Training samples (a prefix of the drift set) of the stiff Gauss-Newton block.
    """

    def __init__(self, model: NetworkModel, *, seed, n_precond: int) -> None:
        if isinstance(n_precond, bool) or not isinstance(n_precond, (int, np.integer)):
            raise ValueError(f"n_precond must be a positive integer, got {n_precond!r}")
        if n_precond < 1:
            raise ValueError(f"n_precond must be a positive integer, got {n_precond}")
        self.model = model
        self.entropy = _seeding.base_entropy(seed)
        self.temperature = float(model.temperature)
        self.n_precond = min(int(n_precond), model.n_drift)
        auto = model.auto_refresh
        self.max_interval = auto.max_interval if auto is not None else model.refresh_interval
        self.shared = model.noise_set == "train"  # the drift set is a prefix of the noise set
        K = model.config.K
        self._data = []
        for inst, sys in zip(model.instances, model._systems, strict=True):
            a_d = sys["a_drift"] = np.ascontiguousarray(inst.a_train[: model.n_drift])
            a_n = sys["a_noise"]
            P = stiff_directions(a_d, inst.Z, self.max_interval)
            n_n, n_d = a_n.shape[0], a_d.shape[0]
            dat = dict(
                P=P,
                a_sq=np.ascontiguousarray(np.sum(a_n * a_n, axis=1)),
                bt_noise=np.ascontiguousarray(a_n @ P),
                bt_precond=np.ascontiguousarray(a_d[: self.n_precond] @ P),
                ZtZ=np.ascontiguousarray(inst.Z.T @ inst.Z),
                d=np.empty((n_n, K)),
                q=np.empty((n_n, K)),
                fp=np.empty((n_n, K)),
            )
            if not self.shared:
                dat.update(d_drift=np.empty((n_d, K)), q_drift=np.empty((n_d, K)),
                           fp_drift=np.empty((n_d, K)))  # fmt: skip
            self._data.append(dat)
        self.reset()

    # ------------------------------------------------------------------ state

    @property
    def stiff_rank(self) -> np.ndarray:
        """Number of stiff feature directions r of each system, shape (n,)."""
        return np.array([d["P"].shape[1] for d in self._data])

    def reset(self) -> None:
        """The frame at the student's own SVD, the noise streams restarted, nothing pending."""
        self._pending = [None] * len(self._data)
        self._t_prev = None
        self.rngs = [
            np.random.default_rng(
                np.random.SeedSequence(self.entropy, spawn_key=(m, _seeding.LANGEVIN, FRAME_NOISE))
            )
            for m in range(len(self._data))
        ]
        for m in range(len(self._data)):
            sys = self.model._systems[m]
            self._set_frame(m, sys["U0"].copy(), sys["V0"].copy())

    def frame(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """System m's current frame: U (K, K) and V (L, K), orthonormal columns."""
        sys = self.model._systems[m]
        return sys["U"], sys["V"]

    def _set_frame(self, m: int, U: np.ndarray, V: np.ndarray) -> None:
        sys = self.model._systems[m]
        sys["U"] = np.ascontiguousarray(U)
        sys["V"] = np.ascontiguousarray(V)
        sys["UT"] = np.ascontiguousarray(U.T)
        K = U.shape[0]
        if "b_noise_rot" not in sys:
            sys["b_noise_rot"] = np.empty((sys["a_noise"].shape[0], K))
            if not self.shared:
                sys["b_drift_rot"] = np.empty((sys["a_drift"].shape[0], K))
        _kn.project(sys["a_noise"], sys["V"], sys["b_noise_rot"])
        if self.shared:
            sys["b_drift_rot"] = sys["b_noise_rot"][: sys["a_drift"].shape[0]]
        else:
            _kn.project(sys["a_drift"], sys["V"], sys["b_drift_rot"])
        # NetworkModel.measure (the fixed-basis kernels) reads these: keep them in the frame
        sys["b_drift"] = np.ascontiguousarray(sys["b_drift_rot"])
        sys["b_noise"] = sys["b_noise_rot"]

    # ------------------------------------------------------------------ one refresh

    def forward(self, m: int, s: np.ndarray, w: np.ndarray) -> dict:
        """First pass of system m at singular values s in its frame (noise weights w).

        Returns
        -------
        dict with G (K, L) = U^T gbar on the drift set, Kt (K,) = 2 s_i (U^T gbar V)_ii,
        S1 (K, L) = sum_m d_m a_m^T and Xi (K, L) = U^T xi on the noise set, and the stiff
        Gauss-Newton block's eigenvalues mu (K r,) and eigenvectors w (K r, K r).
        """
        sys, dat = self.model._systems[m], self._data[m]
        K, L = sys["U"].shape[0], sys["a_noise"].shape[1]
        n_drift = sys["a_drift"].shape[0]
        out = dict(G=np.empty((K, L)), Kt=np.empty(K), S1=np.empty((K, L)), Xi=np.empty((K, L)))
        code = self.model._code
        s = np.ascontiguousarray(s)
        U, UT, Z = sys["U"], sys["UT"], sys["Z"]
        if self.shared:
            _kn.frame_forward(
                s, U, UT, sys["b_noise_rot"], sys["a_noise"], sys["y_noise"], Z, code, w,
                n_drift, True, dat["d"], dat["q"], dat["fp"], out["G"], out["Kt"], out["S1"],
                out["Xi"],
            )  # fmt: skip
            fp = dat["fp"]
        else:
            _kn.frame_forward(
                s, U, UT, sys["b_drift_rot"], sys["a_drift"], sys["y_drift"], Z, code, w[:0],
                n_drift, False, dat["d_drift"], dat["q_drift"], dat["fp_drift"], out["G"],
                out["Kt"], out["S1"], out["Xi"],
            )  # fmt: skip
            _kn.frame_forward(
                s, U, UT, sys["b_noise_rot"], sys["a_noise"], sys["y_noise"], Z, code, w, 0,
                True, dat["d"], dat["q"], dat["fp"], out["G"], out["Kt"], out["S1"], out["Xi"],
            )  # fmt: skip
            fp = dat["fp_drift"]
        r = dat["P"].shape[1]
        H = np.zeros((K * r, K * r))
        if r:
            _kn.stiff_gauss_newton(fp, dat["bt_precond"], dat["ZtZ"], self.n_precond, H)
        out["mu"], out["w"] = np.linalg.eigh(H)
        return out

    def noise(self, m: int, s: np.ndarray, meas: dict, interval: float) -> tuple:
        """Second pass: Vt (K, K) and C (K,) of system m's implicit increments over
        ``interval`` (after :meth:`forward` with the same s)."""
        sys, dat = self.model._systems[m], self._data[m]
        K = s.shape[0]
        Wk, omega = implicit_components(meas["mu"], meas["w"], K, interval)
        Wt = np.ascontiguousarray(np.einsum("ki,ckp->cip", sys["U"], Wk))
        Pi = np.ascontiguousarray(dat["P"].T @ sys["V"])
        Vt, C = np.empty((K, K)), np.empty(K)
        _kn.frame_noise(
            np.ascontiguousarray(s), dat["d"], dat["q"], dat["bt_noise"], dat["a_sq"], Wt,
            omega, Pi, meas["S1"], Vt, C,
        )  # fmt: skip
        return 0.5 * (Vt + Vt.T), C

    def drift(self, m: int, s: np.ndarray, meas: dict, interval: float) -> tuple[np.ndarray, float]:
        """The levels' drift ``Kt_ii = 2 s_i (U^T dW_drift V)_ii / Delta`` of the implicit
        step over ``interval``, and the largest relative rate of system m: a level's
        ``|Kt_ii| / x_i`` or the rotation rate ``|row_i(U^T dW_drift)|_off / (s_i Delta)``."""
        sys, dat = self.model._systems[m], self._data[m]
        Wk, omega = implicit_components(meas["mu"], meas["w"], s.shape[0], interval)
        R = implicit_increment(meas["G"], sys["U"], dat["P"], Wk, omega)  # linear: per unit
        diag = np.einsum("il,li->i", R, sys["V"])
        off = np.sqrt(np.maximum(np.sum(R * R, axis=1) - diag * diag, 0.0))
        rate = float(np.max(np.maximum(2.0 * np.abs(diag), off) / s))
        return 2.0 * s * diag, rate

    def _level_noise(self, m, x, meas, Vt, interval) -> np.ndarray:
        """The diagonal of the frame's matrix noise per unit time, standardised (shape (K,)).

        ``(U^T xi~ V)_ii / sqrt(Var_n(G~_ii))`` with ``xi~`` the implicit step's noise: N(0, 1)
        for each level, correlated between levels as the diagonal of SGD's noise is, and the
        same draw as the frame's noise. ``Var_n(G~_ii) = Vt_ii / (4 x_i)``.
        """
        sys, dat = self.model._systems[m], self._data[m]
        Wk, omega = implicit_components(meas["mu"], meas["w"], x.shape[0], interval)
        R = implicit_increment(meas["Xi"], sys["U"], dat["P"], Wk, omega)
        diag = np.einsum("il,li->i", R, sys["V"])
        var = np.diagonal(Vt) / (4.0 * x)
        return np.where(var > 0, diag / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)

    def block_increments(self, t: float, h: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The levels' Brownian increments from the refresh at t to the next one.

        Step k's increment is N(0, h_k); their sum over the block (length Delta) is
        ``sqrt(Delta) zeta`` with zeta the standardised diagonal of the matrix noise measured
        at t (:meth:`_level_noise`): a level moves by ``2 s_i E_ii``, E the increment that
        moves the frame, so the levels' noise and the frame's are one draw (a Brownian bridge
        to that endpoint in between, from the frame's generator).

        Returns
        -------
        ndarray of float64, shape (n, sum(m), K)
        """
        hk = np.repeat(np.asarray(h, dtype=np.float64), np.asarray(m, dtype=np.int64))
        total = float(hk.sum())
        n, K = self._zeta.shape
        out = np.empty((n, hk.shape[0], K))
        sq = np.sqrt(hk)[:, None]
        for k in range(n):
            z = self.rngs[k].standard_normal((hk.shape[0], K)) * sq
            end = math.sqrt(total) * self._zeta[k]
            out[k] = z + (hk / total)[:, None] * (end - z.sum(axis=0))
        return out

    def step(self, m: int, interval: float) -> None:
        """Move system m's frame over ``interval`` with the increment measured last refresh."""
        p = self._pending[m]
        sys, dat = self.model._systems[m], self._data[m]
        U, V = sys["U"], sys["V"]
        R = -p["G"] * interval + math.sqrt(self.temperature * interval) * p["Xi"]
        Wk, omega = implicit_components(p["mu"], p["w"], U.shape[0], interval)
        R = implicit_increment(R, U, dat["P"], Wk, omega)
        M = U @ (p["s"][:, None] * V.T + R)
        if not np.all(np.isfinite(M)):
            return  # a run-away system: keep its frame (the guard freezes it)
        Un, _, Vh = np.linalg.svd(M, full_matrices=False)
        sign = np.where(np.einsum("ki,ki->i", U, Un) < 0, -1.0, 1.0)
        self._set_frame(m, Un * sign, Vh.T * sign)

    def coefficients(self, x: np.ndarray, t: float) -> Coefficients:
        """Move the frames to t, measure there, and hand the integrator its coefficients."""
        from dysonsgd.langevin.network import isotropic_split

        model = self.model
        if t == 0 or self._t_prev is None:
            model.reset()  # calls self.reset()
        elif t > self._t_prev:
            for m in range(len(self._data)):
                if self._pending[m] is not None and model._is_active(m):
                    self.step(m, t - self._t_prev)
        x = model._check_x(x)
        s = np.sqrt(x)
        n, K = x.shape
        # systems switched off by NetworkModel.set_active (stopped) are neither moved nor
        # measured: zero coefficients, no say in the interval; their noise streams are their
        # own, so the others' draws do not change
        live = [m for m in range(n) if model._is_active(m)]
        meas = [None] * n
        for m in live:
            n_noise = self.model._systems[m]["a_noise"].shape[0]
            w = self.rngs[m].standard_normal(n_noise) / math.sqrt(n_noise)
            meas[m] = self.forward(m, s[m], w)
        auto = model.auto_refresh
        if auto is None:
            interval = float(model.refresh_interval)
        else:
            high = auto.max_interval
            if math.isfinite(model._interval):
                high = min(high, auto.growth * model._interval)
            interval = high
            for _ in range(2):  # the implicit rates depend on the interval: one correction
                rate = max((self.drift(m, s[m], meas[m], interval)[1] for m in live), default=0.0)
                interval = min(interval, auto.choose(rate, model._interval))
            model._interval = interval
        Kt, C = np.zeros((n, K)), np.zeros((n, K))
        Vt = np.zeros((n, K, K))
        self._zeta = np.zeros((n, K))
        for m in live:
            Kt[m] = self.drift(m, s[m], meas[m], interval)[0]
            Vt[m], C[m] = self.noise(m, s[m], meas[m], interval)
            self._zeta[m] = self._level_noise(m, x[m], meas[m], Vt[m], interval)
            mm = meas[m]
            self._pending[m] = dict(s=s[m].copy(), G=mm["G"], Xi=mm["Xi"], mu=mm["mu"], w=mm["w"])
        self._t_prev = t
        a_iso, V0, a_diag = isotropic_split(Vt, x)
        return Coefficients(
            kt0=np.zeros((n, K)),
            kappa=np.ascontiguousarray(Kt / x),
            V0=V0,
            a_iso=a_iso,
            C=C,
            a_diag=a_diag,
        )

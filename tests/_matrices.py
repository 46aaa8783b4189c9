"""Test matrices with known random-matrix content, shared by the spectrum tests."""

from __future__ import annotations

import math

import numpy as np


def noise(K, L, seed):
    """Gaussian K x L matrix with entries N(0, 1/max(K, L)): MP scale 1."""
    return np.random.default_rng(seed).standard_normal((K, L)) / math.sqrt(max(K, L))


def spiked(K, L, thetas, seed):
    """Noise N(0, 1/max(K, L)) plus sum_k theta_k u_k v_k^T, random orthonormal u_k, v_k."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, L)) / math.sqrt(max(K, L))
    u = np.linalg.qr(rng.standard_normal((K, len(thetas))))[0]
    v = np.linalg.qr(rng.standard_normal((L, len(thetas))))[0]
    return W + u @ np.diag(thetas) @ v.T

"""The linear scaling rule in the linear teacher-student model (docs/scaling.md).

``theory``: the exact stationary law of linear SGD with injected noise and its harmonic Langevin
map; ``simulator``: the validating API of that SGD (its private kernel: ``_linear_sgd``);
``fit``: the width estimator and the log-log fit; ``experiment``: grids of (lr, |B|, A) through
the simulator or through :func:`dysonsgd.langevin.integrate`.

References
----------
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
"""

from dysonsgd.scaling.experiment import (
    ScalingResult,
    harmonic_scaling_experiment,
    linear_scaling_experiment,
)
from dysonsgd.scaling.fit import ScalingFit, fit_scaling, stationary_width
from dysonsgd.scaling.simulator import SCALING, LinearSGDResult, linear_sgd, teacher_matrix
from dysonsgd.scaling.theory import (
    BURN_IN_TOLERANCE,
    derived_burn_in,
    harmonic_map,
    stationary_sigma,
    theory_prefactor,
    theory_width,
)

__all__ = [
    "BURN_IN_TOLERANCE",
    "SCALING",
    "LinearSGDResult",
    "ScalingFit",
    "ScalingResult",
    "derived_burn_in",
    "fit_scaling",
    "harmonic_map",
    "harmonic_scaling_experiment",
    "linear_scaling_experiment",
    "linear_sgd",
    "stationary_sigma",
    "stationary_width",
    "teacher_matrix",
    "theory_prefactor",
    "theory_width",
]

"""The eigenvalue Langevin (Dyson Brownian motion) integrator: drift models and schemes.

Drift models a run can start by name are in :data:`MODELS` (``dysonsgd.langevin.registry``).
"""

from dysonsgd.langevin import schemes
from dysonsgd.langevin.coefficients import LangevinCoefficients, measure_coefficients
from dysonsgd.langevin.integrate import (
    SCHEMES,
    STATUS,
    Guard,
    LangevinResult,
    OverflowGuard,
    RunawayGuard,
    check_coefficients,
    integrate,
    step_count,
    x0_from_singular_values,
)
from dysonsgd.langevin.models import (
    Coefficients,
    DriftModel,
    ExactLawTest,
    FreeModel,
    GOELaw,
    HarmonicModel,
    LinearModel,
    MeasuredModel,
    WishartLaw,
    free_model_law,
    harmonic_relaxation_time,
    harmonic_stationary_law,
    ks_exact_law,
)
from dysonsgd.langevin.network import AutoRefresh, NetworkModel
from dysonsgd.langevin.registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelOptions,
    OptionError,
    RunSummary,
    Start,
    initial_spectrum,
    model_class,
)

__all__ = [
    "AutoRefresh",
    "DEFAULT_MODEL",
    "MODELS",
    "SCHEMES",
    "STATUS",
    "Coefficients",
    "DriftModel",
    "ExactLawTest",
    "FreeModel",
    "GOELaw",
    "Guard",
    "HarmonicModel",
    "LangevinCoefficients",
    "LangevinResult",
    "LinearModel",
    "MeasuredModel",
    "ModelOptions",
    "NetworkModel",
    "OptionError",
    "OverflowGuard",
    "RunawayGuard",
    "RunSummary",
    "Start",
    "WishartLaw",
    "check_coefficients",
    "free_model_law",
    "harmonic_relaxation_time",
    "harmonic_stationary_law",
    "initial_spectrum",
    "integrate",
    "ks_exact_law",
    "measure_coefficients",
    "model_class",
    "schemes",
    "step_count",
    "x0_from_singular_values",
]

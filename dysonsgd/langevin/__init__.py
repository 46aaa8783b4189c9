"""The eigenvalue Langevin (Dyson Brownian motion) integrator: drift models and schemes."""

from dysonsgd.langevin.coefficients import LangevinCoefficients, measure_coefficients
from dysonsgd.langevin.integrate import (
    SCHEMES,
    STATUS,
    LangevinResult,
    check_coefficients,
    integrate,
    step_count,
    x0_from_singular_values,
)
from dysonsgd.langevin.models import (
    Coefficients,
    DriftModel,
    FreeModel,
    HarmonicModel,
    MeasuredModel,
)
from dysonsgd.langevin.network import NetworkModel

__all__ = [
    "SCHEMES",
    "STATUS",
    "Coefficients",
    "DriftModel",
    "FreeModel",
    "HarmonicModel",
    "LangevinCoefficients",
    "LangevinResult",
    "MeasuredModel",
    "NetworkModel",
    "check_coefficients",
    "integrate",
    "measure_coefficients",
    "step_count",
    "x0_from_singular_values",
]

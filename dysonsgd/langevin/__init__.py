"""The eigenvalue Langevin (Dyson Brownian motion) integrator: drift models and schemes."""

from dysonsgd.langevin import schemes
from dysonsgd.langevin.coefficients import LangevinCoefficients, measure_coefficients
from dysonsgd.langevin.integrate import (
    SCHEMES,
    STATUS,
    Guard,
    LangevinResult,
    OverflowGuard,
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
    "Guard",
    "HarmonicModel",
    "LangevinCoefficients",
    "LangevinResult",
    "MeasuredModel",
    "NetworkModel",
    "OverflowGuard",
    "check_coefficients",
    "integrate",
    "measure_coefficients",
    "schemes",
    "step_count",
    "x0_from_singular_values",
]

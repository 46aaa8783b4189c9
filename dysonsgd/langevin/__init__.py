"""The eigenvalue Langevin (Dyson Brownian motion) integrator: drift models and schemes."""

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

__all__ = [
    "SCHEMES",
    "STATUS",
    "Coefficients",
    "DriftModel",
    "FreeModel",
    "HarmonicModel",
    "LangevinResult",
    "MeasuredModel",
    "check_coefficients",
    "integrate",
    "step_count",
    "x0_from_singular_values",
]

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
    "DEFAULT_MODEL",
    "MODELS",
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
    "ModelOptions",
    "NetworkModel",
    "OptionError",
    "OverflowGuard",
    "RunSummary",
    "Start",
    "check_coefficients",
    "initial_spectrum",
    "integrate",
    "measure_coefficients",
    "model_class",
    "schemes",
    "step_count",
    "x0_from_singular_values",
]

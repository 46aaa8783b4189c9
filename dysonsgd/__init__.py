"""dysonsgd: Dyson Brownian motion of SGD weight matrices.

The public names are re-exported here; see the README for a tour. Submodules:
``model`` (the network), ``sgd`` (training), ``langevin`` (the integrator and its drift
models), ``observables``, ``spectra`` (level statistics), ``phases`` (criterion and phase
rule), ``sweep`` and ``boundaries`` (phase diagrams), ``compare`` (theory vs SGD),
``scaling`` (the linear scaling rule), ``spectrum_report`` (users' own matrices), ``plot``.
"""

from dysonsgd import observables
from dysonsgd.langevin import (
    FreeModel,
    HarmonicModel,
    LangevinResult,
    MeasuredModel,
    NetworkModel,
    integrate,
    measure_coefficients,
)
from dysonsgd.model import ACTIVATIONS, Instance, NetworkConfig, make_instance
from dysonsgd.phases import classify_flow, langevin_criterion
from dysonsgd.sgd import SGDResult, train

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``dysonsgd.spectra`` loads scipy.stats (~0.5 s): imported on first use, so commands
    # that do not need it start faster.
    if name == "spectra":
        import importlib

        module = importlib.import_module("dysonsgd.spectra")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dysonsgd' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "FreeModel",
    "HarmonicModel",
    "Instance",
    "LangevinResult",
    "MeasuredModel",
    "NetworkConfig",
    "NetworkModel",
    "SGDResult",
    "__version__",
    "classify_flow",
    "integrate",
    "langevin_criterion",
    "make_instance",
    "measure_coefficients",
    "observables",
    "spectra",
    "train",
]

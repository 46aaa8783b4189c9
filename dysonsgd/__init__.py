"""dysonsgd: Dyson Brownian motion of SGD weight matrices.

The public names are re-exported here; see the README for a tour. Submodules:
``model`` (the network), ``sgd`` (training), ``langevin`` (the integrator and its drift
models), ``observables``, ``spectra`` (level statistics), ``phases`` (criterion and phase
rule), ``sweep`` and ``boundaries`` (phase diagrams), ``compare`` (theory vs SGD),
``scaling`` (the linear scaling rule), ``spectrum_report`` (users' own matrices), ``plot``.

The names are imported on first use (PEP 562): ``import dysonsgd`` loads neither numba nor
scipy, so the command line starts fast and its Ctrl-C handler is in place before the heavy
imports run.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it (None: the name is a submodule).
_EXPORTS: dict[str, str | None] = {
    "ACTIVATIONS": "dysonsgd.model",
    "Instance": "dysonsgd.model",
    "NetworkConfig": "dysonsgd.model",
    "make_instance": "dysonsgd.model",
    "SGDResult": "dysonsgd.sgd",
    "train": "dysonsgd.sgd",
    "FreeModel": "dysonsgd.langevin",
    "HarmonicModel": "dysonsgd.langevin",
    "LangevinResult": "dysonsgd.langevin",
    "MeasuredModel": "dysonsgd.langevin",
    "NetworkModel": "dysonsgd.langevin",
    "integrate": "dysonsgd.langevin",
    "measure_coefficients": "dysonsgd.langevin",
    "classify_flow": "dysonsgd.phases",
    "langevin_criterion": "dysonsgd.phases",
    "observables": None,
    "spectra": None,
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dysonsgd' has no attribute {name!r}")
    module = _EXPORTS[name]
    value = (
        importlib.import_module(f"dysonsgd.{name}")
        if module is None
        else getattr(importlib.import_module(module), name)
    )
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

"""dysonsgd: Dyson Brownian motion of SGD weight matrices.

The public names are re-exported here; see the README for a tour.
"""

from dysonsgd.model import ACTIVATIONS, Instance, NetworkConfig, make_instance
from dysonsgd.sgd import SGDResult, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Instance",
    "NetworkConfig",
    "SGDResult",
    "__version__",
    "make_instance",
    "train",
]

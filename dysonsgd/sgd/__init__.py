"""SGD on the teacher-student network: a numpy reference and a numba engine, one API."""

from dysonsgd.sgd.api import ENGINES, SGDResult, learning_rate, save_schedule, train
from dysonsgd.sgd.reference import Records
from dysonsgd.sgd.sampling import SAMPLINGS, sample_streams

__all__ = [
    "ENGINES",
    "SAMPLINGS",
    "Records",
    "SGDResult",
    "learning_rate",
    "sample_streams",
    "save_schedule",
    "train",
]

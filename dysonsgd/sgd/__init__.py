"""SGD on the teacher-student network: a numpy reference and a numba engine, one API."""

from dysonsgd.sgd.api import ENGINES, SGDResult, learning_rate, save_schedule, train
from dysonsgd.sgd.reference import Records

__all__ = ["ENGINES", "Records", "SGDResult", "learning_rate", "save_schedule", "train"]

"""The ladder of models between SGD and Dyson Brownian motion.

``continuous``: the continuous-time rungs on SGD's own networks and data, full-batch
gradient descent (:func:`run_gd`) and the SDE of SGD by Euler-Maruyama (:func:`run_sde`),
with the exact Hessian-vector product and top Hessian eigenvalue of the training loss.
"""

from dysonsgd.ladder.continuous import (
    ContinuousResult,
    hessian_vector_product,
    run_gd,
    run_sde,
    top_hessian_eigenvalue,
)

__all__ = [
    "ContinuousResult",
    "hessian_vector_product",
    "run_gd",
    "run_sde",
    "top_hessian_eigenvalue",
]

"""Every matplotlib figure of the package; matplotlib is imported lazily (Agg backend).

One module per kind of result, each with a function that takes the result and writes a
file (the suffix gives the format). Nothing numerical is computed here that a test of the
numerical modules would not already cover.

- :func:`training_figure` (``training``): an SGD run, eigenvalue flow and loss curve;
- :func:`langevin_flow_figure` (``langevin``): a Langevin run of ``dysonsgd simulate``;
- :func:`comparison_figure` (``compare``): SGD and Langevin side by side;
- :func:`spectrum_figure` (``spectrum``): random-matrix statistics of users' matrices;
- :func:`plot_store` (``phase``): the paper's Figs 1-9 from a phase-diagram store.
"""

from dysonsgd.plot._base import eigenvalue_flow_axes
from dysonsgd.plot.compare import comparison_figure
from dysonsgd.plot.langevin import langevin_flow_figure
from dysonsgd.plot.phase import plot_store
from dysonsgd.plot.spectrum import spectrum_figure
from dysonsgd.plot.training import training_figure

__all__ = [
    "comparison_figure",
    "eigenvalue_flow_axes",
    "langevin_flow_figure",
    "plot_store",
    "spectrum_figure",
    "training_figure",
]

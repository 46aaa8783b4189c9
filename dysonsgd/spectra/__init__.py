"""Level statistics of weight-matrix spectra (docs/statistics.md).

Everything a spectrum needs on its way from a weight matrix to a comparison with random-matrix
theory, one module per step:

* :mod:`~dysonsgd.spectra.levels`: :func:`singular_values`, :func:`eigenvalues_X` (of
  ``X = W W^T``), :func:`bulk`, :func:`spacings`, :func:`spacing_ratios`,
  :func:`mean_spacing_ratio`;
* :mod:`~dysonsgd.spectra.unfolding`: :func:`unfold` (per spectrum), :func:`unfold_ensemble`;
* :mod:`~dysonsgd.spectra.laws`, as :class:`scipy.stats.rv_continuous` objects (pdf, cdf, ppf,
  rvs): :data:`wigner_surmise`, :data:`poisson_spacing`, :data:`goe_ratio`,
  :data:`poisson_ratio`, :func:`marchenko_pastur`, :func:`semicircle`,
  :func:`goe_pair_density`, :func:`brody`, and the reference values of <r>;
* :mod:`~dysonsgd.spectra.fits`: :func:`fit_brody`, :func:`fit_marchenko_pastur`;
* :mod:`~dysonsgd.spectra.distances`: :func:`ks_one_sample`, :func:`ks_two_sample`,
  :func:`wasserstein`;
* :mod:`~dysonsgd.spectra.statistics`: the one :func:`level_statistics` of an ensemble of
  spectra (ratios, <r> with its error and GOE reference :func:`goe_ratio_mean`, unfolded
  spacings, KS, Brody) and :func:`pool_mean_spacing_ratios`, used by ``dysonsgd compare`` and
  ``dysonsgd spectrum``.

Every function that takes ``levels`` works along the last axis and broadcasts over any leading
(batch) axes, so a whole ensemble of spectra, shape ``(..., N)``, is processed in one call.
The formulas, their references and the pitfalls (too few levels, unfolding artefacts) are
collected in ``docs/statistics.md``.

References
----------
C. Park, B. Lucini, G. Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient
descent in multilayer neural networks", arXiv:2509.01349 (2025).
G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during learning and Dyson
Brownian motion", arXiv:2407.16427 (2024).
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
"""

from dysonsgd.spectra.distances import (
    KSResult,
    WassersteinResult,
    ks_one_sample,
    ks_two_sample,
    wasserstein,
)
from dysonsgd.spectra.fits import BrodyFit, MarchenkoPasturFit, fit_brody, fit_marchenko_pastur
from dysonsgd.spectra.laws import (
    GOE_RATIO_MEAN_LARGE_N,
    GOE_RATIO_MEAN_SURMISE,
    POISSON_RATIO_MEAN,
    brody,
    goe_pair_density,
    goe_ratio,
    marchenko_pastur,
    poisson_ratio,
    poisson_spacing,
    semicircle,
    wigner_surmise,
)
from dysonsgd.spectra.levels import (
    bulk,
    eigenvalues_X,
    mean_spacing_ratio,
    singular_values,
    spacing_ratios,
    spacings,
)
from dysonsgd.spectra.statistics import (
    GOE_RATIO_SURMISE_MAX_LEVELS,
    RATIO_SD_COEFF,
    LevelStatistics,
    PooledMeanRatio,
    goe_ratio_mean,
    level_statistics,
    pool_mean_spacing_ratios,
)
from dysonsgd.spectra.unfolding import unfold, unfold_ensemble

__all__ = [
    "GOE_RATIO_MEAN_LARGE_N",
    "GOE_RATIO_MEAN_SURMISE",
    "GOE_RATIO_SURMISE_MAX_LEVELS",
    "POISSON_RATIO_MEAN",
    "RATIO_SD_COEFF",
    "BrodyFit",
    "KSResult",
    "LevelStatistics",
    "MarchenkoPasturFit",
    "PooledMeanRatio",
    "WassersteinResult",
    "brody",
    "bulk",
    "eigenvalues_X",
    "fit_brody",
    "fit_marchenko_pastur",
    "goe_pair_density",
    "goe_ratio",
    "goe_ratio_mean",
    "ks_one_sample",
    "ks_two_sample",
    "level_statistics",
    "marchenko_pastur",
    "mean_spacing_ratio",
    "poisson_ratio",
    "poisson_spacing",
    "pool_mean_spacing_ratios",
    "semicircle",
    "singular_values",
    "spacing_ratios",
    "spacings",
    "unfold",
    "unfold_ensemble",
    "wasserstein",
    "wigner_surmise",
]

"""The drift models a Langevin run can be started from by name (``dysonsgd simulate --model``).

A registered model is a :class:`~dysonsgd.langevin.models.DriftModel` subclass that knows how
to start an ensemble from the generic options of a run and how to summarise the run:

- ``name``: the registry key (``--model``);
- ``option_names``: which optional fields of :class:`ModelOptions` it reads; any other one that
  is given is refused (:class:`OptionError` naming it), never silently ignored;
- ``default_time``: the Langevin time of a run when none is given;
- ``default_sigma``: the initial width sigma_W when none is given (None: required);
- ``from_options(options) -> Start``: the model and its initial state;
- ``epoch_time(options)``: Langevin time of one paper epoch, or None (no epochs);
- ``network_config(options)``: the :class:`~dysonsgd.model.NetworkConfig` whose instances the
  model holds (to size the run's memory up front), or None;
- ``summarize(start, result) -> RunSummary``: the phase (``network``, via
  :func:`dysonsgd.phases.classify`) or the exact law and its KS test (``free``, ``harmonic``,
  ``linear``).

A new model registers itself with the :func:`register` decorator where it is defined; the
command line reads :data:`MODELS` and needs no change (docs/architecture.md, "How to add").

References
----------
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (2025), section 4 (the Langevin equation).
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (2024) (Dyson Brownian motion of weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dysonsgd import _seeding

if TYPE_CHECKING:
    from dysonsgd.langevin.models import DriftModel, ExactLawTest, GOELaw, WishartLaw
    from dysonsgd.phases import PhaseClassification

#: name -> model class, in registration order (``network`` first: the default).
MODELS: dict[str, type] = {}

#: The model a run uses when none is named.
DEFAULT_MODEL = "network"

#: Optional fields of :class:`ModelOptions`: a model reads those in its ``option_names``.
OPTIONAL = ("sigma", "targets", "kappa", "noise", "refresh")


def register(cls: type) -> type:
    """Class decorator: add a drift model to :data:`MODELS` under ``cls.name``.

    Raises
    ------
    ValueError
        The name is taken, or the class lacks ``default_time`` or names an unknown option.
    """
    name = cls.name
    if name in MODELS and MODELS[name] is not cls:
        raise ValueError(f"a drift model named {name!r} is registered already")
    if not (isinstance(cls.default_time, float) and cls.default_time > 0):
        raise ValueError(f"{cls.__name__}.default_time must be a positive float")
    unknown = set(cls.option_names) - set(OPTIONAL)
    if unknown:
        raise ValueError(f"{cls.__name__}.option_names has unknown options {sorted(unknown)}")
    MODELS[name] = cls
    return cls


def model_class(name: str) -> type:
    """The registered model class called ``name``; ``ValueError`` naming the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown drift model {name!r}; choose one of {', '.join(MODELS)}"
        ) from None


class OptionError(ValueError):
    """A run option a model cannot use, or one it needs and did not get.

    Attributes
    ----------
    option : str
        The field of :class:`ModelOptions` at fault.
    missing : bool
        True when the option is required and was not given.
    """

    def __init__(self, option: str, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.option = option
        self.missing = missing


@dataclass(frozen=True)
class ModelOptions:
    """The generic options of a Langevin run; ``None`` means "not given".

    Attributes
    ----------
    temperature : float
        T = eps/|B| > 0.
    K, L : int
        Levels (rows of W) and columns of W, 2 <= K <= L.
    n_systems : int
        Ensemble size (seeds).
    entropy : int
        Base entropy of the run (:func:`dysonsgd._seeding.base_entropy`).
    sigma : float, optional
        Initial width sigma_W: W(0) has entries N(0, sigma_W^2 / L).
    targets : tuple of float, optional
        Target eigenvalues x* (harmonic), or the teacher's x* = s*^2 (linear).
    kappa : float, optional
        Stiffness of the harmonic drift.
    noise : float, optional
        Gradient-noise variance (A or a, per model).
    refresh : float, optional
        Langevin time between coefficient measurements (network).
    """

    temperature: float
    K: int
    L: int
    n_systems: int
    entropy: int
    sigma: float | None = None
    targets: tuple[float, ...] | None = None
    kappa: float | None = None
    noise: float | None = None
    refresh: float | None = None

    def given(self) -> tuple[str, ...]:
        """The optional fields that were given, in :data:`OPTIONAL` order."""
        return tuple(o for o in OPTIONAL if getattr(self, o) is not None)

    def check_for(self, cls: type) -> None:
        """Refuse the options model ``cls`` cannot use, and a missing required sigma.

        Raises
        ------
        OptionError
            Naming the first such option and the models that do use it.
        """
        for option in self.given():
            if option not in cls.option_names:
                users = [n for n, m in MODELS.items() if option in m.option_names]
                raise OptionError(
                    option,
                    f"the {cls.name} model does not use {option}"
                    + (f" (used by --model {', '.join(users)})" if users else ""),
                )
        if "sigma" in cls.option_names and self.sigma is None and cls.default_sigma is None:
            raise OptionError(
                "sigma", f"the {cls.name} model needs the initial width sigma_W", missing=True
            )


@dataclass(frozen=True, eq=False)
class Start:
    """A model ready to integrate and the initial state of its ensemble.

    Attributes
    ----------
    model : DriftModel
    x0 : ndarray of float64, shape (n_systems, K)
        Initial eigenvalues, descending.
    sigma : float
        The initial width sigma_W used (the option, or the model's default).
    options : ModelOptions
        The options the run was started from.
    reference : ndarray of float64, shape (n_systems, K), or None
        The teacher's eigenvalues (network, linear) or the targets (harmonic), per system.
    initial_loss : ndarray of float64, shape (n_systems,), or None
        Training loss at x0 (network): the phase rule compares the final loss with it.
    """

    model: DriftModel
    x0: np.ndarray
    sigma: float
    options: ModelOptions
    reference: np.ndarray | None = None
    initial_loss: np.ndarray | None = None


#: ``--json`` keys of a summary, in output order, and their value when they do not apply.
SUMMARY_KEYS = ("phase", "phases", "growth", "scale", "progress", "loss_ratio", "exact_law",
                "ks_statistic", "ks_pvalue", "ks_reason", "ks_reference")  # fmt: skip


@dataclass(frozen=True, eq=False)
class RunSummary:
    """What a finished run says beyond its spectra: a phase, or an exact law and its KS test.

    Attributes
    ----------
    phases : PhaseClassification, optional
        Per-seed phases (network).
    advice : str, optional
        Why the phase is undetermined and how long to run instead.
    law : WishartLaw or GOELaw, optional
        The law the final eigenvalues follow exactly (free, harmonic, linear).
    ks : ExactLawTest, optional
        The KS test of the final levels against ``law`` (None with ``ks_reason`` saying why).
    ks_reason : str, optional
    ks_seed : int, optional
        Entropy of the law's reference samples.
    """

    phases: PhaseClassification | None = None
    advice: str | None = None
    law: WishartLaw | GOELaw | None = None
    ks: ExactLawTest | None = None
    ks_reason: str | None = None
    ks_seed: int | None = None

    def to_dict(self) -> dict:
        """The ``--json`` keys :data:`SUMMARY_KEYS` (None where they do not apply)."""
        out = dict.fromkeys(SUMMARY_KEYS)
        p = self.phases
        if p is not None:
            out.update(phase=p.phase, phases=list(p.phases), growth=p.growth, scale=p.scale,
                       progress=p.progress, loss_ratio=p.loss_ratio)  # fmt: skip
        if self.law is not None:
            out["exact_law"] = {"name": self.law.name, "parameters": self.law.parameters}
        out["ks_reason"] = self.ks_reason
        if self.ks is not None:
            out.update(
                ks_statistic=self.ks.statistic,
                ks_pvalue=self.ks.pvalue,
                ks_reference={
                    "systems": self.ks.n_reference,
                    "null_groups": self.ks.n_null,
                    "seed": self.ks_seed,
                },  # fmt: skip
            )
        return out

    def table(self) -> tuple[str, list[str]]:
        """Extra columns of the per-seed text table: (header, one string per seed)."""
        p = self.phases
        if p is None:
            return "", []
        head = f" {'x_1/x*_1':>9} {'loss ratio':>10} {'progress':>8} {'phase':>17}"
        rows = [
            f" {p.scale[k]:>9.3g} {p.loss_ratio[k]:>10.3g} {p.progress[k]:>8.0%} {lab:>17}"
            for k, lab in enumerate(p.phases)
        ]
        return head, rows

    def lines(self) -> list[str]:
        """The text report's lines after the table."""
        if self.phases is not None:
            out = [f"phase: {self.phases.phase}"]
            return out + ([self.advice] if self.advice else [])
        out = ["exact law: " + ("none" if self.law is None else self.law.describe())]
        if self.ks is None:
            out.append(f"KS p-value: none ({self.ks_reason})")
        else:
            t = self.ks
            out.append(
                f"KS vs exact law: D={t.statistic:.3f}  p={t.pvalue:.3g}  (pooled "
                f"{t.n_systems} x {self.law.K} final levels against {t.n_reference} systems "
                f"drawn from the law; p from {t.n_null} groups of {t.n_systems} drawn from "
                f"it, seed {self.ks_seed:#x})"
            )
        return out


def initial_spectrum(K: int, L: int, sigma: float, n: int, entropy: int) -> np.ndarray:
    """Eigenvalues of ``X = W W^T`` for K x L matrices with entries N(0, sigma^2/L), computed
    as squared singular values (:func:`dysonsgd.observables.eigenvalues_of_X`).

    System k's matrix comes from the ``LANGEVIN_INIT`` stream of (entropy, k) alone
    (:mod:`dysonsgd._seeding`), so it does not depend on the ensemble size.

    Parameters
    ----------
    K, L : int
        1 <= K <= L.
    sigma : float
        Width sigma_W > 0.
    n : int
        Systems, >= 1.
    entropy : int
        Base entropy of the run.

    Returns
    -------
    ndarray of float64, shape (n, K)
        Descending.
    """
    from dysonsgd.observables import eigenvalues_of_X

    W = np.empty((n, K, L))
    for k in range(n):
        rng = _seeding.stream(entropy, k, _seeding.LANGEVIN_INIT)
        W[k] = rng.standard_normal((K, L)) * (sigma / math.sqrt(L))
    # squared singular values, not eigvalsh(W W^T): forming W W^T squares the condition
    # number and loses the small levels' relative accuracy (dysonsgd.spectra)
    return eigenvalues_of_X(W)

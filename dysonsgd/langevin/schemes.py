"""The integration schemes of :func:`dysonsgd.langevin.integrate`, one small object each.

A scheme states its name, its convergence orders and the code by which the kernels in
:mod:`dysonsgd.langevin._kernels` select its step; the step itself lives in the kernels
(``euler_step_fast``, ``semi_implicit_step``), where numba can inline it into the driver.
Both schemes share the step control (rejection and Brownian-bridge bisection) described in
docs/theory.md, section 4.

The orders below are the slopes of log RMS error against log step measured by
tests/langevin/test_langevin_exact.py on nested grids sharing one Brownian path (steps 2^-4 .. 2^-7,
reference 2^-11 or 2^-13, 200 systems; the tests pass when the slope is within 4 standard
errors, plus the reference's bias, of the stated order).

References
----------
P. E. Kloeden, E. Platen, Numerical Solution of Stochastic Differential Equations (Springer,
1992), sections 10.2 and 14.1 (Euler-Maruyama: strong order 1/2, 1 for additive noise; weak
order 1).
H.-L. Ngo, D. Taguchi, "Semi-implicit Euler-Maruyama approximation for noncolliding particle
systems", Ann. Appl. Probab. 30 (2020) 673.
"""

from __future__ import annotations

from typing import ClassVar

from dysonsgd.langevin import _kernels as _k


class Scheme:
    """Base class of the schemes: a name, convergence orders and a kernel code.

    Attributes
    ----------
    name : str
        The name :func:`~dysonsgd.langevin.integrate` and the CLI accept.
    code : int
        The kernels' code of the step (``_kernels.EULER``, ``_kernels.SEMI_IMPLICIT``).
    strong_order : float
        Strong order for multiplicative noise (a diffusion that depends on the state).
    strong_order_additive : float
        Strong order when the diffusion of the integrated state is constant.
    weak_order : float
        Weak order.
    """

    name: ClassVar[str]
    code: ClassVar[int]
    strong_order: ClassVar[float]
    strong_order_additive: ClassVar[float]
    weak_order: ClassVar[float]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class Euler(Scheme):
    """Explicit Euler-Maruyama with rejection, ``scheme="euler"``.

    ``y_{n+1} = y_n + h f(y_n) + g(y_n) dW``; a step that crosses levels, leaves the domain,
    is non-finite or changes a gap by more than half of itself is rejected and bisected. From
    48 bisection levels on a rejected sub-step is retried with the semi-implicit step
    (``LangevinResult.fallback_steps``). docs/theory.md, section 4.

    Orders: strong 1/2 and, for additive noise, 1 (Kloeden & Platen, section 10.2); weak 1,
    expected from the Euler structure and not measured as a slope (the Wishart and
    stationary-law tests at dt = t/500 are consistent with it). Measured strong slopes
    (tests/langevin/test_langevin_exact.py): 1.035 +- 0.012 (harmonic model, additive noise),
    1.010 +- 0.027 (free model in s), 0.526 +- 0.042 (measured model, multiplicative noise).
    """

    name: ClassVar[str] = "euler"
    code: ClassVar[int] = _k.EULER
    strong_order: ClassVar[float] = 0.5
    strong_order_additive: ClassVar[float] = 1.0
    weak_order: ClassVar[float] = 1.0


class SemiImplicit(Scheme):
    """Coulomb, mirror and wall terms implicit, ``scheme="semi_implicit"`` (the default).

    ``y_{n+1} = y_n + h (f - Phi)(y_n) + g(y_n) dW + h Phi(y_{n+1})`` with the pair weights
    of the singular repulsion ``Phi`` frozen at ``y_n``: the new state minimises a strictly
    convex function on the ordered chamber, so it is ordered for any step and temperature
    (Ngo & Taguchi 2020; docs/theory.md, section 4).

    Orders: strong 1/2 and, for additive noise, 1; our frozen-weight, mirror-image variant is
    not covered by Ngo & Taguchi's theorem as such, so these are the measured ones; weak 1,
    expected and not measured as a slope (the Wishart and stationary-law tests are
    consistent with it). Measured strong slopes (tests/langevin/test_langevin_exact.py):
    1.035 +- 0.012 (harmonic model, additive noise), 1.036 +- 0.033 (free model in s),
    0.527 +- 0.042 (measured model, multiplicative noise).
    """

    name: ClassVar[str] = "semi_implicit"
    code: ClassVar[int] = _k.SEMI_IMPLICIT
    strong_order: ClassVar[float] = 0.5
    strong_order_additive: ClassVar[float] = 1.0
    weak_order: ClassVar[float] = 1.0


_KERNEL_CODES = frozenset((_k.EULER, _k.SEMI_IMPLICIT))

#: Scheme names -> scheme objects; ``list(SCHEMES)`` are the names the CLI offers.
SCHEMES: dict[str, Scheme] = {s.name: s for s in (Euler(), SemiImplicit())}


def as_scheme(scheme: str | Scheme) -> Scheme:
    """The scheme object of a name or a scheme object.

    Raises
    ------
    ValueError
        For an unknown name or an object that is not a :class:`Scheme`.
    """
    if isinstance(scheme, Scheme):
        if getattr(scheme, "code", None) not in _KERNEL_CODES:
            raise ValueError(
                f"scheme {scheme!r} has no step in the kernels (code must be one of "
                f"{sorted(_KERNEL_CODES)}); a new scheme needs its step in _kernels.py"
            )
        return scheme
    if isinstance(scheme, type) and issubclass(scheme, Scheme):
        raise ValueError(f"scheme must be a Scheme instance or a name; use {scheme.__name__}()")
    if isinstance(scheme, str) and scheme in SCHEMES:
        return SCHEMES[scheme]
    raise ValueError(f"unknown scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")

"""Mixture properties of the Tennessee Eastman components, written once for every ``ops``.

Enthalpies per kmol of a mixture with mole fractions ``z`` at ``T`` [degC],
relative to the liquid at 0 degC: the liquid's is the integral of its heat
capacity ``a + b T + c T^2`` [MJ/(kg K)] times the molar mass; the
vapour's adds the component's ``dh_vap`` to the integral of the vapour heat
capacity. A vessel's temperature follows from its energy by Newton's
method on that cubic (:func:`temperature`); the liquid density from the
components' quadratic densities with volumes adding (:func:`molar_density`).
"""

from __future__ import annotations

from .constants import COMPONENTS

NEWTON_STEPS = 6
"""Newton steps from the base-case temperature: a 60 K start error ends below 1e-12 K
(the cubic's curvature over its slope is under 0.005 1/K)."""


def _coefficients(z, p, phase):
    """``(alpha, beta, gamma, delta)`` of ``h(T) = T (alpha + T (beta + T gamma)) + delta`` [MJ/kmol]."""
    w = "l" if phase == "liquid" else "v"
    alpha = beta = gamma = delta = 0
    for i, c in enumerate(COMPONENTS):
        m = z[i] * p[f"M_{c}"]
        alpha = alpha + m * p[f"cp{w}_a_{c}"]
        beta = beta + m * p[f"cp{w}_b_{c}"] / 2
        gamma = gamma + m * p[f"cp{w}_c_{c}"] / 3
        if w == "v":
            delta = delta + m * p[f"dh_vap_{c}"]
    return alpha, beta, gamma, delta


def enthalpy(z, T, p, phase):
    """Molar enthalpy of a liquid or vapour mixture [MJ/kmol] at ``T`` [degC]."""
    alpha, beta, gamma, delta = _coefficients(z, p, phase)
    return T * (alpha + T * (beta + T * gamma)) + delta


def temperature(z, e, p, phase, start, ops):
    """Temperature [degC] at which the mixture's specific energy is ``e`` [MJ/kmol].

    ``phase`` "liquid" (energy = enthalpy) or "gas" (energy = enthalpy - R T,
    the internal energy of an ideal gas); ``start`` [degC] is where Newton's
    method begins (given the unit of a temperature for the dimension check).
    """
    alpha, beta, gamma, delta = _coefficients(z, p, "liquid" if phase == "liquid" else "vapour")
    T = ops.in_unit_of(start, p.T_steam)
    for _ in range(NEWTON_STEPS):
        h = T * (alpha + T * (beta + T * gamma)) + delta
        slope = alpha + T * (2 * beta + 3 * gamma * T)
        if phase == "gas":
            h = h - p.R_e * (T + 273.15)
            slope = slope - p.R_e
        T = T - (h - e) / slope
    return T


def molar_density(x, T, p):
    """Liquid density [kmol/m3] of a mixture with mole fractions ``x`` at ``T`` [degC]."""
    volume = 0
    for i, c in enumerate(COMPONENTS):
        volume = volume + x[i] * p[f"M_{c}"] / (p[f"rho_a_{c}"] + (p[f"rho_b_{c}"] + p[f"rho_c_{c}"] * T) * T)
    return 1 / volume


def mean_molar_mass(z, p):
    """Molar mass of a mixture [kg/kmol]."""
    total = 0
    for i, c in enumerate(COMPONENTS):
        total = total + z[i] * p[f"M_{c}"]
    return total

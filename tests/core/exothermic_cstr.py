"""An exothermic first-order CSTR with three steady states (for the multi-start search).

The dimensionless model of Uppal, Ray and Poore (1974), with time scaled by
the residence time ``tau``: conversion ``x1`` and temperature ``x2``

    tau dx1/dt = -x1 + Da (1 - x1) exp(x2 / (1 + x2 / gamma))
    tau dx2/dt = -x2 + B Da (1 - x1) exp(x2 / (1 + x2 / gamma)) - beta (x2 - x2c)

At Da = 0.072, B = 8, beta = 0.3, gamma = 20, x2c = 0 it has three steady
states: cold and hot stable, the middle one unstable.
"""

from __future__ import annotations

from twin.core.model import Model
from twin.core.variables import disturbance, parameter, state


def rhs(x, u, p, ops):
    """Balances [1/s]."""
    rate = p.Da * (1 - x.x1) * ops.exp(x.x2 / (1 + x.x2 / p.gamma))
    return {"x1": (-x.x1 + rate) / p.tau,
            "x2": (-x.x2 + p.B * rate - p.beta * (x.x2 - u.x2c)) / p.tau}


MODEL = Model(
    name="exothermic_cstr",
    title="Exothermic CSTR with three steady states (Uppal, Ray & Poore 1974)",
    source="Uppal, Ray & Poore (1974), Chem. Eng. Sci. 29:967-985",
    time_unit="s",
    states=[state("x1", "-", "conversion", 0.5, 0.0, 1.0),
            state("x2", "-", "dimensionless temperature", 2.0, 0.0, 10.0)],
    inputs=[disturbance("x2c", "-", "dimensionless coolant temperature", 0.0, -1.0, 1.0)],
    parameters=[parameter("Da", "-", "Damkoehler number", 0.072),
                parameter("B", "-", "heat of reaction", 8.0),
                parameter("beta", "-", "heat transfer coefficient", 0.3),
                parameter("gamma", "-", "activation energy", 20.0),
                parameter("tau", "s", "residence time", 1.0)],
    rhs=rhs,
)

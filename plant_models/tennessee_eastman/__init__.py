"""The Tennessee Eastman challenge process (Downs & Vogel 1993): 50 states, 12 XMVs, 41 XMEAS.

A reactor, a condenser and vapour-liquid separator, a recycle compressor
and a product stripper make G and H from the gaseous reactants A, C, D, E
(with inert B and by-product F). The balances are in :mod:`.equations`,
the mixture properties in :mod:`.thermo`, the variables in
:mod:`.declarations`; every constant comes from ``constants.csv`` with its
source (``docs/tennessee-eastman.md`` shows the table and the derivation).

Inputs: the 12 XMVs (valve set points, %) and the disturbance inputs the
standard disturbances IDV 1-20 act on (:mod:`.disturbances` turns IDV
flags into their signals). Outputs: XMEAS 1-41 (analyses undelayed; the
sensors layer samples and delays them), the operating cost of Downs &
Vogel, the production and the three liquid volumes of the shutdown limits.

Time unit: hour. Open-loop unstable: with constant XMVs the reactor
pressure reaches its 3000 kPa shutdown limit within hours.

Physical bounds: holdups >= 0, valve positions 0..100 %, temperatures
above absolute zero, analyses 0..100 mol %.
"""

from __future__ import annotations

from twin.core.model import Model, ParameterSet
from twin.core.trips import Trip

from .constants import raw
from .declarations import inputs, outputs, parameters, states
from .equations import rhs
from .measurements import output_map


TRIPS = (
    Trip("reactor_pressure", "high", raw("shutdown.reactor_pressure_high"), "reactor pressure"),
    Trip("V_r_liquid", "high", raw("shutdown.reactor_volume_high"), "reactor liquid level"),
    Trip("V_r_liquid", "low", raw("shutdown.reactor_volume_low"), "reactor liquid level"),
    Trip("reactor_temperature", "high", raw("shutdown.reactor_temperature_high"),
         "reactor temperature"),
    Trip("V_s_liquid", "high", raw("shutdown.separator_volume_high"), "separator liquid level"),
    Trip("V_s_liquid", "low", raw("shutdown.separator_volume_low"), "separator liquid level"),
    Trip("V_c_liquid", "high", raw("shutdown.stripper_volume_high"), "stripper liquid level"),
    Trip("V_c_liquid", "low", raw("shutdown.stripper_volume_low"), "stripper liquid level"),
)
"""The shutdown limits of Downs & Vogel (1993) Table 6."""

MODEL = Model(
    name="tennessee_eastman",
    title="Tennessee Eastman challenge process (Downs & Vogel 1993)",
    source="Downs & Vogel (1993), Comput. Chem. Eng. 17:245-255; constants of their simulation "
           "(revised by Bathelt, Ricker & Jelali 2015), docs/tennessee-eastman.md",
    time_unit="h",
    states=states(),
    inputs=inputs(),
    parameters=parameters(),
    outputs=outputs(),
    rhs=rhs,
    output_map=output_map,
    parameter_sets=(
        ParameterSet("base", "Downs & Vogel base case (Mode 1 of their Table 3): the constants "
                     "and their initial state", {}),
    ),
    stiff=True,
    trips=TRIPS,
).with_parameter_set("base")

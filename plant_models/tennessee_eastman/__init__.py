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

from .constants import ATMOSPHERE, COMPONENTS, raw
from .declarations import ANALYSERS, inputs, outputs, parameters, states
from .equations import percent, process, rhs
from .thermo import mean_molar_mass


def _mass_flow(flow, z, p):
    return flow * mean_molar_mass(z, p)


def _level(volume, v, p, ops, like):
    return percent((volume - p[f"level_zero_{v}"]) / p[f"level_span_{v}"], ops, like)


def _cost(s, work, steam, p):
    """Downs & Vogel's operating cost [USD/h]: power, steam, and what purge and product lose."""
    purge = sum(p[f"value_{c}"] * s["y_s"][COMPONENTS.index(c)] for c in "ACDEFGH")
    product = sum(p[f"value_{c}"] * s["x_c"][COMPONENTS.index(c)] for c in "DEF")
    return (p.price_power * work + p.price_steam * steam
            + p.purge_kmol_per_kscm * s["F10"] * p.standard_volume * purge + s["F13"] * product)


def output_map(x, u, p, ops):
    """XMEAS 1-41 in Downs & Vogel's units, the operating cost [USD/h] and the liquid volumes."""
    s = process(x, u, p, ops)
    feeds = s["feeds"]
    like = x.pos_agitator_speed  # a value in %
    work = s["work"] * p.kW_per_MJ_h
    steam = s["Q_c"] * p.steam_per_duty
    y = {
        "A_feed": feeds["A"][0] * p.standard_volume,
        "D_feed": _mass_flow(*feeds["D"][:2], p),
        "E_feed": _mass_flow(*feeds["E"][:2], p),
        "AC_feed": s["F4"] * p.standard_volume,
        "recycle_flow": s["F9"] * p.standard_volume,
        "reactor_feed": s["F6"] * p.standard_volume,
        "reactor_pressure": s["p_r"] - ATMOSPHERE,
        "reactor_level": _level(s["V_lr"], "r", p, ops, like),
        "reactor_temperature": s["T_r"],
        "purge_rate": s["F10"] * p.standard_volume,
        "separator_temperature": s["T_s"],
        "separator_level": _level(s["V_ls"], "s", p, ops, like),
        "separator_pressure": s["p_s"] - ATMOSPHERE,
        "separator_underflow": s["F11"] / s["rho_s"],
        "stripper_level": _level(s["V_lc"], "c", p, ops, like),
        "stripper_pressure": s["p_v"] - ATMOSPHERE,
        "stripper_underflow": s["F13"] / s["rho_c"],
        "stripper_temperature": s["T_c"],
        "stripper_steam": steam,
        "compressor_work": work,
        "reactor_cw_out": x.T_cw_r,
        "condenser_cw_out": x.T_cw_s,
    }
    streams = {"feed": s["x_v"], "purge": s["y_s"], "product": s["x_c"]}
    for prefix, comps, _, _ in ANALYSERS:
        for c in comps:
            y[f"{prefix}_{c}"] = percent(streams[prefix][COMPONENTS.index(c)], ops, like)
    y["operating_cost"] = _cost(s, work, steam, p)
    y["production"] = _mass_flow(s["F13"], s["x_c"], p)
    y["V_r_liquid"], y["V_s_liquid"], y["V_c_liquid"] = s["V_lr"], s["V_ls"], s["V_lc"]
    return y


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

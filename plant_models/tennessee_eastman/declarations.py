"""States, inputs, parameters and outputs of the Tennessee Eastman model, in SI units.

Holdups in kmol, energies in MJ, temperatures in degC, pressures in kPa
(gauge at the outputs, as Downs & Vogel report them), flows in kmol/h
inside and kg/h, kscmh or m3/h at the outputs, valve positions in %.
Every parameter value comes from ``constants.csv`` through
:mod:`.constants`, converted as its ``conversion`` column says.
"""

from __future__ import annotations

import math

from twin.core.variables import disturbance, manipulated, output, parameter, state

from .constants import (COMPONENTS, CONDENSABLE, FT3, LBMOL, MMBTU, TORR, density_si,
                        flow_coefficient_si, heat_capacity_si, per_component, rate_constant_si,
                        raw)

VESSELS = {"r": "reactor", "s": "separator", "c": "stripper", "v": "compressor header"}
"""Vessel letters of the state names: ``N_r_A`` is the reactor's holdup of A."""

BASE_HOLDUP_LBMOL = {
    "r": (10.40491389, 4.363996017, 7.570059737, 0.4230042431, 24.15513437, 2.942597645,
          154.3770655, 159.186596),
    "s": (63.75581199, 26.74026066, 46.38532432, 0.2464521543, 15.20484404, 1.852266172,
          52.44639459, 41.20394008),
    "c": (0.4306056376, 0.0079906200783, 0.9056036089, 0.016054258216, 0.7509759687,
          0.088582855955, 48.27726193, 39.38459028),
    "v": (107.7562698, 29.77250546, 88.32481135, 23.03929507, 62.85848794, 5.546318688,
          11.92244772, 5.555448243),
}
"""Base-case holdups [lbmol]: the initial state of Downs & Vogel's simulation (TEPROB)."""
BASE_ENERGY_MMBTU = {"r": 2.808522723, "s": 0.569931776, "c": 0.3755297257, "v": 0.9218489762}
"""Base-case energies [MMBtu] (TEPROB states 9, 18, 27, 36)."""
BASE_COOLING_WATER = {"T_cw_r": 94.59927549, "T_cw_s": 77.29698353}
"""Base-case cooling-water outlet temperatures [degC] (XMEAS 21 and 22)."""

VALVES = (
    ("D_feed_valve", "D feed flow (stream 2), XMV 1", 63.05263039, "D_feed"),
    ("E_feed_valve", "E feed flow (stream 3), XMV 2", 53.97970677, "E_feed"),
    ("A_feed_valve", "A feed flow (stream 1), XMV 3", 24.64355755, "A_feed"),
    ("AC_feed_valve", "A and C feed flow (stream 4), XMV 4", 61.30192144, "AC_feed"),
    ("recycle_valve", "compressor recycle valve, XMV 5", 22.21, "recycle"),
    ("purge_valve", "purge valve (stream 9), XMV 6", 40.06374673, "purge"),
    ("separator_valve", "separator pot liquid flow (stream 10), XMV 7", 38.1003437, "separator"),
    ("stripper_valve", "stripper liquid product flow (stream 11), XMV 8", 46.53415582, "stripper"),
    ("steam_valve", "stripper steam valve, XMV 9", 47.44573456, "steam"),
    ("reactor_cw_valve", "reactor cooling-water flow, XMV 10", 41.10581288, "reactor_cw"),
    ("condenser_cw_valve", "condenser cooling-water flow, XMV 11", 18.11349055, "condenser_cw"),
    ("agitator_speed", "agitator speed, XMV 12", 50.0, "agitator"),
)
"""The 12 XMVs: input name, what it moves, base-case position [%] (DV93 Table 3), table key."""

_NONNEGATIVE = (0.0, math.inf)
_PERCENT = (0.0, 100.0)
_ABOVE_ABSOLUTE_ZERO = (-273.15, math.inf)
_ANY = (-math.inf, math.inf)
"""An energy relative to an arbitrary datum: any value (its temperature is what is bounded)."""


def states():
    """The 50 states in Downs & Vogel's order: vessels' holdups and energies, cooling water, valves."""
    out = []
    for v, vessel in VESSELS.items():
        phase = " (A, B, C: vapour; D..H: liquid)" if v in "rs" else ""
        for c, n in zip(COMPONENTS, BASE_HOLDUP_LBMOL[v]):
            out.append(state(f"N_{v}_{c}", "kmol", f"{vessel} holdup of {c}{phase}", n * LBMOL,
                             physical=_NONNEGATIVE))
        kind = "internal energy of the gas" if v == "v" else "enthalpy of the liquid"
        out.append(state(f"H_{v}", "MJ", f"{vessel} {kind} (datum: liquid at 0 degC)",
                         BASE_ENERGY_MMBTU[v] * MMBTU, physical=_ANY))
    out += [state("T_cw_r", "degC", "reactor cooling-water outlet temperature",
                  BASE_COOLING_WATER["T_cw_r"], physical=_ABOVE_ABSOLUTE_ZERO),
            state("T_cw_s", "degC", "condenser cooling-water outlet temperature",
                  BASE_COOLING_WATER["T_cw_s"], physical=_ABOVE_ABSOLUTE_ZERO)]
    out += [state(f"pos_{name}", "%", f"position of the {what.split(',')[0]}", base,
                  physical=_PERCENT) for name, what, base, _ in VALVES]
    return out


def inputs():
    """The 12 XMVs (valve set points, %) and the physical disturbance inputs."""
    out = [manipulated(name, "%", f"{what} [set point of the valve]", base, 0.0, 100.0)
           for name, what, base, _ in VALVES]
    feed_T, switch, loss = raw("feed_temperature"), (0.0, 0.0, 1.0), (0.0, -1.0, 1.0)
    table = (
        ("idv_1", "-", "IDV 1: A/C feed ratio step, B composition constant (stream 4); 0..1", *switch),
        ("idv_2", "-", "IDV 2: B composition step, A/C ratio constant (stream 4); 0..1", *switch),
        ("idv_6", "-", "IDV 6: A feed loss (stream 1); 0..1", *switch),
        ("idv_7", "-", "IDV 7: C header pressure loss, 20 % less stream 4; 0..1", *switch),
        ("x_AC_A", "mol/mol", "A in the A and C feed (stream 4) before IDV 1, 2 (IDV 8)",
         raw("feed_composition.AC_feed.A"), 0.0, 1.0),
        ("x_AC_B", "mol/mol", "B in the A and C feed (stream 4) before IDV 2 (IDV 8)",
         raw("feed_composition.AC_feed.B"), 0.0, 1.0),
        ("T_D_feed", "degC", "D feed temperature (stream 2) before IDV 3 (IDV 9)", feed_T, 0.0, 150.0),
        ("T_AC_feed", "degC", "A and C feed temperature (stream 4) (IDV 10)", feed_T, 0.0, 150.0),
        ("T_E_feed", "degC", "E feed temperature (stream 3)", feed_T, 0.0, 150.0),
        ("T_A_feed", "degC", "A feed temperature (stream 1)", feed_T, 0.0, 150.0),
        ("T_cw_r_in", "degC", "reactor cooling-water inlet temperature (IDV 4, 11)",
         raw("reactor_cw_inlet"), 0.0, 100.0),
        ("T_cw_s_in", "degC", "condenser cooling-water inlet temperature (IDV 5, 12)",
         raw("condenser_cw_inlet"), 0.0, 100.0),
        ("kinetics_1", "-", "factor on the rate of A + C + D -> G (IDV 13)", 1.0, 0.0, 2.0),
        ("kinetics_2", "-", "factor on the rate of A + C + E -> H (IDV 13)", 1.0, 0.0, 2.0),
        ("steam_fouling", "-", "relative change of the stripper steam heat transfer (IDV 16)", *loss),
        ("reactor_fouling", "-", "reactor heat-transfer loss, x 0.35 (IDV 17)", *loss),
        ("condenser_fouling", "-", "condenser heat-transfer loss, x 0.25 (IDV 18)", *loss),
        ("outlet_restriction", "-", "reactor outlet flow loss, x 0.25 (IDV 20)", *loss),
    )
    out += [disturbance(*row) for row in table]
    return out


def parameters():
    """Physical constants (per component and per unit), from ``constants.csv``, in SI."""
    out = []
    for c, m in zip(COMPONENTS, per_component("molar_mass")):
        out.append(parameter(f"M_{c}", "kg/kmol", f"molar mass of {c}", m, 0.0))
    for c in CONDENSABLE:
        out.append(parameter(f"antoine_a_{c}", "-", f"vapour pressure of {c}: ln(p/kPa) = a + b/(T + c)",
                      raw(f"antoine_a.{c}") + math.log(TORR)))
        out.append(parameter(f"antoine_b_{c}", "K", f"vapour pressure of {c}: b", raw(f"antoine_b.{c}")))
        out.append(parameter(f"antoine_c_{c}", "K", f"vapour pressure of {c}: c", raw(f"antoine_c.{c}")))
    for c in COMPONENTS:
        a, b, cc = (per_component(k, (c,))[0] for k in ("density_a", "density_b", "density_c"))
        out += [parameter(f"rho_a_{c}", "kg/m3", f"liquid density of {c}: a + b T + c T^2", density_si(a)),
                parameter(f"rho_b_{c}", "kg/(m3 K)", f"liquid density of {c}: b", density_si(b)),
                parameter(f"rho_c_{c}", "kg/(m3 K2)", f"liquid density of {c}: c", density_si(cc))]
    for phase, word in (("liquid", "l"), ("vapour", "v")):
        for c in COMPONENTS:
            a, b, cc = (per_component(f"{phase}_cp_{k}", (c,))[0] for k in "abc")
            out += [parameter(f"cp{word}_a_{c}", "MJ/(kg K)",
                       f"{phase} heat capacity of {c}: a + b T + c T^2", heat_capacity_si(a)),
                    parameter(f"cp{word}_b_{c}", "MJ/(kg K2)", f"{phase} heat capacity of {c}: b",
                       heat_capacity_si(b)),
                    parameter(f"cp{word}_c_{c}", "MJ/(kg K3)", f"{phase} heat capacity of {c}: c",
                       heat_capacity_si(cc))]
    for c, dh in zip(COMPONENTS, per_component("vaporisation")):
        out.append(parameter(f"dh_vap_{c}", "MJ/kg", f"enthalpy of the vapour of {c} over the liquid",
                      dh * MMBTU / LBMOL))
    gas_pv = raw("gas_constant_pv") * TORR * FT3 / LBMOL
    gas_e = raw("gas_constant_energy") * MMBTU / LBMOL
    order_1 = raw("reaction.order_A") + raw("reaction.order_C") + 1.0
    out += [
        parameter("R_pv", "kPa m3/(kmol K)", "gas constant of the pressure-volume law", gas_pv, 0.0),
        parameter("R_e", "MJ/(kmol K)", "gas constant of enthalpy minus internal energy and compression",
           gas_e, 0.0),
        parameter("V_r", "m3", "reactor volume", raw("volume.reactor") * FT3, 0.0),
        parameter("V_s", "m3", "separator volume", raw("volume.separator") * FT3, 0.0),
        parameter("V_v", "m3", "compressor header volume", raw("volume.header") * FT3, 0.0),
        parameter("k_1", "kmol/(h m3)", "rate constant of A + C + D -> G (partial pressures in kPa)",
           rate_constant_si(raw("reaction_1.ln_k0"), order_1), 0.0),
        parameter("E_1", "K", "activation temperature of A + C + D -> G",
           raw("reaction_1.activation_temperature"), 0.0),
        parameter("k_2", "kmol/(h m3)", "rate constant of A + C + E -> H (partial pressures in kPa)",
           rate_constant_si(raw("reaction_2.ln_k0"), order_1), 0.0),
        parameter("E_2", "K", "activation temperature of A + C + E -> H",
           raw("reaction_2.activation_temperature"), 0.0),
        parameter("k_3", "kmol/(h m3)", "rate constant of A + E -> F (partial pressures in kPa)",
           rate_constant_si(raw("reaction_3.ln_k0"), 2.0), 0.0),
        parameter("E_3", "K", "activation temperature of A + E -> F and 3 D -> 2 F",
           raw("reaction_3.activation_temperature"), 0.0),
        parameter("k_4_over_k_3", "-", "rate constant of 3 D -> 2 F over that of A + E -> F",
           raw("reaction_4.factor"), 0.0),
        parameter("dh_rx_1", "MJ/kmol", "heat released by A + C + D -> G",
           raw("reaction_1.heat") * MMBTU / LBMOL),
        parameter("dh_rx_2", "MJ/kmol", "heat released by A + C + E -> H",
           raw("reaction_2.heat") * MMBTU / LBMOL),
    ]
    for key, unit, what in (("D_feed", "kmol/h", "D feed"), ("E_feed", "kmol/h", "E feed"),
                            ("A_feed", "kmol/h", "A feed"), ("AC_feed", "kmol/h", "A and C feed"),
                            ("separator", "kmol/h", "separator underflow"),
                            ("stripper", "kmol/h", "stripper product")):
        out.append(parameter(f"range_{key}", unit, f"{what} at a fully open valve",
                      raw(f"valve_range.{key}") * LBMOL, 0.0))
    water = raw("cooling_water.mass_per_flow") * LBMOL
    out += [
        parameter("range_steam", "MJ/(h K)", "stripper steam heat-transfer coefficient at a fully open valve",
           raw("valve_range.steam") * MMBTU, 0.0),
        parameter("range_reactor_cw", "kg/h", "reactor cooling water at a fully open valve",
           raw("valve_range.reactor_cw") * water, 0.0),
        parameter("range_condenser_cw", "kg/h", "condenser cooling water at a fully open valve",
           raw("valve_range.condenser_cw") * water, 0.0),
    ]
    for name, what, _, key in VALVES:
        out.append(parameter(f"tau_{key}", "h", f"time constant of the {what.split(',')[0]} valve",
                      raw(f"valve_time_constant.{key}") / 3600.0, 0.0))
    for key, name in (("header_to_reactor", "C_feed"), ("reactor_to_separator", "C_outlet")):
        out.append(parameter(name, "kg/(h kPa**0.5)", f"flow coefficient {key.replace('_', ' ')}",
                      flow_coefficient_si(raw(f"flow_coefficient.{key}")), 0.0))
    out += [
        parameter("C_purge", "kg/(h kPa**0.5 %)", "flow coefficient of the purge valve",
           flow_coefficient_si(raw("flow_coefficient.purge")), 0.0),
        parameter("C_recycle", "kg/(h kPa**0.5 %)", "flow coefficient of the compressor recycle valve",
           flow_coefficient_si(raw("flow_coefficient.recycle_valve")), 0.0),
        parameter("p_purge_back", "kPa", "pressure the purge flows into",
           raw("purge_back_pressure") * TORR, 0.0),
        parameter("compressor_max_flow", "kg/h", "compressor flow at a pressure ratio of 1",
           raw("compressor.max_flow") * LBMOL, 0.0),
        parameter("compressor_max_ratio", "-", "compressor pressure ratio of no flow",
           raw("compressor.max_pressure_ratio"), 1.0),
        parameter("compressor_min_flow", "kg/h", "least compressor flow",
           raw("compressor.min_flow") * LBMOL, 0.0),
        parameter("stripper_min_feed", "kmol/h", "separator underflow below which the stripper splits "
           "as without feed", raw("stripper.min_feed") * LBMOL, 0.0),
        parameter("UA_r", "MJ/(h K)", "reactor heat-transfer coefficient times area, full level and "
           "agitation factor 1", raw("reactor_heat_transfer.coefficient") * MMBTU, 0.0),
        parameter("V_r_ht_scale", "m3", "reactor liquid volume per unit of the heat-transfer level factor",
           raw("reactor_heat_transfer.level_volume_scale") * FT3, 0.0),
        parameter("UA_s", "MJ/(h K)", "condenser heat-transfer coefficient times area at high flow",
           raw("condenser_heat_transfer.coefficient") * MMBTU, 0.0),
        parameter("F_condenser_scale", "kmol/h", "reactor outflow of half the condenser's heat transfer",
           raw("condenser_heat_transfer.flow_scale") * LBMOL, 0.0),
        parameter("T_steam", "degC", "temperature up to which steam heats the stripper",
           raw("stripper_heating.temperature")),
        parameter("cp_water", "MJ/(kg K)", "heat capacity of the cooling water",
           heat_capacity_si(raw("cooling_water.heat_capacity") * 1e-6), 0.0),
        parameter("m_cw_r", "kg", "cooling water held in the reactor jacket",
           raw("cooling_water.reactor_holdup") * LBMOL, 0.0),
        parameter("m_cw_s", "kg", "cooling water held in the condenser",
           raw("cooling_water.condenser_holdup") * LBMOL, 0.0),
        parameter("standard_volume", "kscm/kmol", "gas volume at standard conditions per kmol",
           raw("standard_volume") * FT3 / LBMOL / 1000.0, 0.0),
        parameter("steam_per_duty", "kg/MJ", "stripper steam per stripper heat duty",
           raw("steam_per_duty") * LBMOL / MMBTU, 0.0),
        parameter("reported_mass_scale", "-", "reported over exact mass of a pound: Downs & Vogel's "
           "mass flows (XMEAS 2, 3, 19) convert lb/h with 0.454 kg/lb", raw("reported_kg_per_lb") / LBMOL,
           0.0),
        parameter("kW_per_MJ_h", "kW h/MJ", "power of 1 MJ/h (3.6 MJ per kWh)", 1 / 3.6, 0.0),
    ]
    for v, vessel in (("r", "reactor"), ("s", "separator"), ("c", "stripper")):
        out += [parameter(f"level_zero_{v}", "m3", f"{vessel} liquid volume at 0 % level",
                   raw(f"level_zero.{vessel}") * FT3),
                parameter(f"level_span_{v}", "m3", f"{vessel} liquid volume from 0 to 100 % level",
                   raw(f"level_span.{vessel}") * FT3, 0.0)]
    out += [
        parameter("price_power", "USD/kWh", "cost of compressor power", raw("cost.compressor"), 0.0),
        parameter("price_steam", "USD/kg", "cost of stripper steam", raw("cost.steam"), 0.0),
        parameter("purge_kmol_per_kscm", "kmol/kscm", "purge moles per kscm in the cost of Downs & "
           "Vogel (their 0.44791 per mol %)", raw("cost.purge_factor") * 100, 0.0),
    ]
    out += [parameter(f"value_{c}", "USD/kmol", f"value of {c} lost in the purge or product",
               raw(f"cost.{c}"), 0.0) for c in "ACDEFGH"]
    return out


XMEAS = (
    ("A_feed", "kscm/h", "A feed (stream 1), XMEAS 1"),
    ("D_feed", "kg/h", "D feed (stream 2), XMEAS 2"),
    ("E_feed", "kg/h", "E feed (stream 3), XMEAS 3"),
    ("AC_feed", "kscm/h", "A and C feed (stream 4), XMEAS 4"),
    ("recycle_flow", "kscm/h", "recycle flow (stream 8), XMEAS 5"),
    ("reactor_feed", "kscm/h", "reactor feed rate (stream 6), XMEAS 6"),
    ("reactor_pressure", "kPa", "reactor pressure (gauge), XMEAS 7"),
    ("reactor_level", "%", "reactor level, XMEAS 8"),
    ("reactor_temperature", "degC", "reactor temperature, XMEAS 9"),
    ("purge_rate", "kscm/h", "purge rate (stream 9), XMEAS 10"),
    ("separator_temperature", "degC", "product separator temperature, XMEAS 11"),
    ("separator_level", "%", "product separator level, XMEAS 12"),
    ("separator_pressure", "kPa", "product separator pressure (gauge), XMEAS 13"),
    ("separator_underflow", "m3/h", "product separator underflow (stream 10), XMEAS 14"),
    ("stripper_level", "%", "stripper level, XMEAS 15"),
    ("stripper_pressure", "kPa", "stripper pressure (gauge), XMEAS 16"),
    ("stripper_underflow", "m3/h", "stripper underflow (stream 11), XMEAS 17"),
    ("stripper_temperature", "degC", "stripper temperature, XMEAS 18"),
    ("stripper_steam", "kg/h", "stripper steam flow, XMEAS 19"),
    ("compressor_work", "kW", "compressor work, XMEAS 20"),
    ("reactor_cw_out", "degC", "reactor cooling-water outlet temperature, XMEAS 21"),
    ("condenser_cw_out", "degC", "separator cooling-water outlet temperature, XMEAS 22"),
)
"""The continuous measurements XMEAS 1-22: name, unit, what."""
_PHYSICAL_BY_UNIT = {"kscm/h": _NONNEGATIVE, "kg/h": _NONNEGATIVE, "m3/h": _NONNEGATIVE,
                     "kPa": (-101.325, math.inf), "degC": _ABOVE_ABSOLUTE_ZERO}
"""Physical bounds of XMEAS 1-22 by their unit: flows, gauge pressures (no lower than vacuum),
temperatures. Levels (% of a transmitter's span) and the compressor's work have none."""
ANALYSERS = (("feed", "ABCDEF", "reactor feed (stream 6)", 23),
             ("purge", "ABCDEFGH", "purge gas (stream 9)", 29),
             ("product", "DEFGH", "product (stream 11)", 37))
"""The sampled analyses XMEAS 23-41: prefix, components, stream, first XMEAS number."""


def outputs():
    """XMEAS 1-41 (analyses undelayed: the sensors layer samples and delays them), cost, volumes."""
    out = [output(name, unit, what, physical=_PHYSICAL_BY_UNIT.get(unit))
           for name, unit, what in XMEAS]
    for prefix, comps, stream, first in ANALYSERS:
        out += [output(f"{prefix}_{c}", "%", f"{c} in the {stream}, mol %, XMEAS {first + i}",
                       physical=(0.0, 100.0)) for i, c in enumerate(comps)]
    out += [
        output("operating_cost", "USD/h", "operating cost of Downs & Vogel (purge, product, "
               "compressor and steam)"),
        output("production", "kg/h", "stripper product (stream 11) mass flow",
               physical=_NONNEGATIVE),
        output("V_r_liquid", "m3", "reactor liquid volume (shutdown below 2, above 24)",
               physical=_NONNEGATIVE),
        output("V_s_liquid", "m3", "separator liquid volume (shutdown below 1, above 12)",
               physical=_NONNEGATIVE),
        output("V_c_liquid", "m3", "stripper liquid volume (shutdown below 1, above 8)",
               physical=_NONNEGATIVE),
        output("product_G_to_H", "kg/kg", "mass ratio of G to H in the product (the operating "
               "modes of Downs & Vogel fix it: 50/50 in Mode 1)", physical=_NONNEGATIVE),
    ]
    return out

"""The outputs of the Tennessee Eastman process: XMEAS 1-41, the operating cost, production, volumes."""

from __future__ import annotations

from .constants import ATMOSPHERE, COMPONENTS
from .declarations import ANALYSERS
from .equations import percent, process
from .thermo import mean_molar_mass


def _mass_flow(flow, z, p):
    return flow * mean_molar_mass(z, p)


def _reported_mass_flow(flow, z, p):
    """A mass flow [kg/h] as Downs & Vogel report it (0.454 kg/lb, see ``reported_mass_scale``)."""
    return _mass_flow(flow, z, p) * p.reported_mass_scale


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
    return measured(process(x, u, p, ops), x, p, ops)


def measured(s, x, p, ops):
    """:func:`output_map` from the plant's flows, temperatures and pressures ``s`` (see ``process``):
    every value is read from ``s``, so ``x`` may be the states of the full or the reduced model."""
    feeds = s["feeds"]
    like = s["position"]["agitator_speed"]  # a value in %
    work = s["work"] * p.kW_per_MJ_h
    steam = s["Q_c"] * p.steam_per_duty * p.reported_mass_scale
    y = {
        "A_feed": feeds["A"][0] * p.standard_volume,
        "D_feed": _reported_mass_flow(*feeds["D"][:2], p),
        "E_feed": _reported_mass_flow(*feeds["E"][:2], p),
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
        "reactor_cw_out": s["T_cw_r"],
        "condenser_cw_out": s["T_cw_s"],
    }
    streams = {"feed": s["x_v"], "purge": s["y_s"], "product": s["x_c"]}
    for prefix, comps, _, _ in ANALYSERS:
        for c in comps:
            y[f"{prefix}_{c}"] = percent(streams[prefix][COMPONENTS.index(c)], ops, like)
    y["operating_cost"] = _cost(s, work, steam, p)
    y["production"] = _mass_flow(s["F13"], s["x_c"], p)
    y["V_r_liquid"], y["V_s_liquid"], y["V_c_liquid"] = s["V_lr"], s["V_ls"], s["V_lc"]
    g, h = (COMPONENTS.index(c) for c in "GH")
    y["product_G_to_H"] = s["x_c"][g] * p.M_G / (s["x_c"][h] * p.M_H)
    return y

"""Balances of the Tennessee Eastman process (Downs & Vogel 1993), in SI units.

Five units, eight components:

- **compressor header** (``v``): gas of the D, E, A feeds, the stripper
  overhead and the compressor's recycle; it flows into the reactor with the
  square root of the pressure difference.
- **reactor** (``r``): A, B, C only as gas (ideal, in the volume the
  liquid leaves free), D..H as liquid in equilibrium with their vapour
  (Raoult, Antoine vapour pressures); four gas-phase reactions
  A + C + D -> G, A + C + E -> H, A + E -> F, 3 D -> 2 F with rates
  ``k exp(-E/T) p_A^1.1544 p_C^0.3735 p_D`` (and alike) per m3 of gas; the
  vapour leaves through the condenser to the separator with the square
  root of the pressure difference; cooled by a jacket whose heat transfer
  grows with level and agitation.
- **separator** (``s``): as the reactor without reactions; its gas goes to
  the compressor and the purge, its liquid to the stripper.
- **stripper** (``c``): the separator liquid and the A and C feed enter; a
  fixed fraction of A, B, C and a fraction of D..H set by the ratio of
  vapour to liquid (a function of the stripper temperature) leave overhead
  to the header; steam heats it below 100 degC; the rest is the product.
- **cooling water** of the reactor and the condenser (one lumped holdup each)
  and **valves** (first-order lags on their set points).

Given names of fast states (:data:`FAST_STATES`) in ``quasi_steady``,
:func:`process` takes those valves at their commands and those
cooling-water outlets at the steady state of their balance
(:func:`quasi_steady_outlet`): the reduced model
(:mod:`plant_models.tennessee_eastman_reduced`) keeps
:func:`holdup_balances` and the :func:`fast_balances` of the others.

As in the original simulation the vapour holdups of D..H are left out of
the reactor and separator balances, the vessels' energies are those of the
liquid (the header's: the gas's internal energy), and the compressor's work
is taken from the separator's energy balance (Ricker's note on TEPROB).
"""

from __future__ import annotations

from plant_models.smooth import clamp01, clip, max0, sqrt_positive, switch_on

from .constants import COMPONENTS, CONDENSABLE, LBMOL, NON_CONDENSABLE, raw
from .declarations import VALVES
from .thermo import enthalpy, mean_molar_mass, molar_density, temperature

ORDER_A = raw("reaction.order_A")
ORDER_C = raw("reaction.order_C")
T_START = {"r": 120.4, "s": 80.1, "c": 65.7, "v": 86.0}
"""Where Newton's method starts [degC]: near the base case (DV93 Table 4)."""
_STRIP = {c: raw(f"split_factor.{c}") for c in NON_CONDENSABLE}
_STRIP_K = {c: raw(f"split_constant.{c}") for c in CONDENSABLE}
_STRIP_NO_FEED = {c: raw(f"split_no_feed.{c}") for c in CONDENSABLE}
_RATIO = {k: raw(f"stripper.vapour_ratio_{k}") for k in ("a", "b", "c", "high_t", "high_offset",
                                                          "low_t", "low")}
"""The stripper's vapour-to-liquid ratio as a function of its temperature (TEPROB's fit)."""
_AGITATION = tuple(raw(f"reactor_heat_transfer.agitator_{k}") for k in "abc")
_LEVEL = (raw("reactor_heat_transfer.level_low"), raw("reactor_heat_transfer.level_high"))
_CURVE = raw("compressor.curve_divisor")
_IDV = {k: raw(f"idv.{k}") for k in ("1_A", "2_A", "2_B", "7_loss", "steam_gain",
                                     "reactor_fouling_gain", "condenser_fouling_gain",
                                     "outlet_gain")}
_FEED_D_B = raw("feed_composition.D_feed.B")
_FEED_E_F = raw("feed_composition.E_feed.F")
_FEED_A_B = raw("feed_composition.A_feed.B")
_AC_OFFSET = raw("AC_feed_offset") * LBMOL


PRESSURE_WIDTH = 1e-3
"""kPa below which a flow's square-root law bends to 0 with a finite slope (exact above)."""
DRAIN_WIDTH = 0.05
"""m3 of liquid below which a vessel's underflow (separator, stripper) bends to 0 with its level: a
pump cannot draw from an empty vessel. 20 times below the 1 m3 low-level shutdown limits, so
the flows are exact wherever the plant runs."""
ORDER_WIDTH = 1e-6
"""Partial pressure over 1 kPa below which a fractional reaction order's power bends to a line
through 0: the rate is exact above it and keeps a finite slope at 0."""
COOLING_WATER_FLOOR = 1e-9
"""MJ/(h K) added to the water's heat-capacity flow in :func:`quasi_steady_outlet`, so that the
outlet temperature stays defined (the inlet's) with the valve shut and no heat transfer; 1e-12 of
the base case's."""


def _flow_root(dp, ops):
    """sqrt(max(dp, 0)) [kPa^0.5], with a finite slope at 0."""
    return sqrt_positive(dp, PRESSURE_WIDTH, ops)


def _power(ratio, order, ops):
    """max(ratio, 0) ** order for a fractional order: exact above :data:`ORDER_WIDTH`, a line
    to 0 below it (a finite slope at 0) [-]."""
    above = ORDER_WIDTH + max0(ratio - ORDER_WIDTH, ops)  # max(ratio, width)
    return above ** order * clamp01(ratio / ORDER_WIDTH, ops)


def _select(condition, if_true, if_false, ops):
    """``if_true`` where ``condition > 0``, else ``if_false``: exact outside a band of 1e-9
    (in the unit of ``condition``) above 0, where a C1 cubic joins them, so derivatives stay finite."""
    step = switch_on(condition, 1e-9, ops)
    return if_false + (if_true - if_false) * step


def fraction(percent, ops, like):
    """``percent`` [%] as a fraction (``like``: any value in %, which gives the 100 its unit)."""
    return percent / ops.in_unit_of(100.0, like)


def percent(value, ops, like):
    """A fraction as % (``like``: any value in %)."""
    return value * ops.in_unit_of(100.0, like)


def _stream_4(u, ops):
    """Mole fractions of A, B, C in the A and C feed after IDV 1 and 2 [mol/mol]: none below 0,
    C the rest (inputs whose A and B add to more than 1 are scaled to a whole without C)."""
    a = max0(u.x_AC_A - _IDV["1_A"] * u.idv_1 - _IDV["2_A"] * u.idv_2, ops)
    b = max0(u.x_AC_B + _IDV["2_B"] * u.idv_2, ops)
    return tuple(_fractions([a, b, max0(1 - a - b, ops)])[0])


def _fractions(amounts):
    total = sum(amounts[1:], amounts[0])
    return [a / total for a in amounts], total


def _vessel(x, v):
    return [x[f"N_{v}_{c}"] for c in COMPONENTS]


FAST_STATES = ("T_cw_r", "T_cw_s", *(f"pos_{name}" for name, _, _, _ in VALVES))
"""The states :func:`process` can take at their quasi-steady values: the cooling-water outlet
temperatures [degC] of the reactor and the condenser, the 12 valve positions [%]."""


def valve_positions(x, u, quasi_steady=()):
    """The 12 valve positions [%] by input name: the states ``pos_*``, or for those named in
    ``quasi_steady`` the commands ``u`` (those valves taken as instantaneous)."""
    return {name: u[name] if f"pos_{name}" in quasi_steady else x[f"pos_{name}"]
            for name, _, _, _ in VALVES}


def quasi_steady_outlet(water_heat_flow, conductance, T_in, T_vessel, ops):
    """Cooling-water outlet temperature [degC] at which its balance
    ``0 = W cp (T_in - T_cw) - UA (T_cw - T_vessel)`` holds: the inlet warmed by the share
    ``UA / (W cp + UA)`` of the approach ``T_vessel - T_in``.

    ``water_heat_flow`` is ``W cp`` [MJ/(h K)], ``conductance`` the heat transfer ``UA`` times
    its fouling factor [MJ/(h K)].
    """
    floor = ops.in_unit_of(COOLING_WATER_FLOOR, conductance)
    return T_in + conductance * (T_vessel - T_in) / (water_heat_flow + conductance + floor)


def process(x, u, p, ops, quasi_steady=()):
    """Every flow, temperature and pressure of the plant: ``dict`` of named values.

    ``quasi_steady``: names of :data:`FAST_STATES` not read from ``x``: valve positions ``pos_*``
    named there are their commands ``u``, cooling-water outlet temperatures named there those of
    :func:`quasi_steady_outlet` (``x`` then needs only the other states); by default every
    state is read from ``x``.
    """
    unknown = set(quasi_steady) - set(FAST_STATES)
    if unknown:
        raise ValueError(f"not fast states of the Tennessee Eastman model: {sorted(unknown)}")
    s = {}
    position = valve_positions(x, u, quasi_steady)
    # compositions and temperatures
    # A, B, C are gas in the reactor and separator: none in their liquids (0 kmol, as a holdup)
    liquid_r = [0 * n for n in _vessel(x, "r")[:3]] + _vessel(x, "r")[3:]
    liquid_s = [0 * n for n in _vessel(x, "s")[:3]] + _vessel(x, "s")[3:]
    x_r, n_r = _fractions(liquid_r)
    x_s, n_s = _fractions(liquid_s)
    x_c, n_c = _fractions(_vessel(x, "c"))
    x_v, n_v = _fractions(_vessel(x, "v"))
    T_r = temperature(x_r, x.H_r / n_r, p, "liquid", T_START["r"], ops)
    T_s = temperature(x_s, x.H_s / n_s, p, "liquid", T_START["s"], ops)
    T_c = temperature(x_c, x.H_c / n_c, p, "liquid", T_START["c"], ops)
    T_v = temperature(x_v, x.H_v / n_v, p, "gas", T_START["v"], ops)
    V_lr = n_r / molar_density(x_r, T_r, p)
    V_ls = n_s / molar_density(x_s, T_s, p)
    rho_c = molar_density(x_c, T_c, p)
    V_lc = n_c / rho_c
    # pressures: ideal gas for A, B, C; Raoult for D..H
    V_gr, V_gs = p.V_r - V_lr, p.V_s - V_ls
    pp_r, pp_s = [], []
    for i, c in enumerate(COMPONENTS):
        if c in NON_CONDENSABLE:
            pp_r.append(x[f"N_r_{c}"] * p.R_pv * (T_r + 273.15) / V_gr)
            pp_s.append(x[f"N_s_{c}"] * p.R_pv * (T_s + 273.15) / V_gs)
        else:
            unit = ops.in_unit_of(1.0, pp_r[0])
            a, b, cc = p[f"antoine_a_{c}"], p[f"antoine_b_{c}"], p[f"antoine_c_{c}"]
            pp_r.append(unit * ops.exp(a + b / (T_r + cc)) * x_r[i])
            pp_s.append(unit * ops.exp(a + b / (T_s + cc)) * x_s[i])
    p_r = sum(pp_r[1:], pp_r[0])
    p_s = sum(pp_s[1:], pp_s[0])
    p_v = n_v * p.R_pv * (T_v + 273.15) / p.V_v
    y_r = [q / p_r for q in pp_r]
    y_s = [q / p_s for q in pp_s]
    # reactions [kmol/h]
    T_rk = T_r + 273.15
    kPa = ops.in_unit_of(1.0, pp_r[0])  # rates are per kPa^order of the partial pressures
    pA, pC, pD, pE = (q / kPa for q in (pp_r[0], pp_r[2], pp_r[3], pp_r[4]))
    common = _power(pA, ORDER_A, ops) * _power(pC, ORDER_C, ops) * V_gr
    r1 = p.k_1 * ops.exp(-p.E_1 / T_rk) * u.kinetics_1 * common * pD
    r2 = p.k_2 * ops.exp(-p.E_2 / T_rk) * u.kinetics_2 * common * pE
    k3 = p.k_3 * ops.exp(-p.E_3 / T_rk)
    r3 = k3 * pA * pE * V_gr
    r4 = p.k_4_over_k_3 * k3 * pA * pD * V_gr
    s["reaction"] = {"A": -r1 - r2 - r3, "B": 0 * r1, "C": -r1 - r2, "D": -r1 - 1.5 * r4,
                     "E": -r2 - r3, "F": r3 + r4, "G": r1, "H": r2}
    s["heat_of_reaction"] = r1 * p.dh_rx_1 + r2 * p.dh_rx_2
    # feeds
    pos = {key: fraction(position[name], ops, position[name]) for name, _, _, key in VALVES}
    z_AC = _stream_4(u, ops)
    feeds = {
        "D": (pos["D_feed"] * p.range_D_feed, (0, _FEED_D_B, 0, 1 - _FEED_D_B, 0, 0, 0, 0),
              u.T_D_feed),
        "E": (pos["E_feed"] * p.range_E_feed, (0, 0, 0, 0, 1 - _FEED_E_F, _FEED_E_F, 0, 0),
              u.T_E_feed),
        "A": (pos["A_feed"] * (1 - u.idv_6) * p.range_A_feed, (1 - _FEED_A_B, _FEED_A_B, 0, 0, 0, 0, 0, 0),
              u.T_A_feed),
        "AC": (pos["AC_feed"] * (1 - _IDV["7_loss"] * u.idv_7) * p.range_AC_feed
               + ops.in_unit_of(_AC_OFFSET, p.range_AC_feed),
               (*z_AC, 0, 0, 0, 0, 0), u.T_AC_feed),
    }
    s["feeds"] = feeds
    # flows between units
    M_v, M_r, M_s = mean_molar_mass(x_v, p), mean_molar_mass(y_r, p), mean_molar_mass(y_s, p)
    F6 = p.C_feed * _flow_root(p_v - p_r, ops) / M_v
    F8 = p.C_outlet * _flow_root(p_r - p_s, ops) * (1 - _IDV["outlet_gain"] * u.outlet_restriction) / M_r
    F10 = position["purge_valve"] * p.C_purge * _flow_root(p_s - p.p_purge_back, ops) / M_s
    ratio = clip(p_v / p_s, 1, p.compressor_max_ratio, ops)
    flow = p.compressor_max_flow + p.compressor_max_flow / _CURVE * (1 - ratio ** 3)
    work = flow * p.R_e * (T_s + 273.15) * (p_v - p_s) / (M_s * p_s)
    flow = flow - position["recycle_valve"] * p.C_recycle * _flow_root(p_v - p_s, ops)
    flow = p.compressor_min_flow + max0(flow - p.compressor_min_flow, ops)
    F9 = flow / M_s
    F11 = pos["separator"] * p.range_separator * switch_on(V_ls, DRAIN_WIDTH, ops)
    F13 = pos["stripper"] * p.range_stripper * switch_on(V_lc, DRAIN_WIDTH, ops)
    # stripper: overhead fractions
    F4, z4, T4 = feeds["AC"]
    deg = ops.in_unit_of(1.0, T_c)
    r = _RATIO
    ratio_T = _select(T_c - r["high_t"] * deg, (T_c - r["high_offset"] * deg) / deg,
                      _select(r["low_t"] * deg - T_c, r["low"],
                              r["a"] * deg / (r["b"] * deg - T_c) - r["c"], ops), ops)
    vovrl = F4 / (F11 + ops.in_unit_of(1e-30, F11)) * ratio_T  # finite when no underflow
    split = []
    for i, c in enumerate(COMPONENTS):
        if c in NON_CONDENSABLE:
            split.append(_STRIP[c])
        else:
            k = _STRIP_K[c]
            split.append(_select(F11 - p.stripper_min_feed, k * vovrl / (k * vovrl + 1),
                                 _STRIP_NO_FEED[c], ops))
    fin = [F4 * z4[i] + F11 * x_s[i] for i in range(8)]
    overhead = [split[i] * fin[i] for i in range(8)]
    bottoms = [fin[i] - overhead[i] for i in range(8)]
    z5, F5 = _fractions(overhead)
    # heat transfer [MJ/h]
    agitator = position["agitator_speed"]
    s_ag = fraction(agitator + ops.in_unit_of(150.0, agitator), ops, agitator)
    low, high = _LEVEL
    level_factor = clamp01((V_lr / p.V_r_ht_scale - low) / (high - low), ops)
    a, b, c = _AGITATION
    UA_r = level_factor * (a * s_ag ** 2 + b * s_ag + c) * p.UA_r
    UA_s = (1 - 1 / ((F8 / p.F_condenser_scale) ** 4 + 1)) * p.UA_s
    fouling_r = 1 - _IDV["reactor_fouling_gain"] * u.reactor_fouling
    fouling_s = 1 - _IDV["condenser_fouling_gain"] * u.condenser_fouling
    water_r = pos["reactor_cw"] * p.range_reactor_cw
    water_s = pos["condenser_cw"] * p.range_condenser_cw
    # the condenser is driven by the reactor's (inlet) temperature, as in Q_s
    T_cw_r = (quasi_steady_outlet(water_r * p.cp_water, UA_r * fouling_r, u.T_cw_r_in, T_r, ops)
              if "T_cw_r" in quasi_steady else x.T_cw_r)
    T_cw_s = (quasi_steady_outlet(water_s * p.cp_water, UA_s * fouling_s, u.T_cw_s_in, T_r, ops)
              if "T_cw_s" in quasi_steady else x.T_cw_s)
    Q_r = UA_r * (T_cw_r - T_r) * fouling_r
    Q_s = UA_s * (T_cw_s - T_r) * fouling_s
    UA_c = pos["steam"] * p.range_steam * (1 + _IDV["steam_gain"] * u.steam_fouling)
    Q_c = UA_c * max0(p.T_steam - T_c, ops)
    s.update(T_r=T_r, T_s=T_s, T_c=T_c, T_v=T_v, p_r=p_r, p_s=p_s, p_v=p_v, V_lr=V_lr, V_ls=V_ls,
             V_lc=V_lc, rho_s=molar_density(x_s, T_s, p), rho_c=rho_c, x_r=x_r, x_s=x_s, x_c=x_c,
             x_v=x_v, y_r=y_r, y_s=y_s, F4=F4, F5=F5, z5=z5, F6=F6, F8=F8, F9=F9, F10=F10, F11=F11,
             F13=F13, overhead=overhead, bottoms=bottoms, work=work, Q_r=Q_r, Q_s=Q_s, Q_c=Q_c,
             position=position, water_r=water_r, water_s=water_s, T_cw_r=T_cw_r, T_cw_s=T_cw_s)
    return s


def rhs(x, u, p, ops):
    """Component [kmol/h], energy [MJ/h], cooling-water [K/h] and valve [%/h] balances."""
    return balances(process(x, u, p, ops), x, u, p, ops)


def balances(s, x, u, p, ops):
    """:func:`rhs` from the plant's flows, temperatures and pressures ``s`` (see :func:`process`)."""
    return {**holdup_balances(s, p), **fast_balances(s, x, u, p)}


def holdup_balances(s, p):
    """Component [kmol/h] and energy [MJ/h] balances of the four vessels, from ``s``."""
    T_r, T_s, T_c, T_v = s["T_r"], s["T_s"], s["T_c"], s["T_v"]
    F6, F8, F9, F10, F11, F13 = s["F6"], s["F8"], s["F9"], s["F10"], s["F11"], s["F13"]
    h6 = enthalpy(s["x_v"], T_v, p, "vapour")
    h8 = enthalpy(s["y_r"], T_r, p, "vapour")
    h9 = enthalpy(s["y_s"], T_s, p, "vapour")
    h11 = enthalpy(s["x_s"], T_s, p, "liquid")
    h13 = enthalpy(s["x_c"], T_c, p, "liquid")
    h5 = enthalpy(s["z5"], T_c, p, "vapour")
    F4, z4, T4 = s["feeds"]["AC"]
    h4 = enthalpy(z4, T4, p, "vapour")
    d = {}
    header_in = 0
    for i, c in enumerate(COMPONENTS):
        fed = sum(f * z[i] for f, z, _ in (s["feeds"][k] for k in ("D", "E", "A")))
        d[f"N_v_{c}"] = fed + s["overhead"][i] + F9 * s["y_s"][i] - F6 * s["x_v"][i]
        d[f"N_r_{c}"] = F6 * s["x_v"][i] - F8 * s["y_r"][i] + s["reaction"][c]
        d[f"N_s_{c}"] = F8 * s["y_r"][i] - (F9 + F10) * s["y_s"][i] - F11 * s["x_s"][i]
        d[f"N_c_{c}"] = s["bottoms"][i] - F13 * s["x_c"][i]
    for key in ("D", "E", "A"):
        f, z, T = s["feeds"][key]
        header_in = header_in + f * enthalpy(z, T, p, "vapour")
    d["H_v"] = header_in + h5 * s["F5"] + h9 * F9 + s["work"] - h6 * F6
    d["H_r"] = h6 * F6 - h8 * F8 + s["heat_of_reaction"] + s["Q_r"]
    d["H_s"] = h8 * F8 - h9 * F9 - s["work"] - h9 * F10 - h11 * F11 + s["Q_s"]
    d["H_c"] = h4 * F4 + h11 * F11 - h5 * s["F5"] - h13 * F13 + s["Q_c"]
    return d


def fast_balances(s, x, u, p, quasi_steady=()):
    """Cooling-water [K/h] and valve [%/h] balances of the :data:`FAST_STATES` not named in
    ``quasi_steady`` (those :func:`process` took at their quasi-steady values have none)."""
    d = {}
    water_r, water_s = s["water_r"], s["water_s"]
    if "T_cw_r" not in quasi_steady:
        d["T_cw_r"] = (water_r * p.cp_water * (u.T_cw_r_in - x.T_cw_r) - s["Q_r"]) / (p.m_cw_r * p.cp_water)
    if "T_cw_s" not in quasi_steady:
        d["T_cw_s"] = (water_s * p.cp_water * (u.T_cw_s_in - x.T_cw_s) - s["Q_s"]) / (p.m_cw_s * p.cp_water)
    for name, _, _, key in VALVES:
        if f"pos_{name}" not in quasi_steady:
            d[f"pos_{name}"] = (u[name] - x[f"pos_{name}"]) / p[f"tau_{key}"]
    return d

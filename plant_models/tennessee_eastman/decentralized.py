"""Ricker's (1996) decentralized control of the Tennessee Eastman process, closed around the plant.

The plant with its base layer is a model of its own: the 50 plant states,
one state per controller integral (16) and three lags per analysis the
composition trims read (6). Its inputs are the set points an
operator or an APC layer writes, the three XMVs Ricker leaves in manual
(recycle valve, stripper steam valve, agitator) and the plant's
disturbance inputs; its outputs are the plant's, the production index and
the 12 valve commands. Everything that runs a model (the simulator, the
FMU export, the simulated hardware, ``twin control``) runs it.

The structure (Ricker 1996, Mode 1; tuning from ``decentralized.csv``):

- **production index** ``Fp`` [%] = ``100 + PI(production_sp - XMEAS 17)``
  within +-30 %, less ``1.5 %/kPa`` of reactor pressure above 2900 kPa
  (the high-pressure override) and less ``2 %/%`` of stripper level below
  30 % (an override Ricker's structure does not have: with it the plant
  rides out the A feed loss, IDV 6; ``override_stripper_gain = 0`` is the
  published structure);
- **flow loops**: each of the D, E, A, A+C feeds, the purge, the separator
  and stripper underflows has a set point ``ratio x Fp`` and moves its
  valve (XMV 1-4, 6-8) by a PI law whose reset time (0.001 min) makes it
  nearly integral-only;
- **ratios**: D and E follow the product's G set point through Ricker's
  polynomials; the A and A+C ratios are trimmed by the A share of A + C
  and by A + C in the reactor feed; the purge ratio by reactor pressure;
  the separator and stripper ratios by their levels;
- **reactor level** sets the separator temperature set point, which moves
  the condenser cooling water (XMV 11); **reactor temperature** moves the
  reactor cooling water (XMV 10);
- **high reactor level** closes the recycle valve (2 % per % above 90 %).

Each positional PI law is continuous, ``op = kc e + I``,
``dI/dt = kc e / ti``, with back-calculation (``+ (op_clipped - op) / ti``)
against windup; Ricker's loops are discrete with a 1.8 s sample, far
shorter than any of their reset times. The two composition trims are
velocity-form laws added to the A and A + C ratios, unbounded as in
Ricker's model (the valves they drive are clipped); they read the reactor
feed analysis through three first-order lags of a 0.2 h mean delay in all
(the analyser's dead time, its hold and the trims' 0.1 h sample). The
product-G feedback (``Eadj``) and the set-point ramps of Ricker's model are
left out, as in the oracle the model is checked against (the G set point
acts through the feed-ratio polynomials only).
"""

from __future__ import annotations

import math
from pathlib import Path

from plant_models.smooth import clip, max0
from twin.core.model import Model, NamedValues, ParameterSet
from twin.core.ops import MATH
from twin.core.variables import manipulated, output, parameter, state

from .constants import table
from .declarations import VALVES
from .equations import balances, percent, process
from .measurements import measured

TUNING = Path(__file__).with_name("decentralized.csv")
_ANY = (-math.inf, math.inf)
"""Physical bounds of a controller integral: none (a number in the controller)."""


def tuning(key: str) -> float:
    """The value of ``key`` in ``decentralized.csv``, in SI with times in hours."""
    value, unit, _, _ = table(TUNING)[key]
    return value / 60.0 if unit == "min" else value


FLOW_LOOPS = (
    # (loop, XMEAS it reads, valve it moves, unit of the flow)
    ("D_feed", "D_feed", "D_feed_valve", "kg/h"),
    ("E_feed", "E_feed", "E_feed_valve", "kg/h"),
    ("A_feed", "A_feed", "A_feed_valve", "kscm/h"),
    ("AC_feed", "AC_feed", "AC_feed_valve", "kscm/h"),
    ("purge", "purge_rate", "purge_valve", "kscm/h"),
    ("separator", "separator_underflow", "separator_valve", "m3/h"),
    ("stripper", "stripper_underflow", "stripper_valve", "m3/h"),
)
"""The fast loops: set point ``ratio x Fp``, output a valve position."""

MANUAL = ("recycle_valve", "steam_valve", "agitator_speed")
"""XMVs the structure leaves to the operator (XMV 5, 9, 12)."""

SETPOINTS = (
    # (input, XMEAS at the base case it starts at, unit, what, low, high)
    ("production_sp", "stripper_underflow", "m3/h", "production: stripper underflow (XMEAS 17)",
     10.0, 35.0),
    ("reactor_pressure_sp", "reactor_pressure", "kPa", "reactor pressure, gauge (XMEAS 7)",
     2400.0, 2950.0),
    ("reactor_level_sp", "reactor_level", "%", "reactor level (XMEAS 8)", 50.0, 100.0),
    ("reactor_temperature_sp", "reactor_temperature", "degC", "reactor temperature (XMEAS 9)",
     100.0, 150.0),
    ("separator_level_sp", "separator_level", "%", "separator level (XMEAS 12)", 10.0, 90.0),
    ("stripper_level_sp", "stripper_level", "%", "stripper level (XMEAS 15)", 10.0, 90.0),
    ("feed_A_share_sp", None, "%", "A share of A + C in the reactor feed, 100 A/(A + C)", 30.0, 80.0),
    ("feed_AC_sp", None, "%", "A + C in the reactor feed, mol % (XMEAS 23 + 25)", 40.0, 70.0),
    ("product_G_sp", "product_G", "%", "G in the product, mol % (XMEAS 40): sets the D/E feed ratios",
     20.0, 90.0),
)
"""The set points of the structure (inputs of the closed loop), with their ranges."""

ANALYSER_LAGS = 3
"""Equal first-order lags in series between the reactor feed and what its analyser reports."""

PI_LOOPS = (
    # (loop, unit of its output, its output at the start: a tuning key or a valve's base position)
    ("production", "%", 0.0),
    ("reactor_level", "degC", "reactor_level.start"),
    ("separator_level", "(m3/h)/%", "ratio.separator"),
    ("stripper_level", "(m3/h)/%", "ratio.stripper"),
    ("reactor_pressure", "(kscm/h)/%", "ratio.purge"),
    ("reactor_temperature", "%", "reactor_cw_valve"),
    ("separator_temperature", "%", "condenser_cw_valve"),
)
"""The positional PI loops (their set points and measurements: :func:`control`)."""


def _base_outputs(te: Model) -> dict[str, float]:
    """The plant's outputs at Downs & Vogel's base case (set points start there)."""
    values = te.evaluate_outputs(te.x0(), te.u0(), te.p0(), MATH)
    return dict(zip(te.outputs.names, values))


def _setpoint_nominals(y: dict[str, float]) -> dict[str, float]:
    share = 100.0 * y["feed_A"] / (y["feed_A"] + y["feed_C"])
    out = {name: (y[xmeas] if xmeas else None) for name, xmeas, *_ in SETPOINTS}
    out["feed_A_share_sp"], out["feed_AC_sp"] = share, y["feed_A"] + y["feed_C"]
    return out


def _start(value, valves: dict[str, float]) -> float:
    if isinstance(value, str):
        return valves[value] if value in valves else tuning(value)
    return float(value)


def states(te: Model, y0: dict[str, float]):
    """The plant's states, the integrals of the 16 loops and the analyser lags."""
    valves = {name: base for name, _, base, _ in VALVES}
    out = list(te.states)
    for loop, unit, start in PI_LOOPS:
        out.append(state(f"I_{loop}", unit, f"integral of the {loop.replace('_', ' ')} loop "
                         "(its output at zero error)", _start(start, valves), physical=_ANY))
    for name, unit in (("feed_A_share", "(kscm/h)/%"), ("feed_AC", "(kscm/h)/%")):
        out.append(state(f"I_{name}", unit, f"integral of the {name.replace('_', ' ')} trim of the "
                         "A (and A + C) feed ratio", 0.0, physical=_ANY))
    for c in "AC":
        for k in range(ANALYSER_LAGS):
            out.append(state(f"analysed_{c}_{k + 1}", "%", f"{c} in the reactor feed as the analyser "
                             f"reports it, lag {k + 1} of {ANALYSER_LAGS}", y0[f"feed_{c}"],
                             physical=(0.0, 100.0)))
    for loop, _, valve, _ in FLOW_LOOPS:
        out.append(state(f"I_{loop}_flow", "%", f"integral of the {loop.replace('_', ' ')} flow loop",
                         valves[valve], physical=_ANY))
    return out


def inputs(te: Model, y: dict[str, float]):
    """Set points, the XMVs left in manual, and the plant's disturbance inputs."""
    nominal = _setpoint_nominals(y)
    out = [manipulated(name, unit, f"set point: {what}", nominal[name], low, high)
           for name, _, unit, what, low, high in SETPOINTS]
    out += [v for v in te.inputs if v.name in MANUAL or v.role == "disturbance"]
    return out


def parameters(te: Model):
    """The plant's parameters and the tuning of ``decentralized.csv`` (one per row)."""
    out = list(te.parameters)
    for key, (_, unit, source, _) in table(TUNING).items():
        unit = "h" if unit == "min" else unit.replace(" per ", "/").replace("mol%2", "%**2") \
            .replace("mol%", "%")
        out.append(parameter(key.replace(".", "_"), unit, f"{key} ({source})", tuning(key)))
    return out


def outputs(te: Model):
    """The plant's outputs, the production index and the 12 valve commands."""
    out = list(te.outputs)
    out.append(output("production_index", "%", "Ricker's production index Fp (100 % at the base case)"))
    out += [output(f"{name}_command", "%", f"command to the {what.split(',')[0]} (XMV)",
                   physical=(0.0, 100.0)) for name, what, _, _ in VALVES]
    return out


def _pi(kc, error, integral, low, high, ops, like):
    """Clipped output of ``kc error + integral`` and the integral's back-calculation term."""
    raw = kc * error + integral
    clipped = clip(raw, low, high, ops)
    return clipped, clipped - raw


def control(x, u, p, ops, y):
    """Valve commands [%], production index [%] and integral rates of every loop, from XMEAS ``y``."""
    like = u.reactor_level_sp  # a value in %
    zero = ops.in_unit_of(0.0, like)
    rates, cmd = {}, {}

    def loop(name, error, low, high):
        kc, ti = p[f"{name}_kc"], p[f"{name}_ti"]
        out, back = _pi(kc, error, x[f"I_{name}"], low, high, ops, like)
        rates[f"I_{name}"] = (kc * error + back) / ti
        return out

    adjust = loop("production", u.production_sp - y["stripper_underflow"],
                  p.production_low, p.production_high)
    fp = (p.production_base + adjust
          - p.override_pressure_gain * max0(y["reactor_pressure"] - p.override_pressure_limit, ops)
          - p.override_stripper_gain * max0(p.override_stripper_limit - y["stripper_level"], ops))
    sep_t_sp = loop("reactor_level", u.reactor_level_sp - y["reactor_level"],
                    0 * p.reactor_level_high, p.reactor_level_high)
    hundred = ops.in_unit_of(100.0, like)
    cmd["condenser_cw_valve"] = loop("separator_temperature", sep_t_sp - y["separator_temperature"],
                                     zero, hundred)
    cmd["reactor_cw_valve"] = loop("reactor_temperature",
                                   u.reactor_temperature_sp - y["reactor_temperature"], zero, hundred)
    ratio = {}
    for name, level in (("separator", "separator_level"), ("stripper", "stripper_level"),
                        ("purge", "reactor_pressure")):
        like_ratio = p[f"ratio_{name}"]
        ratio[name] = loop(level, u[f"{level}_sp"] - y[level], 0 * like_ratio,
                           ops.in_unit_of(100.0, like_ratio))
    analysed = {c: x[f"analysed_{c}_{ANALYSER_LAGS}"] for c in "AC"}
    for c in "AC":
        before = y[f"feed_{c}"]
        for k in range(ANALYSER_LAGS):
            rates[f"analysed_{c}_{k + 1}"] = (before - x[f"analysed_{c}_{k + 1}"]) / p.analyser_lag
            before = x[f"analysed_{c}_{k + 1}"]
    share = percent(analysed["A"] / (analysed["A"] + analysed["C"]), ops, like)
    trims = {}
    for name, key, value in (("feed_A_share", "feed_A", share),
                             ("feed_AC", "feed_AC", analysed["A"] + analysed["C"])):
        error = u[f"{name}_sp"] - value
        trims[name] = p[f"{key}_kc"] * error + x[f"I_{name}"]
        rates[f"I_{name}"] = p[f"{key}_kc"] * error / p[f"{key}_ti"]
    ratio["A_feed"] = p.ratio_A_feed + trims["feed_A_share"]
    ratio["AC_feed"] = p.ratio_AC_feed + trims["feed_AC"] - trims["feed_A_share"]
    g = u.product_G_sp
    for feed in ("D_feed", "E_feed"):
        ratio[feed] = (p[f"ratio_{feed}_a"] * g + p[f"ratio_{feed}_b"]) * g + p[f"ratio_{feed}_c"]
    for name, xmeas, valve, _ in FLOW_LOOPS:
        kc = p[f"flow_{name}_kc"]
        error = ratio[name] * fp - y[xmeas]
        out, back = _pi(kc, error, x[f"I_{name}_flow"], zero, hundred, ops, like)
        rates[f"I_{name}_flow"] = (kc * error + back) / p.flow_ti
        cmd[valve] = out
    cmd["recycle_valve"] = clip(u.recycle_valve - p.override_level_gain
                                * max0(y["reactor_level"] - p.override_level_limit, ops),
                                zero, hundred, ops)
    cmd["steam_valve"], cmd["agitator_speed"] = u.steam_valve, u.agitator_speed
    return cmd, fp, rates


def _split(x, u, p, te: Model, ops):
    """The plant's own (x, u) from the closed loop's, with the valve commands in its inputs."""
    xp = NamedValues(te.states, [x[n] for n in te.states.names])
    placeholder = [u[n] if n in MANUAL or te.inputs[n].role == "disturbance" else 0 * u.reactor_level_sp
                   for n in te.inputs.names]
    s = process(xp, NamedValues(te.inputs, placeholder), p, ops)  # the valve commands are unused here
    y = measured(s, xp, p, ops)
    cmd, fp, rates = control(x, u, p, ops, y)
    up = NamedValues(te.inputs, [cmd[n] if n in cmd else u[n] for n in te.inputs.names])
    return xp, up, s, y, cmd, fp, rates


def closed_loop(te: Model) -> Model:
    """The plant ``te`` under the decentralized control of Ricker (1996)."""
    y0 = _base_outputs(te)

    def rhs(x, u, p, ops):
        xp, up, s, _, _, _, rates = _split(x, u, p, te, ops)
        return {**balances(s, xp, up, p, ops), **rates}

    def output_map(x, u, p, ops):
        xp, _, _, y, cmd, fp, _ = _split(x, u, p, te, ops)
        return {**y, "production_index": fp, **{f"{n}_command": cmd[n] for n in cmd}}

    return Model(
        name="tennessee_eastman_ricker",
        title="Tennessee Eastman process under Ricker's (1996) decentralized control",
        source=f"{te.source}; Ricker (1996), J. Process Control 6:205-221 (structure and tuning, "
               "decentralized.csv)",
        time_unit=te.time_unit,
        states=states(te, y0),
        inputs=inputs(te, y0),
        parameters=parameters(te),
        outputs=outputs(te),
        rhs=rhs,
        output_map=output_map,
        parameter_sets=(ParameterSet("base", "Downs & Vogel base case (Mode 1) under Ricker's Mode 1 "
                                     "tuning; set points at the base case", {}),),
        stiff=True,
        trips=te.trips,
    ).with_parameter_set("base")

"""Why an NMPC solve failed, in words an engineer can act on.

fatrop reports a failure as a bare number (CasADi's ``return_status`` is
the C interface's ``1``); its own return flag (``stats["fatrop"]
["return_flag"]``, fatrop's ``IpSolverReturnFlag``) says what happened.
For a problem with no feasible point, the limits that bind at the point
where the solver stopped are named, with their values: those are the ones
to relax (or the setpoint to move).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

FATROP_FLAGS = {
    0: "solved",
    1: "maximum number of iterations reached (solver.max_iter)",
    2: "stopped at a tiny step",
    3: "stopped at an acceptable point",
    4: "locally infeasible: no plan satisfies the limits",
    5: "feasible point found",
    6: "diverging iterates",
    7: "error in the step computation",
    8: "invalid option",
    9: "internal error",
    10: "unknown",
}
"""fatrop's return flags (its ``IpSolverReturnFlag``, in order) in words."""

INFEASIBLE = 4
"""fatrop's flag of a locally infeasible problem."""


def fatrop_message(stats: Mapping) -> str:
    """What fatrop's statistics say about the solve, e.g. ``fatrop: maximum number of
    iterations reached (solver.max_iter) (return flag 1)``."""
    flag = (stats.get("fatrop") or {}).get("return_flag")
    if flag is None:
        return f"fatrop: status {stats.get('return_status', 'unknown')}"
    text = FATROP_FLAGS.get(int(flag), "unknown return flag")
    return f"fatrop: {text} (return flag {int(flag)})"


def binding_limits(ocp, w: np.ndarray, g: np.ndarray, lbx: np.ndarray, ubx: np.ndarray,
                   lbg: np.ndarray, ubg: np.ndarray, rtol: float = 1e-6) -> list[str]:
    """The limits at or beyond their bound at the point ``w`` (``g`` its constraint values),
    each once with its largest excess: CV hard limits first (the usual cause), then MV
    ranges, then MV rates, the most violated first within each: ``"T_R hard_high 60
    (reached 134.1)"``."""
    pb = ocp.problem
    spec = pb.spec
    found: dict[str, tuple[int, float, str]] = {}
    priority = {"hard_low": 0, "hard_high": 0, "low": 1, "high": 1, "max_move": 2}

    def check(name: str, value: float, low: float, high: float, low_key: str, high_key: str,
              scale: float = 1.0) -> None:
        for key, bound, excess in ((low_key, low, low - value), (high_key, high, value - high)):
            if not np.isfinite(bound):
                continue
            if excess >= -rtol * max(1.0, abs(bound)):
                label = f"{name} {key} {bound * scale:g}"
                worst = found.get(label, (0, -np.inf, ""))[1]
                if excess * scale > worst:
                    found[label] = (priority[key], excess * scale,
                                    f"{label} (reached {value * scale:.4g})")

    plain = {pb.model.states.index(c.name): c.name for c in spec.cv if pb.cv_is_plain_state(c)}
    for k in range(ocp.N):
        vs, cs = ocp.layout.var[k], ocp.layout.con[k]
        if "hard" in cs:
            for j, row in enumerate(range(cs["hard"].start, cs["hard"].stop)):
                check(spec.cv[ocp.hard_rows[j]].name, g[row], lbg[row], ubg[row], "hard_low",
                      "hard_high")
        for i, name in plain.items():
            col = vs["x"].start + i
            check(name, w[col], lbx[col], ubx[col], "hard_low", "hard_high", pb.x_scale[i])
        for j, mv in enumerate(spec.mv):
            col = vs["u"].start + j
            check(mv.name, w[col], lbx[col], ubx[col], "low", "high", pb.u_scale[j])
        if "rate" in cs:
            for j, row in enumerate(range(cs["rate"].start, cs["rate"].stop)):
                name = spec.mv[ocp.rated[j]].name
                check(name, abs(g[row]), -np.inf, ubg[row], "", "max_move")
    return [text for _, _, text in sorted(found.values(), key=lambda item: (item[0], -item[1]))]


def describe_failure(stats: Mapping, ocp=None, result: Mapping | None = None,
                     bounds: tuple | None = None, most: int = 4) -> str:
    """One line: fatrop's status in words and, for an infeasible problem, the binding limits."""
    text = fatrop_message(stats)
    flag = (stats.get("fatrop") or {}).get("return_flag")
    if ocp is None or result is None or bounds is None or flag is None or int(flag) != INFEASIBLE:
        return text
    w = np.array(result["x"]).ravel()
    g = np.array(result["g"]).ravel()
    limits = binding_limits(ocp, w, g, *bounds)
    if not limits:
        return text
    more = f" and {len(limits) - most} more" if len(limits) > most else ""
    return f"{text}; binding: {', '.join(limits[:most])}{more}"

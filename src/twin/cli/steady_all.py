"""``twin steady --all``: the table of every steady state found."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twin.core.model import Model


def show_all(model: Model, u: Mapping[str, float], starts: int | None, as_json: bool,
             emit: Callable) -> None:
    """Find every steady state of ``model`` at ``u`` and print them (or their JSON)."""
    from twin.core.steady_all import DEFAULT_STARTS, find_all_steady_states

    n = starts or DEFAULT_STARTS
    found = find_all_steady_states(model, u, starts=n)
    states = [s.as_dict() for s in found]
    data = {"model": model.name, "starts": n, "count": len(found), "steady_states": states}
    units = states[0]["units"]
    names = list(states[0]["states"]) + list(states[0]["outputs"])
    header = ["#", "stability", *[f"{k} [{units[k]}]" for k in names]]
    rows = [[str(i + 1), "stable" if d["stable"] else "unstable",
             *[f"{({**d['states'], **d['outputs']})[k]:.6g}" for k in names]]
            for i, d in enumerate(states)]
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    lines = [f"{len(found)} steady state{'s' if len(found) != 1 else ''} of {model.name} within "
             f"the state bounds ({n} starting points; inputs "
             + ", ".join(f"{k}={v:g} {units[k]}" for k, v in states[0]["inputs"].items()) + "):"]
    lines += ["  " + "  ".join(c.rjust(w) if j != 1 else c.ljust(w)
                               for j, (c, w) in enumerate(zip(r, widths)))
              for r in [header, *rows]]
    emit(data, as_json, "\n".join(lines))

"""Units of a study's KPIs and variables, for the report's tables and charts.

Derived from the base case's model: a KPI of a variable has the variable's
unit (an integral or IAE: times the time unit; a violation time: the time
unit; a profit integral: the economics unit times the time unit, so
``EUR/h`` over hours gives ``EUR``). Functions and FMUs declare no units:
their KPIs and variables get none, and an expression KPI says that its unit
is the expression's. A KPI's own ``unit`` key overrides all of this.
"""

from __future__ import annotations

from twin.orchestration.whatif.scenarios import kpi_economics, result_model, time_unit
from twin.orchestration.whatif.study import Study

EXPRESSION_UNIT = "unit of the expression"


def _times(unit: str, t: str) -> str:
    if not t:
        return unit
    if unit.endswith(f"/{t}"):
        return unit[: -len(t) - 1]
    return f"{unit}\u00b7{t}" if unit and unit != "-" else t


def variable_units(study: Study) -> dict[str, str]:
    """Unit of each study variable ("" when the base case declares none)."""
    model = result_model(study)
    out = {}
    for v in study.variable:
        unit = ""
        if model is not None:
            for group in (model.parameters, model.states, model.inputs, model.outputs):
                if v.name in group:
                    unit = group[v.name].unit
                    break
        out[v.name] = unit
    return out


def kpi_units(study: Study) -> dict[str, str]:
    """Unit of each KPI ("" when the base case declares none)."""
    model, t = result_model(study), time_unit(study)
    economics = kpi_economics(study)

    def unit_of(name: str) -> str:
        if model is None:
            return ""
        for group in (model.states, model.inputs, model.outputs, model.parameters):
            if name in group:
                return group[name].unit
        return ""

    out = {}
    for k in study.kpi:
        base = unit_of(k.variable)
        if k.unit:
            out[k.name] = k.unit
        elif k.kind in ("final", "mean", "min", "max"):
            out[k.name] = base
        elif k.kind == "iae":
            out[k.name] = _times(base, t) if base else ""
        elif k.kind == "violation_time":
            out[k.name] = t
        elif k.kind == "profit":
            spec = economics.get(k.name)
            out[k.name] = _times(spec.unit, t) if spec is not None and spec.unit else ""
        else:
            out[k.name] = f"{EXPRESSION_UNIT}\u00b7{t}" if k.of == "integral" and t \
                else EXPRESSION_UNIT
    return out


def label(name: str, unit: str) -> str:
    """An axis or column label: ``name [unit]``, or the name alone without a unit."""
    return f"{name} [{unit}]" if unit else name

"""Scenario tables: one row per scenario, one column per study variable.

Rows ``0 .. n-1`` are the sample in the order of its method (Sobol analysis
relies on SALib's order); when every variable has a nominal value (given,
or the middle of its range) the last row is the nominal scenario, flagged
in the ``nominal`` column and kept out of the sensitivity analysis. A list
or grid that already holds the nominal values flags that row instead: the
nominal scenario is never run twice.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from twin.core.errors import InputError
from twin.orchestration.whatif.study import Study

ID = "scenario"
NOMINAL = "nominal"


def salib_problem(study: Study) -> dict:
    """The SALib problem of the study's variables (their ranges)."""
    return {"num_vars": len(study.variable), "names": study.variable_names,
            "bounds": [[v.low, v.high] for v in study.variable]}


def _sample(study: Study) -> np.ndarray:
    s, names = study.sampling, study.variable_names
    if s.method == "list":
        rows = []
        for i, scenario in enumerate(s.scenarios):
            unknown = [k for k in scenario if k not in names]
            if unknown:
                raise InputError(f"sampling.scenarios[{i}]: unknown variable '{unknown[0]}'; "
                                 f"variables: {', '.join(names)}")
            missing = [v.name for v in study.variable if v.name not in scenario
                       and not v.has_nominal]
            if missing:
                raise InputError(f"sampling.scenarios[{i}]: no value for '{missing[0]}' (and no "
                                 "nominal value to fall back on)")
            rows.append([float(scenario[v.name] if v.name in scenario else v.nominal_value)
                         for v in study.variable])
        return np.array(rows, dtype=float)
    if s.method == "grid":
        axes = [list(v.values) if v.values else list(np.linspace(v.low, v.high, v.levels))
                for v in study.variable]
        return np.array(list(itertools.product(*axes)), dtype=float)
    if s.method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(study.seed)).random(s.n)
        lo = np.array([v.low for v in study.variable])
        hi = np.array([v.high for v in study.variable])
        return qmc.scale(unit, lo, hi)
    from SALib.sample import sobol

    return sobol.sample(salib_problem(study), s.n, calc_second_order=s.second_order,
                        seed=study.seed)


def _nominal_values(study: Study) -> np.ndarray | None:
    if not all(v.has_nominal for v in study.variable):
        return None
    return np.array([v.nominal_value for v in study.variable], dtype=float)


def _on_sample(study: Study, values: np.ndarray, nominal: np.ndarray) -> int | None:
    """The row of a list or grid that is the nominal scenario (None if none is)."""
    if study.sampling.method not in ("list", "grid") or not len(values):
        return None
    same = np.all(np.isclose(values, nominal, rtol=1e-12, atol=0.0), axis=1)
    return int(np.argmax(same)) if same.any() else None


def nominal_appended(study: Study) -> bool:
    """True when the nominal scenario is a row of its own, after the sample."""
    nominal = _nominal_values(study)
    return nominal is not None and _on_sample(study, _sample(study), nominal) is None


def scenario_table(study: Study) -> pd.DataFrame:
    """Every scenario of the study: ``scenario`` id, the variables, ``nominal`` flag."""
    values = _sample(study)
    nominal = _nominal_values(study)
    flag = np.zeros(len(values), dtype=bool)
    if nominal is not None:
        row = _on_sample(study, values, nominal)
        if row is None:
            values = np.vstack([values, [nominal]])
            flag = np.append(flag, True)
        else:
            flag[row] = True
    table = pd.DataFrame(values, columns=study.variable_names)
    table.insert(0, ID, np.arange(len(table), dtype=np.int64))
    table[NOMINAL] = flag
    return table


def scenario_seed(study_seed: int, scenario_id: int) -> int:
    """The seed of one scenario: independent of executor, worker and chunk."""
    return int(np.random.SeedSequence([int(study_seed), int(scenario_id)]).generate_state(1)[0])

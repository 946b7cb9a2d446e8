"""Sensitivity of each KPI to the study variables.

Sobol samples: first-order and total indices by SALib (Saltelli/Jansen
estimators, bootstrap confidence intervals); other samples: Spearman rank
correlation of each KPI with each variable, drawn as a tornado chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.orchestration.whatif.sampling import NOMINAL, nominal_appended, salib_problem
from twin.orchestration.whatif.study import Study


def sensitivity(study: Study, summary: pd.DataFrame, kpis: list[str]) -> tuple[pd.DataFrame, str]:
    """Long table (kpi, variable, measure, value, confidence) and why it is missing, if it is."""
    sample = summary[~summary[NOMINAL]] if nominal_appended(study) else summary
    ok = sample["status"] == "ok"
    if study.sampling.method == "sobol":
        if not ok.all():
            return pd.DataFrame(), (f"Sobol indices need every sampled scenario; {int((~ok).sum())}"
                                    " failed")
        from SALib.analyze import sobol

        rows = []
        for k in kpis:
            y = sample[k].to_numpy(dtype=float)
            if np.ptp(y) == 0:  # a constant KPI depends on nothing
                rows += [(k, name, m, 0.0, 0.0) for name in study.variable_names
                         for m in ("S1", "ST")]
                continue
            res = sobol.analyze(salib_problem(study), y, calc_second_order=
                                study.sampling.second_order, seed=study.seed)
            for i, name in enumerate(study.variable_names):
                rows.append((k, name, "S1", float(res["S1"][i]), float(res["S1_conf"][i])))
                rows.append((k, name, "ST", float(res["ST"][i]), float(res["ST_conf"][i])))
        return pd.DataFrame(rows, columns=["kpi", "variable", "measure", "value", "confidence"]), ""
    good = sample[ok]
    if len(good) < 3:
        return pd.DataFrame(), "too few successful scenarios for a sensitivity analysis"
    from scipy.stats import spearmanr

    rows = []
    for k in kpis:
        for name in study.variable_names:
            x, y = good[name].to_numpy(dtype=float), good[k].to_numpy(dtype=float)
            rho = float(spearmanr(x, y).statistic) if np.ptp(x) > 0 and np.ptp(y) > 0 else 0.0
            rows.append((k, name, "spearman", rho, float("nan")))
    return pd.DataFrame(rows, columns=["kpi", "variable", "measure", "value", "confidence"]), ""


def sobol_warnings(study: Study, sens: pd.DataFrame,
                   seconds: np.ndarray) -> tuple[list[str], list[str]]:
    """The Sobol indices with their intervals, and the lines flagging untrustworthy ones
    (:mod:`.sobol_quality`), one per line; two empty lists for other studies."""
    if study.sampling.method != "sobol" or sens.empty:
        return [], []
    from twin.orchestration.whatif.sobol_quality import check_indices, index_lines, warnings

    seconds = np.asarray(seconds, dtype=float)
    seconds = seconds[np.isfinite(seconds)]
    per_scenario = float(np.median(seconds)) if seconds.size else None
    checks = check_indices(sens, study.sampling.n)
    return index_lines(checks), warnings(checks, study.sampling.n, len(study.variable),
                                         study.sampling.second_order, per_scenario)

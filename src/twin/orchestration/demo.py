"""The project's main job end to end: ``twin demo``.

Builds the shipped models, finds their operating points, simulates step
responses with the reference simulator and writes a self-contained HTML
report with plots, plus the run data as Parquet, into one folder.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from twin.core.schedule import InputSchedule
from twin.core.simulation import simulate
from twin.core.steady import SteadyState, find_steady_state
from twin.orchestration.demo_plant_data import plant_data_section, plant_data_verdict
from twin.orchestration.numbers import with_unit
from twin.orchestration.plots import plt, trend_figure
from twin.orchestration.registry import load_model
from twin.orchestration.report import HtmlReport

Progress = Callable[[str], None]

KLATT_ENGELL_POINT = {"C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9}
"""Published steady state of the CSTR at F = 14.19 1/h, Q_dot = -1113.5 kJ/h, T_in = 104.9 degC."""

STACK = ("casadi", "do-mpc", "pyomo", "fmpy", "asyncua", "numpy", "scipy", "SALib", "dask")


@dataclass
class DemoSummary:
    """What the demo produced and the figures it measured."""

    folder: Path
    report: Path
    files: list[Path] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    loops: dict[str, tuple] = field(default_factory=dict)
    """Closed loops run, by label: (loop config, cycle table)."""
    fresh: bool = False
    """Replace an earlier demo run in ``folder``."""


def run_demo(folder: str | Path, progress: Progress = lambda msg: None,
             fresh: bool = False) -> DemoSummary:
    """Run the demo and write its report into ``folder`` (created if missing; ``fresh``:
    replacing an earlier demo run there)."""
    report = HtmlReport("Process digital twin: demo", folder)
    summary = DemoSummary(Path(folder), Path(folder) / "report.html", fresh=fresh)
    report.paragraph(
        "First-principles plant models simulated by the compiled stepping kernels from steady "
        "states computed with IPOPT: operating points and responses to input steps; then the "
        "APC layer controlling the CSTR in a closed loop, the RTO above it, a what-if "
        "study over kinetics uncertainty, and the path from plant data: a step test, a model "
        "identified from it and a calibration.")
    top = report.mark()
    progress("CSTR: operating point and step responses")
    _cstr_section(report, summary)
    progress("Column A: operating point and step responses")
    _column_section(report, summary)
    progress("CSTR under APC: closed loop with plant-model mismatch")
    _apc_section(report, summary)
    progress("CSTR under RTO and APC: catalyst deactivation")
    _rto_section(report, summary)
    progress("What-if study: CSTR kinetics uncertainty")
    _whatif_section(report, summary)
    progress("Plant data: step test, identification and calibration")
    plant_data_section(report, summary)
    verdict_start = report.mark()
    _verdict_section(report, summary)
    report.move(verdict_start, top)
    report.heading("Software")
    report.mapping_table({"python": platform.python_version(),
                          **{name: _version(name) for name in STACK}}, header=("package", "version"))
    summary.report = report.write()
    summary.files.extend(report.figures)
    return summary


def _cstr_section(report: HtmlReport, summary: DemoSummary) -> None:
    model = load_model("cstr", parameter_set="literature")
    ss = find_steady_state(model)
    report.heading("Van de Vusse CSTR (Klatt & Engell 1998)")
    report.paragraph(f"Parameter set '{model.parameter_set}' (feed temperature "
                     f"{model.parameters['T_in'].nominal} degC). Steady state at F = "
                     f"{ss.u[0]:g} 1/h, Q_dot = {ss.u[1]:g} kJ/h against the published point:")
    report.table(("state", "computed", "Klatt & Engell", "unit"),
                 [(n, float(ss.x[model.states.index(n)]), ref, model.states[n].unit)
                  for n, ref in KLATT_ENGELL_POINT.items()])
    _stability(report, ss)
    schedule = InputSchedule.from_steps(model.inputs, ss.u, [(0.1, {"F": 1.2 * ss.u[0]}),
                                                              (0.5, {"Q_dot": 2 * ss.u[1]})])
    run = simulate(model, t_end=1.0, dt=0.002, x0=ss.x, inputs=schedule)
    summary.files.append(run.write(summary.folder / "cstr_steps.parquet"))
    report.figure(trend_figure(run, title="CSTR: +20 % dilution rate at 0.1 h, "
                                          "double cooling at 0.5 h"),
                  "cstr_steps", "CSTR step responses (reference simulator).")
    summary.figures["cstr_C_b_final"] = float(run.column("C_b")[-1])


def _column_section(report: HtmlReport, summary: DemoSummary) -> None:
    model = load_model("distillation_a")
    ss = find_steady_state(model)
    report.heading("Distillation Column A, LV configuration (Skogestad 1997)")
    y = model.outputs.to_dict(ss.y)
    slowest = float(ss.linearization.time_constants()[0])
    report.mapping_table({"top composition x_D [-]": y["x_D"], "bottom composition x_B [-]": y["x_B"],
                          "slowest time constant [min]": slowest,
                          "largest |rhs| at the steady state": ss.residual},
                         caption="Nominal steady state (L_T = 2.70629, V_B = 3.20629 kmol/min)")
    summary.figures.update(column_x_D=y["x_D"], column_x_B=y["x_B"], column_slowest_min=slowest)
    report.figure(_profile_figure(model, ss), "column_profile", "Steady composition profile.")
    for name, label in (("L_T", "reflux"), ("V_B", "boilup")):
        base = ss.u
        step = InputSchedule.from_steps(model.inputs, base,
                                        [(10.0, {name: 1.01 * base[model.inputs.index(name)]})])
        run = simulate(model, t_end=400.0, dt=1.0, x0=ss.x, inputs=step)
        summary.files.append(run.write(summary.folder / f"column_step_{name}.parquet"))
        report.figure(trend_figure(run, ["x_D", "x_B", "L_T", "V_B"],
                                   title=f"Column A: +1 % {label} ({name}) at 10 min"),
                      f"column_step_{name}", f"Response to a 1 % step in {label}; note the "
                                             "slow mode of about 194 min in the compositions.")


def _apc_section(report: HtmlReport, summary: DemoSummary) -> None:
    from twin.orchestration.examples import example
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.control import run_control

    config = load_loop(example("cstr_apc.toml"))
    result = run_control(config, summary.folder / "apc_cstr", fresh=summary.fresh)
    summary.loops["CSTR under APC"] = (config, _cycles(result))
    k = result.kpis
    report.heading("CSTR under APC (NMPC with estimation)")
    report.paragraph(
        "The APC tracks C_b = 0.6 mol/L, then 0.7, on a plant whose kinetics differ from the "
        "controller's model (alpha = 1.05, beta = 1.1). T_R and T_K are measured with noise, "
        "C_b by an analyser with 0.005 h sampling and dead time; C_a is not measured. An EKF "
        "with one bias state per measurement makes the control offset-free.")
    report.image(result.folder / "cv_trends.png", "CVs against setpoints, targets and limits.")
    report.image(result.folder / "mv_trends.png", "MVs against their limits and targets.")
    report.mapping_table({"IAE of C_b": with_unit(k["iae"]["C_b"], "mol/L\u00b7h"),
                          "final C_b error": with_unit(k["final_error"]["C_b"], "mol/L"),
                          "MPC solve time p50": with_unit(k["solve_time_p50_ms"], "ms"),
                          "MPC solve time p99": with_unit(k["solve_time_p99_ms"], "ms"),
                          "solver failures": f"{k['failures']:,d} cycles",
                          "sheds": f"{k['sheds']:,d} cycles"},
                         caption="Closed-loop KPIs")
    report.link("Full closed-loop report", "apc_cstr/report.html")
    summary.files += [result.report, result.parquet, result.store]
    summary.figures.update(apc_C_b_final_error=k["final_error"]["C_b"],
                           apc_solve_p50_ms=k["solve_time_p50_ms"])


def _rto_section(report: HtmlReport, summary: DemoSummary) -> None:
    from twin.orchestration.examples import example
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.control import run_control
    from twin.orchestration.loop.store import CycleStore
    from twin.orchestration.rto_run import optimum

    config = load_loop(example("cstr_rto_apc.toml"))
    result = run_control(config, summary.folder / "rto_apc_cstr", fresh=summary.fresh)
    summary.loops["CSTR under RTO and APC"] = (config, _cycles(result))
    store = CycleStore(result.store)
    try:
        store.run_id = store.db.execute("SELECT MAX(id) FROM run").fetchone()[0]
        events = store.events()
    finally:
        store.close()
    rto = events[events.kind == "rto"]
    report.heading("CSTR under RTO and APC (the control hierarchy)")
    report.paragraph(
        "At each steady state detected on the plant data the RTO re-estimates the catalyst "
        "activity beta (two-step RTO) and maximises the profit V_R F (p_B C_b - p_A C_A0) - "
        "p_Q |Q_dot| with the updated model; its optimum becomes the APC's setpoints for C_b and "
        "T_R, rate-limited and limited to what the APC's target calculation can reach. At 1.2 h "
        "the catalyst loses 10 % of its activity (beta = 0.9) and the RTO moves the operating "
        "point.")
    report.image(result.folder / "cv_trends.png", "CVs and the setpoints chosen by the RTO.")
    report.table(("time [h]", "RTO"), [(float(r.t), r.message) for r in rto.itertuples()])
    before, after = optimum("cstr"), optimum("cstr", parameters={"beta": 0.9})
    report.table(("case", "F [1/h]", "C_b [mol/L]", "T_R [degC]", "Q_dot [kJ/h]", "profit [EUR/h]"),
                 [(label, r.inputs["F"], r.states["C_b"], r.states["T_R"], r.inputs["Q_dot"],
                   r.profit) for label, r in (("beta = 1", before), ("beta = 0.9", after))],
                 caption="Economic optima of the model (for comparison)",
                 scales=_scales(("F", "C_b", "T_R", "Q_dot"), 1))
    report.link("Full closed-loop report", "rto_apc_cstr/report.html")
    summary.files += [result.report, result.parquet, result.store]
    summary.figures.update(rto_executions=int(len(rto[rto.message.str.startswith("profit")])),
                           rto_final_C_b_setpoint=float(result.kpis["final"]["C_b"]))


def _whatif_section(report: HtmlReport, summary: DemoSummary) -> None:
    import pandas as pd

    from twin.orchestration.whatif import load_study, run_study

    study = load_study("cstr_kinetics_ensemble.toml")
    result = run_study(study, summary.folder / "whatif_cstr", force=summary.fresh)
    frame = pd.read_parquet(result.summary)
    ok = frame[frame.status == "ok"]
    report.heading("What-if study: CSTR kinetics uncertainty")
    report.paragraph(
        f"{result.scenarios} open-loop scenarios (Latin hypercube over catalyst activity beta, "
        "the side reaction's activation factor alpha and the B -> C pre-exponential factor), "
        f"one hour each, through the batch kernels in {result.seconds:.1f} s; "
        f"{result.failed} failed.")
    from twin.orchestration.whatif.units import kpi_units, label

    units = kpi_units(study)
    report.table(("KPI", "p5", "median", "p95"),
                 [(label(k, units.get(k, "")), *[float(np.percentile(ok[k], q))
                                                 for q in (5, 50, 95)])
                  for k in result.kpis],
                 caption=f"KPIs over the {len(ok):,d} successful scenarios (in each KPI's unit)")
    report.image(result.folder / "sensitivity.png",
                 "Rank correlation of each KPI with each uncertain parameter")
    report.link("Full study report", "whatif_cstr/report.html")
    summary.files += [result.report, result.summary]
    summary.figures.update(whatif_scenarios=result.scenarios,
                           whatif_profit_median=float(ok["profit"].median()))


def _cycles(result):
    import pandas as pd

    return pd.read_parquet(result.parquet)


def _scales(names, skip: int) -> list[float | None]:
    """Table column scales: ``skip`` leading columns on their own, then each variable's range."""
    model = load_model("cstr")
    out: list[float | None] = [None] * skip
    for name in names:
        group = model.inputs if name in model.inputs else model.states
        v = group[name]
        out.append(max(abs(v.lower), abs(v.upper)) if np.isfinite([v.lower, v.upper]).all()
                   else None)
    return out


def _verdict_section(report: HtmlReport, summary: DemoSummary) -> None:
    """Targets against achieved for each closed loop, and the profit the RTO earned."""
    from twin.orchestration.loop.profit import profit_record
    from twin.orchestration.loop.report import unit_map, verdict_table

    report.heading("Verdict")
    units = unit_map(load_model("cstr"))
    for label, (config, frame) in summary.loops.items():
        verdicts = verdict_table(report, frame, config.controller, units,
                                 f"{label}: each CV's final setpoint against the plant's mean "
                                 "over the last quarter of the run")
        summary.figures[f"verdict_on_target {label}"] = float(all(v.on_target for v in verdicts))
        record = profit_record(config, frame)
        if record is None:
            continue
        u = record.unit
        report.table(("quantity", "value"), [
            ("true plant optimum at the end (plant's own parameters)",
             with_unit(record.optimum, u)),
            ("profit achieved (mean over the last quarter)", with_unit(record.achieved, u)),
            ("fraction of the optimum achieved", f"{100 * record.fraction:.1f} %"),
            ("profit left on the table", with_unit(record.gap, u, scale=abs(record.optimum)))],
            f"{label}: profit recovered by the RTO against the true plant optimum")
        report.figure(_profit_figure(record, config), "rto_profit",
                      "Plant profit cycle by cycle (at the plant's true state and the MVs) "
                      "against the true plant optimum in force at that time.")
        summary.figures["rto_fraction_of_optimum"] = record.fraction
    plant_data_verdict(report, summary)


def _profit_figure(record, config) -> "plt.Figure":
    f = record.frame
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(f["time"], f["profit"], color="tab:blue", lw=1.2, label="plant profit")
    ax.step(f["time"], f["optimum"], where="post", color="k", ls="--", lw=1,
            label="true plant optimum")
    for e in config.event:
        if e.plant_parameters:
            ax.axvline(e.time, color="tab:red", lw=0.8, ls=":")
            ax.annotate(", ".join(f"{k} = {v:g}" for k, v in e.plant_parameters.items()),
                        (e.time, 0.02), xycoords=("data", "axes fraction"), fontsize=7,
                        color="tab:red", xytext=(3, 0), textcoords="offset points")
    ax.set_xlabel(f"time [{load_model(config.plant.model).time_unit}]")
    ax.set_ylabel(f"profit [{record.unit}]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def _profile_figure(model, ss: SteadyState) -> "plt.Figure":
    n = model.n_x // 2
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(ss.x[:n], np.arange(1, n + 1), marker=".")
    ax.set_xlabel("liquid mole fraction of light component [-]")
    ax.set_ylabel("stage (1 = reboiler)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _stability(report: HtmlReport, ss: SteadyState) -> None:
    eig = ss.eigenvalues
    report.paragraph(f"Eigenvalues of the linearisation [1/{ss.model.time_unit}]: "
                     + ", ".join(f"{e.real:.4g}" + (f"{e.imag:+.3g}j" if e.imag else "")
                                 for e in eig)
                     + (" (stable)." if ss.stable else " (unstable)."))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"

"""``twin demo``'s plant-data section: a step test, a model identified from it, a calibration.

1. A generalized binary noise (GBN) step test on both pumps of the
   quadruple tank twin (``P-``), levels measured every second with 0.05 cm
   noise (the shipped ``qt_steptest.toml``, lengthened to 2 h with +-0.2 V
   moves: small enough for the tanks' square-root outflows to stay nearly
   linear, so that the test measures the gains at the base point).
2. The models identified from the data alone (``twin identify``'s FIR and
   transfer-function methods), only then compared with the linearisation of
   the twin's equations at the test's base point: gains, the lower tanks'
   time constants, held-out fit, condition number.
3. A calibration of the CSTR's catalyst activity ``beta`` and side-reaction
   factor ``alpha`` from noisy plant data whose true values are known
   (:func:`~twin.orchestration.synthetic_data.cstr_calibration_data`).

The checks (identified gains within 5 % of the linearisation, the truth
inside each calibrated parameter's 95 % interval) go to the demo's verdict
through :func:`plant_data_verdict`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg

from twin.core.config import read_toml
from twin.core.steady import SteadyState, find_steady_state
from twin.orchestration.calibrate_report import validation_figure
from twin.orchestration.plots import plt
from twin.orchestration.registry import load_model
from twin.orchestration.report import HtmlReport

if TYPE_CHECKING:
    from twin.orchestration.demo import DemoSummary

MVS, CVS = ("v1", "v2"), ("h1", "h2")

TEST = {"duration": 7200.0, "settling_time": 360.0, "seed": 1}
"""Step-test settings over the shipped example [s]: 2 h, mean switching time 120 s."""

AMPLITUDE = 0.2
"""GBN amplitude of each pump [V]."""

GAIN_TOLERANCE = 0.05
"""Largest relative gain error of the identified model accepted by the verdict [-]."""


def plant_data_section(report: HtmlReport, summary: DemoSummary) -> None:
    """Step test and identification of the quadruple tank, then the CSTR calibration."""
    report.heading("Plant data: step test and identification of the quadruple tank (P-)")
    _identification(report, summary)
    report.heading("Plant data: calibration of the CSTR's catalyst activity")
    _calibration(report, summary)


def _identification(report: HtmlReport, summary: DemoSummary) -> None:
    from twin.orchestration.examples import example
    from twin.orchestration.identify_run import identify
    from twin.orchestration.steptest import run_step_test, spec_from_dict
    from twin.orchestration.steptest.export import write_csv

    path = example("qt_steptest.toml")
    config = read_toml(path)
    config["test"].update(TEST)
    for mv in config["mv"]:
        mv["amplitude"] = AMPLITUDE
    test = run_step_test(spec_from_dict(config, path.parent, str(path)))
    data = test.to_plant_data()
    summary.files.append(write_csv(data, summary.folder / "qt_steptest.csv"))
    fir = identify(data, list(MVS), list(CVS), method="fir", name="quadruple_tank_identified")
    tf = identify(data, list(MVS), list(CVS), method="tf", name="quadruple_tank_tf")
    summary.files.append(fir.model.save(summary.folder / "qt_identified.toml"))

    model = load_model("quadruple_tank", parameter_set="P-")
    steady = find_steady_state(model, u=dict(zip(MVS, map(float, test.design.base))))
    truth = linear_gains(steady, MVS, CVS)
    error = fir.gains.gain / truth - 1
    saved = fir.model.steady_gain()
    saved_error = saved / truth - 1
    tank_tau = -1.0 / np.diag(steady.linearization.A)[[model.states.index(n) for n in CVS]]
    pairs = tf.details["transfer_functions"]
    tau = np.array([pairs[f"{cv}/{mv}"]["time_constants_s"][0] for mv, cv in zip(MVS, CVS)])
    tau_error = tau / tank_tau - 1
    g = fir.gains

    report.paragraph(
        f"A {test.time[-1] + 1:.0f} s GBN test (+-{AMPLITUDE:g} V on both pumps at once, "
        f"uncorrelated, mean switching time {test.design.switch_time:.0f} s, "
        f"{test.pauses} safety pauses) on the twin with level noise of 0.05 cm, sampled every "
        "second; the last 30 % of the record is held out for validation. The models are "
        "identified from the data alone (twin identify) and only then compared with the "
        "linearisation of the twin's equations at the test's base point "
        f"(v1 = {test.design.base[0]:g} V, v2 = {test.design.base[1]:g} V).")
    report.table(("CV / MV", "identified (FIR)", "std", "linearisation", "error [%]",
                  f"saved model (order {fir.model.n_states})", "error [%]"),
                 [(f"{cv} / {mv}", g.gain[i, j], g.gain_std[i, j], truth[i, j],
                   100 * error[i, j], saved[i, j], 100 * saved_error[i, j])
                  for i, cv in enumerate(CVS) for j, mv in enumerate(MVS)],
                 caption="Steady-state gains [cm/V]", scales=[None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    report.table(("pair", "identified [s]", "linearisation [s]", "error [%]"),
                 [(f"{cv} / {mv}", tau[k], tank_tau[k], 100 * tau_error[k])
                  for k, (mv, cv) in enumerate(zip(MVS, CVS))],
                 caption="Time constants of the lower tanks: first-order-plus-dead-time fit "
                         "of each diagonal pair against its lower tank's mode -1/A_ii of the "
                         "linearisation", scales=[None, 0.0, 0.0, 0.0])
    fit_fir, fit_tf = fir.validation.fit, tf.validation.fit
    report.mapping_table({
        **{f"held-out fit of {cv}, saved state-space model [%]": float(fit_fir[i])
           for i, cv in enumerate(CVS)},
        **{f"held-out fit of {cv}, transfer functions [%]": float(fit_tf[i])
           for i, cv in enumerate(CVS)},
        "condition number (95 % interval)": f"{g.condition:.3g} ({g.condition_low:.3g} to "
                                            f"{g.condition_high:.3g})",
        "ill-conditioning warning": g.warning() or "none (the quadruple tank P- is well "
                                                   "conditioned)"},
        caption="Validation on the held-out 30 % (NRMSE fit) and conditioning of the scaled gains")
    report.figure(_step_figure(fir, steady), "qt_identified_steps",
                  "Unit step responses: identified FIR model with its 95 % band against the "
                  "linearisation of the twin.")
    report.paragraph("The FIR model realised as a state space (order by fit) is saved "
                     "as qt_identified.toml: every command loads it by path (twin simulate, "
                     "steady, control, fmu export, whatif).")
    summary.figures.update(
        ident_gain_error_max_percent=float(100 * np.max(np.abs(error))),
        ident_saved_gain_error_max_percent=float(100 * np.max(np.abs(saved_error))),
        ident_tau_error_max_percent=float(100 * np.max(np.abs(tau_error))),
        ident_fit_min_percent=float(np.min(fit_fir)),
        ident_condition=float(g.condition),
        ident_ill_conditioned=float(g.ill_conditioned),
        steptest_samples=float(test.time.size))


def _calibration(report: HtmlReport, summary: DemoSummary) -> None:
    from twin.orchestration.calibrate_run import run_calibration
    from twin.orchestration.synthetic_data import (CSTR_NOISE, CSTR_TRUTH, cstr_calibration_data,
                                                   write_wide_csv)

    csv = write_wide_csv(cstr_calibration_data(), summary.folder / "cstr_plant.csv")
    result, found = run_calibration("cstr", csv, ["alpha", "beta"], x0_free=True,
                                    out=summary.folder / "cstr_calibrated.toml")
    summary.files += [csv, summary.folder / "cstr_calibrated.toml"]
    estimates = {e["name"]: e for e in found["estimates"]}
    report.paragraph(
        "The \"plant\" is the CSTR with catalyst activity beta = 0.9 and side-reaction factor "
        "alpha = 1.05 (the model has 1 and 1), 2 h of data with random moves of F and Q_dot "
        f"every 10 min; T_R and T_K measured every 10 s with {CSTR_NOISE['T_R']:g} K noise, C_b "
        f"by an analyser every 5 min with {CSTR_NOISE['C_b']:g} mol/L noise. twin calibrate "
        "estimates alpha and beta (and the initial states) by multiple shooting with IPOPT, in "
        f"{result.seconds:.1f} s; the parameter-set file cstr_calibrated.toml is accepted by "
        "every command (--param-set).")
    inside = {n: estimates[n]["low95"] <= t <= estimates[n]["high95"] for n, t in CSTR_TRUTH.items()}
    report.table(("parameter", "estimate", "low 95 %", "high 95 %", "interval width", "truth",
                  "truth inside"),
                 [(n, *(f"{estimates[n][k]:.6g}" for k in ("value", "low95", "high95")),
                   estimates[n]["width95"], t, "yes" if inside[n] else "NO")
                  for n, t in CSTR_TRUTH.items()],
                 caption="Calibrated parameters [-] with 95 % confidence intervals (six "
                         "significant digits: the intervals are narrow)",
                 scales=[None, None, None, None, 0.0, 0.0, None])
    for line in found["warnings"]:
        report.paragraph(line)
    report.figure(validation_figure(result, "calibrated model", 1.7), "cstr_calibration_fit",
                  "Measured samples (dots) and the calibrated model's prediction (line).")
    for name in CSTR_TRUTH:
        summary.figures[f"calib_{name}"] = float(estimates[name]["value"])
        summary.figures[f"calib_{name}_width95"] = float(estimates[name]["width95"])
    summary.figures["calib_truth_inside"] = float(all(inside.values()))


def plant_data_verdict(report: HtmlReport, summary: DemoSummary) -> None:
    """The plant-data checks of the verdict (nothing when the section did not run)."""
    f = summary.figures
    if "ident_gain_error_max_percent" not in f:
        return
    worst = max(f["ident_gain_error_max_percent"], f["ident_saved_gain_error_max_percent"])
    rows = [("identified gains of the quadruple tank within 5 % of the linearisation",
             f"largest error {f['ident_gain_error_max_percent']:.2f} % (FIR), "
             f"{f['ident_saved_gain_error_max_percent']:.2f} % (saved model)",
             "yes" if worst <= 100 * GAIN_TOLERANCE else "NO"),
            ("calibrated CSTR parameters: the truth inside each 95 % interval",
             f"alpha = {f['calib_alpha']:.4f} (+-{f['calib_alpha_width95'] / 2:.2g}), "
             f"beta = {f['calib_beta']:.4f} (+-{f['calib_beta_width95'] / 2:.2g})",
             "yes" if f["calib_truth_inside"] == 1.0 else "NO")]
    report.table(("check", "result", "passed"), rows,
                 "Plant data: identification and calibration against the known truth")


def linear_gains(steady: SteadyState, mvs, cvs) -> np.ndarray:
    """Steady-state gains d(cv)/d(mv) of the linearisation at ``steady``, (len(cvs), len(mvs))."""
    model, lin = steady.model, steady.linearization
    dx = -np.linalg.solve(lin.A, lin.B)
    dy = lin.C @ dx + lin.D
    cols = [model.inputs.index(n) for n in mvs]
    return np.array([dx[model.states.index(n), cols] if n in model.states
                     else dy[model.outputs.index(n), cols] for n in cvs])


def _linear_steps(steady: SteadyState, mvs, cvs, dt: float, samples: int) -> np.ndarray:
    """Unit step responses of the linearisation sampled every ``dt``, (len(cvs), len(mvs), samples)."""
    model, lin = steady.model, steady.linearization
    n, cols = lin.A.shape[0], [model.inputs.index(name) for name in mvs]
    block = np.zeros((n + len(cols), n + len(cols)))
    block[:n, :n], block[:n, n:] = lin.A, lin.B[:, cols]
    phi = scipy.linalg.expm(block * dt)
    ad, bd = phi[:n, :n], phi[:n, n:]
    rows = [model.states.index(name) for name in cvs]
    x = np.zeros((n, len(cols)))
    out = np.empty((len(cvs), len(cols), samples))
    for k in range(samples):
        x = ad @ x + bd
        out[:, :, k] = x[rows]
    return out


def _step_figure(run, steady: SteadyState) -> "plt.Figure":
    steps, band = run.fir.step_responses(), 1.96 * run.fir.step_std()
    t = run.model.dt * np.arange(1, steps.shape[2] + 1)
    linear = _linear_steps(steady, MVS, CVS, run.model.dt, steps.shape[2])
    fig, axes = plt.subplots(len(CVS), len(MVS), figsize=(8, 5), sharex=True, squeeze=False)
    for i, cv in enumerate(CVS):
        for j, mv in enumerate(MVS):
            ax = axes[i, j]
            ax.fill_between(t, steps[i, j] - band[i, j], steps[i, j] + band[i, j],
                            color="tab:blue", alpha=0.25, lw=0)
            ax.plot(t, steps[i, j], color="tab:blue", lw=1.2, label="identified (FIR)")
            ax.plot(t, linear[i, j], color="k", ls="--", lw=1, label="linearisation")
            ax.set_title(f"{cv} / {mv}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[i, 0].set_ylabel(f"{cv} [cm per V]")
    for ax in axes[-1]:
        ax.set_xlabel("time [s]")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig

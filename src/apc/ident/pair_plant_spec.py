"""The linear controller of the generated pair plant (:mod:`apc.ident.pair_plant`), as a TOML file.

Written next to the model by ``python -m apc.ident.pair_plant FOLDER``, from
the plant's CV and MV ranges (the scale of its gains), so the two always
fit:

* every CV is measured (noise 0.5 % of its range) and kept within a soft
  operating range of its operating point +- 40 % of its range and within
  hard limits at +- 100 %; compositions rank 1 (given up last),
  temperatures 2, the others 3; the levels are ramp CVs with a range of
  30 to 70 %;
* one CV in eight (the 1st, 9th, 17th, ..., at most :data:`SETPOINTS`, levels
  excepted) has a setpoint at its operating point, tracked with weight
  ``1 / range^2``; the others only have ranges (the LP places them);
* every MV moves within its operating point +- its range, at most 10 % of
  its range per interval, with move suppression ``1 / range^2``;
* LP costs: duties (``QC``) cost 1 per MW, flows (``FC``) earn 0.05 per
  t/h (throughput), valves cost nothing;
* 60 s control interval, a 60-interval horizon with six move blocks
  (1, 2, 3, 6, 12 and 36 intervals): 240 free moves; step-response
  prediction with the output-bias update; the LP steady-state optimiser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tomli_w

if TYPE_CHECKING:
    from apc.ident.pair_plant import PairPlant

SETPOINTS = 10
"""At most this many CVs with a setpoint."""

RANKS = {"A": 1, "T": 2}
"""Rank of the soft limits by CV kind (tag letter); others rank 3."""

MV_COSTS = {"QC": 1.0, "FC": -0.05}
"""LP cost per MV unit by MV kind (tag letters)."""

MOVE_BLOCKS = [1, 2, 3, 6, 12, 36]
"""Move blocking of the example [intervals]: sums to the prediction horizon."""


def controller_data(plant: "PairPlant", model_ref: str) -> dict[str, Any]:
    """The controller specification of ``plant`` as TOML values (module docstring)."""
    tf = plant.model
    ramps = set(tf.integrating_outputs)
    with_setpoint = [y for k, y in enumerate(tf.outputs) if k % 8 == 0 and y not in ramps]
    with_setpoint = with_setpoint[:SETPOINTS]
    cvs, measurements = [], []
    for y, y0, span in zip(tf.outputs, tf.y0, plant.cv_ranges):
        y0, span = float(y0), float(span)
        measurements.append({"name": y, "noise_std": _round(0.005 * span)})
        if y in ramps:
            cvs.append({"name": y, "low": 30.0, "high": 70.0, "hard_low": 5.0, "hard_high": 95.0,
                        "ramp": True, "weight": 0.0})
            continue
        cv: dict[str, Any] = {"name": y}
        if y in with_setpoint:
            cv["setpoint"] = y0
            cv["weight"] = _round(1.0 / span ** 2)
        else:
            cv["weight"] = 0.0
        cv.update(low=_round(y0 - 0.4 * span), high=_round(y0 + 0.4 * span),
                  hard_low=_round(y0 - span), hard_high=_round(y0 + span),
                  rank=RANKS.get(y[0], 3), penalty=_round(100.0 / span))
        cvs.append(cv)
    mvs = []
    for u, u0, span in zip(tf.inputs, tf.u0, plant.mv_ranges):
        u0, span = float(u0), float(span)
        mv: dict[str, Any] = {"name": u, "low": _round(u0 - span), "high": _round(u0 + span),
                              "max_move": _round(0.1 * span),
                              "move_weight": _round(1.0 / span ** 2), "scale": span}
        cost = MV_COSTS.get(u[:2], 0.0)
        if cost:
            mv["cost"] = cost
        mvs.append(mv)
    return {
        "model": model_ref, "type": "linear", "sample_time": tf.dt,
        "prediction_horizon": sum(MOVE_BLOCKS), "move_blocking": list(MOVE_BLOCKS),
        "linear": {"form": "step_response"},
        "steady_state": {"objective": "lp"},
        "measurements": measurements, "cv": cvs, "mv": mvs,
    }


def controller_toml(plant: "PairPlant", model_ref: str) -> str:
    """The controller file's text: a comment saying what it is, then :func:`controller_data`."""
    tf = plant.model
    header = (f"# Linear MPC of the generated plant {tf.name}: {len(tf.inputs)} MVs, "
              f"{len(tf.outputs)} CVs, {len(tf.pairs)} transfer-function pairs.\n"
              "# Written by `python -m apc.ident.pair_plant FOLDER` (apc.ident.pair_plant_spec); "
              "see README.md, 'A large linear MPC example'.\n")
    return header + tomli_w.dumps(controller_data(plant, model_ref))


def _round(value: float) -> float:
    return float(f"{value:.6g}")

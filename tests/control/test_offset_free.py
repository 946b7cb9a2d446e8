"""Offset-free control under plant-model mismatch thanks to the disturbance (bias) states."""

from __future__ import annotations

from loop_support import replace, run_loop


def _steady_error(cstr_loop, tmp_path, bias: bool, kind: str = "ekf") -> float:
    spec = cstr_loop.controller
    spec = replace(spec, estimator=replace(spec.estimator, kind=kind),
                   measurements=tuple(replace(m, bias=bias) for m in spec.measurements))
    # plant alpha = 1.05, beta = 1.1 against the nominal model; noisy T_R, T_K, analyser C_b
    assert cstr_loop.plant.parameters == {"alpha": 1.05, "beta": 1.1}
    config = replace(cstr_loop, controller=spec, run=replace(cstr_loop.run, duration=1.0))
    _, frame = run_loop(config, tmp_path / f"{kind}-{bias}")
    settled = frame[frame.time >= 0.6]
    return abs(settled["C_b.plant"].mean() - 0.6) / 0.6


def test_bias_states_remove_the_offset(cstr_loop, tmp_path):
    with_bias = _steady_error(cstr_loop, tmp_path, True)
    without = _steady_error(cstr_loop, tmp_path, False)
    print(f"steady-state error of C_b: {with_bias:.3%} with disturbance states, "
          f"{without:.3%} without")
    assert with_bias < 0.005
    assert without >= 10 * with_bias


def test_moving_horizon_estimator_is_offset_free_too(cstr_loop, tmp_path):
    assert _steady_error(cstr_loop, tmp_path, True, kind="mhe") < 0.005

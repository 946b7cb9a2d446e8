"""The APC configured like do-mpc's CSTR example reproduces do-mpc's own closed loop."""

from __future__ import annotations

import numpy as np

from loop_support import dompc_loop, plant_states, replace, run_loop
from twin_benchmarks.dompc_example import closed_loop


def test_robust_closed_loop_matches_do_mpc_within_1e_6(dompc_spec, tmp_path):
    # IPOPT tol 1e-12 on both sides, plants integrated to 1e-10, 20 steps of 0.005 h (the
    # 9-scenario problem makes each step costly; the nominal test below runs 30)
    reference, u_ref, _ = closed_loop(20, robust=True, tol=1e-12)
    _, frame = run_loop(dompc_loop(dompc_spec, 20), tmp_path)
    ours = plant_states(frame)[1:21]
    assert ours.shape == reference.shape
    rel = np.max(np.abs(ours - reference) / np.abs(reference))
    assert rel < 1e-6, rel
    assert np.allclose(frame[["F", "Q_dot"]].to_numpy()[:20], u_ref, rtol=1e-4, atol=1e-3)


def test_structured_fatrop_backend_matches_do_mpc_nominal(dompc_spec, tmp_path):
    reference, _, _ = closed_loop(30, robust=False, tol=1e-10)
    spec = replace(dompc_spec, robust=None,
                   solver=replace(dompc_spec.solver, backend="fatrop", tol=1e-10))
    _, frame = run_loop(dompc_loop(spec, 30), tmp_path)
    rel = np.max(np.abs(plant_states(frame)[1:31] - reference) / np.abs(reference))
    assert rel < 1e-5, rel

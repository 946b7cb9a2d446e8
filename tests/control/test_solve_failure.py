"""fatrop failures in words: the return flag's meaning, and for an infeasible problem the
limits that bind (instead of 'solver failed (1)')."""

from __future__ import annotations

import pytest

import twin
from apc.nmpc import SolveStatus, StructuredNMPC
from apc.problem import ControlProblem
from apc.solve_failure import FATROP_FLAGS, fatrop_message
from test_nmpc import _data, _spec


def _solve(spec):
    pb = ControlProblem(twin.load_model("cstr"), spec)
    return StructuredNMPC(pb, "fatrop").solve(_data(pb))


def test_an_iteration_limit_is_named_with_the_option_to_raise():
    plan = _solve(_spec(solver={"tol": 1e-10, "max_iter": 3}))
    assert plan.status is SolveStatus.FAILED
    assert plan.message == ("fatrop: maximum number of iterations reached (solver.max_iter) "
                            "(return flag 1)")


def test_an_infeasible_problem_names_the_hard_limit_that_binds_first():
    # the reactor is at 134 degC; a hard limit of 60 degC cannot be met within the horizon
    plan = _solve(_spec(cv=[{"name": "C_b", "setpoint": 0.9},
                            {"name": "T_R", "weight": 0.0, "hard_low": 50.0, "hard_high": 60.0}]))
    assert plan.status is SolveStatus.FAILED
    head, binding = plan.message.split("; binding: ")
    assert head == ("fatrop: locally infeasible: no plan satisfies the limits (return flag 4)")
    limits = binding.split(", ")
    assert limits[0] == "T_R hard_high 60 (reached 60)"
    assert "F low 5 (reached 5)" in limits  # cooling by the feed is at its end too
    print("message:", plan.message)


@pytest.mark.parametrize("stats, text", [
    ({"return_status": 1, "fatrop": {"return_flag": 6}},
     "fatrop: diverging iterates (return flag 6)"),
    ({"return_status": 1}, "fatrop: status 1"),
])
def test_fatrop_messages(stats, text):
    assert fatrop_message(stats) == text
    assert len(FATROP_FLAGS) == 11 and FATROP_FLAGS[0] == "solved"

"""Every steady state in the bounds (``twin steady --all``), against an independent scan."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from twin.cli.main import cli
from twin.core.steady_all import find_all_steady_states

DA, B, BETA, GAMMA = 0.072, 8.0, 0.3, 20.0


def _independent_steady_states() -> list[tuple[float, float]]:
    """The steady states from the scalar energy balance: at steady state x1 = (1 + beta) x2 / B,
    and x2 solves (1 + beta) x2 / B = Da e / (1 + Da e), e = exp(x2 / (1 + x2 / gamma)).
    Every sign change on a fine grid of x2 in [0, 10] is bracketed and solved by brentq."""
    def g(x2):
        e = math.exp(x2 / (1 + x2 / GAMMA))
        return (1 + BETA) * x2 / B - DA * e / (1 + DA * e)

    grid = np.linspace(0.0, 10.0, 10_001)
    values = [g(x) for x in grid]
    roots = [brentq(g, a, b, xtol=1e-14) for a, b, ga, gb in
             zip(grid, grid[1:], values, values[1:]) if ga * gb < 0]
    return [((1 + BETA) * x2 / B, x2) for x2 in roots]


@pytest.fixture
def exothermic(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from exothermic_cstr import MODEL

    return MODEL


def test_all_three_steady_states_are_found_and_the_middle_one_is_unstable(exothermic):
    expected = _independent_steady_states()
    assert len(expected) == 3
    found = find_all_steady_states(exothermic, starts=32)
    assert len(found) == 3
    for ss, (x1, x2) in zip(found, expected):
        assert ss.x == pytest.approx([x1, x2], rel=1e-9, abs=1e-12)
        assert ss.residual < 1e-10
    assert [ss.stable for ss in found] == [True, False, True]
    # the middle one: one eigenvalue with a positive real part (a saddle)
    assert sum(found[1].eigenvalues.real > 0) == 1
    print("steady states:", [(round(s.x[0], 6), round(s.x[1], 6), s.stable) for s in found])


def test_cli_steady_all_lists_each_with_its_stability(exothermic, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["steady", "exothermic_cstr:MODEL", "--all", "--starts", "32", "--json"])
    assert done.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["count"] == 3 and data["starts"] == 32
    assert [d["stable"] for d in data["steady_states"]] == [True, False, True]
    x2 = [d["states"]["x2"] for d in data["steady_states"]]
    assert x2 == pytest.approx([x for _, x in _independent_steady_states()], rel=1e-9)

    with pytest.raises(SystemExit):
        cli.main(["steady", "exothermic_cstr:MODEL", "--all", "--starts", "32"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 steady states of exothermic_cstr within the state bounds "
                               "(32 starting points")
    assert [line.split()[1] for line in lines[2:]] == ["stable", "unstable", "stable"]


def test_one_steady_state_is_found_once_however_many_starts(capsys):
    found = find_all_steady_states(__import__("twin").load_model("cstr"), starts=16)
    assert len(found) == 1 and found[0].stable


@pytest.mark.parametrize("args, message", [
    (["--x0", "C_a=1"], "twin steady: --x0 is an initial state (of twin simulate); the "
                        "steady-state solver's starting point is --guess X=V"),
    (["--starts", "8"], "--starts applies with --all"),
    (["--all", "--guess", "C_a=1"], "--guess and --all: --all starts from points spread over "
                                    "the state bounds; give one or the other"),
])
def test_steady_refuses_x0_and_misplaced_options(capsys, args, message):
    with pytest.raises(SystemExit) as done:
        cli.main(["steady", "cstr", *args])
    assert done.value.code == 2
    assert capsys.readouterr().err == f"twin: error: {message}\n"


def test_steady_guess_is_the_solver_start(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["steady", "cstr", "--guess", "C_a=1.5", "--json"])
    assert done.value.code == 0
    assert json.loads(capsys.readouterr().out)["states"]["C_a"] == pytest.approx(0.783494, rel=1e-5)

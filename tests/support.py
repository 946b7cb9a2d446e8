"""Numerical helpers shared by the tests (independent of the code under test)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.core.model import Model
from twin.core.variables import VariableSet


def central_difference(fun, x: np.ndarray) -> np.ndarray:
    """Jacobian of ``fun`` at ``x`` by central differences with relative steps."""
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(fun(x))
    jac = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 6e-6 * max(abs(x[j]), 1e-3)
        e = np.zeros_like(x)
        e[j] = h
        jac[:, j] = (np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h)
    return jac


def central(variables: VariableSet, rng: np.random.Generator, fraction: float = 0.8) -> np.ndarray:
    """Uniform random values in the central ``fraction`` of each variable's bounds.

    Infinite bounds are replaced by the nominal value +-50 % (at least +-1).
    """
    lo, hi = variables.lower(), variables.upper()
    nominal = variables.nominal()
    span = np.maximum(0.5 * np.abs(nominal), 1.0)
    lo = np.where(np.isfinite(lo), lo, nominal - span)
    hi = np.where(np.isfinite(hi), hi, nominal + span)
    margin = 0.5 * (1 - fraction) * (hi - lo)
    return rng.uniform(lo + margin, hi - margin)


def random_points(model: Model, n: int, seed: int = 1):
    """``n`` seeded ``(x, u, p)`` triples with ``p`` nominal."""
    rng = np.random.default_rng(seed)
    return [(central(model.states, rng), central(model.inputs, rng), model.p0()) for _ in range(n)]


HORIZON = {"cstr": 0.1, "williams_otto": 500.0, "quadruple_tank": 100.0, "distillation_a": 10.0,
           "williams_otto_approx": 500.0, "cstr_exothermic": 2.0}
"""Simulated time of the parity tests [model time unit]: several time constants of the fast modes."""
RK4_STEP = {"cstr": 1e-4, "williams_otto": 1.0, "quadruple_tank": 0.1, "distillation_a": 0.002,
            "williams_otto_approx": 1.0, "cstr_exothermic": 1e-3}
"""RK4 step sizes well inside the stability region of each model."""


def perturbed_operating_points(model: Model, n: int, seed: int = 3):
    """``n`` seeded ``(x0, u, p)`` around the steady state: states +-5 %, inputs +-10 %."""
    import twin

    ss = twin.find_steady_state(model)
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        x0 = ss.x * (1 + 0.05 * rng.uniform(-1, 1, ss.x.size))
        x0 = np.clip(x0, model.states.lower(), model.states.upper())
        u = np.clip(ss.u * (1 + 0.1 * rng.uniform(-1, 1, ss.u.size)),
                    model.inputs.lower(), model.inputs.upper())
        points.append((x0, u, ss.p.copy()))
    return points


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-3) -> float:
    """max |a - b| / max(|b|, floor), elementwise."""
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def run_twin(capsys, *args: str) -> tuple[int, str, str]:
    """Run the ``twin`` CLI in-process; return (exit status, stdout, stderr)."""
    from twin.cli.main import cli

    with pytest.raises(SystemExit) as ended:
        cli.main(list(args), prog_name="twin")
    out = capsys.readouterr()
    return ended.value.code, out.out, out.err


def the_error_line(err: str) -> str:
    """The one ``twin: error:`` line of a CLI run's stderr (asserts there is exactly one)."""
    lines = [line for line in err.splitlines() if line.startswith("twin: error:")]
    assert len(lines) == 1, err
    return lines[0]


CSTR_LOOP = """
[plant]
model = "cstr"
{plant}
tick = 0.005

[controller]
model = "cstr"
sample_time = 0.005
prediction_horizon = 5
[[controller.mv]]
name = "F"
low = 5.0
high = 100.0
[[controller.measurements]]
name = "C_b"
noise_std = 0.005
[[controller.cv]]
name = "C_b"
setpoint = 0.6

[run]
duration = 0.01
"""
"""A short closed loop of the CSTR (two cycles); ``{plant}``: more ``[plant]`` keys."""

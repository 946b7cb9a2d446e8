"""Shutdown limits: which side trips, the event line, a NaN, and a run that starts past one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.simulation import simulate
from twin.core.trips import Trip, first_trip
from twin.core.variables import manipulated, output, parameter, state


def _tank(trips):
    return Model(name="filling", title="a tank filled at a constant rate", source="test",
                 time_unit="s", states=[state("h", "cm", "level", 1.0, physical=(0.0, math.inf))],
                 inputs=[manipulated("q", "cm/s", "filling rate", 1.0, 0.0, 5.0)],
                 parameters=[parameter("k", "-", "a factor", 1.0)],
                 outputs=[output("level", "cm", "level")],
                 rhs=lambda x, u, p, ops: {"h": u.q * p.k},
                 output_map=lambda x, u, p, ops: {"level": x.h}, trips=trips)


def test_each_side_trips_past_its_limit_only():
    high, low = Trip("level", "high", 10.0, "level"), Trip("level", "low", 2.0, "level")
    assert not high.tripped(10.0) and high.tripped(10.5)
    assert not low.tripped(2.0) and low.tripped(1.5)
    assert first_trip([high, low], ["level"], [1.0]) is low
    assert first_trip([high, low], ["level"], [5.0]) is None


def test_the_event_names_the_limit_and_a_nan_says_so():
    trip = Trip("level", "high", 10.0, "tank level")
    assert trip.event(10.5, "cm", 3.25, "s") == "shutdown at t = 3.25 s: high tank level (level = 10.5 cm > 10 cm)"
    assert trip.tripped(math.nan)
    assert trip.event(math.nan, "cm", 1.0, "s") == ("shutdown at t = 1 s: level is not a number "
                                                     "(the model has left the range its equations hold in)")


def test_a_run_stops_where_it_first_passes_a_limit():
    # level 1 + t [cm]: past 4 cm from t = 3 s on, first seen at the output time 3.5 s; the
    # crossing is found between 3 and 3.5 s within 0.5 s / 1024
    run = simulate(_tank((Trip("level", "high", 4.0, "tank level"),)), 10.0, 0.5)
    assert run.t[:-1].tolist() == [0.5 * k for k in range(7)]
    assert 3.0 < run.t[-1] <= 3.0 + 0.5 / 1024 and run.y[-1, 0] == pytest.approx(1.0 + run.t[-1])
    assert run.event == "shutdown at t = 3.00049 s: high tank level (level = 4.00049 cm > 4 cm)"
    assert simulate(_tank(()), 10.0, 0.5).event == ""


def _draining(rate: float, limit: float = 0.5):
    """A tank of 2 cm drained by ``rate`` sqrt(level) [cm/s]: empty at 2 sqrt(2) / rate s, and
    integrated past empty the square root of a negative level fails; its low limit ``limit``."""
    return Model(name="draining", title="a tank drained", source="test", time_unit="s",
                 states=[state("h", "cm", "level", 2.0, physical=(0.0, math.inf))],
                 inputs=[manipulated("q", "cm/s", "drain rate", rate, 0.0, 100.0)],
                 parameters=[parameter("k", "-", "a factor", 1.0)],
                 outputs=[output("level", "cm", "level")],
                 rhs=lambda x, u, p, ops: {"h": -u.q * p.k * ops.sqrt(x.h)},
                 output_map=lambda x, u, p, ops: {"level": x.h},
                 trips=(Trip("level", "low", limit, "tank level"),))


def test_a_vessel_emptied_within_an_output_interval_stops_at_its_limit_not_below_zero():
    # level (sqrt(2) - 1.5 t)^2: past its 0.5 cm limit at t = 0.471 s, empty at 0.943 s, within
    # the first 5 s interval, where integrating on fails
    from twin.core.errors import SimulationError
    from twin.core.simulation import make_integrator

    with pytest.raises(SimulationError):
        make_integrator(_draining(3.0), "kernel", None, None, None).advance(
            np.array([2.0]), np.array([3.0]), 5.0, 0.0)
    run = simulate(_draining(3.0), 5.0, 5.0)
    assert run.event.startswith("shutdown at t = ") and "low tank level" in run.event, run.event
    assert run.t[-1] == pytest.approx((2.0 ** 0.5 - 0.5 ** 0.5) / 1.5, abs=5.0 / 1024)
    assert 0.49 < run.y[-1, 0] < 0.5, (run.t[-1], run.y[-1, 0])


def test_a_run_that_starts_past_a_limit_keeps_its_start_only():
    run = simulate(_tank((Trip("level", "low", 2.0, "tank level"),)), 10.0, 0.5)
    assert run.t.tolist() == [0.0] and run.event.startswith("shutdown at t = 0 s: low tank level")


def test_bad_trips_are_refused_in_one_line():
    with pytest.raises(InputError, match="side 'above' is not high or low"):
        Trip("level", "above", 1.0, "level")
    with pytest.raises(InputError, match="limit inf is not a finite number"):
        Trip("level", "high", math.inf, "level")
    with pytest.raises(UnknownNameError, match="levl"):
        _tank((Trip("levl", "high", 1.0, "level"),))


def test_a_limit_passed_just_after_an_input_change_inside_an_output_interval_is_found():
    # filling at 1 cm/s, then 2 cm/s from 2.8 s: level 3.8 cm there, past 4 cm at 2.9 s, inside
    # the output interval 2.5-3 s
    from twin.core.schedule import InputSchedule

    inputs = InputSchedule(np.array([1.0]), np.array([2.8]), np.array([[2.0]]))
    run = simulate(_tank((Trip("level", "high", 4.0, "tank level"),)), 10.0, 0.5, inputs=inputs)
    assert 2.9 < run.t[-1] <= 2.9 + 0.5 / 1024, run.t[-1]
    assert run.y[-1, 0] == pytest.approx(3.8 + 2.0 * (run.t[-1] - 2.8)) and run.u[-1, 0] == 2.0


def test_an_integration_that_fails_before_any_limit_is_passed_is_raised():
    # drained past empty (at 0.943 s) with its only limit below zero: nothing stops it first
    from twin.core.errors import SimulationError

    with pytest.raises(SimulationError):
        simulate(_draining(3.0, limit=-1.0), 5.0, 5.0)


def test_a_limit_passed_in_an_interval_too_thin_to_halve_ends_the_run_there():
    # the grid's last interval is 3e-9 s at t = 20000 s (t_end just past an output time), some
    # 800 floating-point steps wide: 1/1024 of it is less than one, and the search stops at what
    # it can resolve instead of halving for ever
    limit = 1.0 + 20000.0 + 1e-9
    run = simulate(_tank((Trip("level", "high", limit, "tank level"),)), 20000.0 + 3e-9, 1.0)
    assert 20000.0 < run.t[-1] <= 20000.0 + 3e-9 and run.y[-1, 0] > limit, (run.t[-1], run.event)

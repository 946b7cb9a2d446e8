"""Shutdown limits: which side trips, the event line, a NaN, and a run that starts past one."""

from __future__ import annotations

import math

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


def test_a_run_stops_at_the_first_output_time_past_a_limit():
    run = simulate(_tank((Trip("level", "high", 4.0, "tank level"),)), 10.0, 0.5)
    assert run.t[-1] == 3.5 and run.y[-1, 0] == pytest.approx(4.5) and run.y[-2, 0] <= 4.0
    assert run.event == "shutdown at t = 3.5 s: high tank level (level = 4.5 cm > 4 cm)"
    assert simulate(_tank(()), 10.0, 0.5).event == ""


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

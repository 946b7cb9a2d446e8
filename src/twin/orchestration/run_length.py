"""A run length given on the command line: ``--duration`` of ``twin control`` and ``twin whatif``.

It replaces the file's own run length for one run (``run.duration`` of a
loop file, ``duration`` of a study: each scenario's run), e.g. a short
trial of a long example before the full run; the file is not changed.
Times are in the model's time unit, as in the files.

A loop's events after the shortened end do not happen: they are returned,
so that the command can say so in one line. In a closed-loop study a loop
file's events after the end are refused instead (every scenario would run
without them, unlike the file's own scenario); ``base.loop_events = false``
leaves them out deliberately.
"""

from __future__ import annotations

import math
from dataclasses import replace

from twin.core.errors import InputError
from twin.orchestration.loop.config import MAX_TICKS, EventConfig, LoopConfig, load_loop
from twin.orchestration.whatif.study import Study

OPTION = "--duration"


def check_duration(value: float) -> float:
    """``value`` [model time unit] when it is a finite positive number, else one-line InputError."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        shown = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
        raise InputError(f"{OPTION} {shown}: give a positive, finite run time in the model's "
                         "time unit")
    return float(value)


def loop_with_duration(loop: LoopConfig, duration: float) -> tuple[LoopConfig, tuple[EventConfig, ...]]:
    """``loop`` run for ``duration`` [model time unit]; also the events that now fall after it."""
    duration = check_duration(duration)
    if duration / loop.tick > MAX_TICKS:
        raise InputError(f"{OPTION} {duration:g}: more than {MAX_TICKS:g} plant ticks of "
                         f"{loop.tick:g} (plant.tick)")
    kept = tuple(e for e in loop.event if e.time <= duration)
    dropped = tuple(e for e in loop.event if e.time > duration)
    try:
        shorter = replace(loop, run=replace(loop.run, duration=duration), event=kept)
    except InputError as error:
        raise InputError(f"{OPTION} {duration:g}: {error}") from None
    return shorter, dropped


def study_with_duration(study: Study, duration: float) -> Study:
    """``study`` whose scenarios each run for ``duration`` [model time unit]."""
    duration = check_duration(duration)
    if study.base.kind == "function":
        raise InputError(f"{OPTION}: a function study has no run time (base.kind = 'function')")
    if study.base.kind == "closed_loop" and study.base.loop_events:
        loop = load_loop(study.resolve(study.base.loop_file))
        late = [e for e in loop.event if e.time > duration]
        if late:
            raise InputError(
                f"{OPTION} {duration:g}: the loop file {study.base.loop_file} has an event after "
                f"it (at time {late[0].time:g}); give a longer "
                f"{OPTION}, or base.loop_events = false in the study to leave the loop's events out")
    try:
        return replace(study, duration=duration)
    except InputError as error:
        raise InputError(f"{OPTION} {duration:g}: {error}") from None


def dropped_events_line(dropped: tuple[EventConfig, ...], duration: float) -> str:
    """One line saying which events a shortened run does not reach ('' when none)."""
    if not dropped:
        return ""
    times = ", ".join(f"{e.time:g}" for e in dropped)
    if len(dropped) == 1:
        return (f"{OPTION} {duration:g} ends the run before an event of the loop file (at time "
                f"{times}); it does not happen")
    return (f"{OPTION} {duration:g} ends the run before {len(dropped)} events of the loop file "
            f"(at times {times}); they do not happen")

"""``--duration T`` of ``twin control`` and ``twin whatif``: one run shorter (or longer) than its file says.

The rules are in :mod:`twin.orchestration.run_length` (imported when the
option is used, so that every command starts quickly); here the option and
the warning line for a loop's events that a shorter run drops.
"""

from __future__ import annotations

import click


def duration_option(what: str):
    """``--duration T`` [model time unit]; ``what`` completes its help text."""
    return click.option("--duration", type=float, default=None, metavar="T",
                        help=f"Model time, in the model's time unit: {what}.")


def shortened_loop(loop, duration: float):
    """``loop`` run for ``duration`` [model time unit]; a warning line on stderr names the
    events it drops."""
    from twin.orchestration.run_length import dropped_events_line, loop_with_duration

    loop, dropped = loop_with_duration(loop, duration)
    if dropped:
        click.echo(f"twin: warning: {dropped_events_line(dropped, duration)}", err=True)
    return loop


def shortened_study(study, duration: float):
    """``study`` whose scenarios each run for ``duration`` [model time unit]."""
    from twin.orchestration.run_length import study_with_duration

    return study_with_duration(study, duration)

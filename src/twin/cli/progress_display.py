"""Progress of long commands on a terminal, drawn with rich.

Policy: progress is drawn on **stderr**, and only when stderr is a
terminal and ``--json`` is not given. Stdout carries nothing but the final
result, so ``twin control x.toml > result.txt`` still shows progress on the
screen, and ``--json`` output or a pipe is never mixed with it. Warnings
the work reports (a target the controller gives up) are one line each on
stderr in every case, ``twin: warning: ...``.

- closed loops: cycles done / total, elapsed, ETA, solver failures, sheds,
  given-up targets;
- what-if studies: scenarios done / total, failed, rate, elapsed, ETA;
- deployed loops: a live status line (cycle, plant time, state and mode,
  each CV against its setpoint, last solve time, sheds).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

import click

from twin.orchestration.progress import Progress, ProgressUpdate


REDRAW = 0.05
"""Shortest time between two redraws [s] (the display also redraws by itself 8 times a second)."""


def shows_progress(as_json: bool) -> bool:
    """Whether progress is drawn: stderr is a terminal and ``--json`` was not given."""
    return not as_json and sys.stderr.isatty()


def _warn(console, line: str) -> None:
    text = f"twin: warning: {' '.join(line.split())}"
    if console is not None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        click.echo(text, err=True)


@contextlib.contextmanager
def progress_display(label: str, as_json: bool, kind: str = "loop") -> Iterator[Progress]:
    """A progress hook for ``kind`` ``"loop"``, ``"study"`` or ``"deploy"`` work.

    The display starts with the first update, so an error while setting up
    stays the only line on stderr; it stops when the block ends (also on an
    error or Ctrl-C), leaving its last state on the screen.
    """
    draw = shows_progress(as_json)
    state: dict = {"bar": None, "task": None, "console": None, "drawn": 0.0}

    def start(update: ProgressUpdate) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, \
            TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        console = Console(stderr=True, highlight=False)
        columns = [TextColumn("{task.description}"), BarColumn(bar_width=24),
                   MofNCompleteColumn(), TextColumn(update.unit), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        if kind == "deploy":
            columns = [TextColumn("{task.description}"), TimeElapsedColumn(),
                       TextColumn("{task.fields[info]}")]
        bar = RichProgress(*columns, console=console, refresh_per_second=8)
        bar.start()
        state.update(bar=bar, console=console, first=(time.monotonic(), update.done),
                     task=bar.add_task(label, total=update.total, info=""))

    def progress(update: ProgressUpdate) -> None:
        if draw and state["bar"] is None:
            start(update)
        for line in update.warnings:
            _warn(state["console"], line)
        if state["bar"] is not None:
            state["bar"].update(state["task"], completed=update.done, total=update.total,
                                info=_info(update, kind, state["first"]))
            now = time.monotonic()
            if now - state["drawn"] >= REDRAW:  # every update shows, up to 1/REDRAW a second
                state["bar"].refresh()
                state["drawn"] = now

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].stop()


def _info(u: ProgressUpdate, kind: str, first: tuple[float, int]) -> str:
    """The counters after the bar; a study's rate is measured from its first update (so
    scenarios finished before, by an interrupted run, do not count)."""
    if kind == "study":
        seconds, done = time.monotonic() - first[0], u.done - first[1]
        rate = f", {done / seconds:.3g} scenarios/s" if done > 0 and seconds > 0 else ""
        return f"failed {u.failed}{rate}"
    counts = f"failures {u.failed}, sheds {u.sheds}" + (
        f", given-up targets {u.given_up}" if u.given_up else "")
    if kind != "deploy":
        return counts
    s = u.status
    total = f"/{u.total}" if u.total else ""
    cvs = ", ".join(f"{n} {_num(v)}" + (f" (sp {_num(sp)})" if sp is not None else "")
                    + (f" {unit}" if unit else "")
                    for n, (v, sp, unit) in s.get("cvs", {}).items())
    solve = f"solve {s['solve_ms']:.3g} ms" if s.get("solve_ms") is not None else "no solve yet"
    state = s.get("state", "")
    mode = f" ({s['mode']})" if s.get("mode") not in (None, state) else ""
    return (f"cycle {u.done}{total}, t = {s.get('t', 0):g} {s.get('time_unit', '')}; "
            f"{state}{mode}; {cvs}; {solve}; {counts}")


def _num(v: float | None) -> str:
    return "bad" if v is None or v != v else f"{v:.4g}"

"""Functions for function-based test studies (importable as ``study_functions:NAME``)."""

from __future__ import annotations

import math
import os
import time


def sometimes_nan(x: float) -> dict[str, float]:
    """y = x, but NaN above 0.5."""
    return {"y": math.nan if x > 0.5 else x}


GATE = "STUDY_GATE"
"""Environment variable: a folder; set, :func:`gated_square` stops after ``STUDY_GATE_AFTER``
calls, writes ``blocked`` into the folder and waits there until its process is killed."""
_calls = [0]


def gated_square(x: float) -> dict[str, float]:
    """y = x^2; with ``$STUDY_GATE`` set, the study stops at a known point to be killed there."""
    folder = os.environ.get(GATE)
    if folder:
        _calls[0] += 1
        if _calls[0] > int(os.environ["STUDY_GATE_AFTER"]):
            partial = os.path.join(folder, "blocked.partial")
            with open(partial, "w") as f:
                f.write(str(os.getpid()))
            os.replace(partial, os.path.join(folder, "blocked"))  # whole, or not there at all
            while True:
                time.sleep(60)
    return {"y": x * x}


def crash_above(x: float) -> dict[str, float]:
    """y = x, but the process dies (SIGABRT) above 0.5: a crash in native code."""
    if x > 0.5:
        os.abort()
    return {"y": x}


def ranked(a: float, b: float, c: float) -> dict[str, float]:
    """y rises with a and falls with b (monotone, non-linear), ignores c; NaN for c > 0.8;
    z = a b."""
    if c > 0.8:
        return {"y": math.nan, "z": a * b}
    return {"y": a - b ** 3, "z": a * b}

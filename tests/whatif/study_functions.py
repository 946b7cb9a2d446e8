"""Functions for function-based test studies (importable as ``study_functions:NAME``)."""

from __future__ import annotations

import math
import time


def sometimes_nan(x: float) -> dict[str, float]:
    """y = x, but NaN above 0.5."""
    return {"y": math.nan if x > 0.5 else x}


def slow_square(x: float) -> dict[str, float]:
    """y = x^2 after 40 ms (a study slow enough to interrupt)."""
    time.sleep(0.04)
    return {"y": x * x}


def crash_above(x: float) -> dict[str, float]:
    """y = x, but the process dies (SIGABRT) above 0.5: a crash in native code."""
    import os

    if x > 0.5:
        os.abort()
    return {"y": x}


def ranked(a: float, b: float, c: float) -> dict[str, float]:
    """y rises with a and falls with b (monotone, non-linear), ignores c; NaN for c > 0.8;
    z = a b."""
    if c > 0.8:
        return {"y": math.nan, "z": a * b}
    return {"y": a - b ** 3, "z": a * b}

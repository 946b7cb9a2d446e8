"""Solves with a wall-clock guarantee: CasADi solvers run in a child process that is killed
when the cycle's time budget passes.

No solver option bounds the wall time of every backend (fatrop has none;
IPOPT checks its limit only between iterations, and one function
evaluation or linear solve can take longer). :class:`BoundedSolves`
therefore evaluates the controller's solver functions (the NMPC, the
steady-state targets, the MHE), serialised once, in a child process; a
call that has not answered when the budget passes is abandoned, the child
is killed, and a spare child that has already loaded the functions takes
over at once (a new spare starts in the background). The caller sees a
:class:`SolveTimeout` and applies its fallback (the next move of the last
feasible plan). A call made once the cycle's budget is spent is refused
the same way without being started, so a solve can never count as in
time because the caller was slow to look for its answer.

:class:`InProcess` is the same interface without a child, used when no
budget is set.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from twin.core.child import describe_exit, die_with_parent, start_child

_START_TIMEOUT = 60.0
"""Seconds a new child may take to load the functions before it is declared broken [s]."""


class SolveTimeout(Exception):
    """The time budget passed before the solve finished (the solve was abandoned)."""


def _plain_stats(stats: dict) -> dict[str, Any]:
    """The solver statistics a caller reads (plain values that survive a pipe)."""
    keep = ("success", "return_status", "iter_count", "unified_return_status", "t_wall_total")
    plain = {k: stats[k] for k in keep if k in stats}
    flag = (stats.get("fatrop") or {}).get("return_flag")
    if flag is not None:  # what fatrop's bare return_status means (apc.solve_failure)
        plain["fatrop"] = {"return_flag": int(flag)}
    return plain


def _plain_result(result: dict) -> dict[str, Any]:
    """A solver's outputs as flat arrays (the objective ``f`` as a float)."""
    return {k: float(np.array(v).ravel()[0]) if k == "f" else np.array(v).ravel()
            for k, v in result.items()}


class InProcess:
    """Solver functions called in this process: no wall-clock guarantee."""

    bounded = False

    def begin_cycle(self) -> None:
        """Start the budget of a control cycle (nothing to do here)."""

    def __call__(self, fn, **args) -> tuple[dict, dict]:
        """``fn(**args)`` and its statistics; evaluation errors raise RuntimeError."""
        result = fn(**args)
        return result, _plain_stats(fn.stats())

    def close(self) -> None:
        """Nothing to release."""


class _Child:
    """One child process that has (or is loading) the serialised functions."""

    def __init__(self, functions_file: Path):
        self.process, self.conn = start_child("apc.bounded", str(functions_file))
        self.ready = False

    def wait_ready(self, until: float) -> bool:
        """True once the child has loaded its functions (waiting at most until ``until``)."""
        if self.ready:
            return True
        if self.conn.poll(max(until - time.monotonic(), 0.0)):
            message = self.conn.recv()
            if message != ("ready",):
                raise RuntimeError(f"solver process failed to start: {message[-1]}")
            self.ready = True
        return self.ready

    def kill(self, wait: bool = True) -> None:
        """SIGKILL; ``wait=False`` leaves reaping the process to :meth:`reaped` (no delay)."""
        with contextlib.suppress(OSError):
            self.process.kill()
        self.conn.close()
        if wait:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.process.wait(5.0)

    def reaped(self) -> bool:
        """True once a killed process has exited (and is reaped)."""
        return self.process.poll() is not None


def _cleanup(children: list, dying: list, folder: str) -> None:
    for child in children + dying:
        child.kill()
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


class BoundedSolves:
    """Solver functions called in a child process, within a wall-clock budget per cycle.

    Parameters
    ----------
    functions : sequence of casadi.Function
        The solvers (``nlpsol`` functions, each with a distinct name). A function whose
        plugin casadi cannot serialise (hpipm) is given as a picklable recipe instead: an
        object with ``name()``, ``serialize()`` returning itself and ``build()`` returning
        the function in the child.
    budget : float
        Wall-clock time all calls of one cycle may take together [s].
    """

    bounded = True

    def __init__(self, functions, budget: float):
        self.budget = float(budget)
        self._folder = tempfile.mkdtemp(prefix="twin-solver-")
        self._file = Path(self._folder) / "functions.pickle"
        data = {fn.name(): fn.serialize() for fn in functions}
        self._file.write_bytes(pickle.dumps(data))
        self._children = [_Child(self._file), _Child(self._file)]  # active and spare
        self._dying: list[_Child] = []  # killed, not yet reaped
        self._finalizer = weakref.finalize(self, _cleanup, self._children, self._dying,
                                           self._folder)
        self.n_killed = 0
        if not self._children[0].wait_ready(time.monotonic() + _START_TIMEOUT):
            self.close()
            raise RuntimeError(f"the solver process did not start within {_START_TIMEOUT:g} s")
        self.deadline = time.monotonic() + self.budget

    def begin_cycle(self) -> None:
        """Start the budget of a control cycle."""
        self.deadline = time.monotonic() + self.budget

    def __call__(self, fn, **args) -> tuple[dict, dict]:
        """``fn(**args)`` in the child; :class:`SolveTimeout` when the budget passes first."""
        child = self._children[0]
        request = (fn.name(), {k: np.asarray(v, dtype=float) for k, v in args.items()})
        if time.monotonic() >= self.deadline:  # nothing is started once the budget is spent
            raise SolveTimeout(f"the time budget of {self.budget:g} s was spent before the call")
        try:
            if not child.wait_ready(self.deadline):
                raise SolveTimeout("the solver process was not ready within the time budget")
            child.conn.send(request)
            if not child.conn.poll(max(self.deadline - time.monotonic(), 0.0)):
                self._replace(child)
                raise SolveTimeout(f"no answer within the time budget of {self.budget:g} s; "
                                   "the solve was abandoned")
            status, *payload = child.conn.recv()
        except (EOFError, OSError) as exc:
            code = child.process.poll()
            self._replace(child)
            raise RuntimeError(f"the solver process died ({describe_exit(code)})") from exc
        if status == "error":
            raise RuntimeError(payload[0])
        return payload[0], payload[1]

    def _replace(self, child: _Child) -> None:
        """Kill the active child; the spare takes over and a new spare starts loading."""
        self.n_killed += 1
        child.kill(wait=False)
        self._dying[:] = [c for c in self._dying if not c.reaped()] + [child]
        self._children.remove(child)
        self._children.append(_Child(self._file))

    def close(self) -> None:
        """Stop the child processes and remove the serialised functions."""
        self._finalizer()


def _serve(conn: Connection, functions_file: str) -> None:
    """Child process: load the functions, then evaluate requests until the pipe closes."""
    import casadi as ca

    try:
        data = pickle.loads(Path(functions_file).read_bytes())
        functions = {name: ca.Function.deserialize(text) if isinstance(text, str) else text.build()
                     for name, text in data.items()}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        fn = functions[name]
        try:
            result = fn(**args)
        except RuntimeError as exc:
            conn.send(("error", str(exc)))
            continue
        conn.send(("ok", _plain_result(result), _plain_stats(fn.stats())))


if __name__ == "__main__":
    die_with_parent()
    if os.getppid() == 1:  # the parent is already gone
        sys.exit(0)
    _serve(Connection(int(sys.argv[1])), sys.argv[2])

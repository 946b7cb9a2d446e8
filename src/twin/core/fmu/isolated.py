"""An FMU in its own process, so that a crash inside it cannot take the caller down.

:class:`IsolatedFmu` offers the calls of
:class:`~twin.core.fmu.instance.FmuInstance` and forwards each over a pipe
to a child process that runs the instance. If the FMU crashes (a
segmentation fault in ``doStep``, an abort) or hangs beyond ``timeout``,
the call raises :class:`~twin.core.fmu.log.FmuError` naming the FMU, the
time, the signal, and quoting the log the child wrote to a file up to the
crash. The caller's own state (a control loop's records) is untouched.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from twin.core.child import describe_exit, start_child
from twin.core.errors import InputError, SimulationError, TwinError
from twin.core.fmu.description import FmuDescription
from twin.core.fmu.log import FmuError, read_log_file

DEFAULT_TIMEOUT = 600.0
"""Seconds a single FMU call may take before the FMU is declared hung [s]."""
_START_TIMEOUT = 120.0


def _serve(conn: Connection) -> None:
    """Child process: create the instance, then answer calls until ``close``."""
    from twin.core.fmu.description import describe_fmu
    from twin.core.fmu.instance import FmuInstance

    path, interface, options = conn.recv()
    try:
        instance = FmuInstance(describe_fmu(path, interface), **options)
    except Exception as exc:  # noqa: BLE001 - every failure goes back as one line
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ok", instance.t))
    try:
        while True:
            try:
                method, args = conn.recv()
            except EOFError:
                break
            if method == "close":
                conn.send(("ok", None))
                break
            try:
                result = getattr(instance, method)(*args)
                conn.send(("ok", (result, instance.t)))
            except Exception as exc:  # noqa: BLE001
                conn.send(("error", _portable(exc)))
    finally:
        instance.close()


def _portable(exc: Exception) -> TwinError:
    """The error in a form that survives pickling (custom constructors do not)."""
    if isinstance(exc, FmuError):
        return exc
    if isinstance(exc, InputError):
        return InputError(str(exc))
    text = " ".join(str(exc).split()) or type(exc).__name__
    return SimulationError(text if isinstance(exc, TwinError) else f"{type(exc).__name__}: {text}")


class IsolatedFmu:
    """The calls of :class:`FmuInstance`, run in a child process.

    Parameters are those of :class:`FmuInstance`, plus ``timeout``: seconds
    one call may take [s]. The child's standard output and error (where
    some FMUs print) are kept with the log and quoted after a crash.
    """

    def __init__(self, description: FmuDescription, timeout: float = DEFAULT_TIMEOUT, **options):
        if not timeout > 0:
            raise InputError(f"FMU '{description.name}': timeout {timeout} s must be positive")
        self.description = description
        self.name = description.name
        self.watch = list(options.get("watch", ()))
        self.timeout = timeout
        self.t = float(options.get("t0", 0.0))
        self._options_time_unit = options.get("time_unit", "")
        self._tmp = tempfile.TemporaryDirectory(prefix="twin-fmu-")
        self._log_file = Path(self._tmp.name) / "fmu.log"
        self._output_file = Path(self._tmp.name) / "output.txt"
        options["log_file"] = str(self._log_file)
        options["unzip_dir"] = str(Path(self._tmp.name) / "unzipped")  # removed with the folder
        with open(self._output_file, "wb") as output:
            self._process, self._conn = start_child("twin.core.fmu.isolated", stdout=output)
        self._conn.send((str(description.path), description.interface, options))
        try:
            status, value = self._receive("instantiation", _START_TIMEOUT + timeout)
        except BaseException:
            self._tmp.cleanup()
            raise
        if status == "error":
            self._stop()
            self._tmp.cleanup()
            raise value
        self.t = value

    def _receive(self, what: str, timeout: float):
        try:
            ready = self._conn.poll(timeout)
        except (EOFError, OSError):
            ready = True
        if not ready:
            self._stop()
            raise self._crash(f"{what} did not return within {timeout:g} s (the FMU hangs); "
                              "its process was stopped")
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            try:
                code = self._process.wait(5.0)
            except subprocess.TimeoutExpired:
                code = None
            self._stop()
            raise self._crash(f"{what} crashed the FMU ({describe_exit(code)})") from None

    def _crash(self, message: str) -> FmuError:
        unit = self.description.time_unit or self._options_time_unit
        unit = f" {unit}" if unit else ""
        return FmuError(f"FMU '{self.name}' failed at t = {self.t:.6g}{unit}: {message}",
                        self.name, self.t, self._log())

    def _log(self) -> list[str]:
        printed = [f"[output] {line}" for line in read_log_file(self._output_file)
                   if line.strip()]
        return read_log_file(self._log_file) + printed

    def _call(self, method: str, *args):
        if self._process is None:
            raise FmuError(f"FMU '{self.name}' is no longer running", self.name, self.t,
                           self._log())
        try:
            self._conn.send((method, args))
        except (BrokenPipeError, OSError):
            self._stop()
            raise self._crash(f"{method} found the FMU process gone") from None
        what = method
        if method in ("exchange", "advance"):
            what = f"the step to t = {self.t + float(args[-1]):.6g}"
        status, value = self._receive(what, self.timeout)
        if status == "error":
            raise value
        result, self.t = value
        return result

    def set(self, values):
        return self._call("set", dict(values))

    def get(self, names):
        return self._call("get", list(names))

    def read(self):
        return self._call("read")

    def exchange(self, inputs, h: float):
        return self._call("exchange", dict(inputs), float(h))

    def advance(self, h: float) -> None:
        self._call("advance", float(h))

    def derivatives(self, x=None, t=None):
        return self._call("derivatives", x, t)

    def save(self) -> int:
        return self._call("save")

    def restore(self, token: int) -> None:
        self._call("restore", token)

    def serialize(self, token: int) -> bytes:
        return self._call("serialize", token)

    def deserialize(self, data: bytes) -> int:
        return self._call("deserialize", data)

    def free(self, token: int) -> None:
        self._call("free", token)

    def close(self) -> None:
        """Stop the child process (after freeing the FMU if it still answers)."""
        if self._process is not None and self._process.poll() is None:
            try:
                self._conn.send(("close", ()))
                if self._conn.poll(10.0):
                    self._conn.recv()
            except (EOFError, OSError):
                pass
        self._stop()
        self._tmp.cleanup()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(2.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
        self._conn.close()

    def __enter__(self) -> "IsolatedFmu":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))

"""One running FMU (FMI 2.0 or 3.0, Co-Simulation or Model Exchange), through fmpy.

:class:`FmuInstance` hides the differences between the four kinds behind
a few calls a plant needs: set values by name, :meth:`~FmuInstance.exchange`
(write inputs, advance, read the watched signals), save and restore the
state. Co-Simulation FMUs advance with their own ``doStep``; Model Exchange
FMUs are integrated by our integrators (the Python reference of the
kernels, with the FMU's derivatives as right-hand side; time is carried as
an extra state so time-dependent FMUs are integrated exactly), with time
events handled at their time stamps.

Every failed call, every non-finite value read, and every integration
failure raises :class:`~twin.core.fmu.log.FmuError` naming the FMU, the
FMI function, the time, and quoting the FMU's log.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from types import SimpleNamespace

import numpy as np

from twin.core.errors import InputError, SimulationError
from twin.core.fmu.description import FmuDescription, extract_fmu
from twin.core.fmu.log import STATUS_NAMES, FmuError, FmuLog
from twin.core.kernels.reference import integrate

ME_METHODS = ("dopri5", "bdf", "rk4")

_LOGGERS: dict[int, FmuLog] = {}
"""FMI 2 log routing: componentEnvironment key -> log (one native proxy serves all)."""
_LOGGERS_BY_NAME: dict[bytes, FmuLog] = {}
_CALLBACK: list = []


def _fmi2_logger(env, instance_name, status, category, message) -> None:
    # some FMUs pass no componentEnvironment back: the unique instance name routes then
    log = _LOGGERS.get(env or 0) or _LOGGERS_BY_NAME.get(instance_name or b"")
    if log is not None:
        log.add(status, category, message)


def _fmi2_logger_callback():
    """The ctypes logger of all FMI 2 instances (made once, kept alive for the process)."""
    if not _CALLBACK:
        from fmpy.fmi2 import fmi2CallbackLoggerTYPE

        _CALLBACK.append(fmi2CallbackLoggerTYPE(_fmi2_logger))
    return _CALLBACK[0]


class FmuInstance:
    """An instantiated and initialised FMU, in this process.

    Parameters
    ----------
    description : FmuDescription
        From :func:`~twin.core.fmu.description.describe_fmu`.
    watch : sequence of str
        Real variables read after every :meth:`exchange` and checked for
        non-finite values.
    start : mapping, optional
        Start values by name (parameters, inputs, states) set before initialisation.
    t0 : float
        Start time [FMU time unit].
    me_method : str
        Integrator of Model Exchange FMUs: ``dopri5``, ``bdf`` or ``rk4``.
    rtol, atol : float
        Tolerances of that integrator (and the tolerance given to the FMU at setup).
    rk4_substeps : int
        RK4 steps per :meth:`exchange`.
    log_file : path, optional
        Also write the FMU's log to this file.
    time_unit : str
        Unit of FMU time in messages when the FMU does not declare one.
    unzip_dir : path, optional
        Where to unpack the FMU (default: a new temporary folder); the unpacked size is
        bounded (:func:`~twin.core.fmu.description.unpack_limit`) and a failed unpacking
        leaves nothing behind.
    """

    def __init__(self, description: FmuDescription, watch: Sequence[str] = (),
                 start: Mapping[str, float] | None = None, t0: float = 0.0,
                 me_method: str = "dopri5", rtol: float = 1e-8, atol: float = 1e-10,
                 rk4_substeps: int = 10, log_file=None, time_unit: str = "", unzip_dir=None):
        d = description
        self.description = d
        self.name = d.name
        if me_method not in ME_METHODS:
            raise InputError(f"FMU '{d.name}': Model Exchange method '{me_method}': use one of "
                             f"{', '.join(ME_METHODS)}")
        self.watch = list(watch)
        self._watch_vr = [d.variable(n, "signal").vr for n in self.watch]
        start = dict(start or {})
        for n, value in start.items():
            v = d.variable(n, "start value")
            if not v.settable_at_start:
                raise InputError(f"FMU '{d.name}': '{n}' ({v.causality}, initial "
                                 f"{v.initial or 'not given'}) takes no start value; parameters, "
                                 "inputs and variables with initial exact or approx do")
            if not math.isfinite(float(value)):
                raise InputError(f"FMU '{d.name}': start value of '{n}' is not finite")
        if not (rtol > 0 and atol > 0):
            raise InputError(f"FMU '{d.name}': rtol and atol must be positive")
        self.me_method, self.rtol, self.atol = me_method, rtol, atol
        self.rk4_substeps = rk4_substeps
        self.t = float(t0)
        self.time_unit = d.time_unit or time_unit
        self.log = FmuLog(file=log_file)
        self._key = id(self)
        self._instance_name = f"{d.name}#{self._key:x}"
        self._snapshots: dict[int, tuple] = {}
        self._next_token = 1
        self._h = 0.0
        self._next_event = math.inf
        self._unzipped: str | None = None
        self._fmu = None
        try:
            self._unzipped = extract_fmu(d.path, unzip_dir)  # bounded; removed if it fails
            self._fmu = self._load()
            with self._guard("initialisation"):
                self._initialise(start)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ set-up

    def _load(self):
        from fmpy import fmi2, fmi3

        d = self.description
        classes = {(2, "cs"): fmi2.FMU2Slave, (2, "me"): fmi2.FMU2Model,
                   (3, "cs"): fmi3.FMU3Slave, (3, "me"): fmi3.FMU3Model}
        try:
            fmu = classes[(d.fmi_version, d.interface)](
                guid=d.guid, unzipDirectory=self._unzipped, modelIdentifier=d.identifier,
                instanceName=self._instance_name)
        except Exception as exc:  # noqa: BLE001 - no binary for this platform, missing symbols
            raise InputError(f"FMU '{d.name}' cannot be loaded on this platform: "
                             f"{str(exc).splitlines()[0]}") from None
        name = f"fmi{d.fmi_version}Instantiate"
        with self._guard(name), _instantiation(lambda: self._error(f"{name} failed")):
            if d.fmi_version == 2:
                cb = fmi2.fmi2CallbackFunctions()
                cb.logger = _fmi2_logger_callback()
                cb.allocateMemory = fmi2.fmi2CallbackAllocateMemoryTYPE(fmi2.calloc)
                cb.freeMemory = fmi2.fmi2CallbackFreeMemoryTYPE(fmi2.free)
                cb.componentEnvironment = self._key
                _add_logger_proxy(cb)
                _LOGGERS[self._key] = self.log
                _LOGGERS_BY_NAME[self._instance_name.encode()] = self.log
                self._callbacks = cb
                fmu.instantiate(callbacks=cb, loggingOn=True)
            else:
                fmu.instantiate(loggingOn=True, logMessage=self._fmi3_logger)
        return fmu

    def _fmi3_logger(self, env, status, category, message) -> None:
        self.log.add(status, category, message)

    def _initialise(self, start: Mapping[str, float]) -> None:
        d, fmu = self.description, self._fmu
        if d.fmi_version == 2:
            fmu.setupExperiment(tolerance=self.rtol, startTime=self.t)
            self._set_reals(start)
            fmu.enterInitializationMode()
        else:
            self._set_reals(start)
            fmu.enterInitializationMode(tolerance=self.rtol, startTime=self.t)
        fmu.exitInitializationMode()
        if d.interface == "me":
            self.nx = len(d.states)
            self._x = np.zeros(self.nx)
            self._dx = np.zeros(self.nx)
            self._px = self._x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            self._pdx = self._dx.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            self._event_iteration()
            fmu.enterContinuousTimeMode()
            fmu.getContinuousStates(self._px, self.nx)
            self._functions = SimpleNamespace(rhs=self._rhs, jac=self._jac,
                                              model=SimpleNamespace(name=d.name))

    def _event_iteration(self) -> None:
        """Discrete-state update after initialisation or at an event (ME)."""
        fmu = self._fmu
        update = fmu.newDiscreteStates if self.description.fmi_version == 2 else \
            fmu.updateDiscreteStates
        for _ in range(1000):
            needed, terminate, _, _, defined, next_time = update()
            if terminate:
                raise self._error("the FMU asked to terminate the simulation")
            if not needed:
                break
        self._next_event = next_time if defined else math.inf

    def _set_reals(self, values: Mapping[str, float]) -> None:
        if not values:
            return
        d = self.description
        vrs = [d.variable(n).vr for n in values]
        vals = [float(v) for v in values.values()]
        if d.fmi_version == 2:
            self._fmu.setReal(vrs, vals)
        else:
            self._fmu.setFloat64(vrs, vals)

    def _get_reals(self, vrs: Sequence[int]) -> np.ndarray:
        if not vrs:
            return np.zeros(0)
        values = (self._fmu.getReal(list(vrs)) if self.description.fmi_version == 2
                  else self._fmu.getFloat64(list(vrs)))
        return np.asarray(values, dtype=float)

    # ------------------------------------------------------------ errors

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn fmpy's failure of an FMI call into an :class:`FmuError`."""
        from fmpy.fmi1 import FMICallException

        try:
            yield
        except FMICallException as exc:
            status = STATUS_NAMES[exc.status] if 0 <= exc.status < 5 else str(exc.status)
            raise self._error(f"{exc.function} returned {status}") from None
        except (FmuError, InputError):
            raise
        except SimulationError as exc:
            raise self._error(f"{what}: {exc}") from None
        except OSError as exc:
            raise self._error(f"{what}: {exc}") from None

    def _error(self, message: str) -> FmuError:
        unit = f" {self.time_unit}" if self.time_unit else ""
        return FmuError(f"FMU '{self.name}' failed at t = {self.t:.6g}{unit}: {message}",
                        self.name, self.t, self.log.lines())

    # ------------------------------------------------------------ stepping

    def set(self, values: Mapping[str, float]) -> None:
        """Write real values by name (inputs, tunable parameters).

        Model Exchange allows parameters to change only in Event Mode: the
        FMU enters it, takes the values, iterates its discrete states and
        returns to Continuous-Time Mode.
        """
        d = self.description
        event = d.interface == "me" and any(d.variable(n).variability != "continuous"
                                            for n in values)
        with self._guard("setting values"):
            if event:
                self._fmu.enterEventMode()
            self._set_reals(values)
            if event:
                self._event_iteration()
                self._fmu.enterContinuousTimeMode()
                self._fmu.getContinuousStates(self._px, self.nx)

    def get(self, names: Sequence[str]) -> np.ndarray:
        """Read real values by name."""
        d = self.description
        with self._guard("reading values"):
            return self._get_reals([d.variable(n).vr for n in names])

    def read(self) -> np.ndarray:
        """The watched signals now, checked for non-finite values."""
        with self._guard("reading values"):
            values = self._get_reals(self._watch_vr)
        bad = [n for n, v in zip(self.watch, values) if not math.isfinite(v)]
        if bad:
            raise self._error(f"non-finite value of {', '.join(bad[:5])}")
        return values

    def exchange(self, inputs: Mapping[str, float], h: float) -> np.ndarray:
        """Write ``inputs``, advance by ``h``, return the watched signals."""
        if inputs:
            self.set(inputs)
        self.advance(h)
        return self.read()

    def advance(self, h: float) -> None:
        """Advance FMU time by ``h`` [FMU time unit]."""
        if not h > 0:
            raise InputError(f"FMU '{self.name}': step {h} must be positive")
        if self.description.interface == "cs":
            with self._guard("doStep"):
                out = self._fmu.doStep(self.t, h)
                if self.description.fmi_version == 3 and out[1]:
                    raise self._error("fmi3DoStep asked to terminate the simulation")
            self.t += h
            return
        t_end = self.t + h
        while self.t < t_end - 1e-12 * max(1.0, abs(t_end)):
            t_stop = min(t_end, self._next_event)
            self._integrate(t_stop - self.t)
            if self._next_event <= self.t + 1e-12 * max(1.0, abs(self.t)):
                with self._guard("event"):
                    self._fmu.enterEventMode()
                    self._event_iteration()
                    self._fmu.enterContinuousTimeMode()
                    self._fmu.getContinuousStates(self._px, self.nx)
        self.t = t_end

    def _integrate(self, h: float) -> None:
        fmu = self._fmu
        x_aug = np.append(self._x, self.t)
        with self._guard(f"Model Exchange integration ({self.me_method})"):
            try:
                x_end, stats = integrate(self._functions, self.me_method, x_aug, np.zeros(0),
                                         np.zeros(0), h, self.rtol, self.atol,
                                         self.rk4_substeps, h0=self._h)
            except SimulationError as exc:
                raise self._error(f"integration over [{self.t:g}, {self.t + h:g}] failed: "
                                  f"{str(exc).split(': ', 1)[-1]}") from None
            self._h = stats.h
            self.t = self.t + h
            self._x[:] = x_end[:-1]
            fmu.setTime(self.t)
            fmu.setContinuousStates(self._px, self.nx)
            enter_event, terminate = _completed_step(fmu)
            if terminate:
                raise self._error("the FMU asked to terminate the simulation")
            if enter_event:
                self._next_event = self.t

    def derivatives(self, x: np.ndarray | None = None, t: float | None = None) -> np.ndarray:
        """Time derivatives of the continuous states (ME), at ``x`` and ``t`` if given."""
        if self.description.interface != "me":
            raise InputError(f"FMU '{self.name}': derivatives need the Model Exchange interface")
        with self._guard("derivatives"):
            if t is not None:
                self._fmu.setTime(t)
            if x is not None:
                self._x[:] = x
                self._fmu.setContinuousStates(self._px, self.nx)
            _get_derivatives(self._fmu, self._pdx, self.nx)
        return self._dx.copy()

    def _rhs(self, x_aug, u, p) -> np.ndarray:
        fmu = self._fmu
        fmu.setTime(float(x_aug[-1]))
        self._x[:] = x_aug[:-1]
        fmu.setContinuousStates(self._px, self.nx)
        _get_derivatives(fmu, self._pdx, self.nx)
        return np.append(self._dx, 1.0)

    def _jac(self, x_aug, u, p) -> np.ndarray:
        """Forward-difference Jacobian of :meth:`_rhs` (for BDF)."""
        f0 = self._rhs(x_aug, u, p)
        n = x_aug.size
        jac = np.zeros((n, n))
        for j in range(n - 1):
            step = math.sqrt(sys.float_info.epsilon) * max(abs(x_aug[j]), 1.0)
            xp = x_aug.copy()
            xp[j] += step
            jac[:, j] = (self._rhs(xp, u, p) - f0) / step
        self._rhs(x_aug, u, p)
        return jac

    # ------------------------------------------------------------ state

    def save(self) -> int:
        """Save the FMU state in memory; returns a token for :meth:`restore`."""
        d = self.description
        if not d.can_get_set_state:
            raise InputError(f"FMU '{self.name}' does not support saving its state "
                             "(canGetAndSetFMUstate is false)")
        with self._guard("getFMUstate"):
            handle = self._fmu.getFMUState()
        token = self._next_token
        self._next_token += 1
        self._snapshots[token] = (handle, self.t, self._h, self._next_event)
        return token

    def restore(self, token: int) -> None:
        """Return to a state saved by :meth:`save` (the saved state stays available)."""
        try:
            handle, t, h, next_event = self._snapshots[token]
        except KeyError:
            raise InputError(f"FMU '{self.name}': no saved state {token}") from None
        with self._guard("setFMUstate"):
            self._fmu.setFMUState(handle)
            if self.description.interface == "me":
                self._fmu.getContinuousStates(self._px, self.nx)
        self.t, self._h, self._next_event = t, h, next_event

    def serialize(self, token: int) -> bytes:
        """The saved state ``token`` as bytes (to store, or to restore in another instance)."""
        if not self.description.can_serialize:
            raise InputError(f"FMU '{self.name}' cannot serialize its state "
                             "(canSerializeFMUstate is false)")
        handle, t, h, next_event = self._snapshots[token]
        with self._guard("serializeFMUstate"):
            data = self._fmu.serializeFMUState(handle)
        header = np.array([t, h, next_event], dtype=float).tobytes()
        return header + data

    def deserialize(self, data: bytes) -> int:
        """Make bytes from :meth:`serialize` a saved state of this instance; returns its token."""
        t, h, next_event = np.frombuffer(data[:24], dtype=float)
        with self._guard("deSerializeFMUstate"):
            handle = self._fmu.deserializeFMUState(data[24:])
        token = self._next_token
        self._next_token += 1
        self._snapshots[token] = (handle, float(t), float(h), float(next_event))
        return token

    def free(self, token: int) -> None:
        """Release a saved state."""
        entry = self._snapshots.pop(token, None)
        if entry is not None and self._fmu is not None:
            with contextlib.suppress(Exception):
                self._fmu.freeFMUState(entry[0])

    def close(self) -> None:
        """Terminate and free the FMU and delete its unpacked files."""
        fmu, self._fmu = self._fmu, None
        if fmu is not None:
            for token in list(self._snapshots):
                with contextlib.suppress(Exception):
                    fmu.freeFMUState(self._snapshots.pop(token)[0])
            with contextlib.suppress(Exception):
                fmu.terminate()
            with contextlib.suppress(Exception):
                fmu.freeInstance()
        _LOGGERS.pop(self._key, None)
        _LOGGERS_BY_NAME.pop(self._instance_name.encode(), None)
        self.log.close()
        if self._unzipped is not None:
            shutil.rmtree(self._unzipped, ignore_errors=True)

    def __enter__(self) -> "FmuInstance":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def _instantiation(error) -> Iterator[None]:
    """fmpy raises a bare Exception when fmiInstantiate returns NULL: make it an FmuError."""
    try:
        yield
    except (FmuError, InputError):
        raise
    except Exception:  # noqa: BLE001 - the FMU refused to instantiate (GUID, resources, ...)
        raise error() from None


def _completed_step(fmu) -> tuple[bool, bool]:
    out = fmu.completedIntegratorStep()
    return bool(out[0]), bool(out[1])


def _get_derivatives(fmu, pointer, n: int) -> None:
    if hasattr(fmu, "getDerivatives"):
        fmu.getDerivatives(pointer, n)
    else:
        fmu.getContinuousStateDerivatives(pointer, n)


def _add_logger_proxy(callbacks) -> None:
    """Format the FMU's printf-style messages in C before they reach Python (fmpy's proxy)."""
    from fmpy.logging import addLoggerProxy

    addLoggerProxy(ctypes.byref(callbacks))


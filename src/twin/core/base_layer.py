"""The regulatory base layer of the simulated plant: one PI loop per manipulated input.

A real plant's APC never drives valves; it writes the remote setpoint of a
base-layer controller (a flow or speed loop) that drives the actuator. Each
:class:`PidLoop` here is such a loop on one model input: its process value
(PV) is the input as the plant receives it, reached from the controller
output (OP) through a first-order actuator lag ``tau``; a PI law with
conditional integration (no windup at the output limits) moves OP.

Modes, as in a DCS:

- ``MANUAL``: OP is held (the operator's value); SP tracks PV, so a switch
  to AUTO holds the plant where it is;
- ``AUTO``: SP is the local setpoint;
- ``CASCADE``: SP is the remote setpoint (RSP) the APC writes.

The layer watches the APC heartbeat: once seen changing, if it stands still
for ``heartbeat_timeout`` of plant time while a loop is in CASCADE, the loop
falls back to AUTO at the last good RSP by itself (the APC died or lost its
connection). Entering CASCADE sets RSP to the current SP (bumpless).

The same object runs in the SIL twin and behind the OPC UA server, so SIL
and HIL runs share the base layer to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated

from twin.core.config import Domain, Positive, check_domains
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model


class LoopMode(Enum):
    """Mode of a base-layer loop."""

    MANUAL = "MANUAL"
    AUTO = "AUTO"
    CASCADE = "CASCADE"


@dataclass(frozen=True)
class LoopSpec:
    """One base-layer loop.

    Attributes
    ----------
    mv : str
        The model input the loop drives (and the APC's MV whose value is the RSP).
    tau : float
        Actuator lag from OP to PV [model time unit].
    kc : float
        Proportional gain [OP unit per PV unit].
    ti : float, optional
        Integral time [model time unit]; default ``tau`` (closed loop ~ first order, ``tau``).
    mode : str
        Initial mode: ``MANUAL``, ``AUTO`` or ``CASCADE``.
    op_low, op_high : float, optional
        Output limits [unit of the input]; default: the input's bounds.
    """

    mv: str
    tau: Positive
    kc: Annotated[float, Domain(gt=0, le=1e6)] = 1.0
    ti: Positive | None = None
    mode: str = "CASCADE"
    op_low: float | None = None
    op_high: float | None = None

    def __post_init__(self) -> None:
        try:
            check_domains(self)
        except InputError as exc:
            raise InputError(f"base loop '{self.mv}': {exc}") from None
        if self.mode.upper() not in LoopMode.__members__:
            raise InputError(f"base loop '{self.mv}': mode '{self.mode}'; use MANUAL, AUTO or "
                             "CASCADE")


@dataclass(frozen=True)
class BaseLayerSpec:
    """The base layer: its loops and the APC heartbeat watch.

    Attributes
    ----------
    loops : tuple of LoopSpec
    heartbeat_timeout : float
        Plant time the APC heartbeat may stand still before CASCADE loops
        fall back to AUTO [model time unit].
    """

    loops: tuple[LoopSpec, ...] = ()
    heartbeat_timeout: Positive = 10.0

    def __post_init__(self) -> None:
        check_domains(self)
        names = [lp.mv for lp in self.loops]
        if len(set(names)) != len(names):
            raise InputError(f"base layer: two loops on one input ({', '.join(names)})")


@dataclass
class PidLoop:
    """State of one loop (see the module docstring)."""

    spec: LoopSpec
    op_low: float
    op_high: float
    pv: float
    mode: LoopMode
    op: float = 0.0
    sp: float = 0.0
    rsp: float = 0.0
    integral: float = 0.0
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.op = self.pv
        self.sp = self.rsp = self.pv
        self._reset_integral()

    @property
    def ti(self) -> float:
        return self.spec.ti if self.spec.ti is not None else self.spec.tau

    def _reset_integral(self) -> None:
        """Integral such that the PI law gives the present OP at the present error (bumpless)."""
        error = self.sp - self.pv
        self.integral = (self.op / self.spec.kc - error) * self.ti

    def set_mode(self, mode: LoopMode, reason: str = "operator") -> None:
        if mode is self.mode:
            return
        if mode is LoopMode.CASCADE:
            self.rsp = self.sp
        if mode is not LoopMode.MANUAL:
            self._reset_integral()
        self.events.append(f"{self.spec.mv}: {self.mode.value} -> {mode.value} ({reason})")
        self.mode = mode

    def step(self, dt: float) -> None:
        """PI update over one tick ``dt``, then the actuator lag moves PV toward OP."""
        if self.mode is LoopMode.MANUAL:
            self.sp = self.pv
        else:
            if self.mode is LoopMode.CASCADE:
                self.sp = self.rsp
            error = self.sp - self.pv
            candidate = self.integral + error * dt
            op = self.spec.kc * (error + candidate / self.ti)
            clipped = min(max(op, self.op_low), self.op_high)
            if clipped == op or (op > self.op_high and error < 0) or (op < self.op_low and error > 0):
                self.integral = candidate  # integrate only when not pushing into a limit
            self.op = clipped
        self.pv += (self.op - self.pv) * (1.0 - math.exp(-dt / self.spec.tau))


class BaseLayer:
    """All loops of a plant, with the APC heartbeat watch.

    Parameters
    ----------
    spec : BaseLayerSpec
    model : Model
        The plant model (loop inputs and their bounds).
    u0 : sequence of float
        Initial inputs: each loop starts settled at its input's value.
    """

    def __init__(self, spec: BaseLayerSpec, model: Model, u0: Sequence[float]):
        self.spec = spec
        self.loops: dict[str, PidLoop] = {}
        for ls in spec.loops:
            if ls.mv not in model.inputs:
                raise UnknownNameError("base loop input", ls.mv, model.inputs.names,
                                       f"model '{model.name}'")
            var = model.inputs[ls.mv]
            lo = ls.op_low if ls.op_low is not None else var.lower
            hi = ls.op_high if ls.op_high is not None else var.upper
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InputError(f"base loop '{ls.mv}': give finite op_low < op_high (the input "
                                 "has no finite bounds)")
            self.loops[ls.mv] = PidLoop(ls, lo, hi, float(u0[model.inputs.index(ls.mv)]),
                                        LoopMode(ls.mode.upper()))
        self.index = {name: model.inputs.index(name) for name in self.loops}
        self.heartbeat: float = 0.0  # as the heartbeat node of the simulated hardware starts
        self.heartbeat_armed = False
        self.heartbeat_age = 0.0
        self._good_rsp = {name: lp.rsp for name, lp in self.loops.items()}

    def write_rsp(self, values: Mapping[str, float]) -> None:
        """Remote setpoints from the APC: taken only by loops in CASCADE, clamped to the OP range."""
        for name, value in values.items():
            lp = self._loop(name)
            if lp.mode is LoopMode.CASCADE:
                lp.rsp = min(max(float(value), lp.op_low), lp.op_high)

    def write_heartbeat(self, value: float) -> None:
        """The APC heartbeat (any value; a change proves the APC alive)."""
        if value != self.heartbeat:
            self.heartbeat_armed = True
            self.heartbeat_age = 0.0
            self._good_rsp = {name: lp.rsp for name, lp in self.loops.items()}
        self.heartbeat = value

    def set_mode(self, name: str, mode: LoopMode | str, reason: str = "operator") -> None:
        """Switch a loop's mode (an operator action)."""
        mode = LoopMode(mode.upper()) if isinstance(mode, str) else mode
        self._loop(name).set_mode(mode, reason)

    def set_output(self, name: str, op: float) -> None:
        """The operator's output of a loop in MANUAL."""
        lp = self._loop(name)
        if lp.mode is not LoopMode.MANUAL:
            raise InputError(f"base loop '{name}' is in {lp.mode.value}; OP is set in MANUAL only")
        lp.op = min(max(float(op), lp.op_low), lp.op_high)

    def set_setpoint(self, name: str, sp: float) -> None:
        """The operator's local setpoint of a loop in AUTO."""
        lp = self._loop(name)
        if lp.mode is not LoopMode.AUTO:
            raise InputError(f"base loop '{name}' is in {lp.mode.value}; SP is set in AUTO only")
        lp.sp = min(max(float(sp), lp.op_low), lp.op_high)

    def _loop(self, name: str) -> PidLoop:
        try:
            return self.loops[name]
        except KeyError:
            raise UnknownNameError("base loop", name, list(self.loops)) from None

    def apply(self, u) -> None:
        """Write the loops' PVs (the inputs as the plant receives them) into ``u``."""
        for name, i in self.index.items():
            u[i] = self.loops[name].pv

    def step(self, dt: float) -> None:
        """One tick of every loop, and the heartbeat watch."""
        if self.heartbeat_armed:
            self.heartbeat_age += dt
            if self.heartbeat_age > self.spec.heartbeat_timeout + 1e-9 * dt:
                for name, lp in self.loops.items():
                    if lp.mode is LoopMode.CASCADE:
                        lp.set_mode(LoopMode.AUTO, "APC heartbeat lost")
                        lp.sp = self._good_rsp[name]
                self.heartbeat_armed = False
        for lp in self.loops.values():
            lp.step(dt)

    def status(self) -> dict[str, dict[str, float | str]]:
        """Mode, SP, RSP, OP and PV of every loop."""
        return {name: {"mode": lp.mode.value, "sp": lp.sp, "rsp": lp.rsp, "op": lp.op,
                       "pv": lp.pv} for name, lp in self.loops.items()}

    def take_events(self) -> list[str]:
        """Mode changes since the last call."""
        out = [e for lp in self.loops.values() for e in lp.events]
        for lp in self.loops.values():
            lp.events.clear()
        return out

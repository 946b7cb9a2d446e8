"""Faults the simulated hardware can inject into what it publishes.

Per tag: ``freeze`` (the value and its timestamps stop updating: stale),
``bad`` (status BadSensorFailure), ``uncertain`` (status
UncertainLastUsableValue, value held), ``drift`` (a ramp of ``value`` per
model time unit added), ``noise`` (extra Gaussian noise of standard
deviation ``value``). Plant-wide: a stalled server heartbeat. Loop modes are
operator actions on the base layer, not faults of a tag.

Per node of the address space (its path, e.g. ``Plant.BaseLayer.v1.Mode``
or ``Diagnostics.Heartbeat``): what a misbehaving gateway delivers,
``bad`` (status BadCommunicationError), ``null`` (a Good status with no
value), ``text`` (a Good status with a string where a number or a mode
belongs) or ``stuck`` (a Good status with the value the node had when the
fault began: a write is acknowledged but lost). A node fault also applies
at once to what a client writes to the node, so a read-back sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from twin.core.errors import InputError, UnknownNameError
from twin.core.quality import Quality

TAG_FAULTS = ("freeze", "bad", "uncertain", "drift", "noise")
NODE_FAULTS = ("bad", "null", "text", "stuck")
FaultKind = Literal["freeze", "bad", "uncertain", "drift", "noise", "null", "text", "stuck",
                    "stall_heartbeat", "resume_heartbeat", "manual", "clear"]
GARBAGE_TEXT = "#VALUE!"
"""What a ``text`` node fault publishes."""


@dataclass(frozen=True)
class FaultEvent:
    """A scheduled fault of a server configuration.

    Times are plant times, in the server's time unit (``server.time_unit``,
    else the model's).

    Attributes
    ----------
    time : float
        Plant time it starts [time unit].
    kind : str
        A tag fault (``freeze``, ``bad``, ``uncertain``, ``drift``, ``noise``),
        a node fault (``bad``, ``null``, ``text``, ``stuck`` on a node path),
        ``stall_heartbeat`` (``resume_heartbeat`` ends it), ``manual`` (an operator puts
        loop ``tag`` in MANUAL) or ``clear`` (of ``tag``, or of everything when ``tag`` is
        empty).
    tag : str
        The tag, node path or loop concerned.
    value : float
        Drift rate [unit per time unit] or noise standard deviation [unit].
    duration : float, optional
        How long it lasts [time unit]; default: until cleared.
    """

    time: float
    kind: FaultKind
    tag: str = ""
    value: float = 0.0
    duration: float | None = None

    def __post_init__(self) -> None:
        finite("fault.time", self.time)
        finite("fault.value", self.value)
        if self.duration is not None and not finite("fault.duration", self.duration) > 0:
            raise InputError(f"fault.duration: {self.duration!r} must be > 0")


def finite(what: str, value: object) -> float:
    """``value`` as a finite float; anything else (NaN, inf, not a number) is a one-line error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what}: expected a number, got {value!r}"[:120])
    try:
        number = float(value)
    except OverflowError:
        raise InputError(f"{what}: the number is too large") from None
    if not math.isfinite(number):
        raise InputError(f"{what}: expected a finite number, got {number!r}")
    return number


@dataclass
class _TagFault:
    kind: str
    value: float
    since: float


@dataclass(frozen=True)
class Published:
    """What the server publishes for one tag in one tick (``None``: nothing, the tag is frozen)."""

    value: float
    status: str  # "Good", "BadSensorFailure", "UncertainLastUsableValue", "BadWaitingForInitialData"


class FaultInjector:
    """The active faults of a server, applied to each tick's readings."""

    def __init__(self, tags: list[str], seed: int = 0, nodes: list[str] = ()):
        self.tags = list(tags)
        self.nodes = list(nodes)
        """Paths of the published nodes (node faults)."""
        self.faults: dict[str, _TagFault] = {}
        self.node_faults: dict[str, str] = {}
        self.heartbeat_stalled = False
        self._last: dict[str, float] = {}
        self._stuck: dict[str, object] = {}  # value each node is stuck at
        self._rng = np.random.default_rng(seed + 7919)

    def inject(self, tag: str, kind: str, value: float, t: float, current: object = None) -> None:
        """Start fault ``kind`` on a tag or a node (``current``: the node's value now, which a
        ``stuck`` node keeps; ``value``: drift rate or noise standard deviation of a tag)."""
        if tag in self.nodes and tag not in self.tags:
            if kind not in NODE_FAULTS:
                raise InputError(f"fault '{kind}' on node {tag}: use one of "
                                 f"{', '.join(NODE_FAULTS)}")
            self.node_faults[tag] = kind
            if kind == "stuck":
                self._stuck[tag] = current
            return
        if tag not in self.tags:
            raise UnknownNameError("tag or node", tag, self.tags + self.nodes)
        if kind not in TAG_FAULTS:
            raise InputError(f"fault '{kind}': use one of {', '.join(TAG_FAULTS)}")
        value = finite(f"fault {kind} on {tag}: value", value)
        if kind == "noise" and value < 0:
            raise InputError("noise: the standard deviation must be >= 0")
        self.faults[tag] = _TagFault(kind, value, t)

    def clear(self, tag: str = "") -> None:
        if tag and tag not in self.tags and tag not in self.nodes:
            raise UnknownNameError("tag or node", tag, self.tags + self.nodes)
        if tag:
            self.faults.pop(tag, None)
            self.node_faults.pop(tag, None)
        else:
            self.faults.clear()
            self.node_faults.clear()
            self.heartbeat_stalled = False

    def on_node(self, path: str, value: object, status: str) -> tuple[object, str]:
        """``(value, status)`` of a node as its node fault delivers it (``None``: null)."""
        kind = self.node_faults.get(path)
        if kind == "stuck":
            return self._stuck.get(path), "Good"
        if kind == "bad":
            return value, "BadCommunicationError"
        if kind == "null":
            return None, "Good"
        if kind == "text":
            return GARBAGE_TEXT, "Good"
        return value, status

    def publish(self, tag: str, value: float, quality: Quality, t: float) -> Published | None:
        """What to publish for ``tag`` given the sensor's reading at plant time ``t`` (the
        server publishes a value that is not finite as BadOutOfRange, whatever this says)."""
        fault = self.faults.get(tag)
        if quality is Quality.BAD:
            return Published(float("nan"), "BadWaitingForInitialData")
        if fault is None:
            self._last[tag] = value
            return Published(value, "Good")
        if fault.kind == "freeze":
            return None
        if fault.kind == "bad":
            return Published(float("nan"), "BadSensorFailure")
        if fault.kind == "uncertain":
            return Published(self._last.get(tag, value), "UncertainLastUsableValue")
        if fault.kind == "drift":
            value += fault.value * (t - fault.since)
        else:
            value += self._rng.normal(0.0, fault.value)
        self._last[tag] = value
        return Published(value, "Good")


def take_due(schedule: list[FaultEvent], t: float) -> FaultEvent | None:
    """Remove from ``schedule`` (sorted by time) its first event if due at ``t`` and return it
    (else None); an event with a duration leaves its end scheduled: a ``clear`` of its tag, or
    for a heartbeat stall a ``resume_heartbeat`` (other faults in force stay)."""
    if not schedule or schedule[0].time > t:
        return None
    f = schedule.pop(0)
    if f.duration is not None:
        stall = f.kind == "stall_heartbeat"
        schedule.append(replace(f, time=f.time + f.duration, duration=None,
                                kind="resume_heartbeat" if stall else "clear"))
        schedule.sort(key=lambda e: e.time)
    return f

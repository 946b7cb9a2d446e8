"""The twin served as simulated hardware over OPC UA (``twin serve-opcua``).

Every tick of plant time (``tick / speed`` of real time) the server takes
what clients wrote since the last tick (remote setpoints, the APC
heartbeat), steps the plant with its base layer, applies injected faults to
the sensor readings and publishes everything with status and timestamps.
Writes therefore take effect at the next tick, exactly as in the SIL loop.
Tick timing is recorded so its jitter can be reported. With a virtual
clock (``server.clock = "virtual"``) the plant steps only when an operator
calls ``Simulation.Advance(n)``, and timestamps follow plant time.

Values are published in model units, or in a gateway's own units for the
variables of the ``[scaling]`` table (the tag map written says how to
convert them back).

Address space (namespace ``urn:process-twin:simulated-hardware``)::

    Plant                      one object per plant unit (the model)
      <measurement>            Double, EngineeringUnits (UNECE) and EURange; read-only
      <input>                  Double, the input as the plant receives it; read-only
      BaseLayer/<mv>/Mode      String MANUAL | AUTO | CASCADE; read-only
                   /SP /OP /PV Double; read-only
                   /RSP        Double; writable (the APC's remote setpoint)
    APC/Heartbeat              UInt32; writable (the APC's heartbeat)
    Diagnostics/Heartbeat      UInt32 server heartbeat, +1 per tick
    Diagnostics/Tick, Time     ticks stepped, plant time
    Diagnostics/Shutdown       '' or the event of a tripped model limit (no more ticks)
    Simulation/<methods>       operator actions and fault injection (operator role only);
                               Advance(n) with a virtual clock

History (``[history]``, on by default): measurements and inputs keep every
value published (:mod:`~.history_store`) for HistoryRead; exported as CSV at stop.

Security: Basic256Sha256 SignAndEncrypt with username/password users
(:mod:`~.security`), client certificates accepted only from ``trusted/``
(:mod:`~.client_trust`), password checks off the event loop with delays and
lockouts (:mod:`~.login_guard`, :mod:`~.guarded_server`); an unsecured
endpoint only with ``insecure``. Security events join :attr:`events`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import deque
from pathlib import Path

import numpy as np

from twin.core.errors import InputError, TwinError, UnknownNameError
from twin.core.plant import SimulatedPlant
from twin.core.time_unit import in_time_unit
from twin.orchestration.loop.runner import make_plant, sensor_specs
from twin.orchestration.opcua import security
from twin.orchestration.opcua.faults import FaultInjector, take_due
from twin.orchestration.opcua.serve_config import ServeConfig, bound_endpoint, seconds_per
from twin.orchestration.opcua.server_access import RoleRuleset, method_arguments
from twin.orchestration.opcua.units import eu_information
from twin.orchestration.registry import load_model

log = logging.getLogger(__name__)

NAMESPACE = "urn:process-twin:simulated-hardware"
MAX_TIMING_SAMPLES = 200_000
MAX_ADVANCE = 100_000
"""Most ticks one ``Simulation.Advance`` call may step (virtual clock)."""
MAX_BEHIND = 5
"""Ticks the server may fall behind its schedule before it resynchronises instead of catching up."""
RESYNC_EVENT_GAP = 60.0
"""Resynchronisations within this long of the last reported one are only counted [s]."""


def _not_a_refusal(record: logging.LogRecord) -> bool:
    """Refusals (logins, certificates) are our security events: not asyncua errors too."""
    return not record.getMessage().startswith("sending service fault response")


def _quiet_asyncua() -> None:
    for name in ("asyncua", "asyncua.server", "asyncua.client"):
        logging.getLogger(name).setLevel(logging.ERROR)
    processor = logging.getLogger("asyncua.server.uaprocessor")
    if _not_a_refusal not in processor.filters:
        processor.addFilter(_not_a_refusal)


class SimulatedHardware:
    """The plant of a :class:`ServeConfig` behind an OPC UA server.

    Parameters
    ----------
    config : ServeConfig
    folder : path
        Configuration folder: certificates, users, ``tags.toml`` (created on first start).
    """

    def __init__(self, config: ServeConfig, folder: str | Path):
        self.config = config
        self.folder = Path(folder)
        pc = config.plant
        model = load_model(pc.model, pc.parameters, pc.parameter_set)  # time: server.time_unit
        self.model = in_time_unit(model, config.server.time_unit or model.time_unit)
        self.tick = float(pc.tick)
        self.plant: SimulatedPlant = make_plant(pc, self.tick, sensor_specs(pc, ()), self.model)
        if not self.plant.sensors.specs:
            raise InputError("plant.sensors: the simulated hardware needs at least one sensor")
        self.tags = [s.name for s in self.plant.sensors.specs]
        scalable = self.tags + [v.name for v in self.model.inputs]
        for name in config.scaling:
            if name not in scalable:
                raise UnknownNameError("scaling entry (a sensor tag or a model input)", name,
                                       scalable)
        self.scaling = dict(config.scaling)
        self.virtual = config.server.clock == "virtual"
        self.faults = FaultInjector(self.tags, pc.seed)
        self.schedule = sorted(config.fault, key=lambda f: f.time)
        self.ticks = 0
        self.heartbeat = 0
        self.period = self.tick * seconds_per(self.model.time_unit) / config.server.speed
        self.jitter: deque[float] = deque(maxlen=MAX_TIMING_SAMPLES)
        self.overruns = 0
        self.resyncs = 0
        self._last_resync_event = -math.inf
        self.events: list[str] = []
        self.server = None
        self.guard = None
        self._bound: str | None = None
        self._epoch = dt.datetime.now(dt.timezone.utc)
        self._advancing = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._nodes: dict[str, object] = {}
        self._published: dict[str, float] = {}
        self._non_finite: set[str] = set()
        self.history = None
        self._historized: dict[str, str] = {}
        """path -> name of the historized nodes"""
        self.exported: tuple[Path, Path] | None = None
        self.started = asyncio.Event()

    # ------------------------------------------------------------ set-up

    @property
    def endpoint(self) -> str:
        """The endpoint served (once listening on port 0: with the port the system chose)."""
        return self._bound or self.config.server.endpoint

    def _to_raw(self, name: str, value: float) -> float:
        """A model value of variable ``name`` as published (see ``[scaling]``)."""
        s = self.scaling.get(name)
        return value if s is None else (value - s.offset) / s.scale

    def _from_raw(self, name: str, value: float) -> float:
        """A published value of variable ``name`` in model units."""
        s = self.scaling.get(name)
        return value if s is None else s.scale * value + s.offset

    def _raw_bounds(self, name: str, low: float, high: float) -> tuple[float, float]:
        a, b = self._to_raw(name, low), self._to_raw(name, high)
        return (min(a, b), max(a, b))

    def _now(self) -> dt.datetime:
        """The server's clock: real time, or with a virtual clock the plant time from the
        start at ``speed`` plant seconds per second."""
        if not self.virtual:
            return dt.datetime.now(dt.timezone.utc)
        return self._epoch + dt.timedelta(seconds=self.plant.time
                                          * seconds_per(self.model.time_unit)
                                          / self.config.server.speed)

    async def start(self) -> None:
        """Certificates and users (first start), address space, then listen and tick."""
        from twin.orchestration.opcua.client_trust import ClientCertificates
        from twin.orchestration.opcua.guarded_server import GuardedServer
        from twin.orchestration.opcua.login_guard import LoginGuard

        _quiet_asyncua()
        pki = security.Pki(self.folder)
        await security.ensure_certificate(pki, "server")
        users = security.load_users(self.folder)
        self.guard = LoginGuard(users, self.config.server, self.security_event)
        server = GuardedServer(self.guard, ClientCertificates(pki, self.security_event))
        if self.config.history.enabled:
            from twin.orchestration.opcua.history_store import TwinHistory

            h = self.config.history
            self.history = TwinHistory(h.file, h.page_size, h.retention, h.max_samples)
            server.iserver.history_manager.set_storage(self.history)
        try:
            await self._open(server, pki, users)
        except BaseException:
            self.guard.close()
            if self.history is not None:
                await self.history.stop()  # its thread would keep the process alive
            raise
        self._bound = bound_endpoint(self.config.server.endpoint, server.bserver.port)
        self._write_tag_map()
        self._task = asyncio.create_task(self._run())

    async def _open(self, server, pki, users) -> None:
        from asyncua import ua
        from asyncua.common.callback import CallbackType

        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"process-twin simulated hardware: {self.model.title}")
        await server.set_application_uri(security.application_uri("server"))
        await server.load_certificate(str(pki.cert))
        await server.load_private_key(str(pki.key))
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        if self.config.server.insecure:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies, permission_ruleset=RoleRuleset(
            {u.name: u.role for u in users.values()}))
        server.set_identity_tokens([ua.UserNameIdentityToken])
        self.server = server
        self.ns = await server.register_namespace(NAMESPACE)
        await self._build_address_space()
        if self.history is not None:
            await self._historize()
            if self.virtual and self.history.newest is not None:  # a restart appends after
                self._epoch = max(self._epoch, self.history.newest + dt.timedelta(seconds=1))
        self.faults.nodes = sorted(p for p in self._nodes if not p.startswith("Simulation"))
        server.subscribe_server_callback(CallbackType.PostWrite, self._after_write)
        await self._publish()
        try:
            await server.start()
        except OSError as exc:
            raise InputError(f"cannot listen on {self.endpoint}: {exc.strerror or exc}") from None

    def _id(self, path: str) -> str:
        return f"ns={self.ns};s={path}"

    async def _variable(self, parent, path: str, name: str, value, vtype, writable=False,
                        unit: str | None = None, bounds: tuple[float, float] | None = None):
        from asyncua import ua

        node = await parent.add_variable(self._id(path), name, ua.Variant(value, vtype))
        if writable:
            await node.set_writable(True)
        if unit is not None:
            await node.add_property(self._id(path + ".EngineeringUnits"), "EngineeringUnits",
                                    eu_information(unit))
        if bounds is not None and all(math.isfinite(b) for b in bounds):
            await node.add_property(self._id(path + ".EURange"), "EURange",
                                    ua.Range(Low=bounds[0], High=bounds[1]))
        self._nodes[path] = node
        return node

    async def _historize(self) -> None:
        """The measurements and inputs keep history (Historizing, AccessLevel HistoryRead)."""
        from twin.orchestration.opcua.history_store import historize

        names = self.tags + [v.name for v in self.model.inputs]
        await historize(self.history, {n: self._nodes[f"Plant.{n}"] for n in names})
        self._historized = {f"Plant.{n}": n for n in names}

    def export_history(self) -> tuple[Path, Path] | None:
        """Write the stored history as ``<file>.csv`` (wide) and ``<file>-long.csv`` (after
        the server stopped); their paths."""
        from twin.orchestration.opcua.history_store import export_next_to

        nodes = {name: self._nodes[path].nodeid for path, name in self._historized.items()}
        units = {name: self.model.variable(name).unit for name in nodes
                 if name not in self.scaling}
        return export_next_to(Path(self.config.history.file), self.history, nodes, units)

    async def _build_address_space(self) -> None:
        from asyncua import ua

        m = self.model
        objects = self.server.nodes.objects
        plant = await objects.add_object(self._id("Plant"), "Plant")
        D = ua.VariantType.Double
        for var in [m.variable(name) for name in self.tags] + list(m.inputs):
            await self._variable(plant, f"Plant.{var.name}", var.name, 0.0, D,
                                 unit=None if var.name in self.scaling else var.unit,
                                 bounds=self._raw_bounds(var.name, var.lower, var.upper))
        base = self.plant.base
        if base is not None:
            layer = await plant.add_object(self._id("Plant.BaseLayer"), "BaseLayer")
            for name, lp in base.loops.items():
                obj = await layer.add_object(self._id(f"Plant.BaseLayer.{name}"), name)
                unit = None if name in self.scaling else m.inputs[name].unit
                bounds = self._raw_bounds(name, lp.op_low, lp.op_high)
                await self._variable(obj, f"Plant.BaseLayer.{name}.Mode", "Mode", lp.mode.value,
                                     ua.VariantType.String)
                for attr in ("SP", "OP", "PV"):
                    await self._variable(obj, f"Plant.BaseLayer.{name}.{attr}", attr, 0.0, D,
                                         unit=unit, bounds=bounds)
                await self._variable(obj, f"Plant.BaseLayer.{name}.RSP", "RSP",
                                     self._to_raw(name, lp.rsp), D, writable=True, unit=unit,
                                     bounds=bounds)
        apc = await objects.add_object(self._id("APC"), "APC")
        await self._variable(apc, "APC.Heartbeat", "Heartbeat", 0, ua.VariantType.UInt32,
                             writable=True)
        diag = await objects.add_object(self._id("Diagnostics"), "Diagnostics")
        await self._variable(diag, "Diagnostics.Heartbeat", "Heartbeat", 0, ua.VariantType.UInt32)
        await self._variable(diag, "Diagnostics.Tick", "Tick", 0, ua.VariantType.UInt32)
        await self._variable(diag, "Diagnostics.Time", "Time", 0.0, D, unit=m.time_unit)
        await self._variable(diag, "Diagnostics.Shutdown", "Shutdown", "", ua.VariantType.String)
        await self._methods(objects)

    async def _methods(self, objects) -> None:
        from asyncua import ua

        sim = await objects.add_object(self._id("Simulation"), "Simulation")
        S, D, B = ua.VariantType.String, ua.VariantType.Double, ua.VariantType.Boolean

        def method(name, func, types):
            async def call(parent, *args):  # async: runs on the event loop, between ticks
                try:
                    result = func(*method_arguments(name, types, [a.Value for a in args]))
                    if asyncio.iscoroutine(result):
                        await result
                except TwinError as exc:
                    log.warning("method call %s refused: %s", name, exc)
                    return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
                return []
            return call

        base = self.plant.base
        calls = [
            ("InjectFault", self.inject_fault, [S, S, D]),
            ("ClearFault", self.faults.clear, [S]),
            ("StallHeartbeat", self.stall_heartbeat, [B]),
        ]
        if base is not None:
            calls += [("SetLoopMode", self.set_loop_mode, [S, S]),
                      ("SetLoopOutput", self.set_loop_output, [S, D]),
                      ("SetLoopSetpoint", self.set_loop_setpoint, [S, D])]
        if self.virtual:
            calls.append(("Advance", self.advance, [D]))
        for name, func, types in calls:
            await sim.add_method(self._id(f"Simulation.{name}"), name, method(name, func, types),
                                 types, [])

    def set_loop_mode(self, name: str, mode: str) -> None:
        """An operator's mode change of base loop ``name`` (MANUAL, AUTO or CASCADE)."""
        from twin.core.base_layer import LoopMode

        modes = [m.value for m in LoopMode]
        if not isinstance(mode, str) or mode.upper() not in modes:
            raise InputError(f"loop mode {mode!r}: use one of {', '.join(modes)}")
        self.plant.base.set_mode(name, mode)

    def set_loop_output(self, name: str, value: float) -> None:
        """An operator's output of base loop ``name`` in MANUAL [as published]."""
        self.plant.base.set_output(name, self._from_raw(name, value))

    def set_loop_setpoint(self, name: str, value: float) -> None:
        """An operator's setpoint of base loop ``name`` in AUTO [as published]."""
        self.plant.base.set_setpoint(name, self._from_raw(name, value))

    async def advance(self, n: float) -> None:
        """Step ``n`` ticks now (virtual clock; ``n`` a whole number 1 to :data:`MAX_ADVANCE`);
        returns once they are published. Other clients are served between the ticks."""
        if not float(n).is_integer() or not 1 <= n <= MAX_ADVANCE:
            raise InputError(f"Advance: {n!r} ticks; give a whole number from 1 to {MAX_ADVANCE}")
        if self.plant.shutdown:
            raise InputError(f"Advance: the plant is shut down ({self.plant.shutdown})")
        async with self._advancing:
            for _ in range(int(n)):
                await self.step()
                if self.plant.shutdown:  # tripped in this batch: the ticks so far stand
                    break
                await asyncio.sleep(0)

    def inject_fault(self, tag: str, kind: str, value: float = 0.0) -> None:
        current = self._client_value(tag) if tag in self._nodes else None
        self.faults.inject(tag, kind, value, self.plant.time, current)
        self.events.append(f"t={self.plant.time:g}: fault {kind} on {tag}")

    def security_event(self, text: str) -> None:
        """Record a security event (failed logins, lockouts, refused client certificates)."""
        self.events.append(f"t={self.plant.time:g}: security: {text}")

    def stall_heartbeat(self, stalled: bool) -> None:
        self.faults.heartbeat_stalled = bool(stalled)
        self.events.append(f"t={self.plant.time:g}: heartbeat {'stalled' if stalled else 'resumed'}")

    def tag_map(self) -> dict:
        """The tag map of this server for ``twin deploy`` (see :mod:`~.tagmap`)."""
        def scaled(name: str) -> dict:
            s = self.scaling.get(name)
            return {} if s is None else {"scale": s.scale, "offset": s.offset}

        tags = {name: {"node": self._id(f"Plant.{name}"), "unit": self.model.variable(name).unit,
                       **scaled(name)}
                for name in self.tags + [v.name for v in self.model.inputs]}
        loops = {}
        if self.plant.base is not None:
            for name in self.plant.base.loops:
                base = f"Plant.BaseLayer.{name}"
                loops[name] = {**{a.lower(): self._id(f"{base}.{a}")
                                  for a in ("Mode", "SP", "RSP", "PV")}, **scaled(name)}
        return {"url": self.endpoint, "server_heartbeat": self._id("Diagnostics.Heartbeat"),
                "apc_heartbeat": self._id("APC.Heartbeat"), "tick": self._id("Diagnostics.Tick"),
                "tick_period": self.tick, "seconds_per_time_unit": seconds_per(self.model.time_unit)
                / self.config.server.speed, "tags": tags, "loops": loops}

    def _write_tag_map(self) -> None:
        from twin.orchestration.opcua.tagmap import write_tag_map

        write_tag_map(self.tag_map(), self.folder / "tags.toml")

    # ------------------------------------------------------------ running

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.virtual:  # the plant steps only in advance()
            self.started.set()
            return
        try:
            if self.config.server.hold_until_apc:
                start = self._client_value("APC.Heartbeat")
                while self._client_value("APC.Heartbeat") == start:
                    await asyncio.sleep(min(self.period, 0.002))
            self.started.set()
            t0 = loop.time()
            k = 0
            while True:
                k += 1
                target = t0 + k * self.period
                delay = target - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    self.overruns += 1
                    await asyncio.sleep(0)  # behind: still let clients, signals and timers in
                    if delay < -MAX_BEHIND * self.period:  # stalled (e.g. SIGSTOP): carry on from
                        t0 = loop.time() - k * self.period  # now at real-time pace, no burst
                        self._resynchronised(-delay, loop.time())
                self.jitter.append(loop.time() - target)
                await self.step()
                if self.plant.shutdown:
                    break
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - the plant failed: keep serving, stop stepping
            log.exception("simulated plant stopped")
            self.events.append(f"t={self.plant.time:g}: plant stopped")

    def _resynchronised(self, behind: float, now: float) -> None:
        """Count a resynchronisation; an event for the first after a quiet minute (a server
        that cannot keep up with its speed resynchronises every few ticks)."""
        self.resyncs += 1
        if now - self._last_resync_event > RESYNC_EVENT_GAP:
            self._last_resync_event = now
            self.events.append(f"t={self.plant.time:g}: {behind:.3g} s behind schedule; "
                               "resynchronised (further ones within a minute only counted)")

    def _client_value(self, path: str):
        dv = self.server.read_attribute_value(self._nodes[path].nodeid)
        return dv.Value.Value

    async def step(self) -> None:
        """One tick: take client writes, scheduled faults, step the plant, publish."""
        plant = self.plant
        base = plant.base
        if base is not None:
            rsp = {}
            for name in base.loops:
                value = self._client_value(f"Plant.BaseLayer.{name}.RSP")
                if isinstance(value, (int, float)) and math.isfinite(value) and \
                        value != self._published.get(f"Plant.BaseLayer.{name}.RSP"):
                    rsp[name] = self._from_raw(name, float(value))
            plant.write(rsp)
        heartbeat = self._client_value("APC.Heartbeat")
        if isinstance(heartbeat, int) and not isinstance(heartbeat, bool):  # else: not a beat
            plant.write_heartbeat(heartbeat)
        self._scheduled_faults()
        plant.step()
        self.ticks += 1
        if base is not None:
            self.events += [f"t={plant.time:g}: {e}" for e in base.take_events()]
        if plant.shutdown:  # the interlocks stopped the plant: its last tick, heartbeat frozen
            self.events.append(f"t={plant.time:g}: {plant.shutdown}")
            log.error("simulated plant %s", plant.shutdown)
        elif not self.faults.heartbeat_stalled:
            self.heartbeat = (self.heartbeat + 1) % 2 ** 32
        await self._publish()

    def _scheduled_faults(self) -> None:
        while (f := take_due(self.schedule, self.plant.time + 1e-9 * self.tick)) is not None:
            if f.kind in ("stall_heartbeat", "resume_heartbeat"):
                self.stall_heartbeat(f.kind == "stall_heartbeat")
            elif f.kind == "manual":
                self.plant.base.set_mode(f.tag, "MANUAL", "operator (scheduled)")
            elif f.kind == "clear":
                self.faults.clear(f.tag)
            else:
                self.inject_fault(f.tag, f.kind, f.value)

    async def _publish(self) -> None:
        """Write this tick's values into the address space, with status and timestamps."""
        from asyncua import ua

        now = self._now()
        plant = self.plant
        t = plant.time
        raw = self._to_raw
        D = ua.VariantType.Double
        writes: list[tuple[str, object, object, str]] = []
        for name, reading in plant.read().items():
            out = self.faults.publish(name, reading.value, reading.quality, t)
            if out is not None:
                writes.append((f"Plant.{name}", raw(name, out.value), D, out.status))
        for name, value in plant.inputs().items():
            writes.append((f"Plant.{name}", raw(name, value), D, "Good"))
        if plant.base is not None:
            for name, st in plant.base.status().items():
                p = f"Plant.BaseLayer.{name}"
                writes += [(f"{p}.Mode", st["mode"], ua.VariantType.String, "Good")]
                writes += [(f"{p}.{a}", raw(name, st[a.lower()]), D, "Good")
                           for a in ("SP", "OP", "PV", "RSP")]
                self._published[f"{p}.RSP"] = raw(name, st["rsp"])
        writes += [("Diagnostics.Heartbeat", self.heartbeat, ua.VariantType.UInt32, "Good"),
                   ("Diagnostics.Tick", self.ticks % 2 ** 32, ua.VariantType.UInt32, "Good"),
                   ("Diagnostics.Time", t, ua.VariantType.Double, "Good"),
                   ("Diagnostics.Shutdown", plant.shutdown, ua.VariantType.String, "Good")]
        for path, value, vtype, status in writes:  # no await suspends here: clients see a
            if not status.startswith("Bad") and isinstance(value, float) and \
                    not math.isfinite(value):  # never a NaN or inf as Good or Uncertain
                status = "BadOutOfRange"          # whole tick or none of it
                self._not_finite(path)
            dv = await self._write_node(path, value, vtype, status, now)
            if path in self._historized:
                self.history.record(self._nodes[path].nodeid, dv)

    async def _write_node(self, path: str, value, vtype, status: str, now):
        """Publish one node's value, after its node fault (if any). A null or a string in a
        numeric node would be refused by the address space's type check: the node then answers
        reads with it through a value callback, until the next plain write replaces that."""
        from asyncua import ua

        value, status = self.faults.on_node(path, value, status)
        nodeid = self._nodes[path].nodeid
        garbled = value is None or (isinstance(value, str) and vtype is not ua.VariantType.String)
        variant = ua.Variant() if value is None else \
            ua.Variant(value, ua.VariantType.String if garbled else vtype)
        dv = ua.DataValue(Value=variant, StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
                          SourceTimestamp=now, ServerTimestamp=now)
        if garbled:
            self.server.set_attribute_value_callback(nodeid, lambda *_: dv)
        else:
            await self.server.write_attribute_value(nodeid, dv)
        return dv

    async def _after_write(self, event, dispatcher=None) -> None:
        """A client wrote: a node with a node fault delivers the fault at once (a read-back sees
        it), not the value written."""
        if not self.faults.node_faults:
            return
        from asyncua import ua

        now = self._now()
        by_id = {node.nodeid: path for path, node in self._nodes.items()}
        for item in event.request_params.NodesToWrite:
            path = by_id.get(item.NodeId)
            if path in self.faults.node_faults:
                written = item.Value.Value
                await self._write_node(
                    path, written.Value if written is not None else None,
                    written.VariantType if written is not None else ua.VariantType.Double,
                    "Good", now)

    def _not_finite(self, path: str) -> None:
        if path not in self._non_finite:
            self._non_finite.add(path)
            log.warning("%s is not finite at t=%g: published as BadOutOfRange", path,
                        self.plant.time)
            self.events.append(f"t={self.plant.time:g}: {path} not finite; published as "
                               "BadOutOfRange")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()  # also closes the history
        if self.guard is not None:
            self.guard.close()
        if self.history is not None and self.config.history.export_csv and self.server is not None:
            self.exported = self.export_history()

    def timing(self) -> dict[str, float]:
        """Tick jitter statistics [ms]: median, p99 and max |deviation| from the schedule (with
        a virtual clock: the ticks stepped)."""
        if self.virtual:
            return {"ticks": self.ticks, "clock": "virtual"}
        values = np.abs(np.array(self.jitter)) * 1e3
        if values.size == 0:
            return {"ticks": 0}
        return {"ticks": int(values.size), "period_ms": self.period * 1e3,
                "jitter_p50_ms": float(np.percentile(values, 50)),
                "jitter_p99_ms": float(np.percentile(values, 99)),
                "jitter_max_ms": float(values.max()), "overruns": self.overruns,
                "resyncs": self.resyncs}


"""Running a step test on a plant: moves written, limits held, safety watched, all logged.

At every sample ``t_k`` (``test.sample_time`` apart) the runner reads the
CVs, checks their safety limits, decides the MV values (the designed moves
around the base point, or the base point during a lead-in or a pause),
holds the MVs' hard and rate limits, logs the sample and writes the MVs,
which then hold until ``t_{k+1}`` (zero-order hold). So row ``k`` of the
data is the reading at ``t_k`` and the MVs applied from ``t_k`` on.

Safety: a CV measured within its ``margin`` of a safety limit pauses the
test; the MVs move back towards their base points (at their rate limits)
until every CV is inside its limits by 1.5 margins, and the test
resumes with the signal as scheduled then. Pauses and resumes are events.

:func:`run_step_test` is the Python entry point; with a folder it writes
the cycle store, the wide CSV and Parquet export and the HTML report.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from twin.core.data.table import PlantData
from twin.core.errors import InputError, TwinError
from twin.core.quality import Quality
from twin.orchestration.progress import Progress, ProgressUpdate
from twin.orchestration.steptest.config import StepTestSpec
from twin.orchestration.steptest.design import Design, design, mv_limits
from twin.orchestration.steptest.plant import make_plant

log = logging.getLogger(__name__)

RESUME = 1.5
"""A paused test resumes when every CV is inside its safety limits by this many margins [-]."""


@dataclass
class StepTestResult:
    """A step test's data, events and where its records are.

    Attributes
    ----------
    time : numpy.ndarray
        Sample times since the start [time unit of the plant].
    mv, design_values : numpy.ndarray
        MVs written and the designed MV values (samples, MVs) [MV units].
    cv : numpy.ndarray
        CV measurements (samples, CVs) [CV units], NaN where the quality was Bad.
    quality : numpy.ndarray
        Quality of each CV measurement (``good``, ``uncertain``, ``bad``).
    paused : numpy.ndarray
        True at samples of a safety pause (or of the lead-in).
    events : list of (time, kind, message)
    """

    spec: StepTestSpec
    mv_names: list[str]
    cv_names: list[str]
    units: dict[str, str]
    time_unit: str
    design: Design
    time: np.ndarray
    mv: np.ndarray
    design_values: np.ndarray
    cv: np.ndarray
    quality: np.ndarray
    paused: np.ndarray
    events: list[tuple[float, str, str]] = field(default_factory=list)
    pretest: object | None = None
    """The pre-test's findings (:class:`~twin.orchestration.steptest.pretest.PretestResult`)."""
    folder: Path | None = None
    store: Path | None = None
    csv: Path | None = None
    parquet: Path | None = None
    report: Path | None = None

    @property
    def moved(self) -> bool:
        """True when some MV was ever written with a value other than its first one."""
        return bool(self.mv.size) and bool(np.any(self.mv != self.mv[:1]))

    @property
    def pauses(self) -> int:
        """Number of safety pauses."""
        return sum(1 for _, kind, _ in self.events if kind == "pause")

    def to_plant_data(self) -> PlantData:
        """The MVs written and the CVs measured, time in seconds since the start (wide form)."""
        from twin.orchestration.steptest.export import plant_data

        return plant_data(self)


class SafetyWatch:
    """Pauses when a CV comes within its margin of a safety limit; resumes inside 1.5 margins."""

    def __init__(self, spec: StepTestSpec):
        self.cvs = spec.cv
        self.paused = False

    def check(self, values: dict[str, float]) -> tuple[str, str] | None:
        """An event ``(kind, message)`` when the state changes, else None."""
        if not self.paused:
            near = self.near(values)
            if near is not None:
                self.paused = True
                return "pause", f"{near}: MVs back to base"
            return None
        inside = all(not math.isfinite(values.get(c.name, math.nan))
                     or c.lower + RESUME * c.margin < values[c.name] < c.upper - RESUME * c.margin
                     for c in self.cvs)
        if inside:
            self.paused = False
            return "resume", (f"every cv is back inside its safety limits by {RESUME:g} times its "
                               "margin")
        return None

    def near(self, values: dict[str, float]) -> str | None:
        """Which CV is within its margin of a safety limit (a phrase), or None."""
        for c in self.cvs:
            y = values.get(c.name, math.nan)
            if not math.isfinite(y):
                continue
            if y >= c.upper - c.margin or y <= c.lower + c.margin:
                side, limit = ("high", c.upper) if y >= c.upper - c.margin else ("low", c.lower)
                return (f"cv '{c.name}' = {y:.6g} is within {c.margin:g} of its {side} safety "
                        f"limit {limit:g}")
        return None


def run_step_test(spec: StepTestSpec, folder: str | Path | None = None, fresh: bool = False,
                  progress: Progress | None = None) -> StepTestResult:
    """Run ``spec`` on its plant; with ``folder``, log it and write the exports and report there.

    With a ``[pretest]``, the pre-test runs first on the same plant and the
    test is designed from what it found (both are in the data).

    Raises
    ------
    InputError
        Names or settings the plant refuses (before anything is written).
    TwinError
        The plant failed during the run (recorded as an event in the store first).
    """
    from twin.orchestration.steptest.pretest import estimate, plan_pretest, with_prior

    handle = make_plant(spec)
    plant = handle.plant
    store = sampler = plan = found = None
    try:
        readback = plant.mv_readback()
        base = np.array([m.base if m.base is not None else readback[m.name] for m in spec.mv])
        plan = design(spec, base, handle.bounds) if spec.pretest is None else None
        first = plant.read()
        refuse_start(spec, first)
        if folder is not None:
            store = _open_store(spec, handle, folder, fresh)
        sampler = _Sampler(spec, handle, store, base, progress)
        sampler.first = first
        if spec.pretest is not None:
            pre = plan_pretest(spec)
            limits = mv_limits(spec, handle.bounds)
            plan = Design(base, pre.steps, pre.hold * spec.test.sample_time, pre.moves, limits)
            sampler.phase(pre.moves, limits, 0, "pretest", "pretest: one step per MV in turn")
            t, mv, cv = sampler.arrays()
            found = estimate(spec, pre, t, mv, cv, base)
            spec = with_prior(spec, found)
            plan = design(spec, base, handle.bounds)
            sampler.spec = spec
        lead = int(round(spec.test.lead_in / spec.test.sample_time))
        sampler.phase(plan.moves, plan.limits, lead, "test",
                      f"{spec.test.signal} test of {', '.join(sampler.mv_names)} for "
                      f"{spec.duration:g} {handle.time_unit}, sampled every "
                      f"{spec.test.sample_time:g}", last=True)
        result = sampler.result(plan, found)
        if not result.moved:  # e.g. paused throughout: data that excite nothing
            message = (f"the MVs never moved ({int(result.paused.sum())} of {len(result.time)} "
                       "samples paused or shed): the data excite nothing")
            log.warning("step test: %s", message)
            result.events.append((float(result.time[-1]), "no_moves", message))
            if store is not None:
                store.log_event(len(result.time) - 1, float(result.time[-1]), "no_moves", message)
    except KeyboardInterrupt:
        plant.close()
        if store is not None and sampler is not None and sampler.rows["time"]:
            _keep_interrupted(sampler, plan, found, folder)
        elif store is not None:
            store.close()
        raise
    except BaseException:
        plant.close()
        if store is not None:
            store.close()
        raise
    plant.close()
    if store is not None:
        from twin.orchestration.steptest.export import write_outputs

        store.close()
        result.folder, result.store = Path(folder), store.path
        write_outputs(result)
    return result


def _keep_interrupted(sampler: "_Sampler", plan, found, folder) -> None:
    """An interrupted test keeps what it took: an event, and the exports of the samples so far."""
    from twin.orchestration.steptest.export import write_outputs

    store = sampler.store
    n = len(sampler.rows["time"])
    t = float(sampler.rows["time"][-1])
    sampler.events.append((t, "interrupted", f"stopped by the user after {n} samples"))
    try:
        store.log_event(n - 1, t, "interrupted", f"stopped by the user after {n} samples")
        result = sampler.result(plan, found, end=False)
        store.close()
        result.folder, result.store = Path(folder), store.path
        write_outputs(result)
    except Exception:  # noqa: BLE001 - the store keeps the samples whatever happens here
        log.exception("step test: the exports of the interrupted test failed")


def _open_store(spec: StepTestSpec, handle, folder, fresh: bool):
    from twin.orchestration.loop.store import CycleStore
    from twin.orchestration.out_folder import make_folder

    folder = make_folder(folder, fresh, stale=("cycles.sqlite", "cycles.sqlite-wal",
                                               "cycles.sqlite-shm", "steptest.csv",
                                               "steptest.parquet", "report.html"))
    store = CycleStore(folder / "cycles.sqlite")
    # A step test on a simulated plant is repeated rather than recovered after a power cut:
    # commits need not wait for the disk (WAL still keeps the file consistent).
    store.db.execute("PRAGMA synchronous=NORMAL")
    store.start_run("steptest", spec.plant_name, handle.time_unit, asdict(spec))
    return store


class _Sampler:
    """Samples a plant phase by phase (pre-test, test), holding limits and watching safety."""

    def __init__(self, spec: StepTestSpec, handle, store, base: np.ndarray, progress):
        self.spec, self.handle, self.store, self.progress = spec, handle, store, progress
        self.base = base
        self.previous = base.copy()
        self.mv_names = [m.name for m in spec.mv]
        self.cv_names = [c.name for c in spec.cv]
        self.watch = SafetyWatch(spec)
        self.rows: dict[str, list] = {key: [] for key in
                                      ("time", "mv", "design", "cv", "quality", "paused")}
        self.events: list[tuple[float, str, str]] = []
        self.steps_per_sample = round(spec.test.sample_time / spec.tick)
        self.shed, self.healthy = False, 0
        self.first = None
        """The plant's first reading, taken before the run starts (see :func:`refuse_start`)."""

    def _watchdog(self, plant) -> list[tuple[str, str]]:
        """Shed when a plant over OPC UA is unhealthy (the deploy watchdog's rules); re-enter
        after its ``reentry_cycles`` healthy samples, from the setpoints the loops hold."""
        if not hasattr(plant, "health"):
            return []
        ok, why = plant.health()
        if not ok:
            self.healthy = 0
            if not self.shed:
                self.shed = True
                log.warning("step test shed: %s", why)
                return [("shed", f"{why}: nothing written, the base layer holds the plant")]
            return []
        if self.shed:
            self.healthy += 1
            if self.healthy >= plant.reentry_cycles:
                self.shed = False
                held = plant.mv_readback()
                self.previous = np.array([held.get(n, v) for n, v in
                                          zip(self.mv_names, self.previous)])
                return [("reentry", f"healthy for {self.healthy} samples: the test writes "
                                    "again from the setpoints the loops hold")]
        return []

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Time, MVs written and CVs measured so far."""
        return (np.array(self.rows["time"]), np.array(self.rows["mv"]),
                np.array(self.rows["cv"]))

    def phase(self, moves: np.ndarray, limits, lead: int, mode: str, start_message: str,
              last: bool = False) -> None:
        """``lead`` samples at the base point, then ``moves`` around it; the plant is advanced
        after every sample except the very last of the run."""
        plant, dt = self.handle.plant, self.spec.test.sample_time
        n = lead + moves.shape[0]
        for k in range(n):
            kk = len(self.rows["time"])
            t = kk * dt
            readings = self.first if self.first is not None else plant.read()
            self.first = None
            values, cv, quality = _values(readings, self.cv_names)
            new = [("start" if kk == 0 else "phase", start_message)] if k == 0 else []
            if k == lead and lead > 0:
                new.append(("signal", "lead-in over: the designed moves start"))
            change = self.watch.check(values)
            if change is not None:
                new.append(change)
                log.info("step test at t = %g: %s", t, change[1])
            new += self._watchdog(plant)
            paused = self.watch.paused or k < lead or self.shed
            designed = self.base + (moves[k - lead] if k >= lead else 0.0)
            wanted = self.base if paused else designed
            if self.shed:  # nothing is written: record the setpoints the base layer holds
                held = plant.mv_readback()
                self.previous = np.array([held.get(n, v) for n, v in
                                          zip(self.mv_names, self.previous)])
            else:
                for j, lim in enumerate(limits):
                    self.previous[j] = lim.step(self.previous[j], wanted[j], dt)
            for key, value in (("time", t), ("mv", self.previous.copy()), ("design", designed),
                               ("cv", cv), ("quality", quality), ("paused", paused)):
                self.rows[key].append(value)
            self.events += [(t, kind, msg) for kind, msg in new]
            if self.store is not None:
                _log_sample(self.store, self.spec, kk, t, readings, plant, self.previous,
                            designed, "shed" if self.shed else "paused" if paused else mode, new)
            if not self.shed:
                plant.write(dict(zip(self.mv_names, map(float, self.previous))))
            if self.progress is not None and (k % 100 == 0 or k == n - 1):
                self.progress(ProgressUpdate(k + 1, n, f"{mode} samples", 0, 0, 0, ()))
            if last and k == n - 1:
                break
            try:
                for _ in range(self.steps_per_sample):
                    plant.step()
            except TwinError as exc:
                if self.store is not None:
                    self.store.log_event(kk, t, "plant_failure", str(exc))
                raise

    def result(self, plan: Design, found, end: bool = True) -> StepTestResult:
        """The whole run (or what was taken of it) as a :class:`StepTestResult`."""
        n = min(len(v) for v in self.rows.values())  # an interrupt may land between appends
        rows = {key: v[:n] for key, v in self.rows.items()}
        if self.store is not None and end:
            self.store.log_event(n - 1, float(rows["time"][-1]), "end",
                                 f"{n} samples, {sum(e[1] == 'pause' for e in self.events)} "
                                 "safety pauses")
        return StepTestResult(self.spec, self.mv_names, self.cv_names, self.handle.units,
                              self.handle.time_unit, plan, np.array(rows["time"]),
                              np.array(rows["mv"]), np.array(rows["design"]),
                              np.array(rows["cv"]), np.array(rows["quality"], dtype=object),
                              np.array(rows["paused"], dtype=bool), self.events, pretest=found)


def _values(readings, cv_names: list[str]) -> tuple[dict[str, float], np.ndarray, list[str]]:
    """The usable CV values by name, all CV values (NaN where Bad) and their qualities."""
    values, cv, quality = {}, np.full(len(cv_names), np.nan), []
    for i, name in enumerate(cv_names):
        r = readings[name]
        quality.append(r.quality.value)
        if r.quality is not Quality.BAD and math.isfinite(r.value):
            cv[i] = values[name] = float(r.value)
    return values, cv, quality


def refuse_start(spec: StepTestSpec, readings) -> None:
    """Refuse a test whose CVs already are within their safety margins at the start.

    Such a test would stay paused from its first sample and never move the MVs.

    Raises
    ------
    InputError
        Naming the CV, its value, the limit and the margin.
    """
    near = SafetyWatch(spec).near(_values(readings, [c.name for c in spec.cv])[0])
    if near is not None:
        raise InputError(f"step test: at the start {near} (its margin): the test would stay "
                         "paused; move the base point, the limit or the margin")


def _log_sample(store, spec: StepTestSpec, k: int, t: float, readings, plant, mv: np.ndarray,
                designed: np.ndarray, mode: str, events) -> None:
    """One sample as a cycle of the cycle store (the schema of the control loops)."""
    values = []
    for c in spec.cv:
        r = readings[c.name]
        values.append((c.name, "meas", r.value, r.quality.value, r.timestamp, t))
        for role, limit in (("hard_low", c.lower), ("hard_high", c.upper)):
            if math.isfinite(limit):
                values.append((c.name, role, limit, None, t, t))
    for j, mvc in enumerate(spec.mv):
        values.append((mvc.name, "mv", float(mv[j]), None, t, t))
        values.append((mvc.name, "design", float(designed[j]), None, t, t))
        for role, limit in (("low", mvc.lower), ("high", mvc.upper)):
            if math.isfinite(limit):
                values.append((mvc.name, role, limit, None, t, t))
    for name, value in plant.truth().items():
        values.append((name, "plant", value, None, t, t))
    info = {"wall_time": time.time(), "mode": mode, "write": True}
    store.log_cycle(k, t, info, values, events)

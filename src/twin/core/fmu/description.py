"""What an FMU declares: its interfaces, and its real variables by name.

:func:`describe_fmu` reads ``modelDescription.xml`` with fmpy and keeps what
a plant needs: the FMI version, the interface to use (Co-Simulation or
Model Exchange), and for every real-valued scalar its value reference,
causality, unit and start value. Structured and array variables of FMI 3.0
are not mapped (a plant's signals are scalars).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from twin.core.errors import InputError, UnknownNameError

MAX_UNPACKED_BYTES = 512 * 2 ** 20
"""Largest unpacked FMU by default [bytes] (512 MiB); :data:`LIMIT_VARIABLE` overrides it."""
LIMIT_VARIABLE = "TWIN_FMU_MAX_BYTES"
"""Environment variable: the largest unpacked FMU [bytes]."""

INTERFACES = ("auto", "cs", "me")
REAL_TYPES = ("Real", "Float64")
"""Mapped variable types (FMI 3 Float32 variables are left out: they need other calls)."""


@dataclass(frozen=True)
class FmuVariable:
    """One real scalar of an FMU.

    Attributes
    ----------
    name : str
        Name as declared (``"tank.h"`` in Modelica FMUs).
    vr : int
        Value reference.
    causality : str
        ``input``, ``output``, ``parameter``, ``local``, ``independent``, ...
    variability : str
        ``continuous``, ``tunable``, ``fixed``, ...
    unit : str
        Declared unit (its own or its type's), ``""`` when none.
    start : float
        Start value, ``nan`` when none.
    description : str
    initial : str
        ``exact``, ``approx``, ``calculated`` or ``""`` (the standard's default).
    """

    name: str
    vr: int
    causality: str
    variability: str
    unit: str
    start: float
    description: str
    initial: str = ""

    @property
    def settable_at_start(self) -> bool:
        """True when a start value may be set before initialisation."""
        if self.causality in ("parameter", "input"):
            return True
        return self.causality in ("local", "output") and self.initial in ("exact", "approx")


@dataclass(frozen=True)
class FmuDescription:
    """The parts of ``modelDescription.xml`` a plant uses.

    Attributes
    ----------
    path : pathlib.Path
        The ``.fmu`` file.
    name : str
        File stem, used in every message.
    fmi_version : int
        2 or 3.
    interface : str
        ``"cs"`` or ``"me"``: the interface this plant runs.
    identifier : str
        Model identifier of that interface.
    guid : str
        GUID (FMI 2) or instantiation token (FMI 3).
    variables : dict
        Real scalars by name (:class:`FmuVariable`).
    states : list of str
        Continuous states (variables whose derivatives the FMU declares).
    derivatives : list of str
        Their derivatives, same order.
    event_indicators : int
        Number of event indicators (Model Exchange).
    can_get_set_state, can_serialize : bool
        Declared state capabilities of the interface used.
    time_unit : str
        Unit of the independent variable if declared, else ``""``.
    title : str
    """

    path: Path
    name: str
    fmi_version: int
    interface: str
    identifier: str
    guid: str
    variables: dict[str, FmuVariable]
    states: list[str]
    derivatives: list[str]
    event_indicators: int
    can_get_set_state: bool
    can_serialize: bool
    time_unit: str
    title: str
    generation_tool: str = ""
    model_description: object = field(default=None, repr=False, compare=False)

    def names(self, *causalities: str) -> list[str]:
        """Names of the variables with one of these causalities, in file order."""
        return [v.name for v in self.variables.values() if v.causality in causalities]

    @property
    def inputs(self) -> list[str]:
        return self.names("input")

    @property
    def outputs(self) -> list[str]:
        return self.names("output")

    @property
    def parameters(self) -> list[str]:
        return self.names("parameter")

    @property
    def signals(self) -> list[str]:
        """Everything a sensor may read: states, outputs and other time-varying locals."""
        skip = set(self.derivatives)
        return [v.name for v in self.variables.values()
                if v.causality in ("output", "local") and v.variability == "continuous"
                and v.name not in skip]

    def variable(self, name: str, what: str = "variable") -> FmuVariable:
        """The variable ``name``, or an error listing the valid names."""
        try:
            return self.variables[name]
        except KeyError:
            raise UnknownNameError(what, name, list(self.variables),
                                   f"FMU '{self.name}'") from None


def _unit(v) -> str:
    unit = v.unit or (v.declaredType.unit if v.declaredType is not None else None)
    return unit or ""


def _start(v) -> float:
    try:
        return float(v.start) if v.start is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def describe_fmu(path: str | Path, interface: str = "auto", runnable: bool = True,
                 max_bytes: int | None = None) -> FmuDescription:
    """Read an FMU's description and pick its interface.

    ``interface="auto"`` takes Co-Simulation when offered (the FMU's own
    solver), else Model Exchange (integrated by our integrators). With
    ``runnable`` (default), an FMU this plant cannot run here is refused
    now, with the reason: no binary for this platform, or Model Exchange
    with state events. An archive whose members would unpack to more than
    ``max_bytes`` [bytes] (default: :func:`unpack_limit`) or out of its
    folder is refused before anything is decompressed.
    """
    import fmpy
    from fmpy.model_description import ValidationError

    path = Path(path)
    name = path.stem
    if interface not in INTERFACES:
        raise InputError(f"FMU interface '{interface}': use one of {', '.join(INTERFACES)}")
    if path.is_dir():
        raise InputError(f"FMU '{path}' is a folder; give the .fmu file")
    if not path.is_file():
        raise InputError(f"FMU '{path}' does not exist")
    _members(path, name, unpack_limit(max_bytes))  # before anything is decompressed
    try:
        md = fmpy.read_model_description(str(path), validate=True)
    except ValidationError as exc:
        raise InputError(f"FMU '{name}': invalid modelDescription.xml: "
                         f"{str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - a broken zip or XML: one clear line
        raise InputError(f"FMU '{name}' cannot be read: {str(exc).splitlines()[0]}") from None
    version = int(md.fmiVersion.split(".")[0])
    if version not in (2, 3):
        raise InputError(f"FMU '{name}' is FMI {md.fmiVersion}; FMI 2.0 and 3.0 are supported")
    offered = {"cs": md.coSimulation, "me": md.modelExchange}
    if interface == "auto":
        interface = "cs" if md.coSimulation is not None else "me"
    part = offered[interface]
    if part is None:
        have = [k for k, v in offered.items() if v is not None] or ["none"]
        raise InputError(f"FMU '{name}' has no {interface.upper()} interface "
                         f"(it offers: {', '.join(have)})")
    if runnable:
        _check_binary(path, name, version, part.modelIdentifier)
    if runnable and interface == "me" and md.numberOfEventIndicators:
        raise InputError(
            f"FMU '{name}' declares {md.numberOfEventIndicators} event indicator(s); state "
            "events of Model Exchange FMUs are not located here, so results would be wrong: "
            "use its Co-Simulation interface")
    variables: dict[str, FmuVariable] = {}
    time_unit = ""
    for v in md.modelVariables:
        if v.type not in REAL_TYPES or (v.dimensions and v.shape != ()):
            continue
        if v.causality == "independent":
            time_unit = _unit(v)
            continue
        variables[v.name] = FmuVariable(v.name, int(v.valueReference), v.causality or "local",
                                        v.variability or "continuous", _unit(v), _start(v),
                                        v.description or "", v.initial or "")
    states, derivatives = [], []
    for unknown in md.derivatives:
        der = unknown.variable
        if der.derivative is not None and der.derivative.name in variables:
            states.append(der.derivative.name)
            derivatives.append(der.name)
    state_caps = (bool(getattr(part, "canGetAndSetFMUstate", False)),
                  bool(getattr(part, "canSerializeFMUstate", False)))
    return FmuDescription(
        path=path, name=name, fmi_version=version, interface=interface,
        identifier=part.modelIdentifier, guid=md.guid, variables=variables, states=states,
        derivatives=derivatives, event_indicators=int(md.numberOfEventIndicators or 0),
        can_get_set_state=state_caps[0], can_serialize=state_caps[1], time_unit=time_unit,
        title=md.description or md.modelName or name,
        generation_tool=md.generationTool or "", model_description=md)


def _check_binary(path: Path, name: str, version: int, identifier: str) -> None:
    """Refuse an FMU without a binary for this platform (sources alone are not built here)."""
    import zipfile

    import fmpy

    folder = fmpy.platform if version == 2 else fmpy.platform_tuple
    wanted = f"binaries/{folder}/{identifier}{fmpy.sharedLibraryExtension}"
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    if wanted not in names:
        have = sorted({n.split("/")[1] for n in names if n.startswith("binaries/") and n.count("/") > 1})
        raise InputError(f"FMU '{name}' has no binary for this platform ({wanted}); it has: "
                         f"{', '.join(have) or 'no binaries'}")


def unpack_limit(max_bytes: int | None = None) -> int:
    """The largest unpacked FMU [bytes]: ``max_bytes``, else ``$TWIN_FMU_MAX_BYTES``, else 512 MiB."""
    where = "max_bytes"
    if max_bytes is None:
        text = os.environ.get(LIMIT_VARIABLE, "").strip()
        if not text:
            return MAX_UNPACKED_BYTES
        where = f"{LIMIT_VARIABLE}={text!r}"
        try:
            max_bytes = int(text.replace("_", ""))
        except ValueError:
            max_bytes = 0
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise InputError(f"{where}: give the largest unpacked FMU size in bytes (a positive "
                         "whole number)")
    return max_bytes


def _mib(n: int) -> str:
    return f"{n / 2 ** 20:.4g} MiB"


def _members(path: Path, name: str, limit: int) -> list[zipfile.ZipInfo]:
    """The archive's members, checked: names inside the folder, declared sizes within ``limit``."""
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(f"FMU '{name}' cannot be read: {str(exc).splitlines()[0]}") from None
    total = 0
    for info in members:
        parts = PurePosixPath(info.filename).parts
        if "\\" in info.filename or info.filename.startswith("/") or ":" in info.filename \
                or ".." in parts:
            raise InputError(f"FMU '{name}': archive member '{info.filename}' would unpack "
                             "outside the FMU's folder")
        total += info.file_size
    if total > limit:
        raise InputError(f"FMU '{name}' would unpack to {_mib(total)}, more than the limit of "
                         f"{_mib(limit)} (set {LIMIT_VARIABLE} [bytes] to allow more)")
    return members


def extract_fmu(path: str | Path, target: str | Path | None = None,
                max_bytes: int | None = None) -> str:
    """Unpack an FMU into ``target`` (default: a new temporary folder); return the folder.

    The declared sizes are checked first and the bytes counted while
    unpacking: beyond ``max_bytes`` [bytes] (default :func:`unpack_limit`),
    beyond a member's declared size, or on a damaged archive, what was
    unpacked is removed and the error is one line.
    """
    path = Path(path)
    name = path.stem
    limit = unpack_limit(max_bytes)
    members = _members(path, name, limit)
    if target is None:
        folder, created = Path(tempfile.mkdtemp(prefix="twin-fmu-")), True
    else:
        folder = Path(target)
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
    before = set() if created else set(os.listdir(folder))
    try:
        _unpack(path, name, members, folder, limit)
    except BaseException as exc:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for entry in set(os.listdir(folder)) - before:
                _remove(folder / entry)
        if isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError, OSError,
                            NotImplementedError, RuntimeError)):
            raise InputError(f"FMU '{name}' cannot be unpacked: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None
        raise
    return str(folder)


def _unpack(path: Path, name: str, members: list[zipfile.ZipInfo], folder: Path,
            limit: int) -> None:
    total = 0
    with zipfile.ZipFile(path) as z:
        for info in members:
            dest = folder.joinpath(*PurePosixPath(info.filename).parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with z.open(info) as source, open(dest, "wb") as out:
                while block := source.read(1 << 20):
                    written += len(block)
                    total += len(block)
                    if written > info.file_size or total > limit:
                        raise InputError(
                            f"FMU '{name}': member '{info.filename}' unpacks to more than its "
                            f"declared {info.file_size} bytes" if written > info.file_size else
                            f"FMU '{name}' unpacks to more than the limit of {_mib(limit)} "
                            f"(set {LIMIT_VARIABLE} [bytes] to allow more)")
                    out.write(block)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

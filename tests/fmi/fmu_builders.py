"""FMUs the FMI tests run: ours (exported), and two from other sources.

- :func:`export_model`: ``twin fmu export`` of a plant model;
- :func:`build_pythonfmu_cstr`: an FMI 2.0 Co-Simulation FMU built by pythonfmu
  from ``sources/cstr_pythonfmu.py``;
- :func:`build_fmi3_cstr`: an FMI 3.0 FMU (ME and CS) compiled from
  ``sources/cstr_fmi3.c`` against the FMI 3 headers fmpy ships.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

SOURCES = Path(__file__).parent / "sources"
FMI3_TOKEN = "{5d6a1f1c-4a5e-4d1e-9a57-cstr-fmi3-test}"


def run_twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twin.cli.main", *args], capture_output=True,
                          text=True, timeout=900)


def export_model(model: str, folder: Path, *sets: str) -> Path:
    """``twin fmu export MODEL`` into ``folder``."""
    path = folder / f"{model}.fmu"
    done = run_twin("fmu", "export", model, *[a for s in sets for a in ("--set", s)],
                    "-o", str(path))
    assert done.returncode == 0, done.stderr
    return path


def build_pythonfmu_cstr(folder: Path) -> Path:
    """The pythonfmu CSTR (``CstrPy.fmu``), with state get/set and serialisation."""
    done = subprocess.run([sys.executable, "-m", "pythonfmu", "build", "-f",
                           str(SOURCES / "cstr_pythonfmu.py"), "--handle-state",
                           "--serialize-state", "-d", str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return folder / "CstrPy.fmu"


_UNITS = ("h", "mol/L", "degC", "mol/(L.h)", "K/h", "1/h", "kJ/h", "K")


def _fmi3_description(identifier: str, event_indicator: bool) -> str:
    states = [("C_a", 1, 0.8, "mol/L", "mol/(L.h)"), ("C_b", 2, 0.5, "mol/L", "mol/(L.h)"),
              ("T_R", 3, 134.14, "degC", "K/h"), ("T_K", 4, 130.0, "degC", "K/h")]
    lines = ['<Float64 name="time" valueReference="0" causality="independent" '
             'variability="continuous" unit="h"/>']
    for name, vr, start, unit, _ in states:
        lines.append(f'<Float64 name="{name}" valueReference="{vr}" causality="local" '
                     f'variability="continuous" initial="exact" start="{start}" unit="{unit}"/>')
    for name, vr, _, _, dunit in states:
        lines.append(f'<Float64 name="der({name})" valueReference="{vr + 4}" causality="local" '
                     f'variability="continuous" derivative="{vr}" unit="{dunit}"/>')
    for name, vr, start, unit in (("F", 9, 14.19, "1/h"), ("Q_dot", 10, -1113.5, "kJ/h")):
        lines.append(f'<Float64 name="{name}" valueReference="{vr}" causality="input" '
                     f'variability="continuous" start="{start}" unit="{unit}"/>')
    for name, vr, start, unit in (("alpha", 11, 1.0, ""), ("beta", 12, 1.0, ""),
                                  ("T_in", 13, 130.0, "degC"), ("fault", 14, 0.0, ""),
                                  ("fault_time", 15, 0.0, "h"), ("max_step", 16, 1e-4, "h")):
        unit_attr = f' unit="{unit}"' if unit else ""
        lines.append(f'<Float64 name="{name}" valueReference="{vr}" causality="parameter" '
                     f'variability="tunable" start="{start}"{unit_attr}/>')
    lines.append('<Float64 name="T_dif" valueReference="17" causality="output" '
                 'variability="continuous" unit="K"/>')
    if event_indicator:
        lines.append('<Float64 name="z_T_R" valueReference="18" causality="local" '
                     'variability="continuous"/>')
    structure = ['<Output valueReference="17"/>']
    structure += [f'<ContinuousStateDerivative valueReference="{vr}"/>' for vr in (5, 6, 7, 8)]
    structure += [f'<InitialUnknown valueReference="{vr}"/>' for vr in (5, 6, 7, 8, 17)]
    if event_indicator:
        structure.append('<EventIndicator valueReference="18"/>')
    units = "".join(f'<Unit name="{u}"/>' for u in _UNITS)
    caps = ('canGetAndSetFMUState="true" canSerializeFMUState="true" '
            f'modelIdentifier="{identifier}"')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="3.0" modelName="{identifier}" instantiationToken="{FMI3_TOKEN}"
  description="Van de Vusse CSTR (hand-written FMI 3.0 C)" generationTool="process-twin tests">
  <ModelExchange {caps}/>
  <CoSimulation {caps} canHandleVariableCommunicationStepSize="true"/>
  <UnitDefinitions>{units}</UnitDefinitions>
  <DefaultExperiment startTime="0" stopTime="1"/>
  <ModelVariables>
    {chr(10).join(lines)}
  </ModelVariables>
  <ModelStructure>
    {chr(10).join(structure)}
  </ModelStructure>
</fmiModelDescription>
"""


def build_fmi3_cstr(folder: Path, event_indicator: bool = False) -> Path:
    """Compile ``cstr_fmi3.c`` and package it as an FMI 3.0 FMU."""
    import fmpy

    identifier = "cstr3_events" if event_indicator else "cstr3"
    binary = folder / f"{identifier}.so"
    command = ["cc", "-O2", "-fPIC", "-shared", f"-I{Path(fmpy.__file__).parent / 'c-code'}",
               str(SOURCES / "cstr_fmi3.c"), "-o", str(binary), "-lm"]
    if event_indicator:
        command.insert(1, "-DEVENT_INDICATOR")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    path = folder / f"{identifier}.fmu"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("modelDescription.xml", _fmi3_description(identifier, event_indicator))
        z.write(binary, f"binaries/x86_64-linux/{identifier}.so")
    return path

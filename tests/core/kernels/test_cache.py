"""The compiled-model cache across processes, model changes, races and a missing compiler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import twin
    from twin.core.kernels.functions import model_functions
    from twin.core.simulator import Simulator
    out = {}
    for name in sys.argv[1].split(","):
        model = twin.load_model(name)
        f = model_functions(model)
        sim = Simulator(model, {"h": 0.005, "min": 1.0, "s": 10.0}[model.time_unit])
        x = [sim.step(model.u0()).tolist() for _ in range(3)][-1]
        out[name] = {"compiled": f.compiled, "library": str(f.library), "x": x}
    print(json.dumps(out))
""")


def _run(cache: Path, models: str, **env) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, models], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TWIN_CACHE_DIR": str(cache), **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def _binaries(cache: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in cache.glob("*.so")}


def test_a_second_process_reuses_the_binary(tmp_path):
    first, _ = _run(tmp_path, "cstr")
    built = _binaries(tmp_path)
    second, _ = _run(tmp_path, "cstr")
    assert first["cstr"]["compiled"] and second["cstr"]["compiled"]
    assert _binaries(tmp_path) == built and len(built) == 1
    assert first["cstr"]["x"] == second["cstr"]["x"]


def test_a_changed_model_is_recompiled(tmp_path):
    module = tmp_path / "my_tank.py"
    source = textwrap.dedent("""
        from twin.core.model import Model
        from twin.core.variables import manipulated, parameter, state
        MODEL = Model(name="tank", title="tank", source="test", time_unit="s",
                      states=[state("h", "m", "level", 1.0, 0.0, 10.0)],
                      inputs=[manipulated("q", "m/s", "inflow", 0.1, 0.0, 1.0)],
                      parameters=[parameter("k", "1/s", "outflow", 0.1)],
                      rhs=lambda x, u, p, ops: {"h": u.q - p.k * x.h})
    """)
    module.write_text(source)
    script = ("import twin; from twin.core.kernels.functions import model_functions;"
              "f = model_functions(twin.load_model('my_tank:MODEL')); print(f.library)")
    env = {**os.environ, "TWIN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}
    lib = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=300, check=True).stdout.strip()]
    module.write_text(source.replace("u.q - p.k * x.h", "u.q - p.k * x.h ** 0.5")
                      .replace('"1/s", "outflow"', '"m**0.5/s", "outflow"'))
    lib.append(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=300, check=True).stdout.strip())
    assert lib[0] != lib[1]
    assert all(Path(p).exists() for p in lib)
    assert len(_binaries(tmp_path / "cache")) == 2


RACE = textwrap.dedent("""
    import json, os, sys, time
    import twin
    from twin.core.kernels.functions import model_functions
    from twin.core.simulator import Simulator
    gate, me, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    models = [twin.load_model(n) for n in names]
    open(os.path.join(gate, "ready-" + me), "w").close()
    deadline = time.monotonic() + 120
    while len([f for f in os.listdir(gate) if f.startswith("ready-")]) < 2:  # the barrier
        if time.monotonic() > deadline:
            sys.exit("the other process never reached the barrier")
        time.sleep(0.001)
    out = {}
    for model in models:
        start = time.time()
        f = model_functions(model)
        end = time.time()
        sim = Simulator(model, {"h": 0.005, "min": 1.0, "s": 10.0}[model.time_unit])
        x = [sim.step(model.u0()).tolist() for _ in range(3)][-1]
        out[model.name] = {"compiled": f.compiled, "library": str(f.library), "x": x,
                           "start": start, "end": end}
    print(json.dumps(out))
""")

SLOW_CC = textwrap.dedent("""\
    #!/bin/sh
    # the system C compiler, one second slower, logging each compilation
    case "$*" in *--version*) exec cc "$@";; esac
    echo "$*" >> "{log}"
    sleep 1
    exec cc "$@"
""")


def test_two_processes_compiling_at_once_build_each_binary_once(tmp_path):
    """Both processes pass a barrier together and ask for the same two models at once; the
    compiler (slowed, so the second surely arrives while the first compiles) runs once per
    model, and both load that one binary."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    cache, gate, log = tmp_path / "cache", tmp_path / "gate", tmp_path / "compilations.log"
    gate.mkdir()
    cc = tmp_path / "slow-cc"
    cc.write_text(SLOW_CC.format(log=log))
    cc.chmod(0o755)
    env = {**os.environ, "TWIN_CACHE_DIR": str(cache), "CC": str(cc)}
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(gate), str(i),
                               "distillation_a,cstr"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    first, second = (json.loads(o[0]) for o in outputs)
    for name in ("distillation_a", "cstr"):
        a, b = first[name], second[name]
        assert max(a["start"], b["start"]) < min(a["end"], b["end"]), name  # they overlapped
        assert a["compiled"] and b["compiled"] and a["library"] == b["library"]
        assert a["x"] == b["x"]
    compilations = log.read_text().splitlines()
    assert len(compilations) == 2, compilations  # one per model, not one per process
    assert sorted(p.name for p in cache.glob("*.so")) == sorted(
        Path(first[n]["library"]).name for n in ("distillation_a", "cstr"))
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no half-built leftovers


def test_missing_compiler_falls_back_with_one_message(tmp_path):
    compiled, _ = _run(tmp_path / "ok", "cstr,distillation_a")
    fallback, stderr = _run(tmp_path / "none", "cstr,distillation_a", CC="/nonexistent/cc")
    for name in ("cstr", "distillation_a"):
        assert compiled[name]["compiled"] and not fallback[name]["compiled"]
        a, b = np.array(compiled[name]["x"]), np.array(fallback[name]["x"])
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "C compiler '/nonexistent/cc' not found" in lines[0]
    assert "CasADi evaluation" in lines[0]
    assert not list((tmp_path / "none").glob("*.so"))

"""Dependency direction (docs/architecture.md) and the set-up commands stay as documented."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _copy_project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copytree(ROOT / "plant_models", copy / "plant_models",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "benchmarks", copy / "twin_benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def _lint(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{project / 'src'}{os.pathsep}{project}"}
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)


def test_contracts_hold(tmp_path):
    done = _lint(_copy_project(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module,bad_import", [
    ("src/twin/core/model.py", "import plant_models.cstr"),
    ("src/twin/core/steady.py", "import apc"),
    ("src/apc/__init__.py", "import rto"),
    ("plant_models/cstr.py", "import twin.orchestration.registry"),
])
def test_a_wrong_direction_import_breaks_the_contract(tmp_path, module, bad_import):
    project = _copy_project(tmp_path)
    path = project / module
    path.write_text(path.read_text() + f"\n{bad_import}  # wrong direction\n")
    done = _lint(project)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout


def _fenced_commands(markdown: str) -> list[str]:
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", markdown, re.S)
            for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_commands = [c for c in _fenced_commands(readme) if "pytest" in c]
    assert len(test_commands) == 1
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in [line.strip() for line in ci]
    demo = [c for c in _fenced_commands(readme) if c.endswith("twin demo")]
    assert len(demo) == 1 and "-c constraints.txt" in demo[0]


def test_numerical_stack_is_pinned():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    for package in ("casadi", "do-mpc", "pyomo", "fmpy", "asyncua", "numpy", "scipy"):
        assert package in pins, package


def test_every_package_is_installed():
    """A subpackage missing from pyproject's list would vanish from a non-editable install."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = set()
    for name, folder in setup["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join(((name,) if name else ()) + rel) if rel or name else "")
    found.discard("")
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"

"""The shipped examples as a catalogue: list them, and copy them into a folder (``twin examples``).

Every file of this folder that is not Python package code is an example,
and so are the shipped RTO files (economics and an RTO run). Each has a
kind and a one-line description: the file's ``title`` or the first sentence
of its leading comment (TOML), its
docstring's first line (a model file), or, for an input schedule (CSV has
no comments), the line given in :data:`CSV_DESCRIPTIONS`. Copying an
example copies the shipped files it names too (a study's ``loop_file``, a
deploy file's ``controller_file``); a file it names that is not shipped
(the tag map ``twin serve-opcua`` writes) is listed as made elsewhere.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from apc.ident.model_file import is_model_file
from twin.core.config import read_toml
from twin.core.errors import InputError, UnknownNameError
from twin.orchestration.examples import FOLDER

CSV_DESCRIPTIONS = {
    "steps.csv": "input schedule for distillation_a: steps in reflux L_T at 50 min and boilup V_B "
                 "at 200 min [kmol/min]",
    "cstr_steps.csv": "input schedule for cstr: dilution rate F to 18 1/h at 0.2 h, cooling Q_dot to "
                      "-2000 kJ/h at 0.5 h",
}
"""One-line descriptions of the shipped input schedules."""

DATA_DESCRIPTIONS = {
    "qt_history.csv": "historian export of the quadruple tank (long form: tag, time stamp with "
                      "zone, value, quality), with bad samples; read with qt_tagmap.toml",
    "cstr_plant_data.csv": "plant data of a cstr with alpha = 1.05, beta = 0.9: 1 h at 30 s, noisy T_R "
                           "and T_K, C_b analyser every 5 min (for twin calibrate)",
    "quadruple_tank_steptest.csv": "step test of quadruple_tank P-: 2 h of GBN on both pumps (v1, v2) at "
                                   "2 s, levels h1, h2 with 0.05 cm noise (for twin identify)",
}
"""One-line descriptions of the shipped plant data files."""

MADE_ELSEWHERE = {
    "hw/tags.toml": "twin serve-opcua --config-dir hw",
    "hw/apc.password": "twin serve-opcua --config-dir hw",
}
"""Files an example names that are not shipped, and what makes them."""

KINDS = ("loop", "study", "deploy", "serve", "controller", "economics", "rto", "inputs", "model",
         "data", "tagmap", "steptest")
"""Kinds of example, in listing order."""

_REFERENCE_KEYS = ("loop_file", "controller_file", "tags_file", "password_file", "economics_file",
                   "rto_file")
_PACKAGE_FILES = {"__init__.py", "catalog.py"}


@dataclass(frozen=True)
class Example:
    """One shipped example file.

    Attributes
    ----------
    name : str
        File name, as written by ``twin examples copy``.
    kind : str
        One of :data:`KINDS`.
    description : str
        One line.
    path : Path
        The shipped file.
    needs : tuple of str
        Other shipped examples this file names (copied with it).
    made_elsewhere : tuple of str
        Files it names that are not shipped (:func:`made_by` says what makes them).
    """

    name: str
    kind: str
    description: str
    path: Path
    needs: tuple[str, ...] = ()
    made_elsewhere: tuple[str, ...] = ()


def _sources() -> dict[str, Path]:
    """Shipped example name -> file."""
    files = {p.name: p for p in sorted(FOLDER.iterdir())
             if p.is_file() and p.name not in _PACKAGE_FILES and p.suffix in {".toml", ".csv", ".py"}}
    rto = Path(str(resources.files("rto")))
    for path in sorted((rto / "economics_data").glob("*.toml")):
        files[f"{path.stem}_economics.toml"] = path
    for path in sorted((rto / "rto_data").glob("*.toml")):
        files[f"{path.stem}_rto.toml"] = path
    return files


def catalog() -> dict[str, Example]:
    """Every shipped example by name, in listing order (kind, then name)."""
    sources = _sources()
    examples = []
    for name, path in sources.items():
        data = read_toml(path) if path.suffix == ".toml" else {}
        named = _references(data)
        needs = tuple(r for r in named if r in sources and r != name)
        elsewhere = tuple(r for r in named if r not in sources)
        examples.append(Example(name, _kind(name, path, data), _description(name, path), path,
                                needs, elsewhere))
    examples.sort(key=lambda e: (KINDS.index(e.kind), e.name))
    return {e.name: e for e in examples}


def made_by(names: tuple[str, ...]) -> str:
    """``"needs a, b (from `command`)"`` for files an example names that are not shipped."""
    if not names:
        return ""
    makers = {MADE_ELSEWHERE.get(n, "") for n in names} - {""}
    return f"needs {', '.join(names)}" + (f" from `{'`, `'.join(sorted(makers))}`" if makers else "")


def copy_examples(names: list[str], folder: Path, force: bool = False) -> list[Path]:
    """Copy the examples ``names`` and the shipped files they name into ``folder``.

    Nothing is written when any target exists (unless ``force``) or any
    name is unknown; the error names them. Returns the files written.
    """
    examples = catalog()
    wanted: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name not in examples:
            raise UnknownNameError("example", name, list(examples))
        if name not in wanted:
            wanted.append(name)
            pending.extend(examples[name].needs)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--to {folder}: not a folder")
    existing = [n for n in wanted if (folder / n).exists()]
    if existing and not force:
        raise InputError(f"{', '.join(str(folder / n) for n in existing)} already exist"
                         f"{'s' if len(existing) == 1 else ''}; nothing copied (--force to overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in wanted:
        target = folder / name
        shutil.copyfile(examples[name].path, target)
        written.append(target)
    return written


def _kind(name: str, path: Path, data: dict[str, Any]) -> str:
    if path.suffix == ".csv":
        return "data" if name in DATA_DESCRIPTIONS else "inputs"
    if name.endswith("_tagmap.toml"):
        return "tagmap"
    if path.suffix == ".py" or is_model_file(data):
        return "model"
    if name.endswith("_economics.toml"):
        return "economics"
    if name.endswith("_rto.toml"):
        return "rto"
    if "sampling" in data or "variable" in data:
        return "study"
    if "test" in data and "mv" in data:
        return "steptest"
    if "gateway" in data or "tags_file" in data or "tags" in data:
        return "deploy"
    if "plant" in data and ("controller" in data or "controller_file" in data or "run" in data):
        return "loop"
    if "plant" in data:
        return "serve"
    if "cv" in data or "mv" in data:
        return "controller"
    raise InputError(f"shipped example '{name}': cannot tell its kind")


def _description(name: str, path: Path) -> str:
    if path.suffix == ".csv":
        return DATA_DESCRIPTIONS.get(name) or CSV_DESCRIPTIONS.get(name, "input schedule")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        doc = ast.get_docstring(ast.parse(text)) or ""
        return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else "model file"
    data = read_toml(path)
    if isinstance(data.get("title"), str) and data["title"].strip():
        return data["title"].strip()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
        if comment[-1].endswith((".", ":", "?", "!")):
            break
    first = re.split(r"(?<=[.?!])\s", " ".join(comment), maxsplit=1)[0].strip().rstrip(".:")
    return first or f"{_kind(name, path, data)} file"


def _references(data: Any) -> list[str]:
    """File names an example names: values of ``*_file`` keys, and identified model files
    (``model = "./name.toml"``), anywhere in the file."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in _REFERENCE_KEYS and value not in found:
            found.append(value)
        elif isinstance(value, str) and key == "model" and value.lower().endswith(".toml"):
            name = Path(value).name                 # an identified model file beside it
            if name not in found:
                found.append(name)

    walk(data)
    return found

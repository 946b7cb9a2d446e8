"""Model references: how configuration files and the command line name a model.

A model reference is one of

* a shipped model's name: ``"cstr"``;
* a model registered by an installed package (entry point group
  :data:`ENTRY_POINT_GROUP`), by its entry point name;
* ``"package.module:ATTRIBUTE"``: a :class:`~twin.core.model.Model` in an
  importable module;
* a model file: ``"./reactor.py"`` (its ``MODEL``) or ``"./reactor.py:NAME"``;
* an identified model file: ``"./quad_id.toml"`` (docs/identified-models.md).

A relative path is relative to the TOML file that names it, or to the
working folder on the command line.

This module only parses and resolves references (so every configuration
reader can make its paths absolute); loading is
:func:`twin.orchestration.registry.load_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "process_twin.models"
"""Entry point group through which installed packages register models (``name = "pkg.mod:ATTR"``)."""

DEFAULT_ATTRIBUTE = "MODEL"
"""The attribute of a model file (or module) that holds the model when none is named."""

FORMS = ("a shipped or registered model name (see `twin models`), a model file "
         "('./reactor.py' or './reactor.py:MODEL'), an identified model file ('./model.toml'), "
         "or 'package.module:ATTRIBUTE'")
"""The forms of a model reference, for error messages."""


def split_file_reference(ref: str) -> tuple[Path, str] | None:
    """``(path, attribute)`` of a model file reference, ``None`` for any other reference."""
    text = str(ref).strip()
    if text.endswith((".py", ".toml")):
        return Path(text), DEFAULT_ATTRIBUTE
    head, sep, attr = text.rpartition(":")
    if sep and head.endswith(".py") and attr.isidentifier():
        return Path(head), attr
    return None


def resolve_reference(ref: str, base: Path | str | None = None) -> str:
    """``ref`` with a relative model file path made absolute against ``base``.

    ``base`` is the folder of the file that names the reference (``None``:
    the working folder). Other references are returned unchanged.
    """
    parts = split_file_reference(ref)
    if parts is None:
        return ref
    path, attr = parts
    path = path.expanduser()
    if not path.is_absolute():
        path = Path(base if base is not None else ".") / path
    path = path.resolve()
    whole_file = attr == DEFAULT_ATTRIBUTE and str(ref).strip().endswith((".py", ".toml"))
    return str(path) if whole_file else f"{path}:{attr}"


def with_resolved_model(table: Any, base: Path | str | None, key: str = "model") -> Any:
    """A copy of a parsed TOML table whose ``key`` (a model reference) is resolved against
    ``base``; anything that is not a table with a string ``key`` is returned unchanged
    (the table's own checks report it). A ``parameter_set`` that is a parameter-set
    file (``*.toml``) is resolved against ``base`` too."""
    if not isinstance(table, Mapping) or not isinstance(table.get(key), str):
        return table
    out = {**table, key: resolve_reference(table[key], base)}
    param_set = table.get("parameter_set")
    if isinstance(param_set, str) and param_set.strip().endswith(".toml"):
        path = Path(param_set.strip()).expanduser()
        if not path.is_absolute():
            path = Path(base if base is not None else ".") / path
        out["parameter_set"] = str(path.resolve())
    return out

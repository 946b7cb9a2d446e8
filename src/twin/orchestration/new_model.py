"""``twin new-model``: a commented model file with a loop file and a study that run as written."""

from __future__ import annotations

import re
import string
from pathlib import Path

from twin.core.errors import InputError

TEMPLATES = Path(__file__).parent / "templates"
"""Folder of the templates (``$name`` is replaced by the model's name)."""

FILES = {"{name}.py": "model.py.txt", "{name}_loop.toml": "loop.toml.txt",
         "{name}_study.toml": "study.toml.txt"}
"""File written (by model name) -> its template."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def new_model(name: str, folder: Path | str = ".") -> list[Path]:
    """Write ``NAME.py``, ``NAME_loop.toml`` and ``NAME_study.toml`` into ``folder``.

    Nothing is written when any of them exists (:class:`InputError` naming it), or
    when ``name`` is not an identifier (it names the model, its files and its FMU).
    """
    if not _NAME.fullmatch(name):
        raise InputError(f"model name '{name}': use a letter, then letters, digits or '_' "
                         "(at most 64 characters); it names the model, its files and its FMU")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--to {folder}: no such folder")
    targets = {folder / pattern.format(name=name): TEMPLATES / template
               for pattern, template in FILES.items()}
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise InputError(f"{existing[0]} exists; remove it or choose another NAME or --to folder")
    for path, template in targets.items():
        text = string.Template(template.read_text(encoding="utf-8")).substitute(name=name)
        path.write_text(text, encoding="utf-8")
    return list(targets)

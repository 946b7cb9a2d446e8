"""Example configurations shipped with the package (closed loops, studies)."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent
"""Folder of the example files."""


def example(name: str) -> Path:
    """Path of a shipped example file, e.g. ``example("cstr_apc.toml")``."""
    path = FOLDER / name
    if not path.is_file():
        from twin.core.errors import UnknownNameError

        raise UnknownNameError("example", name, sorted(p.name for p in FOLDER.glob("*.toml")))
    return path


def file_or_example(path: str | Path) -> Path:
    """``path`` itself, or the shipped example of that name when no such file exists here."""
    path = Path(path)
    if not path.exists() and path.parent == Path(".") and (FOLDER / path.name).is_file():
        return FOLDER / path.name
    return path

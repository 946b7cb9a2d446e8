"""Example configurations shipped with the package (closed loops, studies)."""

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

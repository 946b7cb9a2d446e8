"""FMI wrapper sources and the FMU build script (see README.md in this folder)."""

from pathlib import Path

SOURCE_DIR = Path(__file__).parent
"""Folder holding ``fmi2_wrapper.c``."""

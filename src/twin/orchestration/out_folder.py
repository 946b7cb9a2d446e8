"""One policy for every command that writes a run folder (``--out``).

``twin control``, ``twin whatif``, ``twin demo`` and ``twin deploy`` refuse
an ``--out`` folder that already holds files, with one line, unless
``--force`` is given (``twin whatif --resume`` finishes an earlier run
instead). The check runs before any work; the folder itself is created only
once the run's own checks have passed (:func:`make_folder`), so a refused
configuration leaves nothing behind. ``--force`` removes what an earlier
run of the command wrote (its log, its partial results) when the new run
starts; other files in the folder are left alone, files of the same name
are replaced.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from twin.core.errors import InputError

CYCLE_LOG = ("cycles.sqlite", "cycles.sqlite-wal", "cycles.sqlite-shm", "cycles.sqlite-journal",
             "cycles.sqlite.lock")
"""The cycle log of a loop run, SQLite's companions, and the running loop's lock."""


def check_out_folder(folder: str | Path, force: bool = False, resume: bool = False,
                     option: str = "--out") -> Path:
    """Refuse ``folder`` unless it is new, empty, or ``force`` / ``resume`` allow it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder} is a file, not a folder")
    if force and resume:
        raise InputError("--force starts afresh and --resume finishes an earlier run: give one")
    if folder.is_dir() and not (force or resume) and any(folder.iterdir()):
        raise InputError(f"{option} {folder} already holds files (an earlier run?): give another "
                         f"{option}, or add --force to replace that run")
    return folder


def make_folder(folder: str | Path, fresh: bool = False, stale: Iterable[str] = CYCLE_LOG,
                stale_folders: Iterable[str] = ()) -> Path:
    """Create ``folder`` (after the run's checks passed); with ``fresh``, first remove the
    files named in ``stale`` and the folders named in ``stale_folders`` that an earlier run
    left there (a folder where a file is expected is left alone, for the run to name)."""
    folder = Path(folder)
    if fresh and folder.is_dir():
        for name in stale:
            path = folder / name
            if path.is_file() or path.is_symlink():
                path.unlink()
        for name in stale_folders:
            path = folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_unused_run(folder: str | Path) -> bool:
    """Remove ``folder``, created by a run that was refused before its first cycle (a refused
    login or certificate): only when it holds nothing but a cycle log without cycles."""
    import sqlite3

    folder = Path(folder)
    if not folder.is_dir() or any(p.name not in CYCLE_LOG for p in folder.iterdir()):
        return False
    log = folder / CYCLE_LOG[0]
    if log.is_file():
        try:
            with sqlite3.connect(f"file:{log}?mode=ro", uri=True) as db:
                if db.execute("SELECT COUNT(*) FROM cycle").fetchone()[0]:
                    return False
        except sqlite3.Error:
            return False
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return True

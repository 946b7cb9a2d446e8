"""Compiling generated model C once, cached per user.

Binaries live in ``$TWIN_CACHE_DIR`` (default: ``$XDG_CACHE_HOME/process-twin``
or ``~/.cache/process-twin``), named by a hash of the source, the compiler's
identity and the flags, so a changed model or compiler gives a new binary
and an unchanged one is never rebuilt. Two processes compiling the same
model at once are safe: a file lock serialises them, and the binary appears
by an atomic rename only when complete.

Without a working C compiler :func:`compile_shared` raises
:class:`CompilerUnavailable`; callers fall back to CasADi evaluation.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

CFLAGS = ("-O3", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno")
"""Flags for model binaries: no FMA contraction, so results match CasADi's own evaluation."""


class CompilerUnavailable(RuntimeError):
    """No usable C compiler (missing, or the compilation failed)."""


def cache_dir() -> Path:
    """The per-user cache folder for compiled binaries (created on demand)."""
    root = os.environ.get("TWIN_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "process-twin"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compiler_command() -> list[str]:
    """The C compiler to use: ``$CC``, else ``cc``."""
    return shlex.split(os.environ.get("CC", "cc")) or ["cc"]


@functools.lru_cache(maxsize=8)
def _compiler_identity(command: tuple[str, ...]) -> str:
    exe = shutil.which(command[0])
    if exe is None:
        raise CompilerUnavailable(f"C compiler '{command[0]}' not found")
    try:
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise CompilerUnavailable(f"C compiler '{command[0]}' cannot run: {exc}") from None
    if done.returncode != 0:
        raise CompilerUnavailable(f"C compiler '{command[0]}' does not answer --version")
    return exe + "\n" + done.stdout.strip().splitlines()[0]


def binary_key(source: str, flags: tuple[str, ...] = CFLAGS) -> str:
    """Hash of source, compiler identity and flags: the binary's name in the cache."""
    command = tuple(compiler_command())
    digest = hashlib.sha256()
    for part in (source, _compiler_identity(command), " ".join(command), " ".join(flags)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def compile_shared(source: str, stem: str, flags: tuple[str, ...] = CFLAGS,
                   include_dirs: tuple[str, ...] = ()) -> Path:
    """Path of the shared library built from ``source``, compiling it if not cached."""
    key = binary_key(source, flags + tuple(f"-I{d}" for d in include_dirs))
    folder = cache_dir()
    target = folder / f"{stem}-{key}.so"
    if target.exists():
        return target
    with open(folder / f"{stem}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process built it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=folder, prefix=f".{stem}-") as tmp:
            c_file = Path(tmp) / f"{stem}.c"
            c_file.write_text(source)
            built = Path(tmp) / f"{stem}.so"
            run_compiler([*compiler_command(), *flags, *(f"-I{d}" for d in include_dirs),
                          "-o", str(built), str(c_file), "-lm"], stem)
            os.replace(built, target)
    return target


def run_compiler(command: list[str], what: str) -> None:
    """Run a C compiler command; :class:`CompilerUnavailable` with its first error line if it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except OSError as exc:
        raise CompilerUnavailable(f"C compiler cannot run: {exc}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise CompilerUnavailable(f"compiling {what} failed: {first}")

"""The shell blocks of README.md, as the README-runner test reads them.

The rules, all of them:

- a block is a fenced code block whose info string is ``sh``, ``bash``,
  ``shell`` or ``console`` (``toml``, ``python``, plain fences are not run);
- a block right after a line ``<!-- readme-test: skip (reason) -->`` (blank
  lines between allowed) is not run; the reason is required;
- a ``console`` block runs only its lines that start with ``$ `` (the rest
  is output); the other blocks run as they stand, with bash;
- a block is named by its README line number (the line after the opening
  fence) and its first command line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

SHELLS = ("sh", "bash", "shell", "console")
"""Info strings of the blocks that are run."""

SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced shell block.

    Attributes
    ----------
    line : int
        README line number (1-based) of the block's first line.
    info : str
        The fence's info string (``bash``, ``console``, ...).
    text : str
        The block's lines, as written.
    skip : str
        Why it is not run (from the skip comment); empty when it is run.
    """

    line: int
    info: str
    text: str
    skip: str = ""

    @property
    def script(self) -> str:
        """What bash runs: the text, or a console block's ``$ `` lines without the prompt."""
        if self.info != "console":
            return self.text
        return "\n".join(line[2:] for line in self.text.splitlines() if line.startswith("$ ")) + "\n"

    @property
    def first(self) -> str:
        """The first command line, without its trailing comment (for messages)."""
        return next((line.split("  #")[0].strip() for line in self.script.splitlines()
                     if line.strip() and not line.lstrip().startswith("#")), "")

    @property
    def name(self) -> str:
        """``README.md:LINE: first command``."""
        return f"README.md:{self.line}: {self.first}"

    def twin_commands(self) -> list[list[str]]:
        """The arguments of each ``twin`` command in the block (after ``twin``).

        Commands are split at ``&&``, ``||``, ``;`` and ``|``; leading
        ``VAR=value`` assignments are dropped; comments are ignored.
        """
        commands: list[list[str]] = []
        for line in self.script.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            current: list[str] = []
            for token in [*lexer, ";"]:
                if token in {"&&", "||", ";", "|", "&"}:
                    while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                        current.pop(0)
                    if current and current[0] == "twin":
                        commands.append(current[1:])
                    current = []
                else:
                    current.append(token)
        return commands


def blocks(markdown: str) -> list[Block]:
    """Every fenced shell block of ``markdown``, in order, with its skip reason if any."""
    lines = markdown.splitlines()
    found: list[Block] = []
    pending_skip = ""
    k = 0
    while k < len(lines):
        line = lines[k]
        match = SKIP.match(line.strip())
        if match:
            pending_skip = match["reason"].strip()
            k += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if line.strip():
                pending_skip = ""  # a skip comment applies to the very next block only
            k += 1
            continue
        end = k + 1
        while end < len(lines) and not lines[end].startswith(fence["fence"]):
            end += 1
        info = fence["info"].lower()
        if info in SHELLS:
            found.append(Block(k + 2, info, "\n".join(lines[k + 1:end]) + "\n", pending_skip))
        pending_skip = ""
        k = end + 1
    return found

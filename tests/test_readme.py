"""Every shell block of README.md runs as written, in a folder holding the shipped examples.

The rules of what is run are in ``readme_blocks.py``. Each block runs with
bash (``-e -o pipefail``) in a fresh temporary folder into which
``twin examples copy --all`` has written every shipped example, with this
install's ``twin`` first on ``PATH``; a block fails the test when a command
exits non-zero, naming the README line and the block's first command.

Every runnable block runs in the default test run, one test item each (the
README shows the long examples in their short form: ``--duration``, a cut
smoke study, ``--quick``). Before that, every block is also checked without
running it (each ``twin`` command parses, and every file it reads is
shipped or made by an earlier command of the block), which names a missing
file or an unknown option directly; and a broken block is shown to fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from readme_blocks import Block, blocks

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
BLOCK_TIMEOUT = 300
"""Limit of one block [s] (the longest takes about 45 s on 2 shared cores)."""
INPUT_SUFFIXES = (".toml", ".csv", ".parquet", ".fmu", ".py")
"""Arguments ending so are files a command reads, unless an option names them as output."""
OUTPUT_OPTIONS = {"-o", "--out", "--plot", "--to", "--config-dir"}
"""Options whose value is a file or folder the command writes."""
MAKES_NAMED = {"new-model"}
"""Subcommands that write files named after their argument."""


def readme_blocks() -> list[Block]:
    return blocks(README.read_text(encoding="utf-8"))


def _to_run() -> list[Block]:
    return [b for b in readme_blocks() if not b.skip]


@pytest.fixture(scope="module")
def examples_folder(tmp_path_factory) -> Path:
    """Every shipped example, written by ``twin examples copy --all`` (the real command)."""
    folder = tmp_path_factory.mktemp("readme-examples")
    done = subprocess.run([str(BIN / "twin"), "examples", "copy", "--all", "--to", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return folder


def run_block(block: Block, examples: Path, workdir: Path, timeout: float = BLOCK_TIMEOUT) -> str:
    """Run ``block`` in ``workdir`` (a copy of ``examples``); '' when it passed, else why not."""
    shutil.copytree(examples, workdir)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", block.script],
                              cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"{block.name}: did not finish within {timeout:.0f} s"
    if done.returncode == 0:
        return ""
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return f"{block.name}: exited with status {done.returncode}: {tail}"


def _parse(args: list[str], cwd: Path) -> click.Command:
    """Parse ``twin ARGS`` as the CLI would, without running it; the command reached."""
    from twin.cli.main import cli

    here = Path.cwd()
    os.chdir(cwd)
    try:
        command: click.Command = cli
        ctx = cli.make_context("twin", list(args))
        while isinstance(command, click.Group):
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            if not rest and command.invoke_without_command:
                break
            name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(name, rest, parent=ctx)
        return command
    finally:
        os.chdir(here)


def test_the_rules_of_the_block_parser():
    text = ("# T\n\n```bash\ntwin models   # list\n\ntwin steady cstr && twin examples\n```\n\n"
            "<!-- readme-test: skip (needs a plant) -->\n\n```sh\ntwin deploy d.toml\n```\n"
            "```toml\nx = 1\n```\n```console\n$ twin models cstr\nC_a ...\n```\n"
            "<!-- readme-test: skip (for the next block only) -->\ntext\n```bash\nA=1 twin bench --list | head\n```\n")
    found = blocks(text)
    assert [(b.line, b.info, b.skip) for b in found] == [
        (4, "bash", ""), (12, "sh", "needs a plant"), (18, "console", ""), (24, "bash", "")]
    assert found[0].name == "README.md:4: twin models"
    assert found[0].twin_commands() == [["models"], ["steady", "cstr"], ["examples"]]
    assert found[2].script == "twin models cstr\n" and found[2].twin_commands() == [["models", "cstr"]]
    assert found[3].twin_commands() == [["bench", "--list"]]


def test_every_block_is_run_or_says_why_not():
    found = readme_blocks()
    assert len(found) >= 12
    assert all(b.skip.strip() for b in found if b.skip)
    assert sum(1 for b in found if not b.skip) >= 8


def missing_files(block: Block, examples: Path) -> list[str]:
    """Files the block's ``twin`` commands read that are neither shipped nor made earlier in it.

    Each command is parsed as the CLI would (an unknown subcommand or
    option fails here). Made earlier: the value of an output option, a
    file in such a folder, or a file whose name starts with the argument of
    an earlier command of :data:`MAKES_NAMED` (``twin new-model reactor``
    then ``reactor.py``).
    """
    missing: list[str] = []
    made: set[str] = set()
    words: set[str] = set()
    for args in block.twin_commands():
        _parse(args, examples)
        for k, token in enumerate(args):
            name = token.removeprefix("./")
            if k > 0 and args[k - 1] in OUTPUT_OPTIONS:
                made.add(name)
            elif name.endswith(INPUT_SUFFIXES) and "=" not in name:
                if not (name in made or (examples / name).is_file()
                        or any(name.startswith(f"{m.rstrip('/')}/") for m in made)
                        or any(Path(name).stem.startswith(w) for w in words)):
                    missing.append(f"'twin {' '.join(args)}' reads {token}")
        if args and args[0] in MAKES_NAMED:
            words |= {a for a in args[1:] if not a.startswith("-")}
    return missing


def test_missing_files_and_unknown_options_are_found_without_running(examples_folder):
    good = blocks("```bash\ntwin fmu export cstr -o my.fmu\ntwin fmu info my.fmu\n"
                  "twin examples copy study.toml --to sub\ntwin whatif sub/study.toml\n"
                  "twin control cstr_apc.toml\n```\n")[0]
    assert missing_files(good, examples_folder) == []
    bad = blocks("```bash\ntwin control vendor_loop.toml --out x\n```\n")[0]
    assert missing_files(bad, examples_folder) == ["'twin control vendor_loop.toml --out x' reads vendor_loop.toml"]
    with pytest.raises(click.UsageError, match="--no-such-option"):
        missing_files(blocks("```bash\ntwin models --no-such-option\n```\n")[0], examples_folder)


@pytest.mark.parametrize("block", _to_run(), ids=lambda b: f"line-{b.line}")
def test_every_twin_command_parses_and_reads_only_files_that_exist(block, examples_folder):
    """Without running: the subcommands and options exist, and every file read is there."""
    missing = missing_files(block, examples_folder)
    assert not missing, f"{block.name}: files neither shipped (twin examples) nor made earlier: {missing}"


def test_a_broken_block_fails_naming_its_line_and_first_command(examples_folder, tmp_path):
    text = "# Try\n\n```bash\ntwin models\ntwin steady no_such_model\ntwin models cstr\n```\n"
    block = blocks(text)[0]
    message = run_block(block, examples_folder, tmp_path / "run", timeout=120)
    assert message.startswith("README.md:4: twin models: exited with status 2: ")
    assert "unknown model 'no_such_model'" in message


@pytest.mark.parametrize("block", _to_run(), ids=lambda b: f"line-{b.line}")
def test_readme_block_runs(block, examples_folder, tmp_path):
    message = run_block(block, examples_folder, tmp_path / "run")
    assert not message, message

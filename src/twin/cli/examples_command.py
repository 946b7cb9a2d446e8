"""``twin examples``: list the shipped example files, and copy them into a folder."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``examples`` (and ``examples copy``) to the CLI."""

    @cli.group(invoke_without_command=True)
    @json_option
    @click.pass_context
    def examples(ctx, as_json: bool) -> None:
        """List the shipped examples, one line each; `examples copy` writes them.

        Loop, study, deploy, serve, controller, RTO and economics files,
        input schedules and a model file. Copy them with `twin examples copy
        NAME... [--to DIR]` (or `--all`); the shipped files an example names
        (a study's loop file) are copied with it.
        """
        if ctx.invoked_subcommand is not None:
            return
        from twin.orchestration.examples.catalog import catalog, made_by

        items = catalog().values()
        data = {"examples": [{"name": e.name, "kind": e.kind, "description": e.description,
                              "needs": list(e.needs), "made_elsewhere": list(e.made_elsewhere)}
                             for e in items]}
        width = max(len(e.name) for e in items)
        lines = []
        for e in items:
            notes = [f"copies {n} too" for n in e.needs] + ([made_by(e.made_elsewhere)]
                                                            if e.made_elsewhere else [])
            extra = f" ({'; '.join(notes)})" if notes else ""
            lines.append(f"{e.name:<{width}}  {e.kind:<10}  {e.description}{extra}")
        lines.append("copy with: twin examples copy NAME... [--to DIR]   (or --all)")
        emit(data, as_json, "\n".join(lines))

    @examples.command("copy")
    @click.argument("names", nargs=-1, metavar="NAME...")
    @click.option("--all", "copy_all", is_flag=True, help="Copy every example.")
    @click.option("--to", "folder", type=click.Path(path_type=Path), default=Path("."),
                  show_default=True, help="Folder to write into (made if missing).")
    @click.option("--force", is_flag=True, help="Overwrite files that exist.")
    @json_option
    def copy(names: tuple[str, ...], copy_all: bool, folder: Path, force: bool, as_json: bool) -> None:
        """Copy shipped examples (and the shipped files they name) into a folder.

        Refuses, copying nothing, when a file of that name exists (--force
        to overwrite).
        """
        from twin.core.errors import InputError
        from twin.orchestration.examples.catalog import catalog, copy_examples

        if copy_all == bool(names):
            raise InputError("examples copy: give example names (see `twin examples`) or --all")
        written = copy_examples(list(catalog()) if copy_all else list(names), folder, force)
        emit({"written": [str(p) for p in written]}, as_json,
             "\n".join(f"wrote {p}" for p in written))

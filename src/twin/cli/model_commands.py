"""``twin new-model``: start a model of your own plant."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group, emit, json_option) -> None:
    """Add the command to the ``twin`` group (``emit(data, as_json, human)`` prints)."""

    @cli.command("new-model")
    @click.argument("name")
    @click.option("--to", "folder", type=click.Path(path_type=Path), default=Path("."),
                  show_default=True, help="Folder to write the files into (it must exist).")
    @json_option
    def new_model_command(name: str, folder: Path, as_json: bool) -> None:
        """Write NAME.py (a commented model template), NAME_loop.toml and NAME_study.toml.

        They run as written, from the folder they are in:

        \b
          twin steady ./NAME.py
          twin simulate ./NAME.py --t-end 10 --dt 0.1 --out run.csv
          twin control NAME_loop.toml
          twin fmu export ./NAME.py -o NAME.fmu
          twin whatif NAME_study.toml

        Existing files are never overwritten.
        """
        from twin.orchestration.new_model import new_model

        files = new_model(name, folder)
        human = "\n".join([f"wrote {f}" for f in files] + [
            f"next: twin steady {files[0]} (see the comments in {files[0].name})"])
        emit({"model": name, "files": [str(f) for f in files]}, as_json, human)

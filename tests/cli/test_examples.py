"""`twin examples`: every shipped example listed with one line, copied with what it names, never over a file."""

from __future__ import annotations

import json

from support import run_twin, the_error_line
from twin.orchestration.examples import FOLDER
from twin.orchestration.examples.catalog import KINDS, catalog


def test_every_shipped_file_is_listed_once_with_a_kind_and_one_line(capsys):
    code, stdout, err = run_twin(capsys, "examples")
    assert code == 0, err
    lines = stdout.splitlines()
    shipped = sorted(p.name for p in FOLDER.iterdir()
                     if p.suffix in {".toml", ".csv", ".py"} and p.name not in {"__init__.py", "catalog.py"})
    listed = [line.split()[0] for line in lines[:-1]]
    assert set(shipped) <= set(listed) and len(listed) == len(set(listed))
    assert {"cstr_economics.toml", "tennessee_eastman_economics.toml", "williams_otto_economics.toml",
            "williams_otto_rto.toml"} <= set(listed)
    assert lines[-1].startswith("copy with: twin examples copy NAME")
    kinds = {line.split()[0]: line.split()[1] for line in lines[:-1]}
    assert set(kinds.values()) == set(KINDS)  # loop, study, deploy, serve, controller, RTO, inputs, model
    assert kinds["deploy.toml"] == "deploy" and kinds["qt_hardware.toml"] == "serve"
    assert kinds["steps.csv"] == "inputs" and kinds["heated_tank.py"] == "model"
    width = max(len(name) for name in listed) + 2  # names padded to the longest, plus two
    assert f"{'cstr_apc.toml':<{width}}loop        CSTR under APC: tracking C_b with plant-model mismatch" in lines
    deploy = next(line for line in lines if line.startswith("deploy.toml"))
    assert deploy.endswith("(copies qt_controller.toml too; needs hw/tags.toml, hw/apc.password from "
                           "`twin serve-opcua --config-dir hw`)")


def test_json_listing_has_every_example(capsys):
    code, stdout, _ = run_twin(capsys, "examples", "--json")
    data = json.loads(stdout)["examples"]
    assert code == 0 and [e["name"] for e in data] == list(catalog())
    sobol = next(e for e in data if e["name"] == "cstr_apc_rto_sobol.toml")
    assert sobol["kind"] == "study" and sobol["needs"] == ["cstr_rto_apc.toml"]
    assert all(e["description"] and "\n" not in e["description"] for e in data)


def test_copy_brings_the_files_an_example_names_and_every_copy_loads(capsys, tmp_path):
    from apc.spec import load_spec
    from rto.economics import load_economics
    from rto.spec import load_rto
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.opcua.serve_config import load_serve_config
    from twin.orchestration.steptest import load_steptest
    from twin.orchestration.whatif import load_study

    code, stdout, err = run_twin(capsys, "examples", "copy", "cstr_apc_rto_sobol.toml", "--to", str(tmp_path / "a"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["cstr_apc_rto_sobol.toml", "cstr_rto_apc.toml"]
    study = load_study(tmp_path / "a" / "cstr_apc_rto_sobol.toml")
    assert study.resolve(study.base.loop_file) == tmp_path / "a" / "cstr_rto_apc.toml"  # the copy

    code, _, err = run_twin(capsys, "examples", "copy", "--all", "--to", str(tmp_path / "all"))
    assert code == 0, err
    loaders = {"loop": load_loop, "study": load_study, "controller": load_spec, "rto": load_rto,
               "economics": load_economics, "serve": load_serve_config, "steptest": load_steptest}
    for example in catalog().values():
        copied = tmp_path / "all" / example.name
        assert copied.read_bytes() == example.path.read_bytes()
        if example.kind in loaders:
            loaders[example.kind](copied)


def test_copy_refuses_to_overwrite_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "cstr_rto_apc.toml").write_text("# mine\n")
    code, _, err = run_twin(capsys, "examples", "copy", "cstr_apc_rto_sobol.toml", "--to", str(tmp_path))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: {tmp_path / 'cstr_rto_apc.toml'} already exists; "
                                   "nothing copied (--force to overwrite)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cstr_rto_apc.toml"]
    assert (tmp_path / "cstr_rto_apc.toml").read_text() == "# mine\n"
    code, _, err = run_twin(capsys, "examples", "copy", "cstr_apc_rto_sobol.toml", "--to", str(tmp_path), "--force")
    assert code == 0, err
    assert (tmp_path / "cstr_rto_apc.toml").read_bytes() == (FOLDER / "cstr_rto_apc.toml").read_bytes()


def test_copy_refuses_unknown_names_and_no_names(capsys, tmp_path):
    code, _, err = run_twin(capsys, "examples", "copy", "steps.csv", "vendor_reactor.fmu", "--to", str(tmp_path))
    assert code == 2 and the_error_line(err).startswith("twin: error: unknown example 'vendor_reactor.fmu'; valid: ")
    assert not tmp_path.joinpath("steps.csv").exists()
    code, _, err = run_twin(capsys, "examples", "copy", "--to", str(tmp_path))
    assert code == 2 and "give example names (see `twin examples`) or --all" in the_error_line(err)

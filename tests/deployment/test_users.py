"""Users of the simulated hardware: allowed names, a users file written and read as TOML."""

from __future__ import annotations

import io
import sys

import pytest

from support import run_twin, the_error_line
from twin.core.config import read_toml
from twin.core.errors import InputError
from twin.orchestration.opcua import security

RULE = "use 1-32 ASCII letters, digits, '_', '.' or '-', starting with a letter"


def _add_user(capsys, monkeypatch, folder, name, password="a-long-password", role="viewer"):
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    return run_twin(capsys, "serve-opcua", "--config-dir", str(folder), "--add-user", name,
                    "--role", role)


@pytest.mark.parametrize("name", ["ünïcode", "1st", "has space", "a" * 33, "semi;colon", ""])
def test_a_user_name_outside_the_rule_is_refused_and_the_users_file_stays_good(
        capsys, monkeypatch, tmp_path, name):
    folder = tmp_path / "server"
    security.create_first_users(folder)
    before = security.users_file(folder).read_bytes()
    code, _, err = _add_user(capsys, monkeypatch, folder, name)
    assert code == 2
    assert the_error_line(err) == f"twin: error: user name {name!r}: {RULE}"
    assert security.users_file(folder).read_bytes() == before
    assert set(security.load_users(folder)) == {"apc", "operator"}


def test_allowed_names_are_written_as_toml_and_read_back(capsys, monkeypatch, tmp_path):
    folder = tmp_path / "server"
    for name in ("op.2-x", "Z", "a" * 32, "night_shift"):
        code, out, err = _add_user(capsys, monkeypatch, folder, name, role="operator")
        assert code == 0, err
        assert out.strip() == f"user '{name}' (operator) added"
    users = security.load_users(folder)
    assert set(users) == {"apc", "operator", "op.2-x", "Z", "a" * 32, "night_shift"}
    assert users["op.2-x"].role == "operator"
    assert security.check_password("a-long-password", users["op.2-x"].password_hash)
    data = read_toml(security.users_file(folder))  # a plain TOML file
    assert data["users"]["op.2-x"] == {"role": "operator", "password": users["op.2-x"].password_hash}
    assert oct(security.users_file(folder).stat().st_mode & 0o777) == "0o600"


GOOD = security.hash_password("a-long-password")


@pytest.mark.parametrize("text, message", [
    ('[users."ünïcode"]\nrole = "apc"\npassword = "GOOD"\n', f"user name 'ünïcode': {RULE}"),
    ('[users.x]\nrole = "admin"\npassword = "GOOD"\n',
     "user 'x': role 'admin' is not one of apc, operator, engineer, viewer"),
    ('[users.x]\nrole = "apc"\npassword = "hunter2"\n',
     "user 'x': password is not a scrypt hash written by twin serve-opcua (scrypt$<salt>$<hash>)"),
    ('[users.x]\nrole = "apc"\n',
     "user 'x' needs exactly a role (apc, operator, engineer, viewer) and a password hash"),
    ('[users.x]\nrole = "apc"\npassword = "GOOD"\nshell = "/bin/sh"\n',
     "user 'x' needs exactly a role (apc, operator, engineer, viewer) and a password hash"),
    ('users = 3\n', "'users' must be a table of [users.NAME] tables"),
    ('[admins.x]\nrole = "apc"\n', "unknown key 'admins'; only [users.NAME] tables"),
    ('', "defines no users"),
])
def test_a_bad_users_file_is_one_line_naming_the_entry(tmp_path, text, message):
    folder = tmp_path / "server"
    folder.mkdir()
    security.users_file(folder).write_text(text.replace("GOOD", GOOD))
    with pytest.raises(InputError) as caught:
        security.load_users(folder)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(security.users_file(folder)) in str(caught.value)


def test_a_users_file_that_is_not_toml_stops_the_server_with_one_line(tmp_path, capsys):
    folder = tmp_path / "server"
    folder.mkdir()
    security.users_file(folder).write_bytes(b"[users.\xfc]\nrole = 1\n")
    code, _, err = run_twin(capsys, "serve-opcua", "quadruple_tank", "--tick", "0.5",
                            "--endpoint", "opc.tcp://127.0.0.1:4999/twin", "--config-dir",
                            str(folder), "--duration", "1")
    assert code == 2
    assert the_error_line(err) == (f"twin: error: configuration file "
                                   f"'{security.users_file(folder)}' is not UTF-8 text (byte 7); "
                                   "save it as UTF-8")

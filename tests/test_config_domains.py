"""Every numeric field of every configuration file has one declared domain, and the loaders
keep to it.

For each kind of file a command reads (controller, loop, deploy, serve,
study, RTO, economics, tag map), starting from a valid file, every numeric
field found by walking the schema (the dataclasses the loader builds,
fields absent from the file included) is set in turn to NaN, +-inf, 0, a
negative number, a huge one, a string, a boolean and a table. The loader
must either accept the value, and then the field's declared domain must
contain it, or refuse it with one line (an InputError) that names the key.
An unknown key in any table is refused naming it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
import tomli_w

from apc.spec import ControllerSpec, load_spec
from rto.economics import EconomicsSpec, load_economics
from rto.spec import RTOSpec, load_rto
from twin.core.config import domain_of, read_toml
from twin.core.errors import InputError
from twin.orchestration.examples import FOLDER as EXAMPLES
from twin.orchestration.loop import config as loop_config
from twin.orchestration.loop.config import load_loop
from twin.orchestration.opcua import deploy_config
from twin.orchestration.opcua.deploy_config import load_deploy
from twin.orchestration.opcua.serve_config import ServeConfig, load_serve_config
from twin.orchestration.opcua.tagmap import TagMap, load_tag_map
from twin.orchestration.steptest.config import StepTestSpec, load_steptest
from twin.orchestration.whatif.study import Study, load_study
from twin_benchmarks.apc import SPEC as DOMPC_SPEC

DEPLOYMENT = Path(__file__).parent / "deployment" / "data"
RTO = Path(__file__).parents[1] / "src" / "rto"

BAD_VALUES = [math.nan, math.inf, -math.inf, 0, 0.0, -1, -1.5, 1e300, -1e300, 10 ** 30,
              "text", True, [1.0], {"a": 1.0}]


def _hints(cls) -> dict[str, Any]:
    return get_type_hints(cls, include_extras=True)


def _tables(cls) -> dict[str, Any]:
    """Top-level keys of a file and their types."""
    return {f.name: _hints(cls)[f.name] for f in dataclasses.fields(cls) if f.init}


LOOP_TABLES = {**_tables(loop_config._LoopTables), "controller": ControllerSpec}
DEPLOY_TABLES = {**_tables(deploy_config._Tables), "controller": ControllerSpec, "tags": TagMap}
STUDY_TABLES = {k: v for k, v in _tables(Study).items() if k != "folder"}


def _serve_doc() -> dict:
    doc = read_toml(DEPLOYMENT / "plant.toml")
    doc["server"] = {"endpoint": "opc.tcp://127.0.0.1:4840/twin", "speed": 1.0}
    doc["fault"] = [{"time": 10.0, "kind": "drift", "tag": "h1", "value": 0.1, "duration": 5.0}]
    return doc


def _deploy_doc() -> dict:
    tags = {"url": "opc.tcp://127.0.0.1:4840/twin", "server_heartbeat": "ns=2;s=D.H",
            "apc_heartbeat": "ns=2;s=A.H", "tick": "ns=2;s=D.T", "tick_period": 0.25,
            "seconds_per_time_unit": 1.0,
            "tags": {n: {"node": f"ns=2;s=P.{n}", "unit": "cm", "scale": 1.0, "offset": 0.0}
                     for n in ("h1", "h2")},
            "loops": {n: {"mode": f"ns=2;s={n}.M", "rsp": f"ns=2;s={n}.R", "sp": f"ns=2;s={n}.S",
                          "scale": 1.0, "offset": 0.0} for n in ("v1", "v2")}}
    return {"controller": read_toml(DEPLOYMENT / "controller.toml"), "tags": tags,
            "gateway": {"username": "apc", "password_env": "PW", "timeout": 2.0,
                        "reconnect_wait": 1.0},
            "watchdog": {"heartbeat_timeout": 3.0, "max_errors": 5},
            "run": {"duration": 100.0},
            "event": [{"time": 50.0, "setpoint": {"h1": 12.5},
                       "limits": {"v1": {"max_move": 0.4}}}]}


def _steptest_doc() -> dict:
    doc = read_toml(EXAMPLES / "qt_steptest.toml")
    doc["pretest"] = {"hold": 100.0, "steps": {"v1": 0.2}}
    doc["cv"][0].update(excursion=1.0, gains={"v1": 5.0, "v2": 3.0})
    return doc


def _steptest_opcua_doc() -> dict:
    doc = {k: v for k, v in _steptest_doc().items() if k != "plant"}
    doc["cv"] = [{k: v for k, v in c.items() if k != "noise_std"} for c in doc["cv"]]
    doc["opcua"] = {"tags_file": "tags.toml", "time_unit": "s",
                    "gateway": {"username": "apc", "password_env": "PW", "timeout": 2.0},
                    "watchdog": {"heartbeat_timeout": 3.0, "reentry_cycles": 2}}
    return doc


def _controller_doc() -> dict:
    doc = read_toml(EXAMPLES / "cstr_apc.toml")["controller"]
    doc["solver"] = {"tol": 1e-8, "max_iter": 300, "time_budget": 1.0, "max_failures": 3}
    doc["estimator"] = {"kind": "mhe", "horizon": 10}
    return doc


CASES = [  # (name, loader, schema, document, file name)
    ("controller", load_spec, _tables(ControllerSpec), _controller_doc(), "c.toml"),
    ("controller-robust", load_spec, _tables(ControllerSpec), read_toml(DOMPC_SPEC), "c.toml"),
    ("loop", load_loop, LOOP_TABLES, read_toml(EXAMPLES / "cstr_apc.toml"), "loop.toml"),
    ("loop-rto", load_loop, LOOP_TABLES, read_toml(EXAMPLES / "cstr_rto_apc.toml"), "loop.toml"),
    ("loop-pplus", load_loop, LOOP_TABLES, read_toml(EXAMPLES / "quadruple_tank_pplus.toml"),
     "loop.toml"),
    ("deploy", load_deploy, DEPLOY_TABLES, _deploy_doc(), "deploy.toml"),
    ("serve", load_serve_config, _tables(ServeConfig), _serve_doc(), "serve.toml"),
    ("study", load_study, STUDY_TABLES, read_toml(EXAMPLES / "cstr_kinetics_ensemble.toml"),
     "study.toml"),
    ("study-loop", load_study, STUDY_TABLES, read_toml(EXAMPLES / "cstr_apc_rto_sobol.toml"),
     "study.toml"),
    ("rto", load_rto, _tables(RTOSpec), read_toml(RTO / "rto_data" / "williams_otto.toml"),
     "rto.toml"),
    ("economics", load_economics, _tables(EconomicsSpec),
     read_toml(RTO / "economics_data" / "cstr.toml"), "economics.toml"),
    ("tags", load_tag_map, _tables(TagMap), _deploy_doc()["tags"], "tags.toml"),
    ("steptest", load_steptest, _tables(StepTestSpec), _steptest_doc(), "steptest.toml"),
    ("steptest-opcua", load_steptest, _tables(StepTestSpec), _steptest_opcua_doc(),
     "steptest.toml"),
]


# ------------------------------------------------------------------ the schema walk

def _unwrap(tp):
    """(type without Optional, domain) of an annotation."""
    tp, domain = domain_of(tp)
    if get_origin(tp) in (typing.Union, types.UnionType):
        options = [o for o in get_args(tp) if o is not type(None)]
        if len(options) == 1:
            inner, inner_domain = domain_of(options[0])
            return inner, inner_domain or domain
    return tp, domain


def _is_number(tp) -> bool:
    return tp in (int, float)


def _defaults_only(cls) -> bool:
    return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls) if f.init)


def _leaves(tp, value, path: tuple):
    """(path, type, domain) of every numeric field under ``value`` of type ``tp``."""
    tp, domain = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        yield from _table_leaves(_tables(tp), value if isinstance(value, dict) else {}, path)
    elif get_origin(tp) in (tuple, list):
        item = (get_args(tp) or (Any,))[0]
        if isinstance(value, list) and value:
            yield from _leaves(item, value[0], path + (0,))
    elif get_origin(tp) is dict:
        item = get_args(tp)[1]
        if isinstance(value, dict) and value:
            yield from _leaves(item, value[next(iter(value))], path + (next(iter(value)),))
    elif _is_number(tp):
        yield path, tp, domain


def _table_leaves(schema: dict, doc: dict, path: tuple):
    for key, hint in schema.items():
        tp, _ = _unwrap(hint)
        if key in doc:
            yield from _leaves(hint, doc[key], path + (key,))
        elif _is_number(tp):
            yield path + (key,), tp, _unwrap(hint)[1]
        elif dataclasses.is_dataclass(tp) and _defaults_only(tp):
            yield from _leaves(hint, {}, path + (key,))


def _tables_in(schema: dict, doc: dict, path: tuple = ()):
    """Paths of every table of the document that is a dataclass (not a map of names)."""
    yield path
    for key, hint in schema.items():
        tp, _ = _unwrap(hint)
        value = doc.get(key)
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            yield from _tables_in(_tables(tp), value, path + (key,))
        elif get_origin(tp) in (tuple, list) and isinstance(value, list) and value:
            item, _ = _unwrap((get_args(tp) or (Any,))[0])
            if dataclasses.is_dataclass(item) and isinstance(value[0], dict):
                yield from _tables_in(_tables(item), value[0], path + (key, 0))
        elif get_origin(tp) is dict and isinstance(value, dict) and value:
            item, _ = _unwrap(get_args(tp)[1])
            first = next(iter(value))
            if dataclasses.is_dataclass(item) and isinstance(value[first], dict):
                yield from _tables_in(_tables(item), value[first], path + (key, first))


def _set(doc: dict, path: tuple, value) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    return doc


def _in_domain(value, tp, domain) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if tp is int and not isinstance(value, int):
        return False
    if not math.isfinite(float(value)):
        return False
    return domain is None or domain.contains(value)


@pytest.fixture
def folder(tmp_path):
    for p in EXAMPLES.glob("*.toml"):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def _load(loader, folder: Path, name: str, doc: dict):
    path = folder / name
    path.write_text(tomli_w.dumps(doc))
    return loader(path)


def _name_of(path: tuple) -> str:
    return [k for k in path if isinstance(k, str)][-1]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_numeric_field_keeps_to_its_declared_domain(case, folder, monkeypatch):
    monkeypatch.setenv("PW", "secret")
    name, loader, schema, doc, file_name = case
    _load(loader, folder, file_name, doc)  # the document itself is valid
    leaves = list(_table_leaves(schema, doc, ()))
    assert leaves
    for path, tp, domain in leaves:
        for value in BAD_VALUES:
            try:
                _load(loader, folder, file_name, _set(doc, path, value))
            except InputError as exc:
                message = str(exc)
                assert "\n" not in message, (path, value, message)
                assert _name_of(path) in message, (path, value, message)
                continue
            assert _in_domain(value, tp, domain), f"{name}: {path} accepted {value!r}"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_an_unknown_key_in_any_table_is_refused_by_name(case, folder, monkeypatch):
    monkeypatch.setenv("PW", "secret")
    name, loader, schema, doc, file_name = case
    for path in _tables_in(schema, doc):
        with pytest.raises(InputError) as caught:
            _load(loader, folder, file_name, _set(doc, path + ("bogus_key",), 1.0))
        assert "bogus_key" in str(caught.value) and "\n" not in str(caught.value), path

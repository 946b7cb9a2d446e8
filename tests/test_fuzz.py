"""Fuzz tests: hostile configuration files, expressions and input schedules.

Hypothesis mutates valid files of every command (a value replaced by
anything TOML can hold, a key removed or added, raw bytes), writes
expressions from the grammar's tokens and beyond it, and builds input
schedules with odd times and values. Every outcome must be acceptance or
a one-line :class:`InputError` (exit 2 at the command line): no other
exception, no hang. Examples and time are bounded so the run stays short.
"""

from __future__ import annotations

import copy
import string

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import run_twin
from test_config_domains import CASES, EXAMPLES
from twin.core import expressions, ops
from twin.core.config import read_toml
from twin.core.errors import InputError

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TOML_SCALARS = st.one_of(
    st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1), st.floats(allow_nan=True),
    st.text(max_size=30), st.booleans())
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=10), inner,
                                                 max_size=4)), max_leaves=12)


def _paths(node, path=()):
    """Every key path of a parsed TOML document (tables, lists and values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,)
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield path + (i,)
            yield from _paths(value, path + (i,))


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated_documents(draw):
    """(case, document): one of the valid files with one to three random edits."""
    case = draw(st.sampled_from(CASES))
    doc = copy.deepcopy(case[3])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(TOML_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(st.text(min_size=1, max_size=12))] = draw(TOML_VALUES)
            elif isinstance(target, list):
                target.append(draw(TOML_VALUES))
    return case, doc


def _one_line_or_accepted(call) -> None:
    try:
        call()
    except InputError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)


@FUZZ
@given(mutated_documents())
def test_mutated_configuration_files_are_accepted_or_refused_in_one_line(tmp_path, monkeypatch,
                                                                          sample):
    monkeypatch.setenv("PW", "secret")
    (name, loader, _, _, file_name), doc = sample
    for p in EXAMPLES.glob("*.toml"):
        if not (tmp_path / p.name).exists():
            (tmp_path / p.name).write_bytes(p.read_bytes())
    path = tmp_path / file_name
    path.write_text(tomli_w.dumps(doc))
    _one_line_or_accepted(lambda: loader(path))


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("latin-1", "replace")))
def test_raw_bytes_as_a_configuration_file_are_one_line(tmp_path, data):
    path = tmp_path / "file.toml"
    path.write_bytes(data)
    _one_line_or_accepted(lambda: read_toml(path))


# ------------------------------------------------------------------ expressions

NAMES = ["C_a", "C_b", "T_R", "F", "exp", "log", "sqrt", "abs", "sin", "x", "__import__"]
TOKENS = st.sampled_from(NAMES + ["+", "-", "*", "/", "**", "(", ")", "(", ")", "0", "1", "2.5",
                                  "1e308", "1e-320", "9", ",", ".", "[", "]", "lambda", ":",
                                  "==", "<", "'s'", "if", "else", " ", "_", "0x1f", "1_0"])


@FUZZ
@given(st.lists(TOKENS, min_size=1, max_size=25).map("".join)
       | st.text(alphabet=string.printable, max_size=60))
def test_expressions_parse_and_evaluate_or_fail_in_one_line(text):
    allowed = ["C_a", "C_b", "T_R", "F"]
    try:
        expr = expressions.parse(text, allowed, "kpi 'x'")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    values = {"C_a": 0.8, "C_b": 0.5, "T_R": 134.1, "F": 0.0}
    for namespace, data in ((ops.MATH, values),
                            (ops.NUMPY, {k: np.array([v, -v, 1e300]) for k, v in values.items()})):
        try:
            with np.errstate(all="ignore"):
                expr(data, namespace)
        except InputError as exc:
            assert "\n" not in str(exc)


@FUZZ
@given(st.integers(1, 5000))
def test_deeply_nested_or_long_expressions_are_one_line(depth):
    for text in ("(" * depth + "C_b" + ")" * depth, "-" * depth + "C_b", "C_b+" * depth + "1",
                 "exp(" * depth + "C_b" + ")" * depth):
        _one_line_or_accepted(lambda: expressions.parse(text, ["C_b"]))


# ------------------------------------------------------------------ input schedules

NUMBER_TEXT = st.one_of(st.floats(allow_nan=True).map(repr), st.integers().map(str),
                        st.sampled_from(["", "nan", "inf", "-inf", "1e999", "x", "1,5", " 3 "]))


@st.composite
def schedules(draw):
    columns = draw(st.lists(st.sampled_from(["time", "F", "Q_dot", "C_a", " time", "F "]),
                            min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(NUMBER_TEXT, min_size=len(columns), max_size=len(columns)),
                         max_size=6))
    return ",".join(columns) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"


@FUZZ
@given(schedules())
def test_input_schedules_are_used_or_refused_in_one_line(tmp_path, capsys, text):
    path = tmp_path / "steps.csv"
    path.write_text(text)
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            "--inputs", str(path), "--out", str(tmp_path / "run.csv"))
    assert code in (0, 2), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("twin: error:"), err


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["--u", "--set", "--x0"]),
                          st.tuples(st.sampled_from(["F", "Q_dot", "C_a", "T_in", "beta", "", "="]),
                                    NUMBER_TEXT).map("=".join)),
                max_size=3))
def test_command_line_values_are_used_or_refused_in_one_line(tmp_path, capsys, options):
    args = [a for pair in options for a in pair]
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            *args, "--out", str(tmp_path / "run.csv"))
    assert code in (0, 2), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("twin: error:"), err
    else:
        import pandas as pd

        assert np.isfinite(pd.read_csv(tmp_path / "run.csv").select_dtypes("number")).all().all()


def test_the_fuzz_suite_sees_failures():
    """The harness is not vacuous: a loader error without a message is caught (one that is
    not one line cannot be made: TwinError joins lines and escapes control characters)."""
    def broken():
        raise InputError("")

    assert str(InputError("two\n  lines")) == "two lines"
    assert str(InputError("a key\x1b")) == "a key\\x1b"

    with pytest.raises(AssertionError):
        _one_line_or_accepted(broken)

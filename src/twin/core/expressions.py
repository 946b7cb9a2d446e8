"""Arithmetic expressions from configuration files, parsed safely (never ``eval``).

``"1143.38 * X_P * F - 114.34 * F_B"`` becomes a function of a namespace of
values and an ``ops`` namespace, so the same text yields numbers, CasADi
or Pyomo expressions. Allowed: numbers, variable names, ``+ - * / **``,
unary minus, parentheses and calls of the functions of
:class:`twin.core.ops.Ops` (``exp``, ``log``, ``sqrt``, ``abs``, ...).
Anything else (attributes, subscripts, comparisons, other calls) is an
:class:`~twin.core.errors.InputError` naming what was found.
"""

from __future__ import annotations

import ast
import dataclasses
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twin.core.errors import InputError, UnknownNameError
from twin.core.ops import Ops

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = tuple(f.name for f in dataclasses.fields(Ops) if f.name != "name")
"""Function names an expression may call."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the names it uses, and an evaluator.

    Call it with a mapping of values by name and an ``ops`` namespace.
    """

    text: str
    names: tuple[str, ...]
    _tree: ast.expr

    def __call__(self, values: Mapping[str, Any], ops: Ops) -> Any:
        return _evaluate(self._tree, values, ops)


def parse(text: str, allowed: Iterable[str], where: str = "expression") -> Expression:
    """Parse ``text``; names must be among ``allowed`` (errors list them)."""
    allowed = list(allowed)
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"{where}: cannot parse '{text}': {exc.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                continue
            if node.id not in allowed:
                raise UnknownNameError("name", node.id, allowed, where)
            if node.id not in names:
                names.append(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise InputError(f"{where}: only the functions {', '.join(FUNCTIONS)} may be "
                                 f"called in '{text}'")
            if node.keywords or len(node.args) != 1:
                raise InputError(f"{where}: functions take one argument in '{text}'")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise InputError(f"{where}: operator {type(node.op).__name__} is not allowed in "
                                 f"'{text}'")
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise InputError(f"{where}: operator {type(node.op).__name__} is not allowed")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise InputError(f"{where}: only numbers may appear as constants in '{text}'")
        elif not isinstance(node, (ast.Load, ast.operator, ast.unaryop)):
            raise InputError(f"{where}: {type(node).__name__} is not allowed in '{text}'")
    return Expression(text, tuple(names), tree)


def _evaluate(node: ast.expr, values: Mapping[str, Any], ops: Ops) -> Any:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values, ops),
                                      _evaluate(node.right, values, ops))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values, ops))
    if isinstance(node, ast.Call):
        fn: Callable[[Any], Any] = getattr(ops, node.func.id)  # type: ignore[union-attr]
        return fn(_evaluate(node.args[0], values, ops))
    raise InputError(f"cannot evaluate {type(node).__name__}")  # unreachable after parse

"""Arithmetic expressions from configuration files, parsed safely (never ``eval``).

``"1143.38 * X_P * F - 114.34 * F_B"`` becomes a function of a namespace of
values and an ``ops`` namespace, so the same text yields numbers, CasADi
or Pyomo expressions. Allowed: numbers, variable names, ``+ - * / **``,
unary minus, parentheses and calls of the functions of
:class:`twin.core.ops.Ops` (``exp``, ``log``, ``sqrt``, ``abs``, ...).
Anything else (attributes, subscripts, comparisons, other calls) is an
:class:`~twin.core.errors.InputError` naming what was found.

Every problem is one line naming the expression:

- the text is checked for size (:data:`MAX_LENGTH` characters, brackets
  nested at most :data:`MAX_NESTING` deep) before Python's parser sees it,
  and the tree for depth (:data:`MAX_DEPTH` levels of operators);
- a name is a variable or a function, and is used as one (``exp + C_b``
  and ``C_b(2)`` are refused, saying why);
- parts without variables (``2 ** 0.5``, ``1 / 0``) are computed once, at
  parse time, in floats: a division by zero, an overflow, a complex result
  (a negative number to a fractional power) or a function outside its
  domain (``log(-1)``) is refused there;
- at evaluation, the same arithmetic failures on numbers become an
  :class:`~twin.core.errors.InputError` naming the expression (a what-if
  scenario records it as its error).
"""

from __future__ import annotations

import ast
import warnings
import dataclasses
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twin.core.errors import InputError, TwinError, UnknownNameError
from twin.core.ops import MATH, Ops

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = tuple(f.name for f in dataclasses.fields(Ops) if f.name not in ("name", "in_unit_of"))
"""Function names an expression may call (the math of :class:`Ops`; ``in_unit_of`` only
matters to model equations)."""

MAX_LENGTH = 10_000
"""Longest expression text [characters]."""
MAX_NESTING = 50
"""Deepest nesting of brackets [levels]."""
MAX_DEPTH = 200
"""Deepest syntax tree: operators, calls and brackets on one path [levels]."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the names it uses, and an evaluator.

    Call it with a mapping of values by name and an ``ops`` namespace. An
    arithmetic failure on plain numbers (division by zero, overflow, a
    complex power, a function outside its domain) is an
    :class:`~twin.core.errors.InputError` naming the expression.
    """

    text: str
    names: tuple[str, ...]
    _tree: ast.expr
    where: str = field(default="expression", compare=False)

    def __call__(self, values: Mapping[str, Any], ops: Ops) -> Any:
        try:
            return _evaluate(self._tree, values, ops)
        except TwinError:
            raise
        except (ArithmeticError, ValueError) as exc:
            raise InputError(f"{self.where}: cannot evaluate '{_short(self.text)}': "
                             f"{_reason(exc)}") from None


def parse(text: str, allowed: Iterable[str], where: str = "expression") -> Expression:
    """Parse ``text``; names must be among ``allowed`` (errors list them)."""
    if not isinstance(text, str):
        raise InputError(f"{where}: an expression is text, not {type(text).__name__}")
    allowed = list(allowed)
    source = text.strip()
    _check_size(source, where)
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error says it
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"{where}: cannot parse '{_short(text)}': "
                         f"{str(exc.msg).split(';')[0]}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        reason = "too long or too deeply nested" if not isinstance(exc, ValueError) else \
            str(exc).split(";")[0]
        raise InputError(f"{where}: cannot parse '{_short(text)}': {reason}") from None
    _check_depth(tree, text, where)
    checker = _Checker(text, allowed, where)
    tree = checker.fold(tree)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in names and not checker.is_call(node):
            names.append(node.id)
    return Expression(text, tuple(names), tree, where)


def _short(text: str, limit: int = 80) -> str:
    """The expression on one line, cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _check_size(source: str, where: str) -> None:
    """Length and bracket nesting, before the parser (whose failures are not one line)."""
    if len(source) > MAX_LENGTH:
        raise InputError(f"{where}: expression of {len(source)} characters is too long "
                         f"(at most {MAX_LENGTH}): '{_short(source)}'")
    level = deepest = 0
    for char in source:
        if char in "([{":
            level += 1
            deepest = max(deepest, level)
        elif char in ")]}":
            level -= 1
    if deepest > MAX_NESTING:
        raise InputError(f"{where}: brackets nested {deepest} deep in '{_short(source)}' "
                         f"(at most {MAX_NESTING})")


def _check_depth(tree: ast.AST, text: str, where: str) -> None:
    """Depth of the tree, without recursion (evaluation recurses along it)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"{where}: '{_short(text)}' is nested too deeply (more than "
                             f"{MAX_DEPTH} levels of operators, calls and brackets); split it")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Checker:
    """Checks each node and folds the parts without variables into numbers."""

    def __init__(self, text: str, allowed: list[str], where: str):
        self.text, self.allowed, self.where = text, allowed, where
        self._calls: set[int] = set()  # ids of the Name nodes that are called functions

    def is_call(self, node: ast.Name) -> bool:
        return id(node) in self._calls

    def _error(self, message: str) -> InputError:
        return InputError(f"{self.where}: {message} in '{_short(self.text)}'")

    def fold(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            return ast.Constant(self._number(node.value))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self._error(f"operator {type(node.op).__name__} is not allowed")
            left, right = self.fold(node.left), self.fold(node.right)
            if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
                return self._constant(node, _BINARY[type(node.op)], left.value, right.value)
            if isinstance(node.op, ast.Div) and isinstance(right, ast.Constant) \
                    and right.value == 0.0:
                raise self._error(f"'{_short(ast.unparse(node), 40)}' divides by zero")
            return ast.BinOp(left, node.op, right)
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise self._error(f"operator {type(node.op).__name__} is not allowed")
            operand = self.fold(node.operand)
            if isinstance(operand, ast.Constant):
                return self._constant(node, _UNARY[type(node.op)], operand.value)
            return ast.UnaryOp(node.op, operand)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self._error(f"{type(node).__name__} is not allowed")

    def _number(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error("only numbers may appear as constants")
        try:
            number = float(value)
        except OverflowError:
            raise self._error(f"the number {str(value)[:20]}... is too large") from None
        if not math.isfinite(number):
            raise self._error("a number is not finite")
        return number

    def _name(self, node: ast.Name) -> ast.Name:
        if node.id in self.allowed:
            return node
        if node.id in FUNCTIONS:
            raise self._error(f"'{node.id}' is a function, not a value: call it, as in "
                              f"{node.id}(x),")
        raise UnknownNameError("name", node.id, self.allowed, self.where)

    def _call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self._error(f"only the functions {', '.join(FUNCTIONS)} may be called")
        if func.id in self.allowed and func.id not in FUNCTIONS:
            raise self._error(f"'{func.id}' is a variable, not a function (the functions are "
                              f"{', '.join(FUNCTIONS)})")
        if func.id not in FUNCTIONS:
            raise UnknownNameError("function", func.id, FUNCTIONS, self.where)
        if node.keywords or len(node.args) != 1:
            raise self._error("functions take one argument")
        arg = self.fold(node.args[0])
        if isinstance(arg, ast.Constant):
            return self._constant(node, getattr(MATH, func.id), arg.value)
        name = ast.Name(func.id, ast.Load())
        self._calls.add(id(name))
        return ast.Call(name, [arg], [])

    def _constant(self, node: ast.expr, fn: Callable[..., Any], *args: float) -> ast.Constant:
        """``fn(*args)`` in floats, or a one-line error naming the part (as written) that fails."""
        part = _short(ast.unparse(node), 40)
        try:
            value = fn(*args)
        except (ArithmeticError, ValueError) as exc:
            raise self._error(f"'{part}' {_reason(exc, constant=True)}") from None
        if isinstance(value, complex):
            raise self._error(f"'{part}' is not a real number (a negative number to a "
                              "fractional power)")
        if not math.isfinite(value):
            raise self._error(f"'{part}' overflows (beyond +-1.8e308)")
        return ast.Constant(float(value))


def _reason(exc: BaseException, constant: bool = False) -> str:
    """Why arithmetic failed, in words."""
    if isinstance(exc, ZeroDivisionError):
        return "divides by zero" if constant else "division by zero"
    if isinstance(exc, OverflowError):
        return "overflows (beyond +-1.8e308)" if constant else "overflow (beyond +-1.8e308)"
    if isinstance(exc, _ComplexPower):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text == "math domain error":
        return ("is not defined (a function outside its domain)" if constant else
                "a function outside its domain (math domain error)")
    return ("fails: " if constant else "") + text


class _ComplexPower(ValueError):
    """A negative number to a fractional power (Python gives a complex number)."""


def _evaluate(node: ast.expr, values: Mapping[str, Any], ops: Ops) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        value = _BINARY[type(node.op)](_evaluate(node.left, values, ops),
                                       _evaluate(node.right, values, ops))
        if isinstance(value, complex):
            raise _ComplexPower("a negative number to a fractional power is not a real number")
        return value
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values, ops))
    if isinstance(node, ast.Call):
        fn: Callable[[Any], Any] = getattr(ops, node.func.id)  # type: ignore[union-attr]
        return fn(_evaluate(node.args[0], values, ops))
    raise InputError(f"cannot evaluate {type(node).__name__}")  # unreachable after parse

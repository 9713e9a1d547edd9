"""The static check: parse with `ast`, refuse every node, name, attribute and call outside
the whitelist, and every source beyond the size, node and depth limits."""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from procedures.bpmn.expressions.helpers import (
    _ATTRIBUTE_NAMES,
    _HELPER_KEYWORDS,
    _METHOD_NAMES,
    HELPERS,
)
from procedures.bpmn.expressions.limits import (
    MAX_DEPTH,
    MAX_INT_CONSTANT,
    MAX_NODES,
    MAX_SCRIPT_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_STR_CONSTANT,
    UnsafeExpression,
)

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
}  # fmt: skip
_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
}  # fmt: skip
_ALLOWED_NODES = frozenset(
    {
        ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BoolOp, ast.And, ast.Or,
        ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Compare, ast.IfExp,
        ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Call,
        ast.keyword, ast.Attribute, ast.JoinedStr, ast.FormattedValue,
        *_BINOPS, *_COMPARISONS,
    }
)  # fmt: skip
_DESCRIPTIONS: dict[type, str] = {
    ast.Lambda: "lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "assignment expression (:=)", ast.Starred: "unpacking with *",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Pow: "the ** operator", ast.MatMult: "the @ operator", ast.Invert: "the ~ operator",
    ast.BitAnd: "the & operator", ast.BitOr: "the | operator", ast.BitXor: "the ^ operator",
    ast.LShift: "the << operator", ast.RShift: "the >> operator",
    ast.Import: "import", ast.ImportFrom: "import",
}  # fmt: skip


def _describe(node: ast.AST) -> str:
    return _DESCRIPTIONS.get(type(node), f"syntax '{type(node).__name__}'")


def _parse(source: str, mode: str) -> ast.AST:
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise UnsafeExpression(f"syntax error at line {err.lineno}: {err.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError):
        raise UnsafeExpression("the source cannot be parsed") from None


def _check_tree(root: ast.AST) -> None:
    """Walk without recursion, parents before children, with node and depth caps."""
    stack: list[tuple[ast.AST, ast.AST | None, int]] = [(root, None, 0)]
    count = 0
    while stack:
        node, parent, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise UnsafeExpression(f"expression too complex (more than {MAX_NODES} nodes)")
        if depth > MAX_DEPTH:
            raise UnsafeExpression(f"expression nested more than {MAX_DEPTH} levels deep")
        if type(node) not in _ALLOWED_NODES:
            raise UnsafeExpression(f"{_describe(node)} is not allowed")
        check = _NODE_CHECKS.get(type(node))
        if check is not None:
            check(node, parent)
        stack.extend((child, node, depth + 1) for child in ast.iter_child_nodes(node))


def _check_constant(node: ast.Constant, parent: ast.AST | None) -> None:
    value = node.value
    if type(value) not in (bool, int, float, str, type(None)):
        raise UnsafeExpression(f"constant of type '{type(value).__name__}' is not allowed")
    if type(value) is int and abs(value) > MAX_INT_CONSTANT:
        raise UnsafeExpression("integer constant larger than 10**12 is not allowed")
    if isinstance(value, float) and not math.isfinite(value):
        raise UnsafeExpression("infinite float constant is not allowed")
    if isinstance(value, str) and len(value) > MAX_STR_CONSTANT:
        raise UnsafeExpression(f"string constant longer than {MAX_STR_CONSTANT} is not allowed")


def _check_name(node: ast.Name, parent: ast.AST | None) -> None:
    if node.id.startswith("_"):
        raise UnsafeExpression(f"name '{node.id}' is not allowed (starts with '_')")


def _check_attribute(node: ast.Attribute, parent: ast.AST | None) -> None:
    name = node.attr
    if name in _ATTRIBUTE_NAMES and not name.startswith("_"):
        return
    if name in _METHOD_NAMES and not name.startswith("_"):
        if isinstance(parent, ast.Call) and parent.func is node:
            return
        raise UnsafeExpression(f"method '{name}' may only be called")
    raise UnsafeExpression(f"attribute access to '{name}' is not allowed")


def _check_call(node: ast.Call, parent: ast.AST | None) -> None:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id not in HELPERS:
            raise UnsafeExpression(f"call to '{func.id}' is not allowed")
        allowed = _HELPER_KEYWORDS.get(func.id, frozenset())
    elif isinstance(func, ast.Attribute):
        allowed = frozenset()
    else:
        raise UnsafeExpression("calling the result of an expression is not allowed")
    for keyword in node.keywords:
        if keyword.arg is None:
            raise UnsafeExpression("unpacking with ** is not allowed")
        if keyword.arg not in allowed:
            raise UnsafeExpression(f"keyword argument '{keyword.arg}' is not allowed")


def _check_binop(node: ast.BinOp, parent: ast.AST | None) -> None:
    formats = isinstance(node.left, ast.JoinedStr) or (
        isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
    )
    if isinstance(node.op, ast.Mod) and formats:
        raise UnsafeExpression("%-formatting of strings is not allowed")


def _check_compare(node: ast.Compare, parent: ast.AST | None) -> None:
    operands = [node.left, *node.comparators]
    for index, op in enumerate(node.ops):
        pair = operands[index : index + 2]
        is_none = any(isinstance(o, ast.Constant) and o.value is None for o in pair)
        if isinstance(op, ast.Is | ast.IsNot) and not is_none:
            raise UnsafeExpression("'is' is only allowed with None")


def _check_dict(node: ast.Dict, parent: ast.AST | None) -> None:
    if any(key is None for key in node.keys):
        raise UnsafeExpression("unpacking with ** is not allowed")


def _check_formatted(node: ast.FormattedValue, parent: ast.AST | None) -> None:
    if node.format_spec is not None:
        raise UnsafeExpression("format specifications in f-strings are not allowed")


_NODE_CHECKS: dict[type, Callable[[Any, ast.AST | None], None]] = {
    ast.Constant: _check_constant, ast.Name: _check_name, ast.Attribute: _check_attribute,
    ast.Call: _check_call, ast.BinOp: _check_binop, ast.Compare: _check_compare,
    ast.Dict: _check_dict, ast.FormattedValue: _check_formatted,
}  # fmt: skip


@lru_cache(maxsize=1024)
def _checked_expression(text: str) -> ast.expr:
    tree = _parse(text, "eval")
    _check_tree(tree)
    assert isinstance(tree, ast.Expression)
    return tree.body


def _assignment(statement: ast.stmt) -> tuple[str, ast.expr]:
    if isinstance(statement, ast.Import | ast.ImportFrom):
        raise UnsafeExpression("import is not allowed")
    if (
        not isinstance(statement, ast.Assign)
        or len(statement.targets) != 1
        or not isinstance(statement.targets[0], ast.Name)
    ):
        line = statement.lineno
        raise UnsafeExpression(f"only 'name = expression' lines are allowed (line {line})")
    name = statement.targets[0].id
    if name.startswith("_"):
        raise UnsafeExpression(f"assignment to '{name}' is not allowed (starts with '_')")
    _check_tree(statement.value)
    return name, statement.value


@lru_cache(maxsize=256)
def _checked_script(text: str) -> tuple[tuple[str, ast.expr], ...]:
    module = _parse(text, "exec")
    assert isinstance(module, ast.Module)
    assignments: list[tuple[str, ast.expr]] = []
    last_line = 0
    for statement in module.body:
        if statement.lineno <= last_line:
            raise UnsafeExpression(f"one assignment per line (line {statement.lineno})")
        assignments.append(_assignment(statement))
        last_line = statement.end_lineno or statement.lineno
    return tuple(assignments)


def _expression_text(source: str) -> str:
    if len(source) > MAX_SOURCE_LENGTH:
        raise UnsafeExpression(f"expression longer than {MAX_SOURCE_LENGTH} characters")
    return source.strip()  # eval mode refuses the indentation diagrams put around text


def _script_text(source: str) -> str:
    if len(source) > MAX_SCRIPT_LENGTH:
        raise UnsafeExpression(f"script longer than {MAX_SCRIPT_LENGTH} characters")
    return textwrap.dedent(source)


def check_expression(source: str) -> None:
    """Raise UnsafeExpression unless `source` is an expression our evaluator accepts."""
    _checked_expression(_expression_text(source))


def check_script(source: str) -> None:
    """Raise UnsafeExpression unless `source` is lines of `name = <safe expression>`."""
    _checked_script(_script_text(source))

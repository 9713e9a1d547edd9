"""Diagram conditions and scripts, evaluated by a whitelist of syntax: never Python's eval.

SpiffWorkflow's default engine runs a diagram's code with `eval`/`exec`, so a condition
such as `__import__('os').system(...)` would run. Here the source is parsed with `ast`,
every node checked against a whitelist (`check_expression`), then the tree is walked by
our own evaluator over plain data (`evaluate`). Script tasks may only assign names
(`evaluate_assignments`). `RestrictedScriptEngine` plugs this into SpiffWorkflow.

Choices: no comprehensions or lambdas (a condition needs neither, and they bring scopes
and unbounded loops); f-strings without format specifications; no `**`; no `%` on
strings; methods and attributes only from a per-type whitelist, called through the base
type so a subclass cannot widen them.
"""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine

MAX_SOURCE_LENGTH = 2_000
MAX_SCRIPT_LENGTH = 10_000
MAX_NODES = 500
MAX_DEPTH = 60
MAX_INT_CONSTANT = 10**12
MAX_STR_CONSTANT = 10_000
MAX_SIZE = 100_000  # items and characters in any value the evaluator builds
MAX_INT_BITS = 256
MAX_ROUND_DIGITS = 15


class UnsafeExpression(Exception):
    """The source uses a construct we refuse, or would exhaust a resource limit."""


class ExpressionError(Exception):
    """A safe expression failed on its data (unknown name, wrong type, division by zero)."""


# --- helpers callable by bare name -------------------------------------------------------


def _as_date(value: object, role: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ExpressionError(f"{role} is not a date (got a {type(value).__name__})")


def age_in_months(birth_date: object, on_date: object) -> int:
    """Whole months from `birth_date` to `on_date` (dates or ISO 'YYYY-MM-DD' strings)."""
    born, on = _as_date(birth_date, "birth date"), _as_date(on_date, "reference date")
    months = (on.year - born.year) * 12 + on.month - born.month
    return months - 1 if on.day < born.day else months


def age_in_years(birth_date: object, on_date: object) -> int:
    """Whole years from `birth_date` to `on_date`."""
    return age_in_months(birth_date, on_date) // 12


def days_between(start: object, end: object) -> int:
    """Days from `start` to `end` (negative when `end` comes first)."""
    return (_as_date(end, "end date") - _as_date(start, "start date")).days


def _round(number: Any, ndigits: object = None) -> Any:
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        # round(5, -10**12) would compute 10**(10**12).
        raise UnsafeExpression(f"round() accepts at most {MAX_ROUND_DIGITS} digits")
    return round(number, ndigits)


def _sum(values: Iterable[Any]) -> Any:
    return sum(values)  # one argument only: sum(lists, []) would be quadratic


HELPERS: dict[str, Callable[..., Any]] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "float": float, "int": int,
    "len": len, "max": max, "min": min, "round": _round, "sorted": sorted, "str": str,
    "sum": _sum, "date": date, "age_in_months": age_in_months, "age_in_years": age_in_years,
    "days_between": days_between,
}  # fmt: skip
_HELPER_KEYWORDS: dict[str, frozenset[str]] = {"sorted": frozenset({"reverse"})}


# --- methods and attributes on data --------------------------------------------------------


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > MAX_SIZE:
        raise UnsafeExpression(f"replace() producing more than {MAX_SIZE} characters")
    return str.replace(text, old, new, count)


# Checked in this order: datetime before date, since a datetime is a date.
_KINDS: tuple[type, ...] = (datetime, date, str, dict, list, tuple)
_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "casefold",
        "title", "capitalize", "isdigit", "isalpha", "isalnum", "isspace", "isdecimal",
        "split", "count", "find", "replace",
    }),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    datetime: frozenset({"date", "isoformat", "weekday", "isoweekday"}),
    date: frozenset({"isoformat", "weekday", "isoweekday"}),
}  # fmt: skip
_ATTRIBUTES: dict[type, frozenset[str]] = {
    datetime: frozenset({"year", "month", "day", "hour", "minute", "second"}),
    date: frozenset({"year", "month", "day"}),
}
_METHOD_OVERRIDES: dict[tuple[type, str], Callable[..., Any]] = {
    (str, "replace"): _replace,
    (dict, "keys"): lambda d: list(dict.keys(d)),
    (dict, "values"): lambda d: list(dict.values(d)),
    (dict, "items"): lambda d: list(dict.items(d)),
}
_METHOD_NAMES = frozenset().union(*_METHODS.values())
_ATTRIBUTE_NAMES = frozenset().union(*_ATTRIBUTES.values())


def _kind(value: object) -> type | None:
    return next((kind for kind in _KINDS if isinstance(value, kind)), None)


# --- the static check ----------------------------------------------------------------------

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


# --- the evaluator -------------------------------------------------------------------------

_SEQUENCES = (str, list, tuple)


class _Layers(Mapping[str, object]):
    """Names looked up in each mapping in turn: new assignments, task data, data objects."""

    def __init__(self, *layers: Mapping[str, object]) -> None:
        self._layers = layers

    def __getitem__(self, name: str) -> object:
        for layer in self._layers:
            if name in layer:
                return layer[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter({name: None for layer in self._layers for name in layer})

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Evaluator:
    def __init__(self, source: str, context: Mapping[str, object]) -> None:
        self.source = source
        self.context = context

    def run(self, node: ast.AST) -> Any:
        return _EVALUATORS[type(node)](self, node)

    def where(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.source, node) or ""
        return segment if len(segment) <= 60 else segment[:57] + "..."

    @contextmanager
    def guard(self, node: ast.AST, *operands: object) -> Iterator[None]:
        """Python's errors on data become ExpressionError naming the source, never the data."""
        try:
            yield
        except ZeroDivisionError:
            problem = "division by zero"
        except KeyError:
            problem = "key not found"
        except IndexError:
            problem = "index out of range"
        except TypeError:
            types = " and ".join(type(operand).__name__ for operand in operands)
            problem = f"wrong types ({types})" if types else "wrong types"
        except OverflowError:
            problem = "number out of range"
        except (ValueError, ArithmeticError):
            problem = "invalid value"
        except RecursionError:
            problem = "value nested too deeply"
        else:
            return
        raise ExpressionError(f"{problem} in '{self.where(node)}'") from None


def _size(value: object) -> int:
    """Items and characters reachable from `value`, shared parts counted each time they are
    reached (what str() or a comparison would walk); stops counting past MAX_SIZE."""
    total, stack = 0, [value]
    while stack and total <= MAX_SIZE:
        item = stack.pop()
        total += max(len(item), 1) if isinstance(item, str) else 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return total


def _checked_size(value: Any) -> Any:
    """Every value the evaluator builds stays small, so every later operation on it is cheap:
    `[[0] * 9999] * 9999` is refused here, before str() could expand it."""
    if _size(value) > MAX_SIZE:
        raise UnsafeExpression(f"a value larger than {MAX_SIZE} items is not allowed")
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise UnsafeExpression(f"an integer result over {MAX_INT_BITS} bits is not allowed")
    return value


def _check_operands(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse before computing what would exhaust memory ('a' * 10**12) or format strings."""
    if isinstance(op, ast.Mod) and isinstance(left, str):
        raise UnsafeExpression("%-formatting of strings is not allowed")
    if not isinstance(op, ast.Mult):
        return  # '+' at most doubles sizes that were checked: the result check suffices
    for sequence, times in ((left, right), (right, left)):
        repeats = isinstance(sequence, _SEQUENCES) and isinstance(times, int)
        if repeats and _size(sequence) * times > MAX_SIZE:
            raise UnsafeExpression(f"repetition beyond {MAX_SIZE} items is not allowed")
    integers = isinstance(left, int) and isinstance(right, int)
    if integers and left.bit_length() + right.bit_length() > 2 * MAX_INT_BITS:
        raise UnsafeExpression(f"an integer result over {MAX_INT_BITS} bits is not allowed")


def _eval_name(ev: _Evaluator, node: ast.Name) -> Any:
    try:
        return ev.context[node.id]
    except KeyError:
        raise ExpressionError(f"unknown name '{node.id}'") from None


def _eval_boolop(ev: _Evaluator, node: ast.BoolOp) -> Any:
    stop_when = isinstance(node.op, ast.Or)
    result: Any = None
    for value in node.values:
        result = ev.run(value)
        if bool(result) is stop_when:
            break
    return result


def _eval_unaryop(ev: _Evaluator, node: ast.UnaryOp) -> Any:
    operand = ev.run(node.operand)
    if isinstance(node.op, ast.Not):
        return not operand
    with ev.guard(node, operand):
        return -operand if isinstance(node.op, ast.USub) else +operand


def _eval_binop(ev: _Evaluator, node: ast.BinOp) -> Any:
    left, right = ev.run(node.left), ev.run(node.right)
    _check_operands(node.op, left, right)
    with ev.guard(node, left, right):
        result = _BINOPS[type(node.op)](left, right)
    return _checked_size(result)


def _eval_compare(ev: _Evaluator, node: ast.Compare) -> bool:
    left = ev.run(node.left)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = ev.run(comparator)
        with ev.guard(node, left, right):
            holds = bool(_COMPARISONS[type(op)](left, right))
        if not holds:
            return False
        left = right
    return True


def _eval_subscript(ev: _Evaluator, node: ast.Subscript) -> Any:
    container, index = ev.run(node.value), ev.run(node.slice)
    if not isinstance(container, dict | list | tuple | str):
        kind = type(container).__name__
        raise ExpressionError(f"a value of type {kind} cannot be indexed in '{ev.where(node)}'")
    with ev.guard(node, container, index):
        return container[index]


def _eval_slice(ev: _Evaluator, node: ast.Slice) -> slice:
    bounds = (node.lower, node.upper, node.step)
    return slice(*(None if bound is None else ev.run(bound) for bound in bounds))


def _eval_call(ev: _Evaluator, node: ast.Call) -> Any:
    if isinstance(node.func, ast.Attribute):
        subject = ev.run(node.func.value)
        return _call_method(ev, node, subject, node.func.attr, [ev.run(a) for a in node.args])
    assert isinstance(node.func, ast.Name)
    args = [ev.run(arg) for arg in node.args]
    kwargs = {str(keyword.arg): ev.run(keyword.value) for keyword in node.keywords}
    with ev.guard(node, *args):
        return _checked_size(HELPERS[node.func.id](*args, **kwargs))


def _call_method(ev: _Evaluator, node: ast.Call, subject: Any, name: str, args: list[Any]) -> Any:
    kind = _kind(subject)
    if kind is None or name not in _METHODS.get(kind, frozenset()):
        where, kind_name = ev.where(node), type(subject).__name__
        raise ExpressionError(f"'{name}' cannot be called on a {kind_name} value in '{where}'")
    # Looked up on the base type: a subclass in the data cannot swap the implementation.
    method = _METHOD_OVERRIDES.get((kind, name)) or getattr(kind, name)
    with ev.guard(node, subject, *args):
        return _checked_size(method(subject, *args))


def _eval_attribute(ev: _Evaluator, node: ast.Attribute) -> Any:
    subject = ev.run(node.value)
    kind = _kind(subject)
    if kind is None or node.attr not in _ATTRIBUTES.get(kind, frozenset()):
        where, kind_name = ev.where(node), type(subject).__name__
        raise ExpressionError(f"a {kind_name} value has no attribute '{node.attr}' in '{where}'")
    return getattr(kind, node.attr).__get__(subject, kind)


def _eval_formatted(ev: _Evaluator, node: ast.FormattedValue) -> str:
    value = ev.run(node.value)
    convert: Callable[[object], str] = {114: repr, 97: ascii}.get(node.conversion, str)
    with ev.guard(node, value):
        return convert(value)


def _eval_dict(ev: _Evaluator, node: ast.Dict) -> dict[Any, Any]:
    keys = [ev.run(key) for key in node.keys if key is not None]  # '**' refused by the check
    pairs = list(zip(keys, [ev.run(value) for value in node.values], strict=True))
    with ev.guard(node):
        return _checked_size(dict(pairs))


def _eval_set(ev: _Evaluator, node: ast.Set) -> set[Any]:
    items = [ev.run(element) for element in node.elts]
    with ev.guard(node):
        return _checked_size(set(items))


_EVALUATORS: dict[type, Callable[[_Evaluator, Any], Any]] = {
    ast.Constant: lambda ev, node: node.value,
    ast.Name: _eval_name,
    ast.BoolOp: _eval_boolop,
    ast.UnaryOp: _eval_unaryop,
    ast.BinOp: _eval_binop,
    ast.Compare: _eval_compare,
    ast.IfExp: lambda ev, node: ev.run(node.body if ev.run(node.test) else node.orelse),
    ast.Subscript: _eval_subscript,
    ast.Slice: _eval_slice,
    ast.Call: _eval_call,
    ast.Attribute: _eval_attribute,
    ast.JoinedStr: lambda ev, node: _checked_size("".join(ev.run(v) for v in node.values)),
    ast.FormattedValue: _eval_formatted,
    ast.Tuple: lambda ev, node: _checked_size(tuple(ev.run(item) for item in node.elts)),
    ast.List: lambda ev, node: _checked_size([ev.run(item) for item in node.elts]),
    ast.Dict: _eval_dict,
    ast.Set: _eval_set,
}


def evaluate(source: str, context: Mapping[str, object]) -> object:
    """The value of expression `source` over the names in `context` (plain data)."""
    text = _expression_text(source)
    return _Evaluator(text, context).run(_checked_expression(text))


def evaluate_assignments(source: str, context: Mapping[str, object]) -> dict[str, object]:
    """Run a script of `name = <expression>` lines; return the names it assigned."""
    text = _script_text(source)
    assigned: dict[str, object] = {}
    evaluator = _Evaluator(text, _Layers(assigned, context))
    for name, value in _checked_script(text):
        assigned[name] = evaluator.run(value)
    return assigned


# --- SpiffWorkflow -------------------------------------------------------------------------


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's environment contract on our evaluator.

    The process spec calls `engine.environment.evaluate` directly (event subprocess and
    ad hoc completion conditions, message correlations), bypassing `engine.evaluate`.
    """

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, object],
        external_context: Mapping[str, object] | None = None,
    ) -> object:
        return evaluate(expression, _Layers(context, external_context or {}))

    def execute(
        self,
        script: str | None,
        context: dict[str, object],
        external_context: Mapping[str, object] | None = None,
    ) -> bool:
        layers = _Layers(context, external_context or {})
        context.update(evaluate_assignments(script or "", layers))
        return True

    def call_service(self, context: Mapping[str, object], **kwargs: object) -> str:
        raise NotImplementedError("service tasks need an engine that names its operations")


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with every expression and script through our evaluator."""

    def __init__(self) -> None:
        super().__init__(environment=RestrictedEnvironment())

    @property
    def environment(self) -> RestrictedEnvironment:
        return self._environment

    @environment.setter
    def environment(self, value: object) -> None:
        # Swapping in TaskDataEnvironment would bring Python's eval back.
        if not isinstance(value, RestrictedEnvironment):
            raise TypeError("RestrictedScriptEngine only runs a RestrictedEnvironment")
        self._environment = value

    def validate(self, expression: str) -> None:
        check_expression(expression)

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, object] | None = None
    ) -> object:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except (UnsafeExpression, ExpressionError) as err:
            message = f"Error evaluating expression '{expression}': {err}"
            raise WorkflowTaskException(message, task=task, exception=err) from err

    def execute(
        self, task: Any, script: str | None, external_context: Mapping[str, object] | None = None
    ) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context)
        except (UnsafeExpression, ExpressionError) as err:
            message = f"Error in script: {err}"
            raise WorkflowTaskException(message, task=task, exception=err) from err

    def call_service(self, task: Any, **kwargs: object) -> str:
        message = "service tasks need an engine that names its operations"
        raise WorkflowTaskException(message, task=task)

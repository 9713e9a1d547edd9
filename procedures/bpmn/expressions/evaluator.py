"""The evaluator: walks a checked tree over plain data, within run-time size limits, and pays
every node it evaluates, every value it reads and builds from the run's `Budget`."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from procedures.bpmn.expressions.budget import Budget, size_of
from procedures.bpmn.expressions.checks import (
    _BINOPS,
    _COMPARISONS,
    _checked_expression,
    _checked_script,
    _expression_text,
    _script_text,
)
from procedures.bpmn.expressions.helpers import (
    _ATTRIBUTES,
    _METHOD_OVERRIDES,
    _METHODS,
    HELPERS,
    _kind,
)
from procedures.bpmn.expressions.limits import (
    MAX_INT_BITS,
    MAX_SIZE,
    ExpressionError,
    UnsafeExpression,
)

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
    def __init__(self, source: str, context: Mapping[str, object], budget: Budget) -> None:
        self.source = source
        self.context = context
        self.budget = budget

    def run(self, node: ast.AST) -> Any:
        self.budget.spend(1)
        return _EVALUATORS[type(node)](self, node)

    def read(self, *values: object) -> int:
        """Pay for an operation that walks its operands (compares, calls, hashes them)."""
        return sum(self.budget.read(value) for value in values)

    def built(self, value: Any) -> Any:
        """Every value the evaluator builds stays small, so every later operation on it is
        cheap (`[[0] * 9999] * 9999` is refused here, before str() could expand it), and
        counts towards the run's budget."""
        size = size_of(value, MAX_SIZE)
        if size > MAX_SIZE:
            raise UnsafeExpression(f"a value larger than {MAX_SIZE} items is not allowed")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise UnsafeExpression(f"an integer result over {MAX_INT_BITS} bits is not allowed")
        self.budget.build(size)
        return value

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


def _check_operands(ev: _Evaluator, op: ast.operator, left: Any, right: Any) -> None:
    """Refuse before computing what would exhaust memory ('a' * 10**12) or format strings."""
    if isinstance(op, ast.Mod) and isinstance(left, str):
        raise UnsafeExpression("%-formatting of strings is not allowed")
    if not isinstance(op, ast.Mult):
        return  # '+' at most doubles sizes that were checked: the result check suffices
    for sequence, times in ((left, right), (right, left)):
        repeats = isinstance(sequence, _SEQUENCES) and isinstance(times, int)
        if repeats and ev.read(sequence) * times > MAX_SIZE:
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
    _check_operands(ev, node.op, left, right)
    with ev.guard(node, left, right):
        result = _BINOPS[type(node.op)](left, right)
    return ev.built(result)


def _eval_compare(ev: _Evaluator, node: ast.Compare) -> bool:
    left = ev.run(node.left)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = ev.run(comparator)
        ev.read(left, right)
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
    ev.read(index)  # a tuple key is hashed whole, at each lookup
    with ev.guard(node, container, index):
        value = container[index]
    return ev.built(value) if isinstance(index, slice) else value


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
    ev.read(*args)
    with ev.guard(node, *args):
        return ev.built(HELPERS[node.func.id](*args, **kwargs))


def _call_method(ev: _Evaluator, node: ast.Call, subject: Any, name: str, args: list[Any]) -> Any:
    kind = _kind(subject)
    if kind is None or name not in _METHODS.get(kind, frozenset()):
        where, kind_name = ev.where(node), type(subject).__name__
        raise ExpressionError(f"'{name}' cannot be called on a {kind_name} value in '{where}'")
    # Looked up on the base type: a subclass in the data cannot swap the implementation.
    method = _METHOD_OVERRIDES.get((kind, name)) or getattr(kind, name)
    ev.read(subject, *args)
    with ev.guard(node, subject, *args):
        return ev.built(method(subject, *args))


def _eval_attribute(ev: _Evaluator, node: ast.Attribute) -> Any:
    subject = ev.run(node.value)
    kind = _kind(subject)
    if kind is None or node.attr not in _ATTRIBUTES.get(kind, frozenset()):
        where, kind_name = ev.where(node), type(subject).__name__
        raise ExpressionError(f"a {kind_name} value has no attribute '{node.attr}' in '{where}'")
    return getattr(kind, node.attr).__get__(subject, kind)


def _eval_formatted(ev: _Evaluator, node: ast.FormattedValue) -> str:
    value = ev.run(node.value)
    ev.read(value)
    convert: Callable[[object], str] = {114: repr, 97: ascii}.get(node.conversion, str)
    with ev.guard(node, value):
        return convert(value)


def _eval_dict(ev: _Evaluator, node: ast.Dict) -> dict[Any, Any]:
    keys = [ev.run(key) for key in node.keys if key is not None]  # '**' refused by the check
    pairs = list(zip(keys, [ev.run(value) for value in node.values], strict=True))
    with ev.guard(node):
        return ev.built(dict(pairs))


def _eval_set(ev: _Evaluator, node: ast.Set) -> set[Any]:
    items = [ev.run(element) for element in node.elts]
    with ev.guard(node):
        return ev.built(set(items))


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
    ast.JoinedStr: lambda ev, node: ev.built("".join(ev.run(v) for v in node.values)),
    ast.FormattedValue: _eval_formatted,
    ast.Tuple: lambda ev, node: ev.built(tuple(ev.run(item) for item in node.elts)),
    ast.List: lambda ev, node: ev.built([ev.run(item) for item in node.elts]),
    ast.Dict: _eval_dict,
    ast.Set: _eval_set,
}


def _or_new(budget: Budget | None) -> Budget:
    return budget if budget is not None else Budget()


def evaluate(source: str, context: Mapping[str, object], budget: Budget | None = None) -> object:
    """The value of expression `source` over the names in `context` (plain data).

    `budget`: the run's, shared with its other expressions; a budget of its own by default.
    """
    text = _expression_text(source)
    return _Evaluator(text, context, _or_new(budget)).run(_checked_expression(text))


def evaluate_assignments(
    source: str, context: Mapping[str, object], budget: Budget | None = None
) -> dict[str, object]:
    """Run a script of `name = <expression>` lines; return the names it assigned."""
    text = _script_text(source)
    assigned: dict[str, object] = {}
    evaluator = _Evaluator(text, _Layers(assigned, context), _or_new(budget))
    for name, value in _checked_script(text):
        assigned[name] = evaluator.run(value)
    return assigned

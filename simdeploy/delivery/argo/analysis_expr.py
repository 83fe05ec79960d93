"""Argo analysis conditions: expr-lang expressions translated to Python and run by simpleeval with expr's typing."""

# utils/evaluate/evaluate.go (EvaluateResult, EvalCondition, formatEvalError from PR #4680); never eval().

from __future__ import annotations

import ast
import keyword
import math
import re
import warnings
from collections.abc import Callable
from functools import lru_cache

from simpleeval import InvalidExpression, SimpleEval

from simdeploy.sim.metrics.promql_functions import go_div, go_pow

SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE, RUNNING, PENDING = (
    "Successful", "Failed", "Error", "Inconclusive", "Running", "Pending")  # fmt: skip
COMPLETED = (SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE)
PHASE_ORDER = (SUCCESSFUL, RUNNING, PENDING, INCONCLUSIVE, ERROR, FAILED)  # helpers.go analysisStatusOrder, best first
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4  # utils/defaults GetConsecutiveErrorLimitOrDefault
ERROR_RETRY_INTERVAL = 10.0  # analysis.go DefaultErrorRetryInterval: a measurement that errored is retried after 10 s
MEASUREMENT_HISTORY_LIMIT = 10  # analysis.go DefaultMeasurementHistoryLimit: status keeps the last 10 per metric
EPSILON = 1e-9


class AnalysisError(ValueError):
    """A malformed AnalysisTemplate, argument or condition; `position` is a 0-based column in a condition."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


# --- conditions: expr-lang translated to Python, evaluated by simpleeval with expr's typing -----------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
    |(?P<num>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)
    |(?P<op>&&|\|\||==|!=|<=|>=|\*\*|\?\?|\?\.|\.\.|[-+*/%^<>!()\[\],?:.{}#|&~=;@$])""",
    re.X,
)
_UNSUPPORTED = {"??", "?.", "..", "{", "}", "#", "|", "&", "~", "=", ";", "@", "$"}
_OPERATORS = {"&&": "and", "||": "or", "^": "**"}


class _Group:
    def __init__(self, opener: str, pos: int):
        self.opener, self.pos, self.items, self.end = opener, pos, [], pos


def _is(item: object, *texts: str) -> bool:
    return isinstance(item, tuple) and item[0] != "str" and item[1] in texts


def _tree(condition: str) -> _Group:
    stack, pos = [_Group("", 0)], 0
    while pos < len(condition):
        match = _TOKEN.match(condition, pos)
        if match is None:
            quote = condition[pos] in "\"'`"
            raise AnalysisError(
                "literal not terminated" if quote else f"unrecognized character {condition[pos]!r}", pos
            )
        kind, text = match.lastgroup, match.group()
        if kind == "op" and text in _UNSUPPORTED:
            raise AnalysisError(f"{text!r} is not supported by the simulator's expr subset", pos)
        if kind == "op" and text in "([":
            stack.append(_Group(text, pos))
        elif kind == "op" and text in ")]":
            if len(stack) == 1 or stack[-1].opener != {")": "(", "]": "["}[text]:
                raise AnalysisError(f"unexpected token {text!r}", pos)
            group = stack.pop()
            group.end = pos
            stack[-1].items.append(group)
        elif kind != "ws":
            if kind == "name" and keyword.iskeyword(text) and text not in ("and", "or", "not", "in"):
                raise AnalysisError(f"unknown name {text}", pos)
            stack[-1].items.append((kind, text, pos))
        pos = match.end()
    if len(stack) > 1:
        raise AnalysisError(f"unexpected end of expression, expected {')' if stack[-1].opener == '(' else ']'}", pos)
    return stack[0]


def _operand_end(items: list, i: int) -> int:
    """End of the operand of expr's unary `!`/`not` (precedence 50: it binds tighter than + - and comparisons)."""

    def unit(i: int) -> int:
        while i < len(items) and _is(items[i], "!", "not", "-", "+"):
            i += 1
        i += 1
        while i < len(items) and (isinstance(items[i], _Group) or (_is(items[i], ".") and i + 1 < len(items))):
            i += 1 if isinstance(items[i], _Group) else 2
        return i

    i = unit(i)
    while i < len(items) and _is(items[i], "*", "/", "%", "**", "^"):
        i = unit(i + 1)
    return min(i, len(items))


def _emit(items: list, out: list[tuple[str, int]]) -> None:
    """Emit Python for expr `items`; the ternary (lowest precedence, right-associative) becomes `b if a else c`."""
    question = next((k for k, item in enumerate(items) if _is(item, "?")), None)
    if question is not None:
        depth, colon = 0, None
        for k in range(question + 1, len(items)):
            if _is(items[k], "?"):
                depth += 1
            elif _is(items[k], ":"):
                if depth == 0:
                    colon = k
                    break
                depth -= 1
        if colon is None:
            raise AnalysisError("unexpected end of expression, expected ':'", items[question][2])
        then, test, otherwise = items[question + 1 : colon], items[:question], items[colon + 1 :]
        for text, part, at in (("((", then, question), (") if (", test, question), (") else (", otherwise, colon)):
            if not part:
                raise AnalysisError("a ?: operand is missing", items[at][2])
            out.append((text, items[at][2]))
            _emit(part, out)
        out.append(("))", items[colon][2]))
        return
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, _Group):
            out.append((item.opener, item.pos))
            _emit(item.items, out)
            out.append((")" if item.opener == "(" else "]", item.end))
        elif _is(item, "!", "not") and not (i + 1 < len(items) and _is(items[i + 1], "in")):
            end = _operand_end(items, i + 1)
            out.append(("(not", item[2]))
            _emit(items[i + 1 : end], out)
            out.append((")", item[2]))
            i = end
            continue
        else:
            kind, text, pos = item
            if kind == "str":
                text = repr(_string(text, pos))
            out.append((_OPERATORS.get(text, text) if kind == "op" else text, pos))
        i += 1


def _string(literal: str, pos: int) -> str:
    """The value of an expr string literal: backquotes are raw, quotes take Go-style escapes."""
    if literal[0] == "`":
        return literal[1:-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Python only warns on an unknown escape such as \d; expr rejects it
        try:
            return ast.literal_eval(literal)
        except (SyntaxError, SyntaxWarning, DeprecationWarning, ValueError):
            raise AnalysisError("invalid char escape", pos) from None


def _left_assoc(node: ast.AST) -> ast.AST:
    """expr compares left to right without chaining: a < b < c is (a < b) < c."""
    for child in ast.walk(node):
        if isinstance(child, ast.Compare) and len(child.ops) > 1:
            left = child.left
            for op, right in zip(child.ops[:-1], child.comparators[:-1], strict=True):
                left = ast.Compare(left=left, ops=[op], comparators=[right])
            child.left, child.ops, child.comparators = left, child.ops[-1:], child.comparators[-1:]
    return node


_ALLOWED = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Subscript)
_ALLOWED += (ast.Slice, ast.Name, ast.Load, ast.Constant, ast.List, ast.boolop, ast.cmpop, ast.unaryop)
_ALLOWED += (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow)


@lru_cache(maxsize=1024)
def compile_condition(condition: str) -> ast.AST:
    """Parse an expr-lang condition into a checked Python AST; AnalysisError (with position) when malformed."""
    try:
        pieces: list[tuple[str, int]] = []
        _emit(_tree(condition).items, pieces)
        text = " ".join(piece for piece, _ in pieces)
        starts = [0]
        for piece, _ in pieces[:-1]:
            starts.append(starts[-1] + len(piece) + 1)

        def origin(column: int) -> int:  # the condition's column of the piece at a column of the translation
            return next((at for start, (_, at) in zip(starts[::-1], pieces[::-1], strict=True) if start <= column), 0)

        try:
            tree = ast.parse(text or " ", mode="eval")
        except SyntaxError as error:
            if not error.offset or error.offset > len(text):  # Python reports the end of input as offset 0
                raise AnalysisError("syntax error: unexpected end of expression", len(condition.rstrip())) from None
            raise AnalysisError(f"syntax error: {error.msg}", origin(error.offset - 1)) from None
        for node in ast.walk(tree):
            at = origin(getattr(node, "col_offset", 0))
            if isinstance(node, ast.Attribute):
                raise AnalysisError(
                    f"member access .{node.attr} is not supported (prometheus results have no fields)", at
                )
            if not isinstance(node, _ALLOWED) or (isinstance(node, ast.Call) and node.keywords):
                raise AnalysisError(f"unsupported syntax ({type(node).__name__})", at)
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTION_NAMES):
                raise AnalysisError(f"unknown func {ast.unparse(node.func)}", at)
            if isinstance(node, ast.Name) and node.id not in _FUNCTION_NAMES | {"result", "true", "false", "nil"}:
                raise AnalysisError(f"unknown name {node.id}", at)
        return _left_assoc(tree)
    except AnalysisError as error:
        at = error.position or 0
        raise AnalysisError(f'malformed condition "{condition}": {error} (column {at + 1})', at) from None


def _gotype(value: object) -> str:
    names = {bool: "bool", int: "int", float: "float64", str: "string", type(None): "nil"}
    return names.get(type(value), "[]float64" if isinstance(value, list) else type(value).__name__)


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mismatch(op: str, a: object, b: object) -> TypeError:
    return TypeError(f"invalid operation: {op} (mismatched types {_gotype(a)} and {_gotype(b)})")


def _arith(op: str, fn: Callable, ints: bool = False) -> Callable:
    def apply(a: object, b: object) -> object:
        if _num(a) and _num(b) and not (ints and (isinstance(a, float) or isinstance(b, float))):
            return fn(a, b)
        if op == "+" and type(a) is type(b) and isinstance(a, str | list):
            return a + b
        raise _mismatch(op, a, b)

    return apply


def _order(op: str, fn: Callable) -> Callable:
    def apply(a: object, b: object) -> bool:
        if (_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str)):
            return fn(a, b)
        raise _mismatch(op, a, b)

    return apply


def _equal(a: object, b: object) -> bool:
    if a is None or b is None or (_num(a) and _num(b)) or type(a) is type(b):
        return a == b
    raise _mismatch("==", a, b)


def _member(a: object, b: object) -> bool:
    if not isinstance(b, list):
        raise _mismatch("in", a, b)
    return a in b


def _go_mod(a: int, b: int) -> int:  # Go's % truncates: the result has the sign of the dividend
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    return -(abs(a) % abs(b)) if a < 0 else abs(a) % abs(b)


def _unary(op: str, check: Callable[[object], bool], fn: Callable) -> Callable:
    def apply(a: object) -> object:
        if not check(a):
            raise TypeError(f"invalid operation: {op} (mismatched type {_gotype(a)})")
        return fn(a)

    return apply


_PY_OPERATORS = {
    ast.Add: _arith("+", lambda a, b: a + b),
    ast.Sub: _arith("-", lambda a, b: a - b),
    ast.Mult: _arith("*", lambda a, b: a * b),
    ast.Div: _arith("/", lambda a, b: go_div(float(a), float(b))),
    ast.Mod: _arith("%", _go_mod, ints=True),
    ast.Pow: _arith("**", lambda a, b: go_pow(float(a), float(b))),
    ast.Lt: _order("<", lambda a, b: a < b),
    ast.LtE: _order("<=", lambda a, b: a <= b),
    ast.Gt: _order(">", lambda a, b: a > b),
    ast.GtE: _order(">=", lambda a, b: a >= b),
    ast.Eq: _equal,
    ast.NotEq: lambda a, b: not _equal(a, b),
    ast.In: _member,
    ast.NotIn: lambda a, b: not _member(a, b),
    ast.USub: _unary("-", _num, lambda a: -a),
    ast.UAdd: _unary("+", _num, lambda a: a),
    ast.Not: _unary("!", lambda a: isinstance(a, bool), lambda a: not a),
}


def _float_arg(name: str) -> Callable[[object], float]:
    def check(value: object) -> float:
        if not _num(value):
            raise TypeError(f"cannot use {_gotype(value)} as argument (type float64) to call {name}")
        return float(value)

    return check


def _as_int(value: object) -> int:  # evaluate.go asInt: floats truncate, strings go through strconv.ParseInt
    if _num(value):
        return int(value)
    if isinstance(value, str):
        if re.fullmatch(r"[+-]?\d+", value):
            return int(value)
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    raise TypeError(f"asInt() not supported on {_gotype(value)} {value}")


def _as_float(value: object) -> float:  # evaluate.go asFloat: strings go through strconv.ParseFloat
    if _num(value):
        return float(value)
    if isinstance(value, str):
        if value == value.strip() and "_" not in value:
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    raise TypeError(f"asFloat() not supported on {_gotype(value)} {value}")


def _length(value: object) -> int:
    if not isinstance(value, list | str):
        raise TypeError(f"invalid argument for len (type {_gotype(value)})")
    return len(value)


_FUNCTIONS: dict[str, Callable] = {
    "len": _length,
    "isNaN": lambda x: math.isnan(_float_arg("isNaN")(x)),
    "isInf": lambda x: math.isinf(_float_arg("isInf")(x)),
    "asInt": _as_int,
    "asFloat": _as_float,
}
_FUNCTION_NAMES = frozenset(_FUNCTIONS) | {"default", "isNil"}


class _Evaluator(SimpleEval):
    """simpleeval with expr's rules: && || ! and ?: want bools, indexes are checked, `default` reads `result`."""

    def __init__(self, result: object):
        functions = {**_FUNCTIONS, "default": lambda _x, fallback: fallback if result is None else result}
        functions["isNil"] = lambda _x: result is None  # evaluate.go isNilFunc/defaultFunc ignore their argument
        names = {"result": result, "true": True, "false": False, "nil": None}
        super().__init__(operators=dict(_PY_OPERATORS), functions=functions, names=names)
        self.nodes[ast.List] = lambda node: [self._eval(element) for element in node.elts]

    def _eval_boolop(self, node: ast.BoolOp) -> bool:
        conjunction = isinstance(node.op, ast.And)
        for value in node.values:
            outcome = self._eval(value)
            if not isinstance(outcome, bool):
                raise _mismatch("&&" if conjunction else "||", outcome, True)
            if outcome is not conjunction:
                return outcome
        return conjunction

    def _eval_ifexp(self, node: ast.IfExp) -> object:
        test = self._eval(node.test)
        if not isinstance(test, bool):
            raise TypeError(f"non-bool expression (type {_gotype(test)}) used as condition")
        return self._eval(node.body if test else node.orelse)

    def _eval_subscript(self, node: ast.Subscript) -> object:
        container, key = self._eval(node.value), self._eval(node.slice)
        if isinstance(container, list | str) and isinstance(key, slice):
            return container[key]
        if isinstance(container, list | str) and isinstance(key, int) and not isinstance(key, bool):
            if -len(container) <= key < len(container):
                return container[key]
            raise IndexError(f"index out of range: {key} (array length is {len(container)})")
        raise TypeError(f"cannot fetch {_gotype(key)} from {_gotype(container)}")


def evaluate_condition(condition: str, result: object) -> bool:
    """EvalCondition: a malformed condition or a failed evaluation raises AnalysisError (the measurement errs)."""
    tree = compile_condition(condition)
    try:
        outcome = _Evaluator(result).eval(condition, previously_parsed=tree.body)
    except (ArithmeticError, LookupError, TypeError, ValueError, InvalidExpression) as error:
        raise AnalysisError(str(error)) from None
    if not isinstance(outcome, bool):
        raise AnalysisError(f"expected bool, but got {_gotype(outcome)}")
    return outcome


def evaluate_result(metric: dict, result: object) -> tuple[str, str]:
    """evaluate.go EvaluateResult: the measurement phase and, for Error, formatEvalError's message."""
    outcomes: dict[str, bool] = {}
    for field in ("successCondition", "failureCondition"):
        if metric.get(field):
            try:
                outcomes[field] = evaluate_condition(metric[field], result)
            except AnalysisError as error:
                empty = result is None or (isinstance(result, list | str) and not result)
                reason = "metric result is nil or empty: no data returned from the metric provider" if empty else error
                return ERROR, f'could not evaluate {field} "{metric[field]}": {reason}'
    if not outcomes:
        return SUCCESSFUL, ""  # no conditions: always Successful unless the query errs (the docs say Inconclusive)
    success = outcomes.get("successCondition", not outcomes.get("failureCondition", False))
    failure = outcomes.get("failureCondition", not success)
    return (FAILED if failure else SUCCESSFUL if success else INCONCLUSIVE), ""

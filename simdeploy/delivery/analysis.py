"""Argo Rollouts AnalysisTemplate / AnalysisRun semantics with the prometheus provider, over simulated metrics."""

# Ported from argoproj/argo-rollouts (v1.9 / master 2026): analysis/analysis.go (generateMetricTasks,
# runMeasurements, assessRunStatus, assessMetricStatus, calculateNextReconcileTime), utils/evaluate/evaluate.go
# (EvaluateResult, EvalCondition, formatEvalError from PR #4680), metricproviders/prometheus/prometheus.go
# (processResponse), utils/analysis/helpers.go (MergeArgs, IsWorse, IsTerminating, GetDryRunMetrics),
# utils/analysis/analysis.go (ValidateMetric) and utils/template/template.go (fasttemplate {{args.x}}).
# Conditions are expr-lang (github.com/expr-lang/expr) expressions; they are translated to Python and run by
# simpleeval with expr's strict typing re-imposed, never by eval().

from __future__ import annotations

import ast
import copy
import keyword
import math
import re
import warnings
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from simpleeval import InvalidExpression, SimpleEval

from simdeploy.k8s.timeutil import DEFAULT_EPOCH, format_time, sim_to_datetime
from simdeploy.sim.promql import instant_query
from simdeploy.sim.promql_functions import go_div, go_pow

__all__ = ["AnalysisError", "AnalysisRun", "evaluate_condition", "evaluate_result", "parse_duration_argo"]
__all__ += ["prometheus", "render", "render_metrics", "resolve_args", "validate_template"]

SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE, RUNNING, PENDING = (
    "Successful", "Failed", "Error", "Inconclusive", "Running", "Pending")  # fmt: skip
COMPLETED = (SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE)
PHASE_ORDER = (SUCCESSFUL, RUNNING, PENDING, INCONCLUSIVE, ERROR, FAILED)  # helpers.go analysisStatusOrder, best first
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4  # utils/defaults GetConsecutiveErrorLimitOrDefault
ERROR_RETRY_INTERVAL = 10.0  # analysis.go DefaultErrorRetryInterval: a measurement that errored is retried after 10 s
MEASUREMENT_HISTORY_LIMIT = 10  # analysis.go DefaultMeasurementHistoryLimit: status keeps the last 10 per metric
_EPS = 1e-9


class AnalysisError(ValueError):
    """A malformed AnalysisTemplate, argument or condition; `position` is a 0-based column in a condition."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


# --- durations and arguments ---------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def parse_duration_argo(value: object) -> float:
    """Seconds in an Argo DurationString, which is Go's time.ParseDuration: a unit is required ("30" fails)."""
    if not isinstance(value, str):  # a JSON string field: `interval: 30` is rejected by the CRD schema
        raise AnalysisError(f"expected a duration string like 30s or 5m, got {value!r}")
    text, sign = value, 1.0
    if text and text[0] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if text == "0":
        return 0.0
    total, rest = 0.0, text
    while rest:
        number, unit = _DURATION_PART.match(rest).groups()
        if number in ("", "."):
            raise AnalysisError(f'time: invalid duration "{value}"')
        if not unit:
            raise AnalysisError(f'time: missing unit in duration "{value}"')
        if unit not in _DURATION_UNITS:
            raise AnalysisError(f'time: unknown unit "{unit}" in duration "{value}"')
        total, rest = total + float(number) * _DURATION_UNITS[unit], rest[len(number) + len(unit) :]
    if not text:
        raise AnalysisError(f'time: invalid duration "{value}"')
    return sign * total


def resolve_args(
    template_args: list[dict], run_args: list[dict], *, value_from: Callable[[dict], str] | None = None
) -> dict[str, str]:
    """helpers.go MergeArgs: the template declares the args (a value is a default), the run overrides by name."""
    merged = [dict(arg) for arg in template_args or []]
    for arg in run_args or []:  # args the template does not declare are dropped, as MergeArgs does
        for target in merged:
            if target.get("name") == arg.get("name"):
                if arg.get("value") is not None:
                    target["value"] = arg["value"]
                elif arg.get("valueFrom") is not None:
                    target["valueFrom"] = arg["valueFrom"]
    values: dict[str, str] = {}
    for arg in merged:
        name, value, source = arg.get("name"), arg.get("value"), arg.get("valueFrom")
        if value is None and source is None:
            raise AnalysisError(f"args.{name} was not resolved: the template gives no value and the run supplies none")
        if source is not None and (value is None or "secretKeyRef" in source):  # analysis.go resolveArgs
            if value_from is None:
                raise AnalysisError(f"args.{name} has valueFrom {source!r} but no resolver was given")
            value = value_from(source)
        if not isinstance(value, str):
            raise AnalysisError(f"args.{name} value must be a string (quote it in YAML), got {value!r}")
        values[name] = value
    return values


def render(text: str, args: dict[str, str]) -> str:
    """utils/template resolve: replace each {{args.name}} (spaces allowed inside); any other tag is an error."""
    out, start = [], 0
    while (opening := text.find("{{", start)) >= 0:
        closing = text.find("}}", opening + 2)
        if closing < 0:
            raise AnalysisError(
                f'Cannot find end tag="}}}}" in the template="{text}" starting from "{text[opening + 2 :]}"'
            )
        tag = text[opening + 2 : closing]
        key = tag.strip()
        if not key.startswith("args.") or key[5:] not in args:
            raise AnalysisError(f"failed to resolve {{{{{tag}}}}}")
        out += [text[start:opening], args[key[5:]]]
        start = closing + 2
    return "".join(out) + text[start:]


def render_metrics(metrics: list[dict], args: dict[str, str]) -> list[dict]:
    """ResolveMetricArgs: substitute the args in every string of the metrics (count: "{{args.n}}" stays a string)."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return render(node, args)
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return [walk(item) for item in node] if isinstance(node, list) else node

    return walk(copy.deepcopy(metrics))


def prometheus(store: Any) -> Callable[[str, float], object]:
    """The query function for a run: an instant query on the simulator's SeriesStore."""
    return lambda expr, t: instant_query(store, expr, t)


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
def _compile(condition: str) -> ast.AST:
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
    tree = _compile(condition)
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


# --- validation ----------------------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_LIMITS = ("count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit")


def _int_or_string(value: object) -> int | None:
    """An IntOrString field as a non-negative-checked int, or None when it is neither an int nor a decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) else None


def _templated(metric: dict, field: str) -> bool:
    return isinstance(metric.get(field), str) and "{{" in metric[field]


def _tags(node: Any, path: str, declared: set[str] | None) -> list[tuple[str, str]]:
    """Every {{tag}} must be a declared args.name (or, after rendering, none may be left)."""
    if isinstance(node, dict):
        return [problem for key, value in node.items() for problem in _tags(value, f"{path}.{key}", declared)]
    if isinstance(node, list):
        return [problem for k, value in enumerate(node) for problem in _tags(value, f"{path}[{k}]", declared)]
    if not isinstance(node, str):
        return []
    problems = [
        (path, f"failed to resolve {{{{{tag}}}}}")
        for tag in _TAG.findall(node)
        if declared is None or not (tag.strip().startswith("args.") and tag.strip()[5:] in declared)
    ]
    if "{{" in _TAG.sub("", node):
        problems.append((path, 'Cannot find end tag="}}"'))
    return problems


def _validate_metrics(metrics: object, path: str, declared: set[str] | None) -> list[tuple[str, str]]:
    """utils/analysis ValidateMetrics, plus what the simulator needs: a prometheus query and parseable conditions."""
    if not isinstance(metrics, list) or not metrics:
        return [(path, "Required value: no metrics specified")]
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, metric in enumerate(metrics):
        at = f"{path}[{i}]"
        if not isinstance(metric, dict):
            problems.append((at, "must be an object"))
            continue
        problems += _tags(metric, at, declared)
        name = metric.get("name")
        if not isinstance(name, str) or not name:
            problems.append((f"{at}.name", "Required value"))
        elif name in names:
            problems.append((f"{at}.name", f"duplicate name '{name}'"))
        names.add(name)
        provider = metric.get("provider")
        if not isinstance(provider, dict) or not provider:
            problems.append((f"{at}.provider", "no provider specified"))
        elif len(provider) > 1:
            problems.append((f"{at}.provider", "multiple providers specified"))
        elif "prometheus" not in provider:
            problems.append((f"{at}.provider.{next(iter(provider))}", "only the prometheus provider is simulated"))
        elif not isinstance(provider["prometheus"], dict) or not str(provider["prometheus"].get("query") or "").strip():
            problems.append((f"{at}.provider.prometheus.query", "Required value"))
        for field in ("interval", "initialDelay"):
            if metric.get(field) in (None, "") or _templated(metric, field):
                continue
            try:
                seconds = parse_duration_argo(metric[field])
            except AnalysisError as error:
                problems.append((f"{at}.{field}", str(error)))
                continue
            if seconds < 0 or (field == "interval" and seconds == 0):  # Go accepts them; they would spin the run
                problems.append((f"{at}.{field}", "must be a positive duration"))
        limits = {}
        for field in _LIMITS:
            if metric.get(field) is None or _templated(metric, field):
                continue
            limits[field] = _int_or_string(metric[field])
            if limits[field] is None or limits[field] < 0:
                problems.append((f"{at}.{field}", "must be a non-negative integer"))
        count = limits.get("count") or 0
        for field in ("failureLimit", "inconclusiveLimit"):
            if count > 0 and count < (limits.get(field) or 0):
                problems.append((f"{at}.count", f"count must be >= {field}"))
        if count > 1 and not metric.get("interval"):
            problems.append((f"{at}.interval", "interval must be specified when count > 1"))
        if metric.get("consecutiveSuccessLimit") not in (None, 0):
            problems.append((f"{at}.consecutiveSuccessLimit", "not modelled by the simulator"))
        for field in ("successCondition", "failureCondition"):
            condition = metric.get(field)
            if condition in (None, ""):
                continue
            if not isinstance(condition, str):
                problems.append((f"{at}.{field}", "must be a string"))
                continue
            try:
                _compile(_TAG.sub("0", condition))  # an {{args.x}} placeholder stands for a literal
            except AnalysisError as error:
                problems.append((f"{at}.{field}", str(error)))
    return problems


def _dry_run_names(rules: object, metrics: list[dict], path: str) -> tuple[set[str], list[tuple[str, str]]]:
    """helpers.go GetDryRunMetrics: each rule is a Go regexp matched anywhere in the names (unanchored)."""
    names, problems = set(), []
    for k, rule in enumerate(rules or []):
        pattern = rule.get("metricName", "") if isinstance(rule, dict) else ""
        try:
            matched = {m.get("name") for m in metrics if isinstance(m, dict) and re.search(pattern, str(m.get("name")))}
        except re.error as error:
            problems.append((f"{path}[{k}].metricName", f"invalid regexp: {error}"))
            continue
        if not matched:
            problems.append((f"{path}[{k}].metricName", "Rule didn't match any metric name(s)"))
        names |= matched
    return names, problems


def validate_template(template: dict) -> list[tuple[str, str]]:
    """Problems with an AnalysisTemplate dict as (field path, message); empty when the simulator can run it."""
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    problems: list[tuple[str, str]] = []
    declared: set[str] = set()
    for k, arg in enumerate(spec.get("args") or []):
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
            problems.append((f"spec.args[{k}].name", "Required value"))
            continue
        if arg["name"] in declared:
            problems.append((f"spec.args[{k}].name", f"Duplicate value: {arg['name']!r}"))
        if arg.get("value") is not None and not isinstance(arg["value"], str):
            problems.append((f"spec.args[{k}].value", "must be a string"))
        declared.add(arg["name"])
    problems += _validate_metrics(spec.get("metrics"), "spec.metrics", declared)
    if isinstance(spec.get("metrics"), list):
        problems += _dry_run_names(spec.get("dryRun"), spec["metrics"], "spec.dryRun")[1]
    return problems


def _flatten(templates: list[dict]) -> dict:
    """helpers.go FlattenTemplates: metrics and dryRun rules concatenated; args merged by name (flattenArgs)."""
    metrics: list[dict] = []
    dry_run: list[dict] = []
    args: list[dict] = []
    for template in templates:
        spec = template.get("spec") or {} if isinstance(template, dict) else {}
        metrics += spec.get("metrics") or []
        dry_run += spec.get("dryRun") or []
        for arg in spec.get("args") or []:
            earlier = next((a for a in args if a.get("name") == arg.get("name")), None)
            if earlier is None:
                args.append(dict(arg))
            elif None not in (earlier.get("value"), arg.get("value")) and earlier["value"] != arg["value"]:
                raise AnalysisError(
                    f"Argument `{arg['name']}` specified multiple times with different values: "
                    f"'{earlier['value']}', '{arg['value']}'"
                )
            elif earlier.get("value") is None:  # a value already set is not replaced by an arg without one
                earlier.clear()
                earlier.update(arg)
    return {"spec": {"args": args, "metrics": metrics, "dryRun": dry_run}}


def _raise_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise AnalysisError("; ".join(f"{path}: {message}" for path, message in problems))


# --- the run -------------------------------------------------------------------------------------------------


def _go_float(value: float) -> str:
    """model.SampleValue.String(): strconv.FormatFloat(f, 'f', -1, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _duration(metric: dict, field: str) -> float | None:
    return parse_duration_argo(metric[field]) if metric.get(field) else None


def _effective_count(metric: dict) -> int | None:
    """Metric.EffectiveCount: count, else 1 without an interval, else None (measure until terminated)."""
    count = _int_or_string(metric.get("count")) or 0  # IntOrString.IntValue reads a non-number as 0
    return count if count else (None if metric.get("interval") else 1)


def _limit_breach(metric: dict, result: dict) -> tuple[str, str]:
    """analysis.go assessMetricFailureInconclusiveOrError: strict '>', and Error over Inconclusive over Failed."""
    phase = message = ""
    for counter, field, default, breached in (
        ("failed", "failureLimit", 0, FAILED),
        ("inconclusive", "inconclusiveLimit", 0, INCONCLUSIVE),
        ("consecutiveError", "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT, ERROR),
    ):
        limit = default if metric.get(field) is None else (_int_or_string(metric[field]) or 0)
        if result[counter] > limit:
            label = "consecutiveErrors" if counter == "consecutiveError" else counter
            phase, message = breached, f"{label} ({result[counter]}) > {field} ({limit})"
    return phase, message


class AnalysisRun:
    """One AnalysisRun: measures its metrics on the simulated clock and settles to a phase, as Argo's controller."""

    def __init__(
        self,
        name: str,
        metrics: list[dict],
        clock: Any,
        query: Callable[[str, float], object],
        on_done: Callable[[AnalysisRun], None],
        dry_run_metrics: set[str] | frozenset[str] = frozenset(),
        *,
        epoch: datetime = DEFAULT_EPOCH,
    ):
        _raise_problems(_validate_metrics(metrics, "spec.metrics", None))
        unknown = set(dry_run_metrics) - {metric["name"] for metric in metrics}
        _raise_problems([("spec.dryRun", f"no metric named {name!r}") for name in sorted(unknown)])
        self.name, self.metrics, self.clock, self.query = name, copy.deepcopy(metrics), clock, query
        self.on_done, self.dry_run, self.epoch = on_done, frozenset(dry_run_metrics), epoch
        self._results: dict[str, dict] = {}  # metric name -> MetricResult, created by its first measurement
        self._phase, self._message = PENDING, ""
        self._started_at: float | None = None
        self._terminate = False
        self._wake: float | None = None
        self._summaries: dict[str, dict[str, int]] = {}

    @classmethod
    def from_template(
        cls,
        name: str,
        template: dict | list[dict],
        run_args: list[dict],
        clock: Any,
        query: Callable,
        on_done: Callable,
        **kwargs: Any,
    ) -> AnalysisRun:
        """NewAnalysisRunFromTemplates: flatten the templates, validate, merge args, render, take the dryRun rules.

        Keyword arguments: value_from (resolves valueFrom args, e.g. podTemplateHashValue) and epoch.
        """
        template = _flatten(template) if isinstance(template, list) else template
        _raise_problems(validate_template(template))
        spec = template["spec"]
        args = resolve_args(spec.get("args") or [], run_args, value_from=kwargs.pop("value_from", None))
        metrics = render_metrics(spec["metrics"], args)
        dry_run, _ = _dry_run_names(spec.get("dryRun"), metrics, "spec.dryRun")
        return cls(name, metrics, clock, query, on_done, dry_run, **kwargs)

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def message(self) -> str:
        return self._message

    def start(self) -> None:
        """Begin: the controller's first reconcile (at this moment, through the clock) takes the first measurements."""
        if self._started_at is None:
            self._started_at, self._phase = self.clock.now, RUNNING
            self._schedule(self.clock.now)

    def terminate(self) -> None:
        """spec.terminate: no more measurements; unresolved metrics count as Successful (a completed run stays)."""
        if self._phase in COMPLETED:
            return
        if self._started_at is None:
            self._started_at = self.clock.now
        self._terminate = True
        self._reconcile()

    # -- reconcile ----------------------------------------------------------------------------------------------

    def _schedule(self, moment: float) -> None:
        if self._wake is not None and self._wake <= moment + _EPS:
            return  # an earlier reconcile is due; it schedules the next one
        self._wake = moment
        self.clock.call_at(moment, lambda: self._on_wake(moment))

    def _on_wake(self, moment: float) -> None:
        if self._wake == moment:
            self._wake = None
            self._reconcile()

    def _terminating(self) -> bool:
        """helpers.go IsTerminating: asked to, or a metric (not a dry-run one) ended Failed, Error or Inconclusive."""
        return self._terminate or any(
            result["phase"] in (FAILED, ERROR, INCONCLUSIVE) and not result["dryRun"]
            for result in self._results.values()
        )

    def _reconcile(self) -> None:
        if self._phase in COMPLETED:
            return
        now, terminating = self.clock.now, self._terminating()
        for metric in self.metrics:
            if not terminating and self._due(metric, now):
                self._measure(metric, now)
        phase, message = self._assess()
        if phase != self._phase:
            self._phase, self._message = phase, message
        if phase in COMPLETED:
            self._wake = None
            self.on_done(self)
        elif self._terminating() and not terminating:
            self._reconcile()  # the status update requeues the run at once; now it terminates the other metrics
        elif (moment := self._next_reconcile()) is not None:
            self._schedule(max(moment, now))

    def _last(self, metric: dict) -> dict | None:
        result = self._results.get(metric["name"])
        return result["measurements"][-1] if result and result["measurements"] else None

    def _retry_interval(self, metric: dict, last: dict) -> float | None:
        """After an Error the next try is in 10 s whatever the interval; with no interval there is no next one."""
        return ERROR_RETRY_INTERVAL if last["phase"] == ERROR else _duration(metric, "interval")

    def _due(self, metric: dict, now: float) -> bool:
        """analysis.go generateMetricTasks for a metric that is not yet complete."""
        result, last = self._results.get(metric["name"]), self._last(metric)
        if result and result["phase"] in COMPLETED:
            return False
        if last is None:
            delay = _duration(metric, "initialDelay")
            return delay is None or self._started_at + delay <= now + _EPS
        count = _effective_count(metric)
        if count is not None and result["count"] >= count:
            return False
        interval = self._retry_interval(metric, last)
        return last["finishedAt"] + (ERROR_RETRY_INTERVAL if interval is None else interval) <= now + _EPS

    def _next_reconcile(self) -> float | None:
        """analysis.go calculateNextReconcileTime: the earliest moment a metric will want its next measurement."""
        moments = []
        for metric in self.metrics:
            result, last = self._results.get(metric["name"]), self._last(metric)
            if result and result["phase"] in COMPLETED:
                continue
            if last is None:
                if (delay := _duration(metric, "initialDelay")) is not None:
                    moments.append(self._started_at + delay)
                continue
            count = _effective_count(metric)
            if (count is None or result["count"] < count) and (
                interval := self._retry_interval(metric, last)
            ) is not None:
                moments.append(last["finishedAt"] + interval)
        return min(moments, default=None)

    def _measure(self, metric: dict, now: float) -> None:
        """prometheus.go Run + analysis.go runMeasurements: one instantaneous query, its phase and the counters."""
        name = metric["name"]
        value = ""
        try:
            raw = self.query(metric["provider"]["prometheus"]["query"], now)
        except Exception as error:  # any provider failure marks the measurement Error (MarkMeasurementError)
            phase, message = ERROR, str(error) or type(error).__name__
        else:
            if isinstance(raw, int | float) and not isinstance(raw, bool):  # a scalar: result is a number
                result, text = float(raw), _go_float(float(raw))
            elif isinstance(raw, list | tuple):  # a vector: result is the list of sample values
                result = [float(getattr(sample, "value", sample)) for sample in raw]
                text = "[" + ",".join(_go_float(v) for v in result) + "]"
            else:
                result, text = None, ""
            phase, message = (
                evaluate_result(metric, result) if text else (ERROR, "Prometheus metric type not supported")
            )
            value = text if phase != ERROR else ""  # an evaluation error drops the value (MarkMeasurementError)
        record = self._results.setdefault(name, {"name": name, "phase": RUNNING, "measurements": [], "count": 0})
        for counter in ("successful", "failed", "inconclusive", "error", "consecutiveError"):
            record.setdefault(counter, 0)
        record.setdefault("dryRun", name in self.dry_run)
        record.setdefault("metadata", {"ResolvedPrometheusQuery": metric["provider"]["prometheus"]["query"]})
        record["measurements"].append(
            {"phase": phase, "startedAt": now, "finishedAt": now, "value": value, "message": message}
        )
        counter = {SUCCESSFUL: "successful", FAILED: "failed", INCONCLUSIVE: "inconclusive", ERROR: "error"}[phase]
        record[counter] += 1
        record["count"] += phase != ERROR  # errors are not counted towards `count`
        record["consecutiveError"] = record["consecutiveError"] + 1 if phase == ERROR else 0

    def _assess_metric(self, metric: dict, result: dict, terminating: bool) -> str:
        """analysis.go assessMetricStatus (prometheus measurements finish at once, so none is in flight)."""
        if result["phase"] in COMPLETED:
            return result["phase"]
        if not result["measurements"]:
            return SUCCESSFUL if terminating else PENDING
        breached, _ = _limit_breach(metric, result)
        if breached:
            return breached
        count = _effective_count(metric)
        if (count is not None and result["count"] >= count) or terminating:
            return SUCCESSFUL
        return RUNNING

    def _assess(self) -> tuple[str, str]:
        """analysis.go assessRunStatus: the worst phase among completed metrics once all are complete."""
        terminating, worst, everything_completed = self._terminating(), "", True
        worst_message = "Run Terminated" if self._terminate else ""
        summaries = {
            kind: dict.fromkeys(("count", "successful", "failed", "inconclusive", "error"), 0) for kind in "rd"
        }
        for metric in self.metrics:
            name, dry = metric["name"], metric["name"] in self.dry_run
            summary = summaries["d" if dry else "r"]
            summary["count"] += 1
            result = self._results.get(name)
            if result is None:  # not measured yet (initialDelay)
                everything_completed = False
                continue
            status = self._assess_metric(metric, result, terminating)
            if result["phase"] != status:
                result["message"], result["phase"] = self._last(metric)["message"], status
            if status not in COMPLETED:
                everything_completed = False
                continue
            breached, why = _limit_breach(metric, result)
            summary[(breached or SUCCESSFUL).lower()] += 1
            if dry:  # a dry-run metric never decides the run; its verdict goes to its own message
                worst = worst or SUCCESSFUL
                if why:
                    result["message"] = f"Metric assessed {status} due to {why}"
            elif not worst or PHASE_ORDER.index(status) > PHASE_ORDER.index(worst):
                worst = status
                if why:
                    worst_message = f'Metric "{name}" assessed {status} due to {why}'
                    worst_message += f': "Error Message: {result["message"]}"' if result.get("message") else ""
        self._summaries = {"runSummary": summaries["r"], "dryRunSummary": summaries["d"]}
        if terminating:
            return worst or SUCCESSFUL, worst_message.strip()
        if not everything_completed or not worst:
            return RUNNING, ""
        return worst, worst_message.strip()

    # -- views ----------------------------------------------------------------------------------------------------

    def _stamp(self, seconds: float) -> str:
        return format_time(sim_to_datetime(self.epoch, seconds))

    def measurements(self) -> list[dict]:
        """Every measurement taken, in time order: metric, phase, startedAt/finishedAt (simulated s), value, message."""
        rows = [
            {"metric": metric["name"], "dryRun": metric["name"] in self.dry_run, **measurement}
            for metric in self.metrics
            for measurement in (self._results.get(metric["name"]) or {}).get("measurements", [])
        ]
        return sorted(rows, key=lambda row: row["startedAt"])

    def as_object(self) -> dict:
        """The AnalysisRun as Kubernetes JSON; times are RFC 3339 from `epoch`, at most 10 measurements a metric."""
        results = []
        for metric in self.metrics:
            if (result := self._results.get(metric["name"])) is not None:
                shown = [
                    {**m, "startedAt": self._stamp(m["startedAt"]), "finishedAt": self._stamp(m["finishedAt"])}
                    for m in result["measurements"][-MEASUREMENT_HISTORY_LIMIT:]
                ]
                results.append({**copy.deepcopy(result), "measurements": shown})
        spec: dict[str, Any] = {"metrics": copy.deepcopy(self.metrics)}
        if self.dry_run:
            spec["dryRun"] = [{"metricName": re.escape(name)} for name in sorted(self.dry_run)]
        if self._terminate:
            spec["terminate"] = True
        status: dict[str, Any] = {"phase": self._phase, "message": self._message, "metricResults": results}
        if self._started_at is not None:
            status["startedAt"] = self._stamp(self._started_at)
        status.update(copy.deepcopy(self._summaries))
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": self.name},
            "spec": spec,
            "status": status,
        }

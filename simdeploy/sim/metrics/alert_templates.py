"""Alert templates: the subset of Go text/template that Prometheus alert labels and annotations use."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from functools import lru_cache

# The subset of Go text/template that alert labels and annotations use (Prometheus template/template.go):
# {{ $labels.name }}, {{ .Labels.name }}, {{ $value }}, {{ .Value }}, {{ index $labels "name" }}, pipelines into
# printf, humanize, humanize1024, humanizePercentage, humanizeDuration, toUpper, toLower, title, reReplaceAll,
# and {{- / -}} trimming. A missing label expands to "" (Prometheus sets missingkey=zero); there are no external
# labels or URL. Control structures ({{ if }}, {{ range }}, variables) are not supported.
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|]+')
_TERM = re.compile(
    r"(?P<value>\$value|\.Value)|(?P<labels>\$labels|\.Labels)(?:\.(?P<label>\w+))?"
    r"|(?P<external>\$externalLabels|\.ExternalLabels|\$externalURL|\.ExternalURL)(?:\.\w+)?"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<string>\"(?:[^\"\\]|\\.)*\"|`[^`]*`)"
)
_GO_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
_BIG, _SMALL = ("k", "M", "G", "T", "P", "E", "Z", "Y"), ("m", "u", "n", "p", "f", "a", "z", "y")


def _si(v: float, big: tuple[str, ...], small: tuple[str, ...], base: float = 1000, suffix: str = "") -> str:
    if math.isnan(v) or math.isinf(v):
        return go_value(v)  # Go's %.4g prints NaN, +Inf, -Inf
    if v == 0 or (abs(v) < 1 and not small):
        return f"{v:.4g}{suffix}"
    prefix = ""
    if abs(v) >= 1:
        for p in big:
            if abs(v) < base:
                break
            prefix, v = p, v / base
    else:
        for p in small:
            if abs(v) >= 1:
                break
            prefix, v = p, v * 1000
    return f"{v:.4g}{prefix}{suffix}"


def _humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v) or abs(v) < 1:
        return _si(v, (), _SMALL, suffix="s")
    sign, whole = ("-" if v < 0 else ""), int(abs(v))
    days, hours, minutes, seconds = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{abs(v):.4g}s"


_FUNCTIONS = {
    "humanize": lambda v: _si(_float(v), _BIG, _SMALL),
    "humanize1024": lambda v: _si(_float(v), tuple(p + "i" for p in ("k", *_BIG[1:])), (), 1024),
    "humanizePercentage": lambda v: _si(_float(v) * 100, (), ()) + "%",
    "humanizeDuration": lambda v: _humanize_duration(_float(v)),
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: re.sub(r"(?<![^\W_])([^\W_])", lambda m: m.group(1).upper(), str(s)),
    "index": lambda m, key: m.get(key, "") if isinstance(m, dict) else "",
    "reReplaceAll": lambda pattern, repl, text: re.sub(pattern, re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), text),
    "printf": lambda fmt, *args: _printf(fmt, list(args)),
}


def _float(v: object) -> float:
    return float(v) if not isinstance(v, dict) else math.nan  # Prometheus's convertToFloat parses strings too


def go_value(v: object) -> str:
    """A value as Go's fmt prints it: a float64 in shortest form, with an exponent below 1e-4 and from 1e+06."""
    if not isinstance(v, float):
        return str(v)
    if math.isnan(v) or math.isinf(v):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    if v == 0:
        return "0"
    d = Decimal(repr(v)).normalize()
    sign, digits, exponent = d.as_tuple()
    exp10 = len(digits) + exponent - 1
    if -4 <= exp10 < 6:  # strconv.FormatFloat(v, 'g', -1, 64) uses %e outside this range
        return format(d, "f")
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"


def _printf(fmt: str, args: list) -> str:
    def verb(match: re.Match) -> str:
        flags, width, precision, kind = match.groups()
        if kind == "%":
            return "%"
        if not args:
            return f"%!{kind}(MISSING)"
        arg = args.pop(0)
        spec = f"%{flags}{width or ''}{'.' + precision if precision is not None else ''}"
        if kind in "eEfFgG" and isinstance(arg, int | float):
            return (spec + kind) % arg
        if kind == "d" and isinstance(arg, int):
            return (spec + "d") % arg
        if kind in "sv" and (kind == "v" or isinstance(arg, str)):
            return (spec + "s") % go_value(arg)
        if kind == "q" and isinstance(arg, str):
            return (spec + "s") % json.dumps(arg)
        return f"%!{kind}({'float64' if isinstance(arg, float) else type(arg).__name__}={go_value(arg)})"

    return _GO_VERB.sub(verb, fmt)


@lru_cache(maxsize=512)
def parse_template(text: str) -> tuple:
    """The template as (text, pipeline) parts; ValueError naming what is not supported. Cached per text."""
    parts: list = []
    position = 0
    for match in _ACTION.finditer(text):
        before = text[position : match.start()]
        parts.append(before.rstrip() if match.group(1) else before)
        position = match.end()
        if match.group(3):
            text_after = text[position:]
            position += len(text_after) - len(text_after.lstrip())
        body = match.group(2).strip()
        if body.startswith("/*") and body.endswith("*/"):
            continue
        commands: list[list[str]] = [[]]
        for token in _TOKEN.findall(body):
            if token == "|":
                commands.append([])
            else:
                commands[-1].append(token)
        for index, command in enumerate(commands):
            if not command:
                raise ValueError(f"missing command in {{{{ {body} }}}}")
            if command[0] in _FUNCTIONS:
                args = command[1:]
            elif len(command) == 1 and index == 0:
                args = command
            else:
                raise ValueError(f"unsupported template action {{{{ {body} }}}} (at {command[0]!r})")
            for arg in args:
                if not _TERM.fullmatch(arg):
                    raise ValueError(f"unsupported template action {{{{ {body} }}}} (at {arg!r})")
        parts.append(tuple(tuple(command) for command in commands))
    rest = text[position:]
    if "{{" in rest:
        raise ValueError("unclosed action: '{{' without '}}'")
    parts.append(rest)
    return tuple(parts)


def expand_template(text: str, labels: dict[str, str], value: float) -> str:
    """Expand a label or annotation template for one sample; an error expands as Prometheus shows it."""
    if "{{" not in text:
        return text
    try:
        out = []
        for part in parse_template(text):
            if isinstance(part, str):
                out.append(part)
                continue
            result: object = None
            for index, command in enumerate(part):
                if command[0] in _FUNCTIONS:
                    args = [_term(arg, labels, value) for arg in command[1:]]
                    result = _FUNCTIONS[command[0]](*args, *([result] if index else []))
                else:
                    result = _term(command[0], labels, value)
            out.append(go_value(result))
        return "".join(out)
    except (ValueError, TypeError, re.error) as error:
        return f"<error expanding template: {error}>"


def _term(token: str, labels: dict[str, str], value: float) -> object:
    match = _TERM.fullmatch(token)
    if match.group("value"):
        return value
    if match.group("labels"):
        return labels.get(match.group("label"), "") if match.group("label") else labels
    if match.group("external"):
        return ""
    if match.group("number"):
        return int(token) if re.fullmatch(r"[-+]?\d+", token) else float(token)
    literal = match.group("string")
    return literal[1:-1] if literal.startswith("`") else json.loads(literal)

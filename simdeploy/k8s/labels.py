"""Label selectors: metav1.LabelSelector matching, kubectl's text form, and parsing it back."""

from __future__ import annotations

import re

from simdeploy.k8s.shown import shown

# Syntax rules from apimachinery's validation (IsQualifiedName, IsValidLabelValue).
_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

# A requirement is (key, operator, values); "Equals" stands for a matchLabels entry.
Requirement = tuple[str, str, list[str]]


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise ValueError(f"invalid label key {shown(key)}: must be a string")
    parts = key.split("/")
    name = parts[-1]
    if len(parts) > 2:
        raise ValueError(f"invalid label key {shown(key)}: at most one '/' is allowed")
    if len(parts) == 2 and not (0 < len(parts[0]) <= 253 and _DNS_SUBDOMAIN_RE.fullmatch(parts[0])):
        raise ValueError(f"invalid label key {shown(key)}: prefix must be a DNS subdomain")
    if not (0 < len(name) <= 63 and _NAME_RE.fullmatch(name)):
        raise ValueError(
            f"invalid label key {shown(key)}: name must be 1-63 alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )


def _check_value(key: str, value: object) -> None:
    if not (isinstance(value, str) and len(value) <= 63 and _VALUE_RE.fullmatch(value)):
        raise ValueError(
            f"invalid value {shown(value)} for label {shown(key)}: must be empty or 1-63 alphanumerics, "
            "'-', '_' or '.', starting and ending with an alphanumeric"
        )


def _requirement(key: object, operator: object, values: list) -> Requirement:
    """Validate one requirement the way labels.NewRequirement does."""
    _check_key(key)
    if operator in ("In", "NotIn") and not values:
        raise ValueError(f"label {shown(key)}: operator {operator} needs at least one value")
    if operator == "Equals" and len(values) != 1:
        raise ValueError(f"label {shown(key)}: an exact match needs exactly one value")
    if operator in ("Exists", "DoesNotExist") and values:
        raise ValueError(f"label {shown(key)}: operator {operator} takes no values")
    if operator not in ("Equals", "In", "NotIn", "Exists", "DoesNotExist"):
        raise ValueError(f"{shown(operator)} is not a valid label selector operator")
    for value in values:
        _check_value(key, value)
    return key, operator, list(values)


def _requirements(selector: dict) -> list[Requirement]:
    """metav1.LabelSelectorAsSelector: matchLabels then matchExpressions, sorted by key."""
    reqs = [_requirement(k, "Equals", [v]) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        values = list(expr.get("values") or [])
        reqs.append(_requirement(expr.get("key"), expr.get("operator"), values))
    return sorted(reqs, key=lambda req: req[0])


def _requirement_matches(req: Requirement, labels: dict) -> bool:
    key, operator, values = req
    if operator in ("Equals", "In"):
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    return key not in labels  # DoesNotExist


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """Whether a LabelSelector selects these labels.

    None selects nothing and {} selects everything, as metav1.LabelSelectorAsSelector.
    Raises ValueError for an invalid selector (bad key, value or operator).
    """
    if selector is None:
        return False
    labels = labels or {}
    return all(_requirement_matches(req, labels) for req in _requirements(selector))


def labels_match(flat_selector: dict | None, labels: dict | None) -> bool:
    """Service-style selector (a flat map): every key present with an equal value.

    Like labels.SelectorFromSet an empty map selects everything; a Service without a
    selector selects no pods, and that special case is the caller's to handle.
    """
    labels = labels or {}
    for key, value in (flat_selector or {}).items():
        if key not in labels or labels[key] != value:
            return False
    return True


def _format_requirement(req: Requirement) -> str:
    key, operator, values = req
    if operator == "Equals":
        return f"{key}={values[0]}"
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    word = "in" if operator == "In" else "notin"
    return f"{key} {word} ({','.join(sorted(values))})"


def format_selector(selector: dict | None) -> str:
    """kubectl's text form (metav1.FormatLabelSelector): "app=x,tier in (web)".

    Empty and None selectors print "<none>", invalid ones "<error>".
    """
    if selector is None:
        return "<none>"
    try:
        reqs = _requirements(selector)
    except ValueError:
        return "<error>"
    return ",".join(_format_requirement(req) for req in reqs) or "<none>"


# --- parsing kubectl selector strings (labels.Parse, then metav1.ParseToLabelSelector) ---

_SYMBOLS = "=!(),<>"
_SPACE = " \t\r\n"
_OPERATORS = {"=": "Equals", "==": "Equals", "!=": "NotEquals", "in": "In", "notin": "NotIn"}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); kind is the symbol, "in", "notin", "id" or "end"."""
    tokens, pos = [], 0
    while pos < len(text):
        char = text[pos]
        if char in _SPACE:
            pos += 1
        elif char in _SYMBOLS:
            size = 2 if text[pos : pos + 2] in ("==", "!=") else 1
            tokens.append((text[pos : pos + size], text[pos : pos + size]))
            pos += size
        else:
            end = pos
            while end < len(text) and text[end] not in _SPACE + _SYMBOLS:
                end += 1
            word = text[pos:end]
            tokens.append((word if word in ("in", "notin") else "id", word))
            pos = end
    return tokens + [("end", "")]


class _Parser:
    """Recursive-descent parser following apimachinery's labels grammar."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, keywords: bool = False) -> tuple[str, str]:
        kind, literal = self.tokens[self.pos]
        # Outside operator position "in" and "notin" are ordinary identifiers.
        if not keywords and kind in ("in", "notin"):
            kind = "id"
        return kind, literal

    def take(self, keywords: bool = False) -> tuple[str, str]:
        token = self.peek(keywords)
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, literal = self.peek()
            if kind == "end":
                return reqs
            if kind not in ("id", "!"):
                raise ValueError(f"found {literal!r}, expected: !, identifier, or end of string")
            reqs.append(self.requirement())
            kind, literal = self.take()
            if kind == "end":
                return reqs
            if kind != ",":
                raise ValueError(f"found {literal!r}, expected: ',' or end of string")
            if self.peek()[0] not in ("id", "!"):
                raise ValueError(f"found {self.peek()[1]!r}, expected: identifier after ','")

    def requirement(self) -> Requirement:
        kind, key = self.take()
        negated = kind == "!"
        if negated:
            kind, key = self.take()
        if kind != "id":
            raise ValueError(f"found {shown(key)}, expected: identifier")
        _check_key(key)
        if negated:
            return _requirement(key, "DoesNotExist", [])
        if self.peek()[0] in ("end", ","):
            return _requirement(key, "Exists", [])
        kind, literal = self.take(keywords=True)
        if kind in (">", "<"):
            raise ValueError(f"{literal!r} (Gt/Lt) isn't supported in label selectors")
        if kind not in _OPERATORS:
            raise ValueError(f"found {literal!r}, expected: in, notin, =, ==, !=")
        operator = _OPERATORS[kind]
        values = self.value_set() if operator in ("In", "NotIn") else self.exact_value()
        if operator == "NotEquals":  # LabelSelector has no "!=": NotIn one value means the same
            operator = "NotIn"
        return _requirement(key, operator, values)

    def exact_value(self) -> list[str]:
        if self.peek()[0] in ("end", ","):
            return [""]
        kind, literal = self.take()
        if kind != "id":
            raise ValueError(f"found {literal!r}, expected: identifier")
        return [literal]

    def value_set(self) -> list[str]:
        kind, literal = self.take()
        if kind != "(":
            raise ValueError(f"found {literal!r}, expected: '('")
        kind, literal = self.peek()
        if kind == ")":
            self.take()
            return [""]
        if kind not in ("id", ","):
            raise ValueError(f"found {literal!r}, expected: ',', ')' or identifier")
        values = self.identifier_list()
        kind, literal = self.take()
        if kind != ")":
            raise ValueError(f"found {literal!r}, expected: ')'")
        return sorted(set(values))

    def identifier_list(self) -> list[str]:
        """Items between parentheses; empty items (",," or a leading/trailing ",") are ""."""
        values: list[str] = []
        while True:
            kind, literal = self.take()
            if kind == "id":
                values.append(literal)
                if self.peek()[0] == ")":
                    return values
                if self.peek()[0] != ",":
                    raise ValueError(f"found {self.peek()[1]!r}, expected: ',' or ')'")
            elif kind == ",":
                if not values or self.peek()[0] in (")", ","):
                    values.append("")
                if self.peek()[0] == ")":
                    return values
                if self.peek()[0] == ",":
                    self.take()
            else:
                raise ValueError(f"found {literal!r}, expected: ',' or identifier")


def parse_selector(text: str) -> dict:
    """Parse a kubectl selector string ("app=x,env!=prod,tier in (a,b),!canary,key").

    Returns a LabelSelector dict: "=" and "==" go to matchLabels, everything else to
    matchExpressions in input order ("!=" becomes NotIn with one value). "" gives {},
    which selects everything. Raises ValueError for malformed input and for ">"/"<".
    """
    try:
        reqs = _Parser(text).parse()
    except ValueError as err:
        raise ValueError(f"invalid label selector {text!r}: {err}") from None
    match_labels: dict[str, str] = {}
    expressions: list[dict] = []
    for key, operator, values in reqs:
        if operator == "Equals" and match_labels.get(key, values[0]) == values[0]:
            match_labels[key] = values[0]
            continue
        if operator == "Equals":  # a second, different "key=" value: keep both constraints
            operator = "In"
        expr: dict = {"key": key, "operator": operator}
        if values:
            expr["values"] = values
        expressions.append(expr)
    selector: dict = {}
    if match_labels:
        selector["matchLabels"] = match_labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector

"""Unleash constraint operators compiled once into closures: context lookup, numbers, dates, SemVer, regex, CIDR."""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime

Check = Callable[[dict], bool]
Getter = Callable[[dict], "str | None"]

# The six top-level fields of the Unleash context schema; every other name is looked up in `properties`.
STANDARD_FIELDS = frozenset({"userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime"})


class CompileError(Exception):
    """A literal the engine cannot compile: the whole feature evaluates to false (yggdrasil compile_rule)."""


def never(_ctx: dict) -> bool:
    return False


def always(_ctx: dict) -> bool:
    return True


def context_getter(name: str) -> Getter:
    """A lookup of `name` in a context dict; None (JSON null) counts as missing, other non-strings are str()-ed."""
    if name in STANDARD_FIELDS:

        def get(ctx: dict) -> str | None:
            value = ctx.get(name)
            return value if value is None or value.__class__ is str else str(value)

        return get

    def get_property(ctx: dict) -> str | None:
        props = ctx.get("properties")
        value = props.get(name) if props else None
        if value is None and name != "properties":
            value = ctx.get(name)  # UnleashClient moves unknown top-level keys into properties
        return value if value is None or value.__class__ is str else str(value)

    return get_property


# --- literals --------------------------------------------------------------------------------------------------

# yggdrasil strategy_grammar.pest: num = int ("." digit*)? (e int)?, int = ("+"|"-")? digit+
_NUM_LITERAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
# RFC 3339 instant with a mandatory offset, as the grammar's `date` rule (fraction length relaxed).
_DATE_LITERAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)", re.ASCII)
# SemVer 2.0.0 (semver.org): no leading zeros, optional pre-release and build metadata.
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def parse_number(text: str) -> float | None:
    """A context value as Rust's f64::from_str reads it: no whitespace, no underscores, ASCII only."""
    if not text.isascii() or "_" in text or text.strip() != text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 timestamp with an offset (chrono DateTime<Utc>); naive or malformed gives None."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def semver_key(text: str) -> tuple | None:
    """A sort key with SemVer 2.0 precedence: pre-releases sort below the release, build metadata is ignored."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    # Numeric identifiers compare numerically and below alphanumeric ones; a shorter prefix sorts first.
    ids = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


def _memo(parse: Callable[[str], object], limit: int = 65536) -> Callable[[str], object]:
    """`parse` remembered per context string: users, versions and clock readings repeat across evaluations."""
    cache: dict[str, object] = {}

    def cached(text: str) -> object:
        value = cache.get(text, cache)  # the dict itself marks a miss
        if value is cache:
            if len(cache) >= limit:
                cache.clear()
            value = cache[text] = parse(text)
        return value

    return cached


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_context_address, _context_instant, _context_semver = _memo(_address), _memo(parse_instant), _memo(semver_key)


def parse_networks(entries: list[str]) -> tuple:
    """IPv4/IPv6 networks (a bare address is a /32 or /128); invalid entries are ignored, as every SDK does."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def ip_check(get: Getter, networks: tuple) -> Check:
    def check(ctx: dict) -> bool:
        value = get(ctx)
        address = None if value is None else _context_address(value)
        return address is not None and any(address in network for network in networks)

    return check


# --- operators -------------------------------------------------------------------------------------------------


def _in(get: Getter, values: list[str], ci: bool) -> Check:
    # caseInsensitive is not applied to IN/NOT_IN (yggdrasil strategy_upgrade.rs upgrade_operator).
    wanted = frozenset(values)
    return lambda ctx: (value := get(ctx)) is not None and value in wanted


def _not_in(get: Getter, values: list[str], ci: bool) -> Check:
    wanted = frozenset(values)
    return lambda ctx: (value := get(ctx)) is None or value not in wanted


def _affix(test: Callable[[str, tuple], bool]) -> Callable[[Getter, list[str], bool], Check]:
    def build(get: Getter, values: list[str], ci: bool) -> Check:
        needles = tuple(v.lower() for v in values) if ci else tuple(values)
        return lambda ctx: (value := get(ctx)) is not None and test(value.lower() if ci else value, needles)

    return build


def _epsilon_eq(a: float, b: float) -> bool:
    return abs(a - b) < 2.220446049250313e-16  # f64::EPSILON, as yggdrasil numeric_constraint


_NUM_OPS = {"NUM_EQ": _epsilon_eq, "NUM_GT": operator.gt, "NUM_GTE": operator.ge, "NUM_LT": operator.lt}
_NUM_OPS["NUM_LTE"] = operator.le
_SEMVER_OPS = {"SEMVER_EQ": operator.eq, "SEMVER_GT": operator.gt, "SEMVER_GTE": operator.ge}
_SEMVER_OPS |= {"SEMVER_LT": operator.lt, "SEMVER_LTE": operator.le}


def _ordered(get: Getter, parse: Callable, compare: Callable, bound: object) -> Check:
    """Context value parsed like the literal, then compared; a missing or unparsable value is false."""

    def check(ctx: dict) -> bool:
        value = get(ctx)
        key = None if value is None else parse(value)
        return key is not None and compare(key, bound)

    return check


def _number(op: str, get: Getter, literal: str) -> Check:
    if not _NUM_LITERAL.fullmatch(literal):
        raise CompileError(f"{op} value {literal!r} is not a number")
    return _ordered(get, parse_number, _NUM_OPS[op], float(literal))


def _date(op: str, name: str, literal: str) -> Check:
    bound = parse_instant(literal) if _DATE_LITERAL.fullmatch(literal) else None
    if bound is None:
        raise CompileError(f"{op} value {literal!r} is not an RFC 3339 instant")
    after = op == "DATE_AFTER"
    get = context_getter(name)

    def check(ctx: dict) -> bool:
        raw = ctx.get(name) if name == "currentTime" else None
        if isinstance(raw, datetime):  # a simulation may pass its clock directly
            instant = raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)
        elif (value := get(ctx)) is None:
            instant = datetime.now(UTC) if name == "currentTime" else None  # the SDKs fill currentTime with now
        else:
            instant = _context_instant(value)
        return instant is not None and (instant > bound if after else instant < bound)

    return check


def _semver(op: str, get: Getter, literal: str) -> Check:
    if literal.startswith("v"):
        # A leading "v" makes the constraint false whatever `inverted` says (yggdrasil upgrade_constraint).
        return never
    bound = semver_key(literal)
    if bound is None:
        raise CompileError(f"{op} value {literal!r} is not a semantic version")
    return _ordered(get, _context_semver, _SEMVER_OPS[op], bound)


def _regex(get: Getter, pattern: re.Pattern) -> Check:
    search = pattern.search
    return lambda ctx: (value := get(ctx)) is not None and search(value) is not None


_LIST_OPS = {
    "IN": _in,
    "NOT_IN": _not_in,
    "STR_STARTS_WITH": _affix(str.startswith),
    "STR_ENDS_WITH": _affix(str.endswith),
    "STR_CONTAINS": _affix(lambda value, needles: any(needle in value for needle in needles)),
}
_VALUE_OPS = frozenset(_NUM_OPS) | frozenset(_SEMVER_OPS) | {"DATE_AFTER", "DATE_BEFORE", "REGEX"}


def compile_constraint(constraint: dict) -> Check:
    """One constraint as a closure, `inverted` applied; raises CompileError for a literal the engine rejects."""
    op, name = constraint["operator"], constraint["contextName"]
    values, literal = constraint.get("values") or [], constraint.get("value")
    literal = None if literal is None else str(literal)  # older servers sent numbers
    ci = bool(constraint.get("caseInsensitive"))
    get = context_getter(name)
    if op in _LIST_OPS:
        check = _LIST_OPS[op](get, values, ci)
    elif op == "IN_CIDR":
        check = ip_check(get, parse_networks(values))
    elif op in _VALUE_OPS:
        if literal is None or literal == "":
            raise CompileError(f"{op} needs a value")
        if op in _NUM_OPS:
            check = _number(op, get, literal)
        elif op in _SEMVER_OPS:
            check = _semver(op, get, literal)
        elif op == "REGEX":
            check = _regex(get, compile_rust_regex(literal, ci))
        else:
            check = _date(op, name, literal)
    else:
        # Unknown operator: this constraint is false and `inverted` is not applied (yggdrasil upgrade_constraint,
        # unleash-client-node Strategy.checkConstraint); other strategies of the feature still count.
        return never
    if check is never or not constraint.get("inverted"):
        return check
    return lambda ctx: not check(ctx)


# --- REGEX: Rust `regex` crate syntax translated to Python `re` ---------------------------------------------------
# Flags are applied per atom, so `(?i)` in mid-pattern keeps Rust's scope (to the end of the enclosing group, across
# `|`). Non-multiline `^`/`$` become \A/\Z: Rust's `$` never matches before a trailing newline. Look-around and
# back-references do not exist in Rust and are rejected; so are features Python cannot express (\p{..} classes,
# nested classes and class set operations, CRLF mode): a rejected pattern compiles the feature to false.

_POSIX = dict(
    item.split("=", 1)
    for item in r"alnum=0-9A-Za-z alpha=A-Za-z ascii=\x00-\x7f blank=\t\x20 cntrl=\x00-\x1f\x7f digit=0-9 "
    r"graph=!-~ lower=a-z print=\x20-~ punct=!-/:-@\[-`{-~ space=\t\n\x0b\x0c\r\x20 upper=A-Z word=0-9A-Za-z_ "
    r"xdigit=0-9A-Fa-f".split()
)
_ASCII_CLASS = {"d": "0-9", "w": "0-9A-Za-z_", "s": r"\t\n\x0b\x0c\r\x20"}  # \d \w \s under (?-u)
_CHAR_ESCAPES = {"a": "\a", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}
# Zero-width escapes, longest first; \b \B \< \> follow the Unicode flag.
_ASSERTIONS = {r"\b{start}": r"\b(?=\w)", r"\b{end}": r"\b(?<=\w)", r"\b{start-half}": r"(?<!\w)"}
_ASSERTIONS |= {r"\b{end-half}": r"(?!\w)", r"\A": r"\A", r"\z": r"\Z", r"\b": r"\b", r"\B": r"\B"}
_ASSERTIONS |= {r"\<": r"\b(?=\w)", r"\>": r"\b(?<=\w)"}
_REPEAT = re.compile(r"\{\s*([0-9]+)\s*(?:(,)\s*([0-9]*)\s*)?\}")
_GROUP_NAME = re.compile(r"[A-Za-z_][0-9A-Za-z_.\[\]]*")  # what regex-syntax accepts


class _Translator:
    def __init__(self, pattern: str, case_insensitive: bool) -> None:
        self.p, self.i, self.out = pattern, 0, []
        self.flags = {"u"} | ({"i"} if case_insensitive else set())
        self.names: set[str] = set()

    def fail(self, why: str) -> CompileError:
        return CompileError(f"REGEX {self.p!r}: {why}")

    def run(self) -> str:
        p, out = self.p, self.out
        stack: list[tuple[set[str], int]] = []  # flags to restore and output index, per open group
        atom, repeated = None, False  # where in `out` the last repeatable item starts; whether it is repeated
        while self.i < len(p):
            c = p[self.i]
            if "x" in self.flags and (c.isspace() or c == "#"):
                end = p.find("\n", self.i) if c == "#" else self.i
                self.i = len(p) if end < 0 else end + 1
                continue
            if c in "*+?{":
                if atom is None:
                    raise self.fail("repetition operator missing expression")
                quantifier = self.quantifier()
                if repeated:  # a repetition of a repetition, e.g. a**
                    out[atom:] = ["(?:", *out[atom:], ")"]
                out.append(quantifier)
                repeated = True
                continue
            repeated, start = False, len(out)
            if c == "(":
                atom = None
                self.open_group(stack)
                continue
            if c == "|":
                self.i += 1
                out.append("|")
                atom = None
                continue
            if c == ")":
                if not stack:
                    raise self.fail("unopened group")
                self.flags, start = stack.pop()
                self.i += 1
                out.append(")")
            elif c == "[":
                out.append(self.wrap_case(self.char_class()))
            elif c == "\\":
                out.append(self.escape())
            else:
                self.i += 1
                if c == "^":
                    out.append("(?m:^)" if "m" in self.flags else r"\A")
                elif c == "$":
                    out.append("(?m:$)" if "m" in self.flags else r"\Z")
                elif c == ".":
                    out.append("(?s:.)" if "s" in self.flags else ".")
                else:
                    out.append(self.literal(c))
            atom = start
        if stack:
            raise self.fail("unclosed group")
        return "".join(out)

    def quantifier(self) -> str:
        p = self.p
        if p[self.i] == "{":
            match = _REPEAT.match(p, self.i)
            if match is None:
                raise self.fail("invalid counted repetition")
            low, comma, high = match.groups()
            if high and int(high) < int(low):
                raise self.fail("invalid repetition range")
            text = "{" + low + ("," + high if comma else "") + "}"
            self.i = match.end()
        else:
            text = p[self.i]
            self.i += 1
        lazy = p.startswith("?", self.i)
        self.i += lazy
        if "U" in self.flags:  # swap greed
            lazy = not lazy
        return text + ("?" if lazy else "")

    def open_group(self, stack: list) -> None:
        p, saved = self.p, set(self.flags)
        if not p.startswith("(?", self.i):
            self.i += 1
            stack.append((saved, len(self.out)))
            self.out.append("(")
            return
        rest = p[self.i + 2 :]
        if rest.startswith(("P<", "<")) and not rest.startswith(("<=", "<!")):
            end = rest.find(">")
            name = rest[rest.index("<") + 1 : end] if end > 0 else ""
            if not _GROUP_NAME.fullmatch(name) or name in self.names:
                raise self.fail(f"invalid capture group name {name!r}")
            self.names.add(name)
            self.i += 2 + end + 1
            stack.append((saved, len(self.out)))
            self.out.append("(")  # names never change a match, and Rust allows names Python rejects
            return
        j, negate, changes = self.i + 2, False, []
        while j < len(p) and p[j] not in ":)":
            if p[j] == "-" and not negate:
                negate = True
            elif p[j] in "imsUux":
                changes.append((p[j], negate))
            else:  # look-around, atomic groups, comments, conditionals, CRLF mode ...
                raise self.fail(f"unsupported group syntax {p[self.i : j + 1]!r}")
            j += 1
        if j >= len(p) or p[j - 1] == "-" or (not changes and p[j] == ")"):
            raise self.fail("invalid flag group")
        for flag, off in changes:
            (self.flags.discard if off else self.flags.add)(flag)
        self.i = j + 1
        if p[j] == ":":
            stack.append((saved, len(self.out)))
            self.out.append("(?:")

    def literal(self, char: str) -> str:
        return self.wrap_case(re.escape(char)) if char.lower() != char.upper() else re.escape(char)

    def wrap_case(self, piece: str) -> str:
        return f"(?i:{piece})" if "i" in self.flags else piece

    def hex_char(self, kind: str) -> str:
        p, width, braced = self.p, _HEX_WIDTH[kind], self.p.startswith("{", self.i)
        end = p.find("}", self.i) if braced else self.i + width - 1
        digits = p[self.i + 1 : end] if braced else p[self.i : end + 1]
        self.i = end + 1
        valid = re.fullmatch(r"[0-9A-Fa-f]{1,8}", digits) and (braced or len(digits) == width)
        code = int(digits, 16) if valid else -1
        if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail("invalid hex escape")
        return chr(code)

    def escape_char(self) -> tuple[str, str]:
        """One escape: ("char", c), ("set", class text such as \\d or 0-9) or ("neg", contents of a negated set)."""
        e = self.p[self.i + 1 : self.i + 2]
        if not e:
            raise self.fail("incomplete escape")
        self.i += 2
        if e in "dswDSW":
            if "u" in self.flags:
                return "set", "\\" + e
            return ("set", _ASCII_CLASS[e]) if e.islower() else ("neg", _ASCII_CLASS[e.lower()])
        if e in _CHAR_ESCAPES:
            return "char", _CHAR_ESCAPES[e]
        if e in _HEX_WIDTH:
            return "char", self.hex_char(e)
        if e.isascii() and e.isalnum():
            raise self.fail(f"unsupported escape \\{e}")  # \p{..}, back-references, octal, \Z, ...
        return "char", e

    def escape(self) -> str:
        for rust, python in _ASSERTIONS.items():
            if self.p.startswith(rust, self.i):
                self.i += len(rust)
                return f"(?a:{python})" if "u" not in self.flags and rust[1] in "bB<>" else python
        kind, text = self.escape_char()
        if kind == "char":
            return self.literal(text)
        return self.wrap_case(text if text.startswith("\\") else f"[{text}]" if kind == "set" else f"[^{text}]")

    def char_class(self) -> str:
        p, n = self.p, len(self.p)
        self.i += 1
        negated = p.startswith("^", self.i)
        self.i += negated
        pos, neg, first = [], [], True  # class members, complements (negated POSIX/ASCII classes) to union in
        while True:
            if self.i >= n:
                raise self.fail("unclosed character class")
            c = p[self.i]
            if "x" in self.flags and c.isspace():
                self.i += 1
                continue
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[":
                end = p.find(":]", self.i)
                name = p[self.i + 2 : end].lstrip("^") if p.startswith("[:", self.i) and end > 0 else None
                if name not in _POSIX:
                    raise self.fail("nested character classes are not supported")
                (neg if p[self.i + 2] == "^" else pos).append(_POSIX[name])
                self.i = end + 2
                continue
            if p.startswith(("&&", "--", "~~"), self.i):
                raise self.fail("character class set operations are not supported")
            low = self.class_member(pos, neg)
            if low is None:
                continue
            if p.startswith("-", self.i) and self.i + 1 < n and p[self.i + 1] != "]":
                self.i += 1
                high = self.class_member(pos, neg)
                if high is None or high < low:
                    raise self.fail("invalid class range")
                pos.append(re.escape(low) + "-" + re.escape(high))
            else:
                pos.append(re.escape(low))
        if not pos and not neg:
            raise self.fail("empty character class")
        if not neg:
            return "[" + "^" * negated + "".join(pos) + "]"
        union = "(?:" + "|".join((["[" + "".join(pos) + "]"] if pos else []) + [f"[^{s}]" for s in neg]) + ")"
        return union if not negated else rf"(?:(?!{union})[\s\S])"

    def class_member(self, pos: list[str], neg: list[str]) -> str | None:
        """A character of a class, or None after adding a class escape such as \\d to pos/neg."""
        if self.p[self.i] != "\\":
            self.i += 1
            return self.p[self.i - 1]
        if self.p.startswith("\\b", self.i):
            raise self.fail("\\b is not allowed in a class")
        kind, text = self.escape_char()
        if kind == "char":
            return text
        (pos if kind == "set" else neg).append(text)
        return None


def compile_rust_regex(pattern: str, case_insensitive: bool = False) -> re.Pattern:
    """A Python pattern that searches like Rust's `regex` crate would, or CompileError."""
    translated = _Translator(pattern, case_insensitive).run()
    try:
        return re.compile(translated)
    except (re.error, OverflowError, RecursionError) as exc:
        raise CompileError(f"REGEX {pattern!r}: {exc}") from None

"""Reading the files users write: UTF-8 text of bounded size, strict YAML, errors that name the file and the line.

Strict means: a key given twice in one mapping is an error (not last-one-wins), and aliases may not
expand a document past MAX_NODES (a few hundred bytes of nested aliases otherwise unfold into
gigabytes: the "billion laughs"; go-yaml refuses "excessive aliasing" for the same reason).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from simdeploy.k8s.shown import shown
from simdeploy.scenario.errors import Problem, ScenarioError

MAX_BYTES = 16 * 2**20  # a scenario, manifest, rule or rate file larger than this is refused unread
MAX_NODES = 1_000_000  # values in one document once aliases are expanded
MAX_DEPTH = 100  # levels of nesting (a scenario needs about 15; the readers after this one recurse)
_MERGE = "tag:yaml.org,2002:merge"


class InputError(ValueError):
    """A file that cannot be read as text, or text that is not the YAML we accept; the message says why."""


# libyaml's safe loader when PyYAML was built with it (same results, several times faster).
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BASE):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys, and values Python cannot hold, with their line."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # `<<: *base` merges; keys written beside it override it, as YAML says
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the base constructor says so
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {shown(key)} (first given on line {first})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError) as error:
            # int() past Python's 4300-digit limit, a date like 2024-13-45: a YAML error with its line.
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown(node.value)}: {_first_line(error)}", node.start_mark
            ) from None

    def construct_yaml_timestamp(self, node: Node) -> str:
        # As text, the way Kubernetes reads YAML (through JSON, which has no dates): a startTime, an annotation
        # or a flag's createdAt stays the string it was written as.
        return self.construct_scalar(node)

    def refuse_non_json(self, node: Node) -> None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.tag.rsplit(':', 1)[-1]} values are not supported (JSON has no such type)",
            node.start_mark,
        )


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)
for _tag in ("binary", "set", "omap", "pairs"):
    StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", StrictLoader.refuse_non_json)


def _first_line(error: Exception) -> str:
    if "integer string conversion" in str(error):
        return "an integer with more than 4300 digits"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def read_text(path: Path) -> str:
    """The UTF-8 text of a file (a leading byte-order mark is allowed); InputError saying what is wrong."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError("file not found") from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file") from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    except ValueError as error:  # a path with a NUL byte in it
        raise InputError(f"cannot read: {error}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES // 2**20} MiB; refusing to read it")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(
            f"is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be decoded"
        ) from None


def parse_yaml(text: str) -> list[object]:
    """The documents in YAML text (empty ones left out); InputError naming the line of the first problem."""
    try:
        _check_depth(text)
    except yaml.YAMLError as error:
        raise InputError(yaml_message(error)) from None
    loader = StrictLoader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            _check_size(node)
            document = loader.construct_document(node)
            if document is not None:
                documents.append(document)
        return documents
    except yaml.YAMLError as error:
        raise InputError(yaml_message(error)) from None
    finally:
        loader.dispose()


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream, before libyaml's composer recurses into it
    (it would overflow the C stack)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_BASE):
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    _too_deep(event.start_mark)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        # libyaml from 0.2.6 (PyYAML 6.0.4's wheels) stops flow nesting past 1000 levels while it scans ahead
        if error.problem and "maximum nesting depth" in error.problem and error.problem_mark is not None:
            _too_deep(error.problem_mark)
        raise


def _too_deep(mark: yaml.Mark) -> NoReturn:
    raise yaml.YAMLError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep (at line {mark.line + 1})")


def _check_size(root: Node) -> None:
    """Refuse a document whose aliases expand it past MAX_NODES (counted per node, without expanding them)."""
    sizes: dict[int, int] = {}  # id(node) -> values in it, itself included
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        sizes[id(node)] = size = 1 + sum(sizes[id(child)] for child in children)
        if size > MAX_NODES:
            raise yaml.YAMLError(
                f"invalid YAML: the document expands to more than {MAX_NODES:,} values through its aliases "
                f"(at line {node.start_mark.line + 1}); refusing to read it"
            )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_yaml(path: Path) -> object:
    """The document in a YAML file (None when empty); ScenarioError(file, ...) when it cannot be read or parsed."""
    try:
        documents = parse_yaml(read_text(path))
    except InputError as error:
        raise ScenarioError(str(path), [Problem("", str(error))]) from None
    if len(documents) > 1:
        raise ScenarioError(str(path), [Problem("", f"expected one YAML document, found {len(documents)}")])
    return documents[0] if documents else None


def strict_json(text: str) -> object:
    """JSON as RFC 8259 has it: no NaN or Infinity, integers of at most 4300 digits, nesting Python can hold."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as error:  # an integer past Python's digit limit
        raise ValueError(str(error).splitlines()[0]) from None


def yaml_message(error: yaml.YAMLError) -> str:
    if not isinstance(error, yaml.MarkedYAMLError):
        return str(error)
    mark = error.problem_mark
    problem = error.problem or str(error)
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "InputError",
    "StrictLoader",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "strict_json",
]

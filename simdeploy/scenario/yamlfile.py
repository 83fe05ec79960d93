"""Reading the YAML files users write, with errors that name the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import yaml

from simdeploy.scenario.errors import Problem, ScenarioError

# libyaml's safe loader when PyYAML was built with it (same results, several times faster).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> object:
    """The document in a YAML file; ScenarioError(file, ...) when it cannot be read or parsed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ScenarioError(str(path), [Problem("", "file not found")]) from None
    except OSError as error:
        raise ScenarioError(str(path), [Problem("", f"cannot read: {error.strerror}")]) from None
    try:
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as error:
        raise ScenarioError(str(path), [Problem("", yaml_message(error))]) from None


def yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"

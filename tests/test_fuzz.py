"""Fuzzing the front door: seeded mutations of the bundled scenarios end in exit 0, 1 or 2, never a traceback.

Each case mutates one bundled scenario (its YAML tree, with the manifests, rule files and flag state
it names inlined so that they are mutated too, or its text), runs `simdeploy validate` in-process and,
when the scenario is accepted and small, `simdeploy run`. Exit 70 (an internal error) or a traceback
in the output is a bug to fix in the code, never in this file.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from simdeploy.cli import app
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
CASES = 600
runner = CliRunner()

# Values a mutation puts in place of another: wrong types, non-finite and huge numbers, odd strings.
ODD_VALUES = [
    None,
    True,
    0,
    -1,
    -(2**31) - 1,
    2**31,
    2**63,
    10**30,
    0.5,
    -2.5,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    "",
    " ",
    "x",
    "-30s",
    "5 minutes",
    "\u0665m",  # an Arabic-Indic digit: not an ASCII duration
    "1e400",
    "NaN",
    "inf",
    "99999999999h",
    "2026-13-45T00:00:00Z",
    "a" * 300,
    "Payments_API",
    "app=",
    "missing-thing",
    [],
    [1, "two"],
    {},
    {"unexpected": 1},
]
# Names a mutation may point at something that does not exist.
MISSING = "does-not-exist-7"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of the scenarios' manifests, rules and data files, so that mutated scenarios find them."""
    directory = tmp_path_factory.mktemp("fuzz")
    for name in ("manifests", "rules"):
        shutil.copytree(ROOT / "scenarios" / name, directory / name)
    for extra in (ROOT / "scenarios").iterdir():
        if extra.is_file() and extra.suffix != ".yaml":
            shutil.copy(extra, directory / extra.name)
    return directory


def _inline_files(tree: dict, base: Path) -> dict:
    """The scenario with the manifests, rule files and flag state it names read in, so that mutations reach them."""
    tree = dict(tree)
    manifests = []
    for ref in tree.get("manifests") or []:
        if isinstance(ref, dict) and "file" in ref:
            documents = [d for d in yaml.safe_load_all((base / ref["file"]).read_text()) if d is not None]
            manifests += [{"inline": document} for document in documents]
        else:
            manifests.append(ref)
    tree["manifests"] = manifests
    tree["alerts"] = [
        {"groups": yaml.safe_load((base / ref["file"]).read_text())["groups"]} if "file" in ref else ref
        for ref in tree.get("alerts") or []
    ]
    flags = tree.get("flags")
    if flags and "file" in flags:
        document = yaml.safe_load((base / flags["file"]).read_text())
        if document.get("kind") == "ConfigMap":  # one feature (JSON) per data key
            document = {"version": 1, "features": [json.loads(text) for text in document["data"].values()]}
        tree["flags"] = {**{k: v for k, v in flags.items() if k != "file"}, "state": document}
    return tree


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    """Every path into the tree (keys and indices), the root's included."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _get(tree: object, path: tuple) -> object:
    for step in path:
        tree = tree[step]
    return tree


def _set(tree: object, path: tuple, value: object) -> None:
    _get(tree, path[:-1])[path[-1]] = value


def _mutate_tree(tree: dict, rng: random.Random) -> dict:
    """One to three structural mutations of a scenario's tree."""
    tree = copy.deepcopy(tree)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        path = rng.choice([p for p in _paths(tree) if p])
        parent, current = _get(tree, path[:-1]), _get(tree, path)
        kind = rng.random()
        if kind < 0.35 and isinstance(current, int | float) and not isinstance(current, bool):
            # a number that still parses: zero, negative, larger, fractional, past int32
            _set(tree, path, rng.choice((0, 1, -current, current * 7, current + 0.5, 2**31, current * 10**6)))
        elif kind < 0.45 and isinstance(current, str):
            _set(tree, path, MISSING if rng.random() < 0.7 else current + "-x")  # a reference to nothing
        elif kind < 0.75:
            _set(tree, path, copy.deepcopy(rng.choice(ODD_VALUES)))
        elif kind < 0.85 and isinstance(parent, dict):
            del parent[path[-1]]  # a required key, often
        elif kind < 0.92:
            # a mapping where a list belongs, or the other way round
            _set(tree, path, list(current.values()) if isinstance(current, dict) else {"0": current})
        else:
            _set(tree, path, [copy.deepcopy(current)] * 3 if rng.random() < 0.5 else {"nested": current})
    return tree


def _mutate_text(text: str, rng: random.Random) -> bytes:
    """Mutations only the file's text can have: encodings, duplicate keys, aliases, truncation, odd numbers."""
    lines = text.splitlines(keepends=True)
    kind = rng.randrange(8)
    if kind == 0:
        return text.encode("utf-16")
    if kind == 1:
        return text.encode("utf-8")[: rng.randrange(1, len(text))] + b"\xff\xfe\x80 \n"
    if kind == 2:
        keys = [line for line in lines if line[:1].isalpha()]
        return (text + rng.choice(keys)).encode()  # a top-level key given twice
    if kind == 3:
        bomb = "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]\n" for i in range(1, 9))
        return ("b0: &b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + bomb + text).encode()
    if kind == 4:
        return text.encode()[: rng.randrange(1, len(text))]
    if kind == 5:
        return text.replace("seed: ", "seed: " + "9" * 5000 + "#", 1).encode()
    if kind == 6:
        depth = rng.choice((150, 10_000))
        return (text + "extra: " + "[" * depth + "]" * depth + "\n").encode()
    return text.replace(": ", ": !!float ", 1).encode()


def _case(index: int) -> tuple[str, bytes]:
    rng = random.Random(f"fuzz:{index}")
    source = SCENARIOS[index % len(SCENARIOS)]
    text = source.read_text()
    if rng.random() < 0.15:
        return source.name, _mutate_text(text, rng)
    tree = yaml.safe_load(text)
    if rng.random() < 0.6:
        tree = _inline_files(tree, source.parent)
    return source.name, yaml.safe_dump(_mutate_tree(tree, rng), allow_unicode=True).encode()


def _small(path: Path) -> bool:
    """Whether a scenario is cheap to run: an hour at most, a few dozen pods, ticks of 100 ms or more."""
    try:
        scenario = load_scenario(path)
    except ScenarioError:
        return False
    spec = scenario.spec
    replicas = [(o.get("spec") or {}).get("replicas", 1) for o in scenario.manifests]
    replicas += [getattr(a, "replicas", 0) for a in spec.timeline]
    nodes = sum(group.count for group in spec.cluster.nodes)
    return (
        spec.duration <= 3600
        and spec.cluster.tick >= 0.1
        and min(spec.cluster.scrape_interval, spec.cluster.evaluation_interval) >= 1
        and max(replicas, default=0) <= 40
        and nodes <= 20
        and (spec.flags is None or spec.flags.users <= 20_000)
    )


def _not_json(constant: str) -> None:
    raise AssertionError(f"{constant} in a result document: it is not JSON")


def _assert_handled(result, what: str) -> None:
    assert "Traceback" not in result.output, f"{what}\n{result.output}"
    assert "internal error" not in result.output, f"{what}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{what}: {result.exception!r}"


def test_mutated_scenarios_end_in_exit_0_1_or_2(workspace):
    ran = refused = 0
    for index in range(CASES):
        name, content = _case(index)
        path = workspace / f"case-{index}.yaml"
        path.write_bytes(content)
        what = f"case {index} (a mutation of {name}, kept in {path})"
        validated = runner.invoke(app, ["validate", str(path)])
        _assert_handled(validated, what)
        assert validated.exit_code in (0, 2), f"{what}: validate exit {validated.exit_code}\n{validated.output}"
        if validated.exit_code == 2:
            refused += 1
            assert "error:" in validated.output, what
            continue
        if not _small(path):
            continue
        out = workspace / f"case-{index}.json"
        result = runner.invoke(app, ["run", "-q", "--json", str(out), str(path)])
        _assert_handled(result, what)
        assert result.exit_code in (0, 1, 2), f"{what}: run exit {result.exit_code}\n{result.output}"
        if result.exit_code != 2:
            ran += 1
            json.loads(out.read_text(), parse_constant=_not_json)  # NaN or Infinity would be refused here
    # The mutations must exercise both doors: many refused, and a fair number valid enough to run.
    assert refused > CASES // 3 and ran > CASES // 20, (refused, ran)

"""The rehearsals behind `simdeploy dora`: one simulated release into one environment with one failure profile (or
none), built as a scenario (or, in production, a drill with the strategy's runbook) and reduced to what the
pipeline needs: caught or not and when, the rollout's duration, recovered when, errors served.

A cell is an environment (production: a strategy) and a profile; each runs a number of seeds, as tasks for the
sweep executors. A task carries its scenario as JSON (the overlay's objects inline), so that any worker can run it
with the files the scenario references; the same task gives the same outcome wherever it runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from simdeploy.k8s.image_policy import images
from simdeploy.k8s.image_ref import parse_reference
from simdeploy.scenario.dora import DoraSpec, FailureSpec, StrategySpec
from simdeploy.scenario.environments import Environment
from simdeploy.scenario.loader import Scenario

GOOD = "good"
CANDIDATE_VERSION = "next"  # the version name of the release under test (for canary analyses to select)
CANDIDATE_DIGEST = "sha256:" + hashlib.sha256(b"simdeploy-dora-candidate").hexdigest()
SCHEMA_BREAK_AFTER = 30.0  # s after the release: the first new pods serve, and write what the old cannot read
WORKLOADS = ("Deployment", "Rollout")

# (cell key, kind "scenario" | "drill", document JSON, base dir, seed, release_at, availability, p99, hold, bad)
Task = tuple[str, str, str, str, int, float, float, float, float, bool]


@dataclass(frozen=True)
class Cell:
    key: str  # "staging/error-ratio", "production/canary/good"
    kind: str
    document: dict
    bad: bool


def cell_key(environment: str, profile: str, strategy: str | None = None) -> str:
    return f"{environment}/{strategy}/{profile}" if strategy else f"{environment}/{profile}"


def task_seed(seed: int, key: str, sample: int) -> int:
    """A run's seed, from the stream's seed, the cell and the sample: stable across processes and machines."""
    digest = hashlib.sha256(f"{seed}|{key}|{sample}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def shows_in(failure: FailureSpec, environment: str) -> bool:
    return failure.environments is None or environment in failure.environments


# -- building the cells ------------------------------------------------------------------------------------------


def workload(objects: list[dict]) -> dict:
    """The Deployment or Rollout a release changes: the first one the overlay renders."""
    found = next((obj for obj in objects if obj["kind"] in WORKLOADS), None)
    if found is None:
        raise ValueError("renders no Deployment or Rollout to release into")
    return found


def cell_document(
    raw: dict,
    scenario: Scenario,
    environment: Environment,
    objects: list[dict],
    failure: FailureSpec | None,
    strategy: StrategySpec | None,
) -> dict:
    """The scenario of one rehearsal: the environment's objects (or the strategy's), its traffic, the scenario's
    alerts and flags, and a timeline that ships the candidate at `releaseAt` with the failure applied."""
    dora: DoraSpec = scenario.dora
    target = workload(objects)
    namespace = environment.namespace
    current = next(image for _, image in images(target))
    candidate = f"{parse_reference(current).name}@{CANDIDATE_DIGEST}"
    document = {key: copy.deepcopy(value) for key, value in raw.items() if key not in _DROPPED}
    document["metadata"] = {"name": f"{raw['metadata']['name']}-{environment.name}"}
    document["duration"] = dora.release_at + dora.window
    document["manifests"] = [{"inline": obj} for obj in _shared(scenario, namespace) + objects]
    document["traffic"] = [t for t in raw.get("traffic", []) if t.get("namespace") == namespace]
    document["routes"] = [r for r in raw.get("routes", []) if r.get("namespace") == namespace]
    versions = document.setdefault("versions", {})
    versions[candidate] = {**copy.deepcopy(versions.get(current, {})), "version": CANDIDATE_VERSION}
    kind_key = "rollout" if target["kind"] == "Rollout" else "deployment"
    release = dora.release_at
    timeline = [
        {"at": release, "action": "set-image", kind_key: target["metadata"]["name"], "image": candidate},
    ]
    flag = strategy.flag if strategy is not None else None
    if flag is not None:
        timeline.append({"at": release + strategy.release_after, "action": "enable-flag", "flag": flag})
    if failure is not None:
        timeline += _apply(failure, document, scenario, current, candidate, flag)
    for action in timeline:
        action["namespace"] = namespace
    document["timeline"] = timeline
    return document


_DROPPED = ("environments", "dora", "timeline", "expect", "manifests")


def _shared(scenario: Scenario, namespace: str) -> list[dict]:
    """The `manifests:` section's objects in the environment's namespace (the environments' own come separately)."""
    rendered = sum(len(environment.objects) for environment in scenario.environments)
    own = scenario.manifests[: len(scenario.manifests) - rendered]
    return [obj for obj in own if (obj.get("metadata") or {}).get("namespace") == namespace]


def _apply(
    failure: FailureSpec, document: dict, scenario: Scenario, current: str, candidate: str, flag: str | None
) -> list[dict]:
    """Make the candidate bad as the failure says; returns the timeline actions it needs."""
    behaviour = document["versions"][candidate]
    behind_flag = flag is not None and failure.kind in ("errorRatio", "latency")
    if behind_flag:  # the binary is fine; the code behind the flag is not
        effect = {"flag": flag, "when": "enabled", "version": CANDIDATE_VERSION}
        if failure.kind == "errorRatio":
            effect["errorRate"] = failure.error_rate
        else:
            effect["latencyFactor"] = failure.factor
        document["flags"].setdefault("effects", []).append(effect)
        return []
    if failure.kind == "crash":
        behaviour["exitAfter"] = failure.exit_after
    elif failure.kind == "latency":
        behaviour["latency"] = _slower(scenario, current, failure.factor)
    else:
        behaviour["errorRate"] = min(1.0, _error_rate(scenario, current) + failure.error_rate)
    if failure.kind != "schemaBreak":
        return []
    # What the new version wrote, the old one cannot read: its requests fail too, and rolling back does not help.
    old = {"errorRate": min(1.0, _error_rate(scenario, current) + failure.error_rate)}
    return [{"at": scenario.dora.release_at + SCHEMA_BREAK_AFTER, "action": "set-behaviour", "image": current,
             "behaviour": old}]  # fmt: skip


def _error_rate(scenario: Scenario, image: str) -> float:
    spec = scenario.spec.versions.get(image)
    return spec.error_rate if spec is not None and spec.error_rate is not None else 0.0


def _slower(scenario: Scenario, image: str, factor: float) -> dict:
    spec = scenario.spec.versions.get(image)
    latency = spec.latency if spec is not None else None
    if latency is None:  # the behaviour's default latency (sim/behaviour.py)
        return {"p50": 0.05 * factor, "p99": 0.25 * factor}
    if latency.histogram is not None:
        return {"histogram": [{"le": b.le * factor, "fraction": b.fraction} for b in latency.histogram]}
    return {"p50": latency.p50 * factor, "p99": latency.p99 * factor}


def drill_document(scenario_document: dict, strategy: StrategySpec, slo, name: str) -> dict:
    return {
        "apiVersion": "simdeploy/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": name},
        "scenario": scenario_document,
        "runbook": strategy.runbook,
        "slo": {"availability": slo.availability, "mitigationHold": slo.hold},
        "expect": {"recovers": False},
    }


# -- running a cell ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def load_cell(kind: str, document_json: str, base_dir: str):
    """Validated once per cell and process; the samples of one cell reuse it."""
    if kind == "drill":
        from simdeploy.scenario.drill_loader import load_drill

        return load_drill(json.loads(document_json), base_dir)
    from simdeploy.scenario.loader import load_scenario

    return load_scenario(json.loads(document_json), base_dir)


def run_cell(task: Task) -> dict:
    """Executor entry point: simulate one sample of a cell and reduce it to its outcome."""
    key, kind, document_json, base_dir, seed, release_at, availability, p99, hold, bad = task
    loaded = load_cell(kind, document_json, base_dir)
    if kind == "drill":
        from simdeploy.scenario.drill_build import build_drill

        result = build_drill(loaded, seed, record_pod_events=False).run()
    else:
        from simdeploy.scenario.build import build

        result = build(loaded, seed, record_pod_events=False).run()
    from simdeploy.sweep.dora_outcome import outcome

    return {"cell": key, "seed": seed, **outcome(result, release_at, availability, p99, hold, bad)}


def make_task(cell: Cell, base_dir: Path, seed: int, sample: int, spec: DoraSpec) -> Task:
    slo = spec.slo
    document_json = json.dumps(cell.document, sort_keys=True)
    return (
        cell.key,
        cell.kind,
        document_json,
        str(base_dir),
        task_seed(seed, cell.key, sample),
        spec.release_at,
        slo.availability,
        slo.p99_latency,
        slo.hold,
        cell.bad,
    )

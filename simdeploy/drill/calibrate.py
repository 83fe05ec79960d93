"""`simdeploy drill --calibrate`: version behaviour fitted to the pods a drill observed, as a `versions` snippet
to paste into the scenario, so the next prediction starts from what the cluster really does."""

from __future__ import annotations

import datetime
import json
import statistics

import yaml

from simdeploy.drill.observe import Observation
from simdeploy.scenario.drill_loader import Drill


def calibration(drill: Drill, observation: Observation) -> str:
    """YAML: per version seen, the start-up time fitted from pod creation to Ready (a lognormal by median and p95)."""
    samples: dict[str, list[float]] = {}
    created: dict[str, float] = {}
    images = {}
    with observation.lock:
        for name, pod in observation.pods.items():
            images[name] = _image_of(drill, pod)
        for event in observation.recorder.events:
            if event["kind"] != "Pod":
                continue
            if event["reason"] == "Created":
                created[event["name"]] = event["t"]
            elif event["reason"] == "Ready" and event["name"] in created and images.get(event["name"]):
                samples.setdefault(images[event["name"]], []).append(event["t"] - created.pop(event["name"]))
    cluster = drill.scenario.spec.cluster
    overhead = cluster.scheduling_latency + cluster.container_start
    versions = {}
    notes = []
    for image, durations in sorted(samples.items()):
        startup = [max(d - overhead - _half_probe_period(drill, image), 0.001) for d in durations]
        versions[image] = {"startup": _fit(startup)}
        notes.append(f"# {image}: {len(durations)} pods, creation -> Ready {_span(durations)}")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = [
        f"# Fitted by `simdeploy drill --calibrate` on {stamp} from the pods of drill {drill.name}:",
        f"# start-up = creation -> Ready, less scheduling ({cluster.scheduling_latency:g}s), container start "
        f"({cluster.container_start:g}s) and half a readiness period (the probe's wait, on average).",
        *notes,
    ]
    if not versions:
        return "\n".join(header) + "\nversions: {}  # no pod became Ready\n"
    body = yaml.safe_dump({"versions": versions}, sort_keys=False)
    return "\n".join(header) + "\n" + body


def _fit(values: list[float]) -> dict:
    if len(values) == 1:
        return {"fixed": f"{values[0]:.3g}s"}
    ordered = sorted(values)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 95 // 100) - 1))]
    shown_median, shown_p95 = f"{median:.3g}", f"{p95:.3g}"
    # Compared as written: a lognormal needs p95 above its median, and 3 digits can make close figures equal.
    if float(shown_p95) <= float(shown_median):
        return {"fixed": f"{shown_median}s"}
    return {"lognormal": {"median": f"{shown_median}s", "p95": f"{shown_p95}s"}}


def _span(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f}s"


def _image_of(drill: Drill, pod: dict) -> str | None:
    """The scenario image a pod runs: its own, or the one whose behaviour the demo app was given."""
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    image = container.get("image")
    if image in drill.scenario.spec.versions:
        return image
    env = {e.get("name"): e.get("value") for e in container.get("env") or []}
    behaviour = env.get("SIMDEPLOY_BEHAVIOUR")
    if behaviour is None:
        return None
    try:
        declared = json.loads(behaviour)
    except ValueError:
        return None
    version = declared.get("version") if isinstance(declared, dict) else None
    for name, spec in drill.scenario.spec.versions.items():
        if spec.version is not None and spec.version == version:
            return name
    return None


def _half_probe_period(drill: Drill, image: str) -> float:
    for obj in drill.scenario.manifests:
        for container in (obj.get("spec", {}).get("template", {}).get("spec", {}) or {}).get("containers", []):
            if container.get("image") == image and container.get("readinessProbe"):
                return container["readinessProbe"].get("periodSeconds", 10) / 2
    return 0.0

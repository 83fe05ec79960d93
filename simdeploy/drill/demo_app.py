"""The demo app stands in for a scenario's images on a real cluster: its image, its env, and manifests that use it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from simdeploy.scenario.schema import DistributionSpec, LatencySpec, VersionSpec

DEMO_IMAGE = "simdeploy-demo-app:0.1.0"
DEFAULT_PORT = 8080
# The variables drills/app/app.py reads.
BEHAVIOUR_VAR = "SIMDEPLOY_BEHAVIOUR"
IMAGE_VAR = "SIMDEPLOY_IMAGE"
PORT_VAR = "PORT"
DEMO_VARS = (BEHAVIOUR_VAR, IMAGE_VAR, PORT_VAR)


def app_dir() -> Path:
    """drills/app in the source tree this package runs from: the Docker build context of DEMO_IMAGE."""
    return Path(__file__).resolve().parents[2] / "drills" / "app"


def behaviour_env(spec: VersionSpec, image: str | None = None) -> dict[str, str]:
    """The env vars that make the demo app behave as this `versions` entry (and name `image` in its log)."""
    entry: dict[str, Any] = {}
    for name, field in VersionSpec.model_fields.items():
        if name == "schema_needs":
            continue  # what the version needs from a database is the simulated database's to judge, not the app's
        value = getattr(spec, name)
        if value is None or (name in ("never_ready", "exit_code") and name not in spec.model_fields_set):
            continue  # left out: the app takes the simulator's defaults, as the scenario loader does
        entry[field.alias or name] = _plain(value)
    env = {BEHAVIOUR_VAR: json.dumps(entry, separators=(",", ":"))}
    if image is not None:
        env[IMAGE_VAR] = image
    return env


def _plain(value: Any) -> Any:
    """A field as JSON, durations in seconds (rounded to the microsecond: 18ms reads 0.018)."""
    if isinstance(value, DistributionSpec):
        given = {name: getattr(value, name) for name in type(value).model_fields if getattr(value, name) is not None}
        [(kind, spec)] = given.items()
        if kind == "fixed":
            return _plain(spec)
        if kind == "empirical":
            return {kind: [_plain(item) for item in spec]}
        return {kind: {name: _plain(item) for name, item in spec.model_dump().items()}}
    if isinstance(value, LatencySpec):
        if value.histogram is not None:
            return {"histogram": [{"le": _plain(b.le), "fraction": b.fraction} for b in value.histogram]}
        return {"p50": _plain(value.p50), "p99": _plain(value.p99)}
    if isinstance(value, float):
        return round(value, 6)
    return value


def demo_manifests(objects: Iterable[dict], versions: Mapping[str, VersionSpec]) -> list[dict]:
    """Copies of `objects` in which every container whose image has a behaviour runs the demo app instead.

    Such a container gets DEMO_IMAGE, `imagePullPolicy: IfNotPresent` (kind loads the image: it is never
    pulled), the behaviour's env and PORT (see `app_port`), and loses `command` and `args`, which name the
    real image's programs. Everything else (probes, ports, preStop, resources, init containers) stays.
    """
    demo = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        for pod_spec in _pod_specs(obj):
            pod_spec["containers"] = [demo_container(c, versions) for c in pod_spec.get("containers") or []]
        demo.append(obj)
    return demo


def demo_container(container: dict, versions: Mapping[str, VersionSpec]) -> dict:
    """A copy of one container, running the demo app if its image has a behaviour (else unchanged)."""
    container = copy.deepcopy(container)
    image = container.get("image")
    if image not in versions:
        return container
    env = {**behaviour_env(versions[image], image), PORT_VAR: str(app_port(container))}
    container["image"] = DEMO_IMAGE
    container["imagePullPolicy"] = "IfNotPresent"
    container.pop("command", None)
    container.pop("args", None)
    kept = [variable for variable in container.get("env") or [] if variable.get("name") not in env]
    container["env"] = kept + [{"name": name, "value": value} for name, value in env.items()]
    return container


def app_port(container: dict) -> int:
    """The port the app listens on: the readiness probe's, else the first containerPort, else another probe's.

    The kubelet must reach /readyz for the pod to be Ready, so its port wins; a named port is looked up in
    the container's ports, as the kubelet resolves it (pkg/kubelet/prober/prober.go, findPortByName).
    """
    ports = container.get("ports") or []
    candidates = [_probe_port(container.get("readinessProbe"), ports)]
    candidates.append(ports[0].get("containerPort") if ports else None)
    candidates += [_probe_port(container.get(probe), ports) for probe in ("livenessProbe", "startupProbe")]
    return next((port for port in candidates if isinstance(port, int)), DEFAULT_PORT)


def _probe_port(probe: dict | None, ports: list[dict]) -> int | None:
    handler = (probe or {}).get("httpGet") or (probe or {}).get("tcpSocket") or {}
    port = handler.get("port")
    if isinstance(port, str):
        named = [p.get("containerPort") for p in ports if p.get("name") == port]
        return int(named[0]) if named else (int(port) if port.isdigit() else None)
    return port if isinstance(port, int) else None


def _pod_specs(obj: dict) -> list[dict]:
    """The pod specs an object holds: a Pod's own, a workload's template, a CronJob's job template."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if obj.get("kind") == "Pod":
        return [spec]
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        return [template["spec"]]
    return []

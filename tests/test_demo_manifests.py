"""The manifests that run the demo app in a scenario's place: behaviour_env, demo_manifests, app_port."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from simdeploy.drill.demo_app import (
    BEHAVIOUR_VAR,
    DEMO_IMAGE,
    DEMO_VARS,
    IMAGE_VAR,
    PORT_VAR,
    app_port,
    behaviour_env,
    demo_container,
    demo_manifests,
)
from simdeploy.scenario.loader import load_scenario
from simdeploy.scenario.schema import VersionSpec

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_behaviour_env_writes_seconds_and_leaves_out_what_the_entry_leaves_out():
    spec = load_scenario(ROOT / "scenarios" / "lying-readiness.yaml").spec.versions[
        "registry.example.com/payments-api:2.9.0"
    ]
    entry = json.loads(behaviour_env(spec)[BEHAVIOUR_VAR])
    assert entry == {
        "version": "2.9.0",
        "pull": 4.0,
        "startup": {"lognormal": {"median": 8.0, "p95": 15.0}},
        "readyAfter": 0.0,
        "servesAfter": 30.0,
        "capacity": 250.0,
    }
    assert list(behaviour_env(spec)) == [BEHAVIOUR_VAR]
    histogram = VersionSpec.model_validate(
        {"latency": {"histogram": [{"le": "18ms", "fraction": 0.5}, {"le": "1s", "fraction": 1}]}, "neverReady": True}
    )
    assert json.loads(behaviour_env(histogram)[BEHAVIOUR_VAR]) == {
        "neverReady": True,
        "latency": {"histogram": [{"le": 0.018, "fraction": 0.5}, {"le": 1.0, "fraction": 1.0}]},
    }


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec.get("containers") or []
    return ((spec.get("template") or {}).get("spec") or {}).get("containers") or []


def _without_containers(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    for container in _containers(obj):
        container.clear()
    return obj


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_demo_manifests_replace_every_versioned_image_and_nothing_else(path):
    scenario = load_scenario(path)
    versions = scenario.spec.versions
    objects = scenario.manifests + [obj for applied in scenario.action_manifests.values() for obj in applied]
    before = copy.deepcopy(objects)
    demo = demo_manifests(objects, versions)
    assert objects == before  # copies: the scenario's objects are left alone
    assert len(demo) == len(objects)
    replaced = 0
    for original, changed in zip(objects, demo, strict=True):
        assert _without_containers(changed) == _without_containers(original)
        for was, now in zip(_containers(original), _containers(changed), strict=True):
            if was["image"] not in versions:
                assert now == was
                continue
            replaced += 1
            assert now["image"] == DEMO_IMAGE and now["imagePullPolicy"] == "IfNotPresent"
            env = {variable["name"]: variable["value"] for variable in now["env"]}
            assert {name: env[name] for name in (BEHAVIOUR_VAR, IMAGE_VAR)} == behaviour_env(
                versions[was["image"]], was["image"]
            )
            assert env[PORT_VAR] == "8080"  # every bundled manifest probes /readyz on 8080
            kept = {key: value for key, value in now.items() if key not in ("image", "imagePullPolicy", "env")}
            assert kept == {key: value for key, value in was.items() if key not in ("image", "imagePullPolicy", "env")}
    assert replaced >= 1
    assert not any(c["image"] in versions for obj in demo for c in _containers(obj))


def test_demo_container_keeps_other_env_and_drops_the_real_images_command():
    versions = {"shop:1": VersionSpec.model_validate({"errorRate": 0.01})}
    container = {
        "name": "api",
        "image": "shop:1",
        "imagePullPolicy": "Always",
        "command": ["/shop/server"],
        "args": ["--port=9090"],
        "env": [{"name": "MODE", "value": "prod"}, {"name": "PORT", "value": "1"}],
        "ports": [{"name": "http", "containerPort": 9090}],
    }
    changed = demo_container(container, versions)
    assert "command" not in changed and "args" not in changed
    assert changed["imagePullPolicy"] == "IfNotPresent"
    assert changed["env"][0] == {"name": "MODE", "value": "prod"}
    assert [variable["name"] for variable in changed["env"]] == ["MODE", *DEMO_VARS]
    assert {variable["name"]: variable["value"] for variable in changed["env"]}[PORT_VAR] == "9090"
    assert container["image"] == "shop:1"  # the argument is not changed
    assert demo_container({"name": "db", "image": "postgres:16"}, versions) == {"name": "db", "image": "postgres:16"}


def test_demo_manifests_reach_pods_cronjobs_and_leave_init_containers():
    versions = {"shop:1": VersionSpec()}
    pod_spec = {
        "initContainers": [{"name": "migrate", "image": "shop:1"}],
        "containers": [{"name": "a", "image": "shop:1"}],
    }
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": copy.deepcopy(pod_spec)}
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": copy.deepcopy(pod_spec)}}}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    demo_pod, demo_cron, demo_service = demo_manifests([pod, cron, service], versions)
    cron_spec = demo_cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for spec in (demo_pod["spec"], cron_spec):
        assert spec["containers"][0]["image"] == DEMO_IMAGE
        assert spec["initContainers"] == pod_spec["initContainers"]  # a server never finishes: inits stay as written
    assert demo_service == service


@pytest.mark.parametrize(
    ("container", "port"),
    [
        ({}, 8080),
        ({"ports": [{"containerPort": 9000}, {"containerPort": 9001}]}, 9000),
        ({"ports": [{"containerPort": 9000}], "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8081}}}, 8081),
        ({"ports": [{"name": "web", "containerPort": 7000}], "readinessProbe": {"httpGet": {"port": "web"}}}, 7000),
        ({"readinessProbe": {"tcpSocket": {"port": 6000}}}, 6000),
        ({"readinessProbe": {"exec": {"command": ["true"]}}, "livenessProbe": {"httpGet": {"port": 5000}}}, 5000),
    ],
)
def test_app_port_follows_the_readiness_probe_then_the_container_ports(container, port):
    assert app_port(container) == port

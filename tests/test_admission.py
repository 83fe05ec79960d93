"""admit(): strict decoding, defaulting and the API rules, shared by scenario manifests and `simdeploy serve` writes.

Table tests in the manner of pkg/apis/core/validation/validation_test.go: each case changes one field of a
valid Deployment (or Service) and names the errors the API server answers with.
"""

from __future__ import annotations

import copy

import pytest

from simdeploy.k8s.admission import admit

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "production"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {
                "terminationGracePeriodSeconds": 45,
                "containers": [
                    {
                        "name": "api",
                        "image": "registry.example.com/api:1.0",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
                        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
                    }
                ],
            },
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api", "namespace": "production"},
    "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
}
CONTAINER = "spec.template.spec.containers[0]"


def _container(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][0]


def _errors(base: dict, change) -> list[str]:
    obj = copy.deepcopy(base)
    change(obj)
    return [str(error) for error in admit(obj)]


def test_the_valid_objects_are_admitted():
    assert _errors(DEPLOYMENT, lambda d: None) == []
    assert _errors(SERVICE, lambda s: None) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(metadata=["api"]), "metadata: Invalid value: expected a mapping, got a list"),
        (lambda d: d.update(specs={}), "specs: unknown field"),
        (
            lambda d: _container(d)["readinessProbe"].update(httpGet="/readyz"),
            f"{CONTAINER}.readinessProbe.httpGet: Invalid value: expected a mapping, got a string",
        ),
        (
            lambda d: _container(d)["readinessProbe"]["httpGet"].update(paht="/"),
            f"{CONTAINER}.readinessProbe.httpGet.paht: unknown field",
        ),
        (
            lambda d: _container(d)["lifecycle"].update(preStart={"exec": {"command": ["x"]}}),
            f"{CONTAINER}.lifecycle.preStart: unknown field",
        ),
        (
            lambda d: d["spec"].update(replicas=3_000_000_000),
            "spec.replicas: Invalid value: 3000000000: must fit in int32 (-2147483648 to 2147483647)",
        ),
        (
            lambda d: _container(d)["readinessProbe"].update(failureThreshold=2**31),
            f"{CONTAINER}.readinessProbe.failureThreshold: Invalid value: 2147483648: must fit in int32",
        ),
        (lambda d: d["spec"].update(replicas=2.5), "spec.replicas: Invalid value: 2.5: expected an integer"),
        (
            lambda d: d["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=10**12),
            "spec.template.spec.terminationGracePeriodSeconds: Invalid value: 1000000000000: must be at most",
        ),
        (
            lambda d: _container(d).update(resources={"requests": {"cpu": "lots"}}),
            f"{CONTAINER}.resources.requests.cpu: Invalid value: expected a quantity like 500m, 2 or 512Mi",
        ),
    ],
)
def test_strict_decoding_names_the_field(change, expected):
    errors = _errors(DEPLOYMENT, change)
    assert any(error.startswith(expected) for error in errors), errors


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: _container(d)["ports"][0].update(containerPort=70000),
            f"{CONTAINER}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (lambda d: _container(d)["ports"][0].update(containerPort=0), f"{CONTAINER}.ports[0].containerPort: Required"),
        (
            lambda d: _container(d)["ports"][0].update(name="HTTP_1"),
            f"{CONTAINER}.ports[0].name: Invalid value: 'HTTP_1': must contain only alpha-numeric characters",
        ),
        (
            lambda d: _container(d)["ports"][0].update(protocol="HTTP"),
            f"{CONTAINER}.ports[0].protocol: Unsupported value: 'HTTP'",
        ),
        (
            lambda d: _container(d)["readinessProbe"]["httpGet"].update(port=70000),
            f"{CONTAINER}.readinessProbe.httpGet.port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            lambda d: _container(d)["readinessProbe"]["httpGet"].update(scheme="FTP"),
            f"{CONTAINER}.readinessProbe.httpGet.scheme: Unsupported value: 'FTP'",
        ),
        (
            lambda d: _container(d)["readinessProbe"].update(terminationGracePeriodSeconds=5),
            f"{CONTAINER}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set",
        ),
        (
            lambda d: _container(d)["readinessProbe"].update(initialDelaySeconds=-1),
            f"{CONTAINER}.readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            lambda d: _container(d)["lifecycle"]["preStop"].update(exec={}),
            f"{CONTAINER}.lifecycle.preStop.exec.command: Required value",
        ),
        (
            lambda d: _container(d)["lifecycle"].update(preStop={}),
            f"{CONTAINER}.lifecycle.preStop: Required value: must specify a handler type",
        ),
        (
            lambda d: _container(d)["lifecycle"]["preStop"].update(sleep={"seconds": 5}),
            f"{CONTAINER}.lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type",
        ),
        (
            lambda d: _container(d)["lifecycle"].update(preStop={"sleep": {"seconds": 60}}),
            f"{CONTAINER}.lifecycle.preStop.sleep: Invalid value: 60: must be greater than 0 and less than "
            "terminationGracePeriodSeconds (45)",
        ),
        (
            lambda d: _container(d).update(resources={"requests": {"cpu": "-1"}}),
            f"{CONTAINER}.resources.requests.cpu: Invalid value: '-1': must be greater than or equal to 0",
        ),
        (
            lambda d: _container(d).update(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
            f"{CONTAINER}.resources.requests.cpu: Invalid value: '2': must be less than or equal to cpu limit",
        ),
        (
            lambda d: _container(d).update(name="API"),
            f"{CONTAINER}.name: Invalid value: 'API': a lowercase RFC 1123 label",
        ),
    ],
)
def test_api_rules_match_upstream_messages(change, expected):
    errors = _errors(DEPLOYMENT, change)
    assert any(error.startswith(expected) for error in errors), errors


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["spec"]["ports"][0].update(port=0), "spec.ports[0].port: Invalid value: 0: must be between 1"),
        (
            lambda s: s["spec"]["ports"][0].update(targetPort="Bad_Name"),
            "spec.ports[0].targetPort: Invalid value: 'Bad_Name': must contain only alpha-numeric",
        ),
        (
            lambda s: s["spec"]["ports"].append({"name": "http", "port": 81}),
            "spec.ports[1].name: Duplicate value: 'http'",
        ),
        (lambda s: s["spec"]["ports"].append({"port": 81}), "spec.ports[1].name: Required value"),
        (lambda s: s["spec"].update(selector=["app"]), "spec.selector: Invalid value: expected a mapping"),
    ],
)
def test_service_ports_and_selector(change, expected):
    errors = _errors(SERVICE, change)
    assert any(error.startswith(expected) for error in errors), errors


def test_null_reads_as_absent_and_is_defaulted_as_the_api_server_does():
    # encoding/json leaves a Go field at its zero value for a JSON null; SetDefaults_Probe then fills it in.
    obj = copy.deepcopy(DEPLOYMENT)
    _container(obj)["readinessProbe"]["periodSeconds"] = None
    _container(obj)["lifecycle"]["postStart"] = None
    assert admit(obj) == []
    assert _container(obj)["readinessProbe"]["periodSeconds"] == 10
    assert "postStart" not in _container(obj)["lifecycle"]


@pytest.mark.parametrize(
    ("obj", "change", "expected"),
    [
        (DEPLOYMENT, lambda d: d["metadata"].update(labels={"tier": "5 minutes"}), "metadata.labels: Invalid value"),
        (DEPLOYMENT, lambda d: d["spec"]["template"]["metadata"]["labels"].update({"-x": "a"}), "spec.template"),
        (
            DEPLOYMENT,
            lambda d: d["spec"]["template"]["spec"].update(nodeSelector={"disk": "s s d"}),
            "spec.template.spec.nodeSelector: Invalid value: invalid value 's s d' for label 'disk'",
        ),
        (SERVICE, lambda s: s["spec"].update(selector={"app": "a b"}), "spec.selector: Invalid value"),
        (
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "api"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "5 minutes"}}},
            },
            lambda p: None,
            "spec.selector: Invalid value: invalid value '5 minutes' for label 'app'",
        ),
    ],
)
def test_labels_and_selectors_are_valid_label_syntax(obj, change, expected):
    errors = _errors(obj, change)
    assert any(error.startswith(expected) for error in errors), errors


def test_nan_is_refused_even_where_the_schema_looks_no_further():
    obj = copy.deepcopy(DEPLOYMENT)
    _container(obj)["securityContext"] = {"runAsUser": float("nan")}
    assert [str(e) for e in admit(obj)] == [
        f"{CONTAINER}.securityContext.runAsUser: Invalid value: nan: JSON numbers are finite"
    ]


def test_a_null_spec_is_an_empty_spec_and_gets_its_required_fields_named():
    errors = _errors(DEPLOYMENT, lambda d: d.update(spec=None))
    assert "spec.selector: Required value" in errors
    assert "spec.template.spec.containers: Required value" in errors


def test_a_zero_probe_period_is_defaulted_like_an_unset_one():
    obj = copy.deepcopy(DEPLOYMENT)
    _container(obj)["readinessProbe"].update(periodSeconds=0, timeoutSeconds=0, failureThreshold=0)
    assert admit(obj) == []
    probe = _container(obj)["readinessProbe"]
    assert (probe["periodSeconds"], probe["timeoutSeconds"], probe["failureThreshold"]) == (10, 1, 3)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: r["spec"]["strategy"]["canary"]["steps"].append({"setWeight": "ten"}),
            "spec.strategy.canary.steps[0].setWeight: Invalid value: 'ten': expected an integer",
        ),
        (
            lambda r: r["spec"]["strategy"]["canary"]["steps"].append({"pause": 5}),
            "spec.strategy.canary.steps[0].pause: Invalid value: expected a mapping, got an integer",
        ),
        (
            lambda r: r["spec"]["strategy"]["canary"].update(
                trafficRouting={"istio": {"virtualService": {"name": []}}}
            ),
            "spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: []: expected a string",
        ),
    ],
)
def test_argo_rollouts_are_checked_for_the_types_the_controller_reads(change, expected):
    rollout = copy.deepcopy(DEPLOYMENT)
    rollout.update(apiVersion="argoproj.io/v1alpha1", kind="Rollout")
    rollout["spec"]["strategy"] = {"canary": {"steps": [], "somethingNew": True}}  # unknown Argo fields pass
    errors = _errors(rollout, change)
    assert any(error.startswith(expected) for error in errors), errors


def test_a_node_with_negative_capacity_is_refused():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "-2"}}}
    assert [str(e) for e in admit(node)] == [
        "status.allocatable.cpu: Invalid value: '-2': must be greater than or equal to 0"
    ]

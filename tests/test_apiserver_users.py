"""`simdeploy serve` for game days: several identities (admin, players, observers), what each may do, who did what."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import yaml
from serve_helpers import SEED, kubectl, needs_kubectl, ok, request, send
from typer.testing import CliRunner

from simdeploy.apiserver.authorization import allowed, request_attributes
from simdeploy.apiserver.control_client import ControlClient, ControlError
from simdeploy.apiserver.users import Users
from simdeploy.cli import app
from simdeploy.sim.result import problems

PLAYERS = {"alice": "player", "bob": "observer"}
DEPLOYMENT = "/apis/apps/v1/namespaces/production/deployments/payments-api"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@pytest.fixture(scope="module")
def game_day(serving, tmp_path_factory):
    """The seed at 30 s, paused, with a player and an observer whose kubeconfigs are in a directory of their own."""
    directory = tmp_path_factory.mktemp("kubeconfigs")
    with serving(until=30, speed=0, users=PLAYERS, kubeconfig_dir=directory) as server:
        yield server


def test_each_identity_gets_its_own_token_and_kubeconfig_named_after_it(game_day):
    directory = game_day.kubeconfigs["alice"].parent
    assert sorted(p.name for p in directory.iterdir()) == ["admin.kubeconfig", "alice.kubeconfig", "bob.kubeconfig"]
    assert game_day.kubeconfigs["bob"] == directory / "bob.kubeconfig"
    tokens = set()
    for name in ("admin", "alice", "bob"):
        config = yaml.safe_load(game_day.kubeconfigs[name].read_text())
        [user] = config["users"]
        assert user["name"] == f"{name}@simdeploy-payments-rolling-update"
        assert config["contexts"][0]["context"]["user"] == user["name"]
        tokens.add(user["user"]["token"])
    assert len(tokens) == 3
    admin = yaml.safe_load(game_day.kubeconfig_path.read_text())
    assert admin["current-context"] == "simdeploy-payments-rolling-update"  # the admin's, as before
    assert admin["users"][0]["user"]["token"] == game_day.token


def test_an_observer_reads_and_watches_but_every_write_is_forbidden_in_the_servers_words(game_day):
    assert request(game_day, DEPLOYMENT, user="bob")[0] == 200
    assert (
        request(game_day, "/api/v1/namespaces/production/pods?labelSelector=app%3Dpayments-api", user="bob")[0] == 200
    )
    code, refused = send(
        game_day, "PATCH", DEPLOYMENT, {"spec": {"replicas": 3}}, "application/merge-patch+json", "bob"
    )
    assert (code, refused["reason"]) == (403, "Forbidden")
    assert refused["message"] == (
        'deployments.apps "payments-api" is forbidden: User "bob" cannot patch resource "deployments" '
        'in API group "apps" in the namespace "production"'
    )
    assert refused["details"] == {"name": "payments-api", "group": "apps", "kind": "deployments"}
    code, refused = send(game_day, "POST", "/api/v1/namespaces", {"metadata": {"name": "x"}}, user="bob")
    assert refused["message"] == (
        'namespaces is forbidden: User "bob" cannot create resource "namespaces" in API group "" at the cluster scope'
    )
    code, refused = send(game_day, "PATCH", DEPLOYMENT + "/scale", {"spec": {"replicas": 3}}, user="bob")
    assert 'cannot patch resource "deployments/scale"' in refused["message"]
    assert game_day.sim.store.get("Deployment", "production", "payments-api")["spec"]["replicas"] == 6


def test_a_player_may_use_every_kubernetes_verb_but_not_the_facilitators_controls(game_day):
    label = {"metadata": {"labels": {"by": "alice"}}}
    code, scaled = send(game_day, "PATCH", DEPLOYMENT, label, "application/merge-patch+json", "alice")
    assert code == 200 and scaled["metadata"]["labels"]["by"] == "alice"
    player = ControlClient(game_day.kubeconfigs["alice"])
    assert player.clock()["paused"] is False  # reading the clock is allowed
    with pytest.raises(ControlError) as refused:
        player.set_clock(paused=True)
    assert str(refused.value) == '403: forbidden: User "alice" cannot patch path "/simdeploy/v1/clock"'
    code, _ = send(game_day, "POST", "/simdeploy/v1/actions", {"action": "cordon", "node": "node-1"}, user="alice")
    assert code == 403
    assert ControlClient(game_day.kubeconfig_path).clock()["speed"] == 0  # the admin's is the facilitator's


def test_outside_a_game_day_there_is_no_page_to_read_or_acknowledge(game_day):
    for user in ("alice", "bob", None):
        code, _, missing = request(game_day, "/simdeploy/v1/page", user=user)
        assert (code, missing["reason"]) == (404, "NotFound")
        assert missing["message"] == (
            "no page here: /simdeploy/v1/page is served during a game day (`simdeploy gameday`) only"
        )
    assert send(game_day, "POST", "/simdeploy/v1/page/acknowledge", user="alice")[0] == 404
    assert send(game_day, "POST", "/simdeploy/v1/page/acknowledge", user="bob")[0] == 403  # refused before routed
    said = CliRunner().invoke(app, ["ctl", "ack", "--kubeconfig", str(game_day.kubeconfigs["alice"])])
    assert said.exit_code == 2 and "error: 404: no page here" in said.output


def test_self_subject_access_reviews_answer_for_the_callers_role(game_day):
    def can(user: str, **attributes) -> bool:
        review = {"kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
        code, answer = send(game_day, "POST", SSAR, review, user=user)
        assert code == 201 and answer["kind"] == "SelfSubjectAccessReview"
        return answer["status"]["allowed"]

    assert can("bob", verb="list", resource="pods", namespace="production")
    assert not can("bob", verb="delete", resource="pods", namespace="production")
    assert can("alice", verb="create", group="apps", resource="deployments", namespace="x")
    assert not can("bob", verb="update", group="apps", resource="deployments", subresource="scale")
    assert can("bob", verb="create", group="authorization.k8s.io", resource="selfsubjectaccessreviews")
    paths = {"kind": "SelfSubjectAccessReview", "spec": {"nonResourceAttributes": {"path": "/simdeploy/v1/actions"}}}
    paths["spec"]["nonResourceAttributes"]["verb"] = "post"
    assert send(game_day, "POST", SSAR, paths, user="admin")[1]["status"]["allowed"] is True
    assert send(game_day, "POST", SSAR, paths, user="alice")[1]["status"]["allowed"] is False
    code, invalid = send(game_day, "POST", SSAR, {"spec": {}}, user="bob")
    assert (code, invalid["reason"]) == (422, "Invalid")
    assert "spec.resourceAttributes: Required value" in invalid["message"]
    assert request(game_day, SSAR, user="bob")[0] == 405  # reviews are created, never read


@pytest.mark.parametrize(
    "method, path, role_allows",
    [
        ("GET", "/api/v1/namespaces/production/pods", {"admin", "player", "observer"}),
        ("DELETE", "/api/v1/namespaces/production/pods", {"admin", "player"}),
        ("POST", "/api/v1/namespaces/production/pods/p/eviction", {"admin", "player"}),
        ("GET", "/api/v1/namespaces/production/services/api:80/proxy/healthz", {"admin", "player", "observer"}),
        ("POST", "/api/v1/namespaces/production/services/api/proxy/orders", {"admin", "player"}),
        ("DELETE", "/api/v1/namespaces/drill-1", {"admin", "player"}),
        ("GET", "/apis/apps/v1", {"admin", "player", "observer"}),
        ("POST", "/simdeploy/v1/actions", {"admin"}),
        ("GET", "/simdeploy/v1/timeline", {"admin", "player", "observer"}),
        ("GET", "/simdeploy/v1/page", {"admin", "player", "observer"}),
        ("POST", "/simdeploy/v1/page/acknowledge", {"admin", "player"}),
        ("POST", "/simdeploy/v1/page", {"admin"}),
        ("PATCH", "/simdeploy/v1/page/acknowledge", {"admin"}),
    ],
)
def test_the_role_rules_agree_with_what_a_request_asks(method, path, role_allows):
    attributes = request_attributes(method, [p for p in path.split("/") if p], {})
    assert {role for role in ("admin", "player", "observer") if allowed(role, attributes)} == role_allows


def test_the_request_log_says_who_asked_and_the_session_lists_identities_without_tokens(serving):
    with serving(until=10, speed=0, users=PLAYERS) as server:
        assert request(server, DEPLOYMENT, user="alice")[0] == 200
        assert request(server, DEPLOYMENT, user="bob")[0] == 200
        assert send(server, "DELETE", "/api/v1/namespaces/production/pods/x", user="bob")[0] == 403
        assert request(server, DEPLOYMENT, token=False)[0] == 401
        document = json.loads(json.dumps(server.result()))
        tokens = [u.token for u in server.users.all]
    assert problems(document) == []
    session = document["session"]
    assert session["users"] == [
        {"name": "admin", "role": "admin"},
        {"name": "alice", "role": "player"},
        {"name": "bob", "role": "observer"},
    ]
    assert [(r["user"], r["code"]) for r in session["requests"]["log"]] == [
        ("alice", 200),
        ("bob", 200),
        ("bob", 403),
        (None, 401),
    ]
    assert session["requests"]["by_user"] == {"alice": 1, "bob": 2}
    assert not any(token in json.dumps(document) for token in tokens)


def test_identity_names_are_checked():
    with pytest.raises(ValueError, match="'Alice'"):
        Users({"Alice": "player"})
    with pytest.raises(ValueError, match="every session has"):
        Users({"admin": "observer"})
    with pytest.raises(ValueError, match="role 'root'"):
        Users({"carol": "root"})


@pytest.mark.parametrize(
    "options, message",
    [
        (["--player", "Alice"], "--player Alice: a name is lower case letters"),
        (["--observer", "admin"], "--observer admin: 'admin' is the facilitator's identity"),
        (["--player", "alice", "--observer", "alice"], "--observer alice: already a player"),
        (["--player", "../x"], "--player ../x: a name"),
    ],
)
def test_serve_refuses_an_identity_it_cannot_name(options, message, tmp_path):
    result = CliRunner().invoke(app, ["serve", str(SEED), *options, "--kubeconfig-dir", str(tmp_path / "k")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "k").exists()  # nothing written


@needs_kubectl
def test_kubectl_knows_who_it_is_and_what_it_may_do(game_day, tmp_path):
    def as_user(name: str, *args: str):
        return kubectl(game_day, tmp_path, *args, kubeconfig=game_day.kubeconfigs[name])

    assert ok(as_user("bob", "auth", "can-i", "get", "pods", "-n", "production")).strip() == "yes"
    refused = as_user("bob", "auth", "can-i", "create", "deployments", "-n", "x")
    assert (refused.returncode, refused.stdout.strip()) == (1, "no")
    assert ok(as_user("alice", "auth", "can-i", "create", "deployments", "-n", "x")).strip() == "yes"
    rules = ok(as_user("bob", "auth", "can-i", "--list", "-n", "production"))
    assert any(
        line.split()[0] == "*.*" and line.split()[-3:] == ["[get", "list", "watch]"] for line in rules.splitlines()
    )
    whoami = ok(as_user("alice", "auth", "whoami"))
    assert ["Username", "alice"] in [line.split() for line in whoami.splitlines()]
    view = ok(as_user("alice", "config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.user}"))
    assert view == "alice@simdeploy-payments-rolling-update"
    deleted = as_user("bob", "delete", "pod", "-n", "production", "--all", "--wait=false")
    assert deleted.returncode == 1
    assert 'is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "production"' in (
        deleted.stderr
    )


def test_the_python_client_asks_what_it_may_do(game_day):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(game_day.kubeconfigs["bob"]))
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(namespace="production", verb="delete", resource="pods")
        )
    )
    answer = client.AuthorizationV1Api(api_client).create_self_subject_access_review(review)
    assert answer.status.allowed is False
    review.spec.resource_attributes.verb = "watch"
    assert client.AuthorizationV1Api(api_client).create_self_subject_access_review(review).status.allowed is True
    with pytest.raises(kubernetes.client.ApiException) as refused:
        client.CoreV1Api(api_client).delete_namespaced_pod("nosuch", "production")
    assert refused.value.status == 403


def test_serve_writes_a_kubeconfig_per_identity_and_the_session_names_them(tmp_path):
    directory, out = tmp_path / "kubeconfigs", tmp_path / "session.json"
    command = [sys.executable, "-m", "simdeploy", "serve", str(SEED), "--speed", "0", "--json", str(out)]
    command += ["--player", "alice", "--observer", "bob", "--kubeconfig-dir", str(directory)]
    serve = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        printed = []
        for line in serve.stdout:
            printed.append(line.strip())
            if line.startswith("try: kubectl"):
                break
        assert f"kubeconfig of player alice: {directory / 'alice.kubeconfig'}" in printed
        assert f"kubeconfig of observer bob: {directory / 'bob.kubeconfig'}" in printed
        assert ControlClient(directory / "bob.kubeconfig").clock()["paused"] is False
        with pytest.raises(ControlError, match='403: forbidden: User "bob" cannot patch path'):
            ControlClient(directory / "bob.kubeconfig").set_clock(speed=2)
        ControlClient(directory / "admin.kubeconfig").set_clock(speed=2)
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=20)
    finally:
        serve.kill()
    session = json.loads(out.read_text())["session"]
    assert [u["name"] for u in session["users"]] == ["admin", "alice", "bob"]
    assert session["requests"]["by_user"] == {"admin": 1, "bob": 2}

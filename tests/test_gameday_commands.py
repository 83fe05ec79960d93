"""A game day's request log read back as commands (kubectl's headers, other clients' runs of requests), matched to
the runbook's steps, and who acknowledged the page."""

from __future__ import annotations

import pytest
from serve_helpers import ROOT

from simdeploy.gameday.commands import acknowledging_command, group_commands, resource_of, verb_of
from simdeploy.gameday.document import acknowledgement
from simdeploy.gameday.steps import expected_steps, match_steps, missed
from simdeploy.scenario.drill_loader import load_drill

ROLES = {"admin": "admin", "alice": "player", "bao": "player", "chris": "observer"}
DEPLOYMENT = "/apis/apps/v1/namespaces/production/deployments/payments-api"


def request(at, user, method, path, code=200, command=None, session=None, agent="kubectl/v1.37.1", query=""):
    return {
        "at_s": at,
        "wall_s": at / 10,
        "method": method,
        "path": path,
        "query": query,
        "code": code,
        "user_agent": agent,
        "user": user,
        "command": command,
        "session": session,
    }


def undo(at, user, session, code=200):
    """The requests of `kubectl rollout undo deployment/payments-api` as kubectl 1.37 sends them."""
    said = {"command": "kubectl rollout undo", "session": session}
    return [
        request(at, user, "GET", "/api", **said),
        request(at, user, "GET", DEPLOYMENT, **said),
        request(at, user, "GET", "/apis/apps/v1/namespaces/production/replicasets", query="labelSelector=app", **said),
        request(at + 0.2, user, "PATCH", DEPLOYMENT, code, **said),
    ]


@pytest.mark.parametrize(
    ("method", "path", "query", "verb"),
    [
        ("GET", DEPLOYMENT, "", "get"),
        ("GET", "/api/v1/namespaces/production/pods", "limit=500", "list"),
        ("GET", "/api/v1/namespaces/production/pods", "watch=true", "watch"),
        ("GET", "/api/v1/nodes/node-1", "", "get"),
        ("PATCH", DEPLOYMENT + "/scale", "", "patch"),
        ("POST", "/api/v1/namespaces/production/pods/p-1/eviction", "", "evict"),
        ("DELETE", "/api/v1/namespaces/production/pods/p-1", "", "delete"),
        ("PUT", DEPLOYMENT, "", "update"),
    ],
)
def test_the_verb_of_a_request(method, path, query, verb):
    assert verb_of(request(1, "alice", method, path, query=query)) == verb


def test_what_a_path_names():
    assert resource_of(DEPLOYMENT + "/scale") == ("production", "deployments", "payments-api", "scale")
    assert resource_of("/api/v1/nodes") == ("", "nodes", "", "")
    assert resource_of("/api/v1/namespaces/production") == ("", "namespaces", "production", "")
    for other in ("/api", "/apis/apps/v1", "/version", "/simdeploy/v1/clock", "/openapi/v3"):
        assert resource_of(other) is None
    assert resource_of("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") is None


def test_kubectl_invocations_are_one_command_each_however_their_requests_interleave():
    log = undo(100, "bao", "s-bao")
    log[2:2] = [
        request(100.1, "alice", "GET", "/api/v1/namespaces/production/pods", command="kubectl get", session="s-al")
    ]
    log += [request(101, "chris", "GET", DEPLOYMENT, command="kubectl scale", session="s-ch")]
    log += [request(101, "chris", "PATCH", DEPLOYMENT + "/scale", 403, command="kubectl scale", session="s-ch")]
    log += [request(102, "admin", "PATCH", "/simdeploy/v1/clock"), request(103, None, "GET", "/api/v1/pods", 401)]
    commands = group_commands(log, ROLES)
    shown = [(c["user"], c["command"], c["requests"], c["wrote"], c["refused"]) for c in commands]
    assert shown == [
        ("bao", "kubectl rollout undo", 4, True, False),
        ("alice", "kubectl get", 1, False, False),
        ("chris", "kubectl scale", 2, False, True),
    ]
    bao = commands[0]
    assert bao["targets"] == ["deployments/payments-api", "replicasets"]  # discovery counted, but names nothing
    assert (bao["at_s"], bao["until_s"], bao["namespaces"]) == (100, 100.2, ["production"])
    assert bao["verbs"] == ["get", "list", "patch"] and bao["codes"] == {"200": 4}
    assert commands[2]["codes"] == {"200": 1, "403": 1} and commands[2]["role"] == "observer"


def test_a_failed_write_is_no_write():
    (command,) = group_commands(undo(100, "bao", "s", code=422), ROLES)
    assert not command["wrote"] and not command["refused"]


def test_other_clients_make_one_command_per_run_of_the_same_request():
    python = "OpenAPI-Generator/35.0.0/python"
    pods = "/api/v1/namespaces/production/pods"
    log = [
        request(10, "alice", "GET", pods, agent=python),
        request(20, "alice", "GET", pods, agent=python),  # 1 s of wall later: the same command
        request(25, "alice", "PATCH", DEPLOYMENT, agent=python),  # another verb: another command
        request(80, "alice", "PATCH", DEPLOYMENT, agent=python),  # 5.5 s of wall later: another command
        request(81, "bao", "GET", pods, agent="curl/8.5.0"),
    ]
    shown = [(c["user"], c["command"], c["requests"], c["session"]) for c in group_commands(log, ROLES)]
    assert shown == [
        ("alice", "OpenAPI-Generator list pods", 2, None),
        ("alice", "OpenAPI-Generator patch deployments", 1, None),
        ("alice", "OpenAPI-Generator patch deployments", 1, None),
        ("bao", "curl list pods", 1, None),
    ]


@pytest.fixture(scope="module")
def runbook_steps():
    runbook = {
        "trigger": {"alert": "PaymentsHighErrorRate"},
        "steps": [
            {"name": "look at the rollout history", "kubectl": "rollout history deployment/payments-api -n production"},
            {"name": "roll back", "kubectl": "kubectl rollout undo deploy/payments-api -n production"},
            {"name": "wait for the rollback", "kubectl": "kubectl rollout status deployment/payments-api"},
            {"name": "give it a minute", "wait": "1m"},
            {
                "name": "still firing? ledger off",
                "when": {"alert": "PaymentsHighErrorRate", "state": "firing"},
                "flag": {"disable": "ledger-v2"},
            },
        ],
    }
    drill = {"metadata": {"name": "d"}, "scenario": "../scenarios/payments-bad-release-ledger.yaml", "runbook": runbook}
    return expected_steps(load_drill(drill, base_dir=ROOT / "drills"))


def test_steps_are_matched_to_the_first_player_command_after_the_fault_with_the_same_verb_and_target(runbook_steps):
    history = {"command": "kubectl rollout history", "session": "h"}
    log = [
        request(50, "alice", "GET", DEPLOYMENT, command="kubectl rollout undo", session="early"),  # before the fault
        request(130, "chris", "GET", "/apis/apps/v1/namespaces/production/replicasets", **history),  # an observer
        request(140, "alice", "GET", "/apis/apps/v1/namespaces/production/deployments/other", **history),  # not it
        *undo(200, "bao", "u"),
    ]
    commands = group_commands(log, ROLES)
    actions = [{"t": 300, "action": "disable-flag", "target": "ledger-v2", "message": "", "failed": False}]
    rows = match_steps(runbook_steps, commands, actions, since=120)
    done = {row["name"]: (row["status"], row["done_by"]) for row in rows}
    assert [row["action"] for row in rows] == ["kubectl", "kubectl", "kubectl", "wait", "flag"]
    assert done["roll back"] == ("done", {"user": "bao", "command": "kubectl rollout undo", "at_s": 200})
    assert done["look at the rollout history"] == ("not done", None)  # another deployment; an observer's
    assert done["wait for the rollback"] == ("not done", None)
    assert done["give it a minute"] == ("no action", None)
    flag = {"user": "admin", "command": "disable-flag ledger-v2", "at_s": 300}
    assert done["still firing? ledger off"] == ("done", flag)  # the facilitator's console, asked by the team
    conditional = next(row for row in rows if row["when"])
    assert "alert=PaymentsHighErrorRate" in conditional["when"]
    assert missed(rows) == ["look at the rollout history", "wait for the rollback"]
    assert all(row["status"] != "done" for row in match_steps(runbook_steps, commands, actions, since=None))
    # A client that names no command: its read of the deployment is the looks the runbook asks for, not the undo.
    looked = group_commands([request(260, "alice", "GET", DEPLOYMENT, agent="python/3.11")], ROLES)
    rows = match_steps(runbook_steps, looked, [], since=120)
    assert [row["status"] for row in rows] == ["done", "not done", "done", "no action", "not done"]
    assert rows[0]["done_by"] == {"user": "alice", "command": "python get deployments", "at_s": 260}


def test_a_player_switching_the_flag_on_the_console_does_the_flag_step_and_the_curl_is_their_command(runbook_steps):
    off = "/unleash/api/admin/projects/default/features/ledger-v2/environments/production/off"
    log = [
        request(240, "chris", "POST", off, code=403, agent="curl/8.5.0"),  # an observer may not
        request(250, "alice", "POST", off, agent="curl/8.5.0"),
    ]
    commands = group_commands(log, ROLES)
    assert [(c["user"], c["command"], c["targets"], c["wrote"], c["refused"]) for c in commands] == [
        ("chris", "curl disable-flag ledger-v2", ["features/ledger-v2"], False, True),
        ("alice", "curl disable-flag ledger-v2", ["features/ledger-v2"], True, False),
    ]
    actions = [
        {"t": 250, "action": "disable-flag", "target": "ledger-v2", "message": "", "failed": False, "by": "alice"}
    ]
    flag_step = match_steps(runbook_steps, commands, actions, since=120)[-1]
    assert flag_step["done_by"] == {"user": "alice", "command": "disable-flag ledger-v2", "at_s": 250}


def test_a_refused_or_failed_write_does_not_do_a_step(runbook_steps):
    log = [*undo(200, "bao", "u", code=403), *undo(210, "alice", "v", code=409)]
    rows = match_steps(runbook_steps, group_commands(log, ROLES), [], since=120)
    assert rows[1]["status"] == "not done"


def test_the_acknowledgement_is_the_first_player_command_after_the_fault_never_before_the_page():
    commands = group_commands(
        [
            request(50, "alice", "GET", DEPLOYMENT, command="kubectl get", session="a"),
            request(150, "chris", "GET", DEPLOYMENT, command="kubectl get", session="b"),
            request(160, "bao", "GET", DEPLOYMENT, command="kubectl describe", session="c"),
            request(300, "alice", "GET", DEPLOYMENT, command="kubectl get", session="d"),
        ],
        ROLES,
    )
    assert acknowledgement(commands, 100, 200) == {"user": "bao", "command": "kubectl describe", "at_s": 200}
    assert acknowledgement(commands, 100, 120) == {"user": "bao", "command": "kubectl describe", "at_s": 160}
    assert acknowledgement(commands, 100, None) == {"user": "bao", "command": "kubectl describe", "at_s": 160}
    assert acknowledgement(commands, 400, 450) is None and acknowledgement(commands, None, None) is None


def test_an_explicit_acknowledgement_beats_the_inferred_one_even_after_an_earlier_command():
    commands = group_commands(
        [
            request(160, "bao", "GET", DEPLOYMENT, command="kubectl describe", session="c"),
            request(230, "alice", "POST", "/simdeploy/v1/page/acknowledge", command="simdeploy ctl ack", session="d"),
        ],
        ROLES,
    )
    explicit = {"user": "alice", "command": "simdeploy ctl ack", "at_s": 230}
    assert acknowledgement(commands, 100, 120, explicit) == explicit  # bao's look at 160 came first
    assert acknowledgement(commands, 100, 120) == {"user": "bao", "command": "kubectl describe", "at_s": 160}
    assert acknowledgement(commands, None, 120, explicit) == explicit


def test_acknowledging_the_page_is_a_command_of_its_own_and_a_refused_one_acknowledges_nothing():
    ack = "/simdeploy/v1/page/acknowledge"
    log = [
        request(200, "chris", "POST", ack, code=403, agent="curl/8.5.0"),
        request(205, "alice", "POST", ack, code=409, command="simdeploy ctl ack", session="early"),
        request(210, "alice", "GET", "/simdeploy/v1/page", command="simdeploy ctl page", session="look"),
        request(220, "bao", "POST", ack, agent="curl/8.5.0"),
        request(230, "alice", "POST", ack, command="simdeploy ctl ack", session="late"),
    ]
    commands = group_commands(log, ROLES)
    assert [(c["user"], c["command"], c["targets"], c["wrote"], c["refused"]) for c in commands] == [
        ("chris", "curl acknowledge page", ["page"], False, True),
        ("alice", "simdeploy ctl ack", ["page"], False, False),
        ("alice", "simdeploy ctl page", [], False, False),
        ("bao", "curl acknowledge page", ["page"], True, False),
        ("alice", "simdeploy ctl ack", ["page"], True, False),
    ]
    assert acknowledging_command(log, "bao") == "curl acknowledge page"
    assert acknowledging_command(log, "alice") == "simdeploy ctl ack"  # the one answered 200, not the 409
    assert acknowledging_command(log, "chris") is None


def test_acknowledging_the_page_does_no_runbook_step(runbook_steps):
    log = [request(230, "alice", "POST", "/simdeploy/v1/page/acknowledge", command="simdeploy ctl ack", session="a")]
    rows = match_steps(runbook_steps, group_commands(log, ROLES), [], since=120)
    assert all(row["status"] != "done" for row in rows)

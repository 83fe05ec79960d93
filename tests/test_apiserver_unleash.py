"""The flag console on `simdeploy serve`: Unleash's Client and Admin API paths, who may switch a flag, who did."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from serve_helpers import ROOT, token_of, trusting
from typer.testing import CliRunner

import simdeploy
from simdeploy.apiserver.server import ApiServer
from simdeploy.cli import app

SCENARIO = ROOT / "scenarios" / "kill-switch-under-load.yaml"
FLAG = "payments-fraud-scoring"
FEATURE = f"/unleash/api/admin/projects/default/features/{FLAG}"
OFF = f"{FEATURE}/environments/production/off"


@pytest.fixture
def console(tmp_path):
    """The kill-switch scenario at 1 minute, paused, served with a player (alice) and an observer (bob)."""
    sim = simdeploy.load(SCENARIO)
    sim.run_until(60)
    server = ApiServer(
        sim, "kill-switch", speed=0, users={"alice": "player", "bob": "observer"}, kubeconfig_dir=tmp_path
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unleash(server: ApiServer, method: str, path: str, user: str | None = "alice", authorization: str | None = None):
    """(status, body: parsed JSON, or b"" when empty) of a request sent as Unleash clients send it (the token
    alone in Authorization)."""
    headers = {"Accept": "application/json"}
    if authorization is not None or user is not None:
        headers["Authorization"] = authorization if authorization is not None else token_of(server, user)
    data = b"" if method == "POST" else None
    req = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=trusting(server), timeout=10) as answer:
            body = answer.read()
            return answer.status, json.loads(body) if body else b""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_sdks_state_and_the_admin_view_of_a_feature(console):
    code, state = unleash(console, "GET", "/unleash/api/client/features")
    assert code == 200 and [(f["name"], f["enabled"]) for f in state["features"]] == [(FLAG, True)]
    code, listed = unleash(console, "GET", "/unleash/api/admin/projects/default/features")
    assert code == 200 and [f["name"] for f in listed["features"]] == [FLAG]
    code, feature = unleash(console, "GET", FEATURE, user="bob")  # observers may look
    assert code == 200 and (feature["type"], feature["project"]) == ("kill-switch", "default")
    assert feature["environments"] == [
        {"name": "production", "enabled": True, "type": "production", "strategies": [{"name": "default"}]}
    ]


def test_a_player_switches_the_flag_off_and_the_change_is_theirs(console):
    assert unleash(console, "POST", OFF) == (200, b"")  # Unleash answers the toggle with an empty 200
    assert unleash(console, "GET", "/unleash/api/client/features")[1]["features"][0]["enabled"] is False
    assert unleash(console, "GET", FEATURE)[1]["environments"][0]["enabled"] is False
    [action] = console.sim.recorder.actions
    assert (action["action"], action["target"], action["by"], action["failed"]) == (
        "disable-flag",
        FLAG,
        "alice",
        False,
    )
    [event] = [e for e in console.sim.recorder.events if e["reason"] == "FlagDisabled"]
    assert event["name"] == FLAG and "the pods' SDKs see it as they poll" in event["message"]
    assert (
        unleash(console, "POST", OFF.replace("/off", "/on"), authorization=f"Bearer {token_of(console, 'alice')}")[0]
        == 200
    )
    assert console.sim.flags.state["features"][0]["enabled"] is True


def test_an_observer_may_not_switch_a_flag_and_a_stranger_is_not_let_in(console):
    code, refused = unleash(console, "POST", OFF, user="bob")
    assert code == 403 and refused["reason"] == "Forbidden"
    assert refused["message"] == f'forbidden: User "bob" cannot post path "{OFF}"'
    assert unleash(console, "POST", OFF, authorization="not-a-token")[0] == 401
    assert unleash(console, "POST", OFF, user=None, authorization="")[0] == 401
    assert console.sim.flags.state["features"][0]["enabled"] is True and console.sim.recorder.actions == []


@pytest.mark.parametrize(
    ("method", "path", "code", "name", "message"),
    [
        ("POST", OFF.replace(FLAG, "nope"), 404, "NotFoundError", "Could not find feature flag with name nope"),
        ("POST", OFF.replace("/default/", "/payments/"), 404, "NotFoundError", f"name {FLAG} in project payments"),
        ("POST", OFF.replace("production", "staging"), 404, "NotFoundError", "environment with name: staging"),
        ("GET", OFF, 405, "MethodNotAllowedError", "GET is not allowed"),
        ("GET", "/unleash/api/admin/segments", 404, "NotFoundError", "not available"),
    ],
)
def test_what_the_console_does_not_have_is_answered_in_unleashs_words(console, method, path, code, name, message):
    answered, error = unleash(console, method, path)
    assert (answered, error["name"]) == (code, name) and message in error["message"]
    assert console.sim.recorder.actions == []


def test_ctl_flag_switches_as_the_kubeconfigs_user(console):
    runner = CliRunner()
    alice = str(console.kubeconfigs["alice"])
    done = runner.invoke(app, ["ctl", "flag", "disable", FLAG, "--kubeconfig", alice])
    assert done.exit_code == 0, done.output
    assert done.output == (
        f"feature {FLAG} disabled in production (project default); the pods' SDKs see it as they poll\n"
    )
    assert console.sim.recorder.actions[-1]["by"] == "alice"
    refused = runner.invoke(app, ["ctl", "flag", "enable", FLAG, "--kubeconfig", str(console.kubeconfigs["bob"])])
    assert refused.exit_code != 0 and "403: forbidden" in refused.output
    unknown = runner.invoke(app, ["ctl", "flag", "enable", "nope", "--kubeconfig", alice])
    assert unknown.exit_code != 0 and "404: Could not find feature flag with name nope" in unknown.output
    wrong = runner.invoke(app, ["ctl", "flag", "flip", FLAG, "--kubeconfig", alice])
    assert wrong.exit_code == 2 and "use enable or disable" in wrong.output

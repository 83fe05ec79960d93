"""A game day's session in process: the hidden faults fire on time, their narration reaches the facilitator only,
kubectl's command headers land in the request log, and the scoreboard's snapshot."""

from __future__ import annotations

import json
import urllib.request

import pytest
from serve_helpers import ROOT, request, trusting

from simdeploy.gameday.session import GameDaySession
from simdeploy.scenario.gameday_loader import load_gameday

FAULTS = [
    {
        "name": "the flag and a node",
        "at": "1m",
        "actions": [
            {"action": "enable-flag", "flag": "new-checkout-flow"},
            {"action": "fail-node", "node": "node-2"},
            {
                "action": "set-behaviour",
                "image": "registry.example.com/payments-api:2.9.0",
                "behaviour": {"errorRate": 0.2},
            },
        ],
    },
    {"name": "later", "at": "9m", "action": "drain", "node": "node-3"},
]


@pytest.fixture
def session(tmp_path):
    document = {
        "kind": "GameDay",
        "metadata": {"name": "inprocess"},
        "drill": "rollback-undo.yaml",
        "speed": 1,
        "duration": "10m",
        "players": ["alice"],
        "observers": ["chris"],
        "faults": FAULTS,
    }
    game = GameDaySession(load_gameday(document, ROOT / "drills"), tmp_path / "kc", speed=0)
    with game.server.lock:
        game.sim.run_until(90)  # past the first fault and its flag's propagation; before the second
    game.start()
    try:
        yield game
    finally:
        game.stop()


def narration(events: list[dict]) -> set[str]:
    return {e["reason"] for e in events} & {"FlagEnabled", "FlagPropagated", "NodeFailure", "BehaviourChanged"}


def test_the_faults_fire_on_time_and_only_the_facilitator_hears_of_them(session):
    first, second = session.faults
    assert (first["fired_s"], first["failed"], second["fired_s"]) == (60.0, False, None)
    assert first["messages"] == [
        "flag/new-checkout-flow enabled",
        "node/node-2 fail-node",
        "version registry.example.com/payments-api:2.9.0 changed",
    ]
    server = session.server
    _, _, everything = request(server, "/api/v1/events")
    assert narration(everything["items"]) == {"FlagEnabled", "FlagPropagated", "NodeFailure", "BehaviourChanged"}
    for user in ("alice", "chris"):
        _, _, seen = request(server, "/api/v1/events", user=user)
        assert narration(seen["items"]) == set()
        numbers = sorted(int(item["metadata"]["name"].rsplit(".", 1)[1], 16) for item in seen["items"])
        assert numbers == list(range(len(numbers)))  # numbered without gaps: nothing tells what was left out
        _, _, timeline = request(server, "/simdeploy/v1/timeline", user=user)
        assert narration(timeline["events"]) == set() and len(timeline["events"]) == len(seen["items"])
        _, _, one = request(
            server, f"/api/v1/namespaces/production/events/{seen['items'][0]['metadata']['name']}", user=user
        )
        assert one["metadata"]["uid"] == seen["items"][0]["metadata"]["uid"]
    _, _, timeline = request(server, "/simdeploy/v1/timeline")
    assert len(timeline["events"]) == len(everything["items"]) > len(seen["items"])


def test_the_snapshot_has_the_figures_of_the_scoreboard(session):
    snapshot = session.snapshot()
    assert snapshot["now_s"] == 90 and snapshot["duration_s"] == 600 and snapshot["speed"] == 0
    assert [f["fired_s"] for f in snapshot["faults"]] == [60.0, None]
    assert snapshot["availability"] is not None and snapshot["burn_rate"] is not None
    assert snapshot["players"] == ["alice"] and snapshot["observers"] == ["chris"] and snapshot["commands"] == []
    assert not session.over


def test_kubectls_command_headers_are_kept_in_the_request_log_and_read_as_commands(session):
    server = session.server
    token = next(u.token for u in server.users.all if u.name == "alice")
    headers = {
        "Authorization": f"Bearer {token}",
        "Kubectl-Command": "kubectl get",
        "Kubectl-Session": "0f3c-" + "x" * 300,
    }
    url = server.url + "/api/v1/namespaces/production/pods"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=trusting(server)) as answer:
        assert answer.status == 200 and json.loads(answer.read())["items"]
    entry = server.requests.document()["log"][-1]
    assert (entry["user"], entry["command"], entry["session"]) == ("alice", "kubectl get", "0f3c-" + "x" * 195)
    assert "Bearer" not in json.dumps(server.requests.document())
    (command,) = session.snapshot()["commands"]
    assert (command["user"], command["command"], command["targets"]) == ("alice", "kubectl get", ["pods"])

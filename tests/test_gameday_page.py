"""A game day's page, in process: none -> triggered -> acknowledged, read by everyone on /simdeploy/v1/page,
acknowledged by players with `simdeploy ctl ack` (observers refused, nothing before the page), and the after-action
document and report counting the explicit acknowledgement."""

from __future__ import annotations

import pytest
from serve_helpers import ROOT, request, send
from typer.testing import CliRunner

from simdeploy.apiserver.page import NothingToAcknowledge
from simdeploy.cli import app
from simdeploy.gameday.document import after_action
from simdeploy.gameday.session import GameDaySession
from simdeploy.report.gameday import render_gameday_report
from simdeploy.report.scoreboard import page_line
from simdeploy.scenario.gameday_loader import load_gameday
from simdeploy.sim.result import problems

OLD_IMAGE = "registry.example.com/payments-api@sha256:abc123..."
ACK = "/simdeploy/v1/page/acknowledge"


def gameday(tmp_path) -> GameDaySession:
    """The running release fails one request in five from 1m: PaymentsHighErrorRate pages at 2:30."""
    document = {
        "kind": "GameDay",
        "metadata": {"name": "paged"},
        "drill": "rollback-undo.yaml",
        "duration": "10m",
        "players": ["alice", "bao"],
        "observers": ["chris"],
        "faults": [
            {
                "name": "the quiet fault",
                "at": "1m",
                "action": "set-behaviour",
                "image": OLD_IMAGE,
                "behaviour": {"errorRate": 0.2},
            }
        ],
    }
    return GameDaySession(load_gameday(document, ROOT / "drills"), tmp_path / "kc", speed=0)


def until(session: GameDaySession, moment: float) -> None:
    with session.server.lock:  # the clock stands still (speed 0): the test moves it
        session.sim.run_until(moment)


@pytest.fixture
def session(tmp_path):
    game = gameday(tmp_path)
    until(game, 90)  # after the fault, before the page
    game.start()
    try:
        yield game
    finally:
        game.stop()


def ctl(session: GameDaySession, who: str, *args: str):
    return CliRunner().invoke(app, ["ctl", *args, "--kubeconfig", str(session.server.kubeconfigs[who])])


def test_the_pager_goes_from_none_to_triggered_to_acknowledged_and_the_first_acknowledgement_stands(tmp_path):
    game = gameday(tmp_path)
    pager = game.pager
    until(game, 90)
    assert pager.state() == {
        "state": "none",
        "triggered_s": None,
        "why": None,
        "acknowledged_s": None,
        "acknowledged_by": None,
    }
    with pytest.raises(NothingToAcknowledge, match="nobody has been paged yet"):
        pager.acknowledge("alice")
    until(game, 160)
    triggered = pager.state()
    assert triggered["state"] == "triggered" and 90 < triggered["triggered_s"] <= 160
    assert triggered["why"] == "alert PaymentsHighErrorRate firing" and triggered["acknowledged_by"] is None
    until(game, 170)
    assert pager.acknowledge("bao") == {**triggered, "state": "acknowledged", "acknowledged_s": 170.0} | {
        "acknowledged_by": "bao"
    }
    until(game, 200)
    assert pager.acknowledge("alice")["acknowledged_by"] == "bao"  # idempotent: the first one is kept
    said = [e for e in game.sim.recorder.events if e["kind"] == "Page"]
    assert said == [
        {
            "t": 170.0,
            "kind": "Page",
            "name": "paged",
            "reason": "Acknowledged",
            "message": "bao acknowledged the page (alert PaymentsHighErrorRate firing)",
            "type": "Normal",
        }
    ]


def test_everyone_reads_the_page_and_nothing_of_the_fault_and_before_it_nobody_can_acknowledge(session):
    for user in ("alice", "chris", None):
        code, _, page = request(session.server, "/simdeploy/v1/page", user=user)
        assert code == 200 and page["state"] == "none"
    code, refused = send(session.server, "POST", ACK, user="alice")
    assert (code, refused["reason"]) == (409, "Conflict")
    assert refused["message"] == "nothing to acknowledge: nobody has been paged yet"
    early = ctl(session, "bao", "ack")
    assert early.exit_code == 2 and "409: nothing to acknowledge: nobody has been paged yet" in early.output
    assert ctl(session, "chris", "page").output == "page: none (nobody has been paged yet)\n"
    until(session, 160)
    _, _, page = request(session.server, "/simdeploy/v1/page", user="chris")
    assert page["state"] == "triggered" and set(page) == {
        "state",
        "triggered_s",
        "why",
        "acknowledged_s",
        "acknowledged_by",
    }
    assert "quiet" not in str(page) and 60.0 not in page.values()  # neither the fault's name nor its moment
    assert session.pager.state()["state"] == "triggered"


def test_an_observer_may_not_acknowledge_and_a_player_may_not_touch_the_rest_of_the_controls(session):
    until(session, 160)
    code, refused = send(session.server, "POST", ACK, {}, user="chris")
    assert (code, refused["reason"]) == (403, "Forbidden")
    assert refused["message"] == f'forbidden: User "chris" cannot post path "{ACK}"'
    said = ctl(session, "chris", "ack")
    assert said.exit_code == 2 and 'User "chris" cannot post path' in said.output
    code, refused = send(session.server, "PATCH", "/simdeploy/v1/clock", {"paused": True}, user="alice")
    assert code == 403  # the rest of /simdeploy/v1 stays the facilitator's
    code, refused = send(session.server, "POST", ACK, {"user": "bao"}, user="alice")
    assert (code, refused["message"]) == (400, "page/acknowledge: unknown field 'user' (send no body, or {})")
    assert send(session.server, "DELETE", ACK, user="alice")[0] == 403  # authorized before it is routed
    assert send(session.server, "DELETE", ACK)[0] == 405  # the admin: no such method there
    assert session.pager.state()["state"] == "triggered"  # nothing of it acknowledged the page


def test_a_player_acknowledges_with_ctl_ack_and_the_after_action_report_counts_it(session):
    until(session, 135)
    looked = request(session.server, "/api/v1/namespaces/production/pods", user="bao")  # at work before the page
    assert looked[0] == 200
    until(session, 170)
    acked = ctl(session, "alice", "ack")
    assert acked.exit_code == 0, acked.output
    page = session.pager.state()
    triggered = page["triggered_s"]
    assert acked.output == (
        f"acknowledged the page (alert PaymentsHighErrorRate firing, {clock(triggered)}) at 2:50.0 as alice\n"
    )
    until(session, 180)
    again = ctl(session, "bao", "ack")
    assert again.exit_code == 0
    assert again.output.endswith("was already acknowledged by alice at 2:50.0\n")
    shown = ctl(session, "chris", "page").output
    assert shown == f"page: acknowledged by alice at 2:50.0 (triggered at {clock(triggered)}: {page['why']})\n"
    # Everyone sees the acknowledgement on the timeline; the scoreboard says who.
    _, _, events = request(session.server, "/api/v1/events", user="chris")
    assert [e["message"] for e in events["items"] if e["reason"] == "Acknowledged"] == [
        "alice acknowledged the page (alert PaymentsHighErrorRate firing)"
    ]
    snapshot = session.snapshot()
    assert page_line(snapshot).endswith("— acknowledged by alice at 2:50.0")
    # The after-action document: the explicit acknowledgement, though bao was at work earlier.
    until(session, 240)
    document = after_action(session, "completed", None)
    assert problems(document) == []
    section = document["gameday"]
    assert section["acknowledged_by"] == {"user": "alice", "command": "simdeploy ctl ack", "at_s": 170.0}
    assert section["acknowledged_how"] == "explicit"
    incident = section["incident"]
    assert incident["acknowledged_s"] == 170.0
    assert incident["time_to_acknowledge_s"] == pytest.approx(170.0 - incident["trigger_s"])
    typed = [(c["user"], c["command"]) for c in section["commands"]]
    assert ("alice", "simdeploy ctl ack") in typed and ("bao", "simdeploy ctl ack") in typed
    assert not any(s["done_by"] and s["done_by"]["command"] == "simdeploy ctl ack" for s in section["steps"])
    html = render_gameday_report(document)
    assert "Acknowledged: alice acknowledged the page with simdeploy ctl ack at 2:50.0." in html


def test_without_an_acknowledgement_the_first_player_command_counts_as_before(session):
    until(session, 200)
    assert request(session.server, "/api/v1/namespaces/production/pods", user="bao")[0] == 200
    assert ctl(session, "chris", "page").exit_code == 0  # an observer's look acknowledges nothing
    document = after_action(session, "completed", None)
    section = document["gameday"]
    assert section["acknowledged_how"] == "first command" and section["acknowledged_by"]["user"] == "bao"
    assert section["acknowledged_by"]["at_s"] == 200.0
    assert "the first command of a player after the fault" in render_gameday_report(document)


def clock(seconds: float) -> str:
    from simdeploy.k8s.duration import format_clock

    return format_clock(seconds)

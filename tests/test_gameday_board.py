"""The game day's scoreboard in plain text (what a log or a test reads), what it says between two looks, and the
SLO burn it shows."""

from __future__ import annotations

import pytest

from simdeploy.gameday.session import burn
from simdeploy.report.gameday_figure import alert_spans
from simdeploy.report.scoreboard import (
    board,
    board_lines,
    changes,
    command_line,
    page_line,
    plan_lines,
    status_line,
)


def command(user, at, text, targets, wrote=False, refused=False, session="s"):
    return {
        "user": user,
        "role": "observer" if user == "chris" else "player",
        "command": text,
        "session": f"{session}-{at}",
        "at_s": at,
        "until_s": at,
        "wall_s": at / 10,
        "requests": 2,
        "verbs": [],
        "targets": targets,
        "namespaces": ["production"],
        "wrote": wrote,
        "refused": refused,
        "codes": {},
    }


def snapshot(now=400.0, fired=None, page=None, commands=(), alerts=(), acknowledged=None):
    """The session's snapshot; `acknowledged` (user, at_s) once somebody acknowledged the page at `page`."""
    state = "none" if page is None else "triggered" if acknowledged is None else "acknowledged"
    who, when = acknowledged or (None, None)
    return {
        "name": "payments",
        "now_s": now,
        "duration_s": 1200.0,
        "speed": 10.0,
        "paused": False,
        "slo": 0.999,
        "availability": 0.9875,
        "burn_rate": 12.5,
        "burn_window_s": 300.0,
        "budget_burned": 0.0042,
        "alerts": list(alerts),
        "faults": [
            {
                "name": "bad release",
                "actions": ["set-image payments-api"],
                "at_s": 316.2,
                "window": {"from_s": 180.0, "to_s": 480.0},
                "fired_s": fired,
                "failed": False,
                "messages": [],
            }
        ],
        "page_s": page,
        "page": {
            "state": state,
            "triggered_s": page,
            "why": None if page is None else "alert PaymentsHighErrorRate firing",
            "acknowledged_s": when,
            "acknowledged_by": who,
        },
        "players": ["alice", "bao"],
        "observers": ["chris"],
        "commands": list(commands),
    }


TEAM = [
    command("alice", 330, "kubectl get", ["pods"]),
    command("bao", 380, "kubectl rollout undo", ["deployments/payments-api", "replicasets"], wrote=True),
    command(
        "chris", 390, "kubectl scale", ["deployments/payments-api", "deployments/payments-api/scale"], refused=True
    ),
]


def test_before_the_fault_the_board_says_nothing_of_it_unless_revealed():
    lines = board_lines(snapshot(now=100))
    assert lines[:5] == [
        "payments — 1:40.0 of 20:00.0 (10x)",
        "SLO 99.900%: availability 98.750% · burn rate 12.5x over 5m00s · error budget burned 0.42%",
        "alerts: none",
        "fault: -",
        "page: -",
    ]
    assert not any("bad release" in line or "5:16" in line for line in lines)
    revealed = board_lines(snapshot(now=100), reveal=True)
    assert (
        revealed[5:7]
        == plan_lines(snapshot(now=100))
        == [
            "plan: bad release at 5:16.2 (drawn within 3:00.0-8:00.0): in 3m36.2s",
            "  set-image payments-api",
        ]
    )


def test_after_the_fault_the_board_shows_the_time_since_it_alerts_and_each_persons_last_commands():
    firing = [{"name": "PaymentsHighErrorRate", "state": "firing", "since_s": 420}]
    lines = board_lines(snapshot(now=436.2, fired=316.2, page=420, commands=TEAM, alerts=firing), last=1)
    assert lines[2:] == [
        "alerts: PaymentsHighErrorRate firing",
        "fault: 2m00s ago · paged 16.2s ago",
        "page: 7:00.0 alert PaymentsHighErrorRate firing — not acknowledged",
        "alice (player): 1 commands",
        "  5:30.0  kubectl get pods",
        "bao (player): 1 commands",
        "  6:20.0  kubectl rollout undo deployments/payments-api (wrote)",
        "chris (observer): 1 commands",
        "  6:30.0  kubectl scale deployments/payments-api, deployments/payments-api/scale (refused)",
    ]
    assert "fault: 2m00s ago" in status_line(snapshot(now=436.2, fired=316.2, commands=TEAM))
    two = board_lines(snapshot(commands=[*TEAM, command("alice", 340, "kubectl describe", ["pods/p-1"])]), last=1)
    assert two[5:7] == ["alice (player): 2 commands", "  5:40.0  kubectl describe pods/p-1"]


def test_the_page_line_says_who_acknowledged_the_page_and_when():
    acknowledged = snapshot(now=450, fired=316.2, page=420, acknowledged=("alice", 442.5))
    assert (
        page_line(acknowledged) == "page: 7:00.0 alert PaymentsHighErrorRate firing — acknowledged by alice at 7:22.5"
    )
    assert changes(snapshot(now=430, fired=316.2, page=420), acknowledged) == ["7:22.5  page acknowledged by alice"]
    assert changes(acknowledged, acknowledged) == []
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(board(acknowledged))
    assert "acknowledged by alice at 7:22.5" in console.export_text()


def test_between_two_looks_the_log_gets_new_commands_alert_changes_and_the_fault_coming():
    before = snapshot(now=300, commands=TEAM[:1], alerts=[{"name": "A", "state": "pending", "since_s": 290}])
    after = snapshot(
        now=440, fired=316.2, page=420, commands=TEAM, alerts=[{"name": "A", "state": "firing", "since_s": 420}]
    )
    assert changes(before, after) == [
        "bao: 6:20.0  kubectl rollout undo deployments/payments-api (wrote)",
        "chris: 6:30.0  kubectl scale deployments/payments-api, deployments/payments-api/scale (refused)",
        "7:00.0  alert A firing",
        "5:16.2  the fault has come",
        "7:00.0  paged",
    ]
    assert "5:16.2  the fault has come: bad release" in changes(before, after, reveal=True)
    assert changes(after, after) == []
    assert changes(None, before) == ["alice: 5:30.0  kubectl get pods", "4:50.0  alert A pending"]


def test_a_command_line_names_objects_rather_than_lists():
    assert command_line(TEAM[0]) == "5:30.0  kubectl get pods"
    many = command("alice", 60, "kubectl delete", [f"pods/p-{n}" for n in range(5)], wrote=True)
    assert command_line(many) == "1:00.0  kubectl delete pods/p-0, pods/p-1, pods/p-2 (+2) (wrote)"


def test_the_rich_board_holds_the_same_facts():
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(board(snapshot(now=436.2, fired=316.2, commands=TEAM), reveal=True))
    text = console.export_text()
    assert "payments — 7:16.2 of 20:00.0 (10x)" in text and "2m00s ago" in text
    assert "plan: bad release at 5:16.2" in text and "kubectl rollout undo" in text and "(refused)" in text


def row(t, requests, errors):
    return {"t": t, "service": "payments-api", "version": "2.9.0", "requests": requests, "errors": errors, "p99_s": 0.1}


def test_the_burn_rate_is_the_recent_error_ratio_over_what_the_slo_allows():
    rows = [row(15.0 * n, 1500.0, 0.0) for n in range(1, 21)]  # 5 minutes clean
    rows += [row(300 + 15.0 * n, 1500.0, 30.0) for n in range(1, 21)]  # 5 minutes at 2%
    figures = burn(rows, 600, 0.999, 30 * 86400)
    assert figures["burn_rate"] == pytest.approx(20.0)  # 2% against 0.1%
    assert figures["availability"] == pytest.approx(0.99)
    # 600 errors of a budget of 0.1% of 100 requests/s over 30 days
    assert figures["budget_burned"] == pytest.approx(600 / (0.001 * 100 * 30 * 86400), abs=1e-6)
    assert burn([], 0, 0.999, 86400) == {
        "availability": None,
        "burn_rate": None,
        "burn_window_s": 300.0,
        "budget_burned": None,
    }


def test_alert_spans_from_the_timeline():
    def event(t, name, reason):
        return {"t": t, "kind": "Alert", "name": name, "reason": reason, "message": "", "type": "Normal"}

    events = [
        event(100, "A", "AlertPending"),
        event(160, "A", "AlertFiring"),
        event(200, "B", "AlertPending"),
        event(400, "A", "AlertResolved"),
        {"t": 401, "kind": "Pod", "name": "p", "reason": "Killing", "message": "", "type": "Normal"},
    ]
    assert alert_spans(events, 600) == [
        ("A", 100, 160, "pending"),
        ("A", 160, 400, "firing"),
        ("B", 200, 600, "pending"),
    ]

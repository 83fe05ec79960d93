"""`simdeploy gameday`: a scripted team against a real game-day process — two players and an observer with the
real kubectl and their own kubeconfigs — then the after-action report; interruption; bad files; validate."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from serve_helpers import KUBECTL, ROOT, needs_kubectl
from typer.testing import CliRunner

from simdeploy.apiserver.control_client import ControlClient
from simdeploy.cli import app
from simdeploy.scenario.gameday_loader import load_gameday
from simdeploy.sim.result import problems

NEW_IMAGE = "registry.example.com/payments-api:2.9.0"


def gameday_file(tmp_path: Path, **changes) -> Path:
    """A nine-minute game day on the rollback drills' world: the bad release hidden between 2m and 3m."""
    document = {
        "apiVersion": "simdeploy/v1alpha1",
        "kind": "GameDay",
        "metadata": {"name": "acceptance"},
        "drill": str(ROOT / "drills" / "rollback-undo.yaml"),
        "seed": 11,
        "speed": 40,
        "duration": "9m",
        "players": ["alice", "bao"],
        "observers": ["chris"],
        "faults": [
            {
                "name": "the quiet release",
                "window": {"from": "2m", "to": "3m"},
                "actions": [
                    {"action": "set-image", "deployment": "payments-api", "container": "api", "image": NEW_IMAGE},
                    {"action": "enable-flag", "flag": "new-checkout-flow"},
                ],
            }
        ],
        "predict": {"seeds": 3},
        **changes,
    }
    path = tmp_path / "acceptance.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


class GameDayProcess:
    """`simdeploy gameday` as a subprocess; its stdout read on a thread; the kubeconfigs it hands out, by name."""

    def __init__(self, path: Path, tmp_path: Path, *options: str):
        self.tmp_path = tmp_path
        command = [sys.executable, "-m", "simdeploy", "gameday", str(path), *options]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.kubeconfigs: dict[str, Path] = {}
        ready = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                if "export KUBECONFIG=" in line:
                    who, _, where = line.partition(": export KUBECONFIG=")
                    self.kubeconfigs[who.split()[-1].strip("()")] = Path(where.strip())
                    if who.startswith("facilitator"):
                        ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        assert ready.wait(60), self.process.stderr.read() if self.process.poll() is not None else "no kubeconfigs"
        assert {"alice", "bao", "chris", "ctl"} <= set(self.kubeconfigs), self.lines

    def kubectl(self, who: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        config = self.kubeconfigs["ctl" if who == "admin" else who]
        command = [KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(self.tmp_path / f"cache-{who}"), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert not check or done.returncode == 0, (args, done.stderr)
        return done

    def now(self) -> float:
        return ControlClient(self.kubeconfigs["ctl"]).clock()["now_s"]

    def wait_until(self, moment: float) -> None:
        deadline = time.monotonic() + 60
        while self.now() < moment:
            assert time.monotonic() < deadline, f"the clock never reached {moment}"
            time.sleep(0.1)

    def clock(self, paused: bool, speed: float | None = None) -> None:
        ControlClient(self.kubeconfigs["ctl"]).set_clock(speed, paused)  # what `simdeploy ctl pause|speed` do


@needs_kubectl
def test_a_scripted_team_plays_a_game_day_and_the_report_attributes_every_command(tmp_path):
    path = gameday_file(tmp_path)
    fault = load_gameday(path).faults[0].at  # the facilitator's plan, drawn from the seed
    assert 120 <= fault <= 180
    report, document_path = tmp_path / "after.html", tmp_path / "after.json"
    # Slowly at first (the facilitator speeds it up with `simdeploy ctl speed` once the team has looked around).
    game = GameDayProcess(path, tmp_path, "--report", str(report), "--json", str(document_path), "--speed", "5")
    try:
        # Before the fault (the clock held while the team looks around): no trace of it anywhere a player can look.
        game.clock(paused=True)
        assert game.now() < fault
        for args in (
            ("get", "events", "-A", "-o", "json"),
            ("get", "deployments,replicasets,pods", "-A", "-o", "json"),
            ("get", "--raw", "/simdeploy/v1/timeline"),
        ):
            seen = game.kubectl("alice", *args).stdout
            assert "2.9.0" not in seen and "new-checkout-flow" not in seen and "quiet release" not in seen
        for config in game.kubeconfigs.values():
            text = config.read_text()
            assert "2.9.0" not in text and "quiet" not in text and "new-checkout-flow" not in text
            assert stat.S_IMODE(config.stat().st_mode) == 0o600
        game.clock(paused=False, speed=40)
        # After the fault: the cluster's reaction shows; the facilitator's narration of it only to the facilitator.
        game.wait_until(fault + 30)
        game.kubectl("alice", "get", "pods", "-n", "production")
        players_events = game.kubectl("alice", "get", "events", "-n", "production").stdout
        admins_events = game.kubectl("admin", "get", "events", "-A").stdout
        assert "ScalingReplicaSet" in players_events
        assert "new-checkout-flow" not in players_events and "image updated" not in players_events
        assert "new-checkout-flow" in admins_events
        game.wait_until(fault + 150)  # the page came at about fault + 1m45
        game.kubectl("bao", "rollout", "undo", "deployment/payments-api", "-n", "production")
        refused = game.kubectl(
            "chris", "scale", "deployment/payments-api", "--replicas=3", "-n", "production", check=False
        )
        assert refused.returncode != 0
        assert 'User "chris" cannot patch resource "deployments/scale"' in refused.stderr
        pod = game.kubectl("chris", "get", "pods", "-n", "production", "-o", "name").stdout.split()[0]
        deleted = game.kubectl("chris", "delete", pod, "-n", "production", "--wait=false", check=False)
        assert deleted.returncode != 0 and "forbidden" in deleted.stderr
        game.wait_until(fault + 200)
        game.kubectl("alice", "scale", "deployment/payments-api", "--replicas=8", "-n", "production")
        game.process.wait(timeout=90)
    finally:
        game.process.kill()
        game.reader.join(timeout=10)
    assert game.process.returncode == 0, game.process.stderr.read()
    assert f"after-action report written to {report}" in game.lines
    document = json.loads(document_path.read_text())
    assert problems(document) == []
    gameday = document["gameday"]
    assert gameday["status"] == "completed" and gameday["faults"][0]["fired_s"] == fault
    # Each command, attributed to whoever typed it, with what it touched and whether it wrote.
    typed = [(c["user"], c["command"], c["wrote"], c["refused"]) for c in gameday["commands"]]
    assert ("alice", "kubectl get", False, False) in typed
    assert ("bao", "kubectl rollout undo", True, False) in typed
    assert ("chris", "kubectl scale", False, True) in typed
    assert ("chris", "kubectl delete", False, True) in typed
    assert ("alice", "kubectl scale", True, False) in typed
    assert not any(user == "admin" for user, *_ in typed)  # the facilitator's clock and looks are no commands
    undo = next(c for c in gameday["commands"] if c["command"] == "kubectl rollout undo")
    assert "deployments/payments-api" in undo["targets"] and undo["namespaces"] == ["production"]
    # The runbook: the undo was done, by bao; the history and the wait for the rollback nobody did.
    steps = {s["name"]: s for s in gameday["steps"]}
    assert steps["roll back to the previous revision"]["done_by"]["user"] == "bao"
    assert gameday["missed"] == ["look at the rollout history", "wait for the rollback to finish"]
    # The incident: detected after the fault, acknowledged by the first player at work, mitigated after the undo.
    incident = gameday["incident"]
    assert incident["fault_s"] == fault < incident["trigger_s"] < fault + 150
    first = next(c for c in gameday["commands"] if c["user"] == "alice" and c["at_s"] >= fault)
    assert gameday["acknowledged_by"] == {"user": "alice", "command": "kubectl get", "at_s": incident["acknowledged_s"]}
    assert gameday["acknowledged_how"] == "first command"  # nobody acknowledged the page itself
    assert incident["acknowledged_s"] == max(first["at_s"], incident["trigger_s"])  # never before the page
    assert undo["at_s"] < incident["mitigated_s"] <= incident["recovered_s"]
    assert incident["errors"] > 0 and incident["error_budget_burned"] > 0
    predicted = gameday["predicted"]
    assert predicted["runs"] == 3 and predicted["figures"]["time_to_mitigate_s"]["p50"] > 0
    # The report: every command in a row with its person, the fault revealed, the steps nobody did.
    html = report.read_text()
    for user, command in (("alice", "kubectl get"), ("bao", "kubectl rollout undo"), ("chris", "kubectl scale")):
        assert f"<td>{user}</td>" in html and command in html
    assert "data:image/png;base64," in html and "the quiet release" in html
    missed = html.split("What the runbook expected but nobody did", 1)[1].split("</ul>", 1)[0]
    assert "look at the rollout history" in missed and "roll back" not in missed


def ctl_flag(game: GameDayProcess, who: str, switch: str) -> subprocess.CompletedProcess:
    """`simdeploy ctl flag SWITCH new-checkout-flow` typed by `who` with their own kubeconfig."""
    command = [sys.executable, "-m", "simdeploy", "ctl", "flag", switch, "new-checkout-flow"]
    return subprocess.run([*command, "--kubeconfig", str(game.kubeconfigs[who])], capture_output=True, text=True)


@needs_kubectl
def test_a_player_pulls_the_flag_on_the_flag_console_and_the_report_credits_them(tmp_path):
    path = gameday_file(tmp_path, drill=str(ROOT / "drills" / "rollback-flag-off.yaml"))
    fault = load_gameday(path).faults[0].at
    document_path = tmp_path / "after.json"
    game = GameDayProcess(path, tmp_path, "--report", str(tmp_path / "after.html"), "--json", str(document_path))
    try:
        game.wait_until(fault + 120)  # the page came at about fault + 1m45
        refused = ctl_flag(game, "chris", "disable")
        assert refused.returncode == 2 and 'User "chris" cannot post path' in refused.stderr
        pulled = ctl_flag(game, "alice", "disable")
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout.startswith("feature new-checkout-flow disabled in production")
        game.process.wait(timeout=90)
    finally:
        game.process.kill()
        game.reader.join(timeout=10)
    assert game.process.returncode == 0, game.process.stderr.read()
    gameday = json.loads(document_path.read_text())["gameday"]
    typed = [(c["user"], c["command"], c["targets"], c["wrote"], c["refused"]) for c in gameday["commands"]]
    assert typed == [
        ("chris", "simdeploy ctl flag", ["features/new-checkout-flow"], False, True),
        ("alice", "simdeploy ctl flag", ["features/new-checkout-flow"], True, False),
    ]
    step = next(s for s in gameday["steps"] if s["name"] == "turn the new checkout flow off")
    assert step["status"] == "done" and step["done_by"]["user"] == "alice"
    assert step["done_by"]["command"] == "disable-flag new-checkout-flow"
    incident = gameday["incident"]
    assert gameday["acknowledged_by"]["user"] == "alice"  # the observer's refused try acknowledges nothing
    assert step["done_by"]["at_s"] < incident["mitigated_s"]  # the SDKs polled, the errors stopped
    # The document alone gives the after-action report again, byte for byte.
    again = tmp_path / "again.html"
    rendered = CliRunner().invoke(app, ["report", "--from", str(document_path), "-o", str(again)])
    assert rendered.exit_code == 0 and rendered.output == f"after-action report written to {again}\n"
    assert again.read_bytes() == (tmp_path / "after.html").read_bytes()


@needs_kubectl
def test_an_interrupted_game_day_exits_130_and_still_writes_its_report(tmp_path):
    path = gameday_file(tmp_path, duration="30m", speed=5, predict={"seeds": 1})
    report = tmp_path / "after.html"
    game = GameDayProcess(path, tmp_path, "--report", str(report), "--kubeconfig-dir", str(tmp_path / "kc"))
    try:
        game.kubectl("bao", "get", "deployments", "-n", "production")
        game.process.send_signal(signal.SIGINT)
        game.process.wait(timeout=60)
    finally:
        game.process.kill()
        game.reader.join(timeout=10)
    assert game.process.returncode == 130
    html = report.read_text()
    assert "(interrupted)" in html and "<td>bao</td>" in html
    assert sorted(p.name for p in (tmp_path / "kc").iterdir()) == [
        "admin.kubeconfig",
        "alice.kubeconfig",
        "bao.kubeconfig",
        "chris.kubeconfig",
    ]


def test_a_bad_game_day_file_exits_2_naming_the_field_and_writes_nothing(tmp_path):
    path = gameday_file(tmp_path, faults=[{"at": "1m", "action": "fail-node", "node": "node-9"}])
    result = CliRunner().invoke(app, ["gameday", str(path), "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "invalid game day" in result.output and "faults[0].node: no node 'node-9'" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acceptance.yaml"]


def test_validate_lists_the_plan_with_its_windows_but_never_the_drawn_moments():
    result = CliRunner().invoke(app, ["validate", str(ROOT / "drills" / "gameday-payments.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "game day gameday-payments" in result.output
    assert "within 3:00.0-8:00.0" in result.output
    drawn = load_gameday(ROOT / "drills" / "gameday-payments.yaml").faults[0].at
    from simdeploy.k8s.duration import format_clock

    assert format_clock(drawn) not in result.output

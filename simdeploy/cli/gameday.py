"""`simdeploy gameday`: the simulation served to a team as a cluster, the facilitator's faults hidden in it, a live
scoreboard, and the after-action report."""

from __future__ import annotations

from pathlib import Path

import typer

from simdeploy.cli.app import EXIT_INTERRUPTED, app, console, errors, fail
from simdeploy.cli.files import check_output, load_file, write_atomically, write_json_atomically

PLAIN_EVERY = 10.0  # wall seconds between status lines when stdout is not a terminal
REFRESH = 1.0  # wall seconds between two looks at the session


def load_gameday_file(path: Path):
    """The validated game day at `path`; on bad input, print every problem and exit 2."""
    from simdeploy.scenario.gameday_loader import load_gameday

    return load_file(path, "game day", load_gameday)


def validate_gameday(path: Path) -> None:
    """`simdeploy validate` of a game day: its world, the faults (windows, never the drawn moments), the people."""
    from rich.markup import escape
    from rich.table import Table

    from simdeploy.k8s.duration import format_clock
    from simdeploy.scenario.build import describe

    item = load_gameday_file(path)
    runbook = "no runbook" if item.drill is None else f"runbook {item.drill.runbook.name or item.drill.name}"
    console.print(
        f"[green]valid[/green] {escape(str(path))}: game day {escape(item.name)} on scenario "
        f"{escape(item.world.name)} ({format_clock(item.duration)} at {item.spec.speed:g}x), {escape(runbook)}",
        soft_wrap=True,
    )
    faults = Table("#", "FAULT", "WHEN", "ACTIONS", title="faults (hidden)", title_justify="left", box=None)
    for number, (spec, fault) in enumerate(zip(item.spec.faults, item.faults, strict=True), start=1):
        when = (
            f"at {format_clock(fault.at)}"
            if spec.window is None
            else f"within {format_clock(spec.window.from_)}-{format_clock(spec.window.to)}"
        )
        faults.add_row(str(number), escape(fault.name), when, escape("; ".join(describe(a) for a in fault.actions)))
    console.print(faults)
    console.print(f"players: {', '.join(item.spec.players)}", highlight=False, markup=False)
    console.print(f"observers: {', '.join(item.spec.observers) or 'none'}", highlight=False, markup=False)


@app.command()
def gameday(
    path: Path = typer.Argument(..., help="Game-day file (YAML)."),
    kubeconfig_dir: Path | None = typer.Option(
        None,
        metavar="DIR",
        help="Write DIR/<name>.kubeconfig for every person and the facilitator "
        "(default: <game day>-kubeconfigs beside the report).",
    ),
    report: Path | None = typer.Option(
        None, help="The after-action report (HTML; default: <game day>-after-action.html here)."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the after-action document (JSON) here."),
    reveal: bool = typer.Option(False, "--reveal", help="Show the facilitator's hidden plan on the scoreboard."),
    speed: float | None = typer.Option(None, help="Simulated seconds per wall second (default: the file's)."),
    port: int = typer.Option(0, help="TCP port (default: any free port)."),
    address: str = typer.Option("127.0.0.1", help="Address to bind; loopback only unless you say otherwise."),
    last: int = typer.Option(5, help="Commands shown per person on the scoreboard."),
) -> None:
    """Run a game day: serve the world to the players and observers (one kubeconfig each), fire the hidden faults,
    show a live scoreboard until the end (or Ctrl-C), then write the after-action report."""
    from simdeploy.apiserver.clock import check_speed
    from simdeploy.apiserver.server import ListenError, is_loopback

    if speed is not None:
        try:
            check_speed(speed)
        except ValueError as error:
            raise fail(f"--speed: {error}") from None
    if last < 0:
        raise fail("--last must not be negative")
    item = load_gameday_file(path)
    report = report or Path(f"{item.name}-after-action.html")
    check_output(report, "--report", {".html"})
    check_output(json_path, "--json")
    kubeconfig_dir = kubeconfig_dir or report.parent / f"{item.name}-kubeconfigs"
    if kubeconfig_dir.exists() and not kubeconfig_dir.is_dir():
        raise fail(f"--kubeconfig-dir: {kubeconfig_dir} is not a directory")
    if not is_loopback(address):
        errors.print(
            f"warning: --address {address or '(every interface)'} is not loopback: the API can be reached from "
            "the network, guarded only by the tokens in the kubeconfigs",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    from simdeploy.gameday.session import GameDaySession

    session = GameDaySession(item, kubeconfig_dir, speed, address, port)
    try:
        session.start()
    except ListenError as error:
        raise fail(f"--address/--port: {error}") from None
    except OSError as error:
        raise fail(f"cannot start the game day: {error}") from None
    interrupted = _play(session, reveal, last)
    _finish(session, interrupted, report, json_path)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _play(session, reveal: bool, last: int) -> bool:
    """Serve until the game day's end or a signal; True when a signal (Ctrl-C, SIGTERM) ended it."""
    import signal
    import threading
    import time

    from rich.live import Live

    from simdeploy.k8s.duration import format_clock
    from simdeploy.report.scoreboard import board, changes, plan_lines, status_line

    server, gameday = session.server, session.gameday
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        _say(
            f"game day {gameday.name}: serving {gameday.world.name} at {server.url} ({server.clock.speed:g}x) "
            f"until {format_clock(gameday.duration)} simulated"
        )
        for user in server.users.all[1:]:
            _say(f"{user.role} {user.name}: export KUBECONFIG={server.kubeconfigs[user.name]}")
        _say(f"facilitator (simdeploy ctl): export KUBECONFIG={server.kubeconfigs['admin']}")
        if reveal:
            for line in plan_lines(session.snapshot()):
                _say(line)
        console.file.flush()
        if console.is_terminal:
            with Live(board(session.snapshot(), reveal, last), console=console, auto_refresh=False) as view:
                while not stop.wait(REFRESH) and not session.over:
                    view.update(board(session.snapshot(), reveal, last), refresh=True)
                view.update(board(session.snapshot(), reveal, last), refresh=True)
        else:
            before, next_status = None, time.monotonic() + PLAIN_EVERY
            while True:
                ended = stop.wait(REFRESH) or session.over
                snapshot = session.snapshot()
                for line in changes(before, snapshot, reveal):
                    _say(line)
                before = snapshot
                if ended or time.monotonic() >= next_status:
                    next_status = time.monotonic() + PLAIN_EVERY
                    _say(status_line(snapshot))
                console.file.flush()
                if ended:
                    break
    finally:
        session.stop()
        for signum, handler in previous.items():  # a second Ctrl-C, while the report is made, stops at once
            signal.signal(signum, handler)
    return stop.is_set()


def _finish(session, interrupted: bool, report: Path, json_path: Path | None) -> None:
    """The after-action document and report: predictions, figures, written atomically; a summary printed."""
    from simdeploy.gameday.document import after_action, predict
    from simdeploy.k8s.duration import format_clock, format_duration
    from simdeploy.report.gameday import render_gameday_report

    gameday = session.gameday
    status = "interrupted" if interrupted else "completed"
    _say(f"game day {status} at {format_clock(session.sim.now)} simulated")
    if gameday.drill is not None:
        _say(f"predicting the runbook's figures: the drill over {gameday.spec.predict.seeds} seeds")
    document = after_action(session, status, predict(gameday))
    section = document["gameday"]
    for fault in section["faults"]:
        fired = "did not fire" if fault["fired_s"] is None else f"fired at {format_clock(fault['fired_s'])}"
        _say(f"the fault: {fault['name']} ({'; '.join(fault['actions'])}), {fired}")
    incident = section["incident"]
    for key, label in (("time_to_detect_s", "detected"), ("time_to_mitigate_s", "mitigated")):
        value = incident[key]
        _say(f"{label}: {'never' if value is None else format_duration(value) + ' after the fault'}")
    if section["missed"]:
        _say(f"runbook steps nobody did: {', '.join(section['missed'])}")
    if json_path is not None:
        write_json_atomically(json_path, document)
        _say(f"after-action document written to {json_path}")
    html = render_gameday_report(document)
    write_atomically(report, lambda stream: stream.write(html))
    _say(f"after-action report written to {report}")

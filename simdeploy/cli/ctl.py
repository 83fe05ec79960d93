"""`simdeploy ctl`: a game-day facilitator's hands on a running `simdeploy serve` (clock, faults, timeline), and
what anyone with a player's kubeconfig may use: the flag console (`ctl flag`), the page (`ctl page`, `ctl ack`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from simdeploy.cli.app import app, console, fail

ctl = typer.Typer(
    help="Facilitate a game day on a running `simdeploy serve`: the clock, faults injected now, the timeline; "
    "and, as a player, flags and the page.",
    no_args_is_help=True,
)
app.add_typer(ctl, name="ctl")
KUBECONFIG_OPTION = typer.Option(None, "--kubeconfig", help="The kubeconfig serve wrote (default: $KUBECONFIG).")


def _control(kubeconfig: Path | None, call, command: str | None = None):
    from simdeploy.apiserver.control_client import ControlClient, ControlError

    try:
        return call(ControlClient(kubeconfig, command=command))
    except ControlError as error:
        raise fail(str(error)) from None


def _print_clock(clock: dict) -> None:
    state = "paused" if clock["paused"] else f"{clock['speed']:g}x"
    console.print(f"simulated time {clock['now']} ({clock['now_s']:g}s), {state}", highlight=False, markup=False)


@ctl.command("status")
def ctl_status(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Show the simulated time and the speed."""
    _print_clock(_control(kubeconfig, lambda c: c.clock()))


@ctl.command("pause")
def ctl_pause(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Stop simulated time (requests are still answered, the cluster holds still)."""
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(paused=True)))


@ctl.command("resume")
def ctl_resume(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Let simulated time run again at the speed it had."""
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(paused=False)))


@ctl.command("speed")
def ctl_speed(
    speed: float = typer.Argument(..., help="Simulated seconds per wall-clock second."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Change how fast simulated time runs."""
    from simdeploy.apiserver.clock import check_speed

    try:
        speed = check_speed(speed)
    except ValueError as error:
        raise fail(f"speed: {error}") from None
    _print_clock(_control(kubeconfig, lambda c: c.set_clock(speed=speed)))


@ctl.command("do")
def ctl_do(
    action: str = typer.Argument(
        ..., help='A timeline action without `at`, in YAML: "{action: delete-pods, selector: app=api, count: 2}".'
    ),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Run one timeline action now: kill pods, make a version fail, drain or fail a node, set weights, ..."""
    import yaml

    from simdeploy.k8s.duration import format_duration

    try:
        document = yaml.safe_load(action)
    except yaml.YAMLError as error:
        raise fail(f"action: {error}") from None
    if not isinstance(document, dict):
        raise fail("action: expected a mapping such as {action: drain, node: node-1}")
    done = _control(kubeconfig, lambda c: c.run_action(document))
    say = dict(highlight=False, markup=False, soft_wrap=True)
    console.print(f"{format_duration(done['at_s'])}  {done['action']}: {done['message']}", **say)
    for event in done["events"]:
        console.print(f"  {event['kind']}/{event['name']}  {event['reason']}  {event['message']}", **say)


@ctl.command("flag")
def ctl_flag(
    switch: str = typer.Argument(..., help="enable or disable.", metavar="enable|disable"),
    name: str = typer.Argument(..., help="The feature flag, as Unleash names it."),
    project: str = typer.Option("default", help="The Unleash project of the flag."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Turn a feature flag on or off through Unleash's Admin API on serve, as yourself (players may; observers not)."""
    if switch not in ("enable", "disable"):
        raise fail(f"flag: {switch!r}: use enable or disable")
    feature = _control(kubeconfig, lambda c: c.switch_flag(name, switch == "enable", project), "simdeploy ctl flag")
    environment = feature["environments"][0]
    state = "enabled" if environment["enabled"] else "disabled"
    console.print(
        f"feature {feature['name']} {state} in {environment['name']} (project {feature['project']}); "
        "the pods' SDKs see it as they poll",
        highlight=False,
        markup=False,
    )


def _page_text(page: dict) -> str:
    """`the page (alert X firing, 3:45.0)`."""
    from simdeploy.k8s.duration import format_clock

    return f"the page ({page['why']}, {format_clock(page['triggered_s'])})"


@ctl.command("page")
def ctl_page(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Show a game day's page: whether anybody has been paged, why and when, and who acknowledged it."""
    from simdeploy.k8s.duration import format_clock

    page = _control(kubeconfig, lambda c: c.page(), "simdeploy ctl page")
    if page["state"] == "none":
        text = "page: none (nobody has been paged yet)"
    elif page["state"] == "triggered":
        text = f"page: triggered at {format_clock(page['triggered_s'])} ({page['why']}), not acknowledged"
    else:
        text = (
            f"page: acknowledged by {page['acknowledged_by']} at {format_clock(page['acknowledged_s'])} "
            f"(triggered at {format_clock(page['triggered_s'])}: {page['why']})"
        )
    console.print(text, highlight=False, markup=False, soft_wrap=True)


@ctl.command("ack")
def ctl_ack(kubeconfig: Path | None = KUBECONFIG_OPTION) -> None:
    """Acknowledge a game day's page as yourself (players and the facilitator may; observers not)."""
    from simdeploy.k8s.duration import format_clock

    def acknowledge(client) -> tuple[dict, str]:
        return client.acknowledge_page(), client.user

    page, me = _control(kubeconfig, acknowledge, "simdeploy ctl ack")
    when, who = format_clock(page["acknowledged_s"]), page["acknowledged_by"]
    if who == me:
        text = f"acknowledged {_page_text(page)} at {when} as {me}"
    else:  # the first acknowledgement stands, as in PagerDuty
        text = f"{_page_text(page)} was already acknowledged by {who} at {when}"
    console.print(text, highlight=False, markup=False, soft_wrap=True)


@ctl.command("timeline")
def ctl_timeline(
    since: str = typer.Option("0s", help="Only events from this simulated time on (e.g. 2m)."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
) -> None:
    """Print the events so far, as `simdeploy run` prints them."""
    from rich.markup import escape

    from simdeploy.k8s.duration import format_duration, parse_duration

    try:
        start = parse_duration(since)
    except ValueError as error:
        raise fail(f"--since: {error}") from None
    timeline = _control(kubeconfig, lambda c: c.timeline())
    table = Table("T", "KIND", "NAME", "REASON", "MESSAGE", box=None, title_justify="left")
    for event in timeline["events"]:
        if event["t"] >= start:
            cells = (event["kind"], event["name"], event["reason"], event["message"])
            table.add_row(format_duration(event["t"]), *(escape(str(c)) for c in cells))
    console.print(table)
    console.print(f"now {format_duration(timeline['now_s'])}", highlight=False)

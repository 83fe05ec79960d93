"""The kubeconfig that points kubectl at the server: one cluster, user and context `simdeploy-<scenario>`."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import yaml


def kubeconfig(name: str, server: str, token: str, ca_pem: bytes) -> dict:
    context = f"simdeploy-{name}"
    # The session's CA goes in as certificate-authority-data, as kubeadm writes admin.conf: clients verify
    # the server and send the token to no other (client-go: k8s.io/client-go/tools/clientcmd/api/types.go).
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
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

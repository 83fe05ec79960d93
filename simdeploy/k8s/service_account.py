"""What the ServiceAccount admission plugin adds to a pod: its service account, and the projected volume with
the account's token, the cluster's CA and the namespace, mounted in every container
(plugin/pkg/admission/serviceaccount/admission.go)."""

from __future__ import annotations

import zlib

TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_SECONDS = 3607  # the kube-apiserver's default for the projected token (an hour, plus skew)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def volume_name(owner: str) -> str:
    """kube-api-access-<5 characters>: upstream draws them at random per pod; here one per owner, derived from
    its name, so that the pods of a ReplicaSet share one pod spec (and the same owner gets the same name)."""
    value = zlib.crc32(owner.encode())
    chars = []
    for _ in range(5):
        value, digit = divmod(value, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "kube-api-access-" + "".join(chars)


def with_service_account(spec: dict, volume: str) -> dict:
    """A copy of a pod spec as admission leaves it: the default service account, and the token volume mounted
    in each container unless `automountServiceAccountToken: false` or a volume is already mounted there."""
    spec = dict(spec)
    spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("automountServiceAccountToken") is False:
        return spec
    spec["volumes"] = [*(spec.get("volumes") or []), _projected(volume)]
    mount = {"name": volume, "readOnly": True, "mountPath": TOKEN_MOUNT}
    spec["containers"] = [
        c
        if any(m.get("mountPath") == TOKEN_MOUNT for m in c.get("volumeMounts") or [])
        else {**c, "volumeMounts": [*(c.get("volumeMounts") or []), mount]}
        for c in spec.get("containers") or []
    ]
    return spec


def _projected(name: str) -> dict:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }

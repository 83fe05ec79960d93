"""A Kubernetes API client for the drill runner: plain JSON requests and watch streams for one kubeconfig context.

The official client does the connecting (the kubeconfig's server, CA, token or client certificate); objects stay
the API's JSON, as everywhere else in simdeploy, rather than the client's generated models.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import urllib3
import yaml
from kubernetes import config as kube_config

# Kind -> (API path prefix, plural, namespaced): the kinds a drill touches.
RESOURCES = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "Pod": ("/api/v1", "pods", True),
    "Service": ("/api/v1", "services", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Event": ("/api/v1", "events", True),
    "Endpoints": ("/api/v1", "endpoints", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "Rollout": ("/apis/argoproj.io/v1alpha1", "rollouts", True),
    "AnalysisTemplate": ("/apis/argoproj.io/v1alpha1", "analysistemplates", True),
}


class KubeError(RuntimeError):
    """The API server answered with an error Status (or could not be reached)."""

    def __init__(self, code: int, message: str, reason: str = ""):
        self.code = code
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Context:
    """A kubeconfig context: its name, the file it is in, and the server it points at."""

    name: str
    kubeconfig: Path
    server: str
    namespace: str | None


def contexts(kubeconfig: Path) -> dict[str, Context]:
    """The contexts of a kubeconfig file, by name; KubeError (code 0) when the file cannot be read."""
    try:
        document = yaml.safe_load(Path(kubeconfig).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise KubeError(0, f"cannot read kubeconfig {kubeconfig}: {error}") from None
    if not isinstance(document, dict):
        raise KubeError(0, f"cannot read kubeconfig {kubeconfig}: not a kubeconfig")
    clusters = {c.get("name"): c.get("cluster") or {} for c in document.get("clusters") or [] if isinstance(c, dict)}
    found = {}
    for entry in document.get("contexts") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        context = entry.get("context") or {}
        server = clusters.get(context.get("cluster"), {}).get("server", "")
        found[entry["name"]] = Context(entry["name"], Path(kubeconfig), server, context.get("namespace"))
    return found


class KubeClient:
    """JSON requests to the API server of one context."""

    def __init__(self, context: Context, timeout: float = 30.0):
        self.context = context
        self.timeout = timeout
        self.api = kube_config.new_client_from_config(config_file=str(context.kubeconfig), context=context.name)
        self._streams: set = set()  # open watch streams, closed by close_streams()
        self._lock = threading.Lock()

    # -- requests ---------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        query: dict | None = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> dict:
        """One request; its JSON answer, or KubeError with the Status's message."""
        response = self._send(method, path, body, query, content_type, stream=False)
        data = response.data
        document = _json(data)
        if response.status not in ok:
            message = document.get("message") if isinstance(document, dict) else None
            reason = document.get("reason", "") if isinstance(document, dict) else ""
            raise KubeError(response.status, message or data.decode(errors="replace")[:300], reason)
        return document if isinstance(document, dict) else {}

    def raw(self, method: str, path: str, query: dict | None = None) -> tuple[int, dict, bytes]:
        """Status, headers and body of a request whose answer is not an API object (the Service proxy)."""
        response = self._send(method, path, None, query, "application/json", stream=False)
        return response.status, dict(response.headers), response.data

    def watch(self, kind: str, namespace: str | None, resource_version: str, timeout: int = 300) -> Iterator[dict]:
        """The watch events of a kind after a resourceVersion: {type, object}, until the server ends the stream."""
        query = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(timeout)}
        response = self._send("GET", self.collection(kind, namespace), None, query, "application/json", stream=True)
        with self._lock:
            self._streams.add(response)
        try:
            if response.status != 200:
                raise KubeError(response.status, response.data.decode(errors="replace")[:300])
            buffer = b""
            for chunk in response.stream(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            with self._lock:
                self._streams.discard(response)
            response.release_conn()

    def close_streams(self) -> None:
        """End every open watch stream now (their readers see the end of the stream)."""
        with self._lock:
            streams = list(self._streams)
        for response in streams:
            try:
                response.shutdown()
            except OSError:
                pass

    # -- paths ------------------------------------------------------------------------------------------------

    def collection(self, kind: str, namespace: str | None = None) -> str:
        prefix, plural, namespaced = RESOURCES[kind]
        if namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{plural}"
        return f"{prefix}/{plural}"

    def path(self, kind: str, namespace: str | None, name: str) -> str:
        return f"{self.collection(kind, namespace)}/{name}"

    # -- conveniences -----------------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        try:
            return self.request("GET", self.path(kind, namespace, name))
        except KubeError as error:
            if error.code == 404:
                return None
            raise

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> dict:
        return self.request(
            "GET", self.collection(kind, namespace), query={"labelSelector": selector} if selector else None
        )

    def create(self, obj: dict) -> dict:
        meta = obj.get("metadata") or {}
        return self.request("POST", self.collection(obj["kind"], meta.get("namespace")), body=obj)

    def patch(self, kind: str, namespace: str | None, name: str, patch: object, patch_type: str = "merge") -> dict:
        types = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
        }
        return self.request("PATCH", self.path(kind, namespace, name), body=patch, content_type=types[patch_type])

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        try:
            self.request("DELETE", self.path(kind, namespace, name))
        except KubeError as error:
            if error.code != 404:
                raise

    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None, sub: str = "") -> bool:
        """What a SelfSubjectAccessReview answers for this identity."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": namespace or "",
                    "subresource": sub,
                }
            },
        }
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: object, query: dict | None, content_type: str, stream: bool):
        url = self.api.configuration.host + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "Content-Type": content_type}
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
        data = None if body is None else json.dumps(body).encode()
        timeout = urllib3.Timeout(connect=10.0, read=None if stream else self.timeout)
        try:
            return self.api.rest_client.pool_manager.request(
                method, url, body=data, headers=headers, preload_content=not stream, timeout=timeout, retries=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise KubeError(0, f"cannot reach the API server at {self.api.configuration.host}: {error}") from None


def _json(data: bytes) -> object:
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return None

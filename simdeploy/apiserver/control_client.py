"""The client side of the facilitator's endpoints, for `simdeploy ctl`: reads the kubeconfig `serve` wrote."""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import yaml

USER_AGENT = "simdeploy-ctl"


class ControlError(RuntimeError):
    """The server refused (its Status message), or could not be reached."""


class ControlClient:
    """Talks to one `simdeploy serve`, found through the current context of a kubeconfig."""

    def __init__(self, kubeconfig: Path | None = None, timeout: float = 10, command: str | None = None):
        """`command` names what the person typed (`simdeploy ctl flag`): sent with a session id as kubectl sends
        its own (KEP-859's Kubectl-Command and Kubectl-Session), so a game day reads its requests as one command."""
        self.command, self.session = command, uuid.uuid4().hex if command else None
        path = kubeconfig or Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser()
        try:
            config = yaml.safe_load(path.read_text())
            context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
            cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
            self.server = cluster["server"]
            self.token = next(u["user"]["token"] for u in config["users"] if u["name"] == context["user"])
            self.user = context["user"].split("@", 1)[0]  # serve names it `<user>@simdeploy-<scenario>`
            self._tls = _tls_context(cluster)
        except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError, StopIteration) as error:
            raise ControlError(f"{path}: not a kubeconfig written by `simdeploy serve` ({error!r})") from None
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        if self.command:
            headers |= {"Kubectl-Command": self.command, "Kubectl-Session": self.session}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.server + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, context=self._tls, timeout=self.timeout) as answer:
                data = answer.read()
                return json.loads(data) if data else {}  # Unleash answers a switched flag with an empty 200
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("message", error.reason)
            except ValueError:
                message = error.reason
            raise ControlError(f"{error.code}: {message}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ControlError(f"cannot reach {self.server}: {getattr(error, 'reason', error)}") from None

    def clock(self) -> dict:
        return self.request("GET", "/simdeploy/v1/clock")

    def set_clock(self, speed: float | None = None, paused: bool | None = None) -> dict:
        change = {k: v for k, v in (("speed", speed), ("paused", paused)) if v is not None}
        return self.request("PATCH", "/simdeploy/v1/clock", change)

    def run_action(self, action: dict) -> dict:
        return self.request("POST", "/simdeploy/v1/actions", action)

    def timeline(self) -> dict:
        return self.request("GET", "/simdeploy/v1/timeline")

    def page(self) -> dict:
        """A game day's page: state (none, triggered, acknowledged), triggered_s, why, acknowledged_s and _by."""
        return self.request("GET", "/simdeploy/v1/page")

    def acknowledge_page(self) -> dict:
        """Acknowledge the page as this kubeconfig's user; the page after (the first acknowledgement stands)."""
        return self.request("POST", "/simdeploy/v1/page/acknowledge", {})

    def switch_flag(self, name: str, on: bool, project: str = "default") -> dict:
        """Turn a feature on or off through the flag console (Unleash's Admin API); the feature as it is now."""
        feature_path = f"/unleash/api/admin/projects/{quote(project, safe='')}/features/{quote(name, safe='')}"
        environment = self.request("GET", feature_path)["environments"][0]["name"]
        self.request("POST", f"{feature_path}/environments/{quote(environment, safe='')}/{'on' if on else 'off'}")
        return self.request("GET", feature_path)


def _tls_context(cluster: dict) -> ssl.SSLContext:
    """Verify the server as kubectl would from this cluster entry: against its CA, else the system's."""
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"], validate=True).decode("ascii")
        return ssl.create_default_context(cadata=ca)
    if cluster.get("certificate-authority"):
        return ssl.create_default_context(cafile=cluster["certificate-authority"])
    if cluster.get("insecure-skip-tls-verify") is True:
        return ssl._create_unverified_context()  # the kubeconfig's own choice
    return ssl.create_default_context()

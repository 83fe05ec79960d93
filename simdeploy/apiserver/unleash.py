"""The flag console of a served world: the part of Unleash's API a team uses during an incident, under /unleash/api.

- `GET client/features`: the state the SDKs poll (Unleash's Client API), as it is now.
- `GET admin/projects/P/features[/F]`: the features with their environment's state (Admin API).
- `POST admin/projects/P/features/F/environments/E/on|off`: turn a feature on or off, as the Unleash UI's
  toggle does; the pods' SDKs see it as they poll (`flags.propagation`), as after a `disable-flag` action.

A served world has one project, `default` (or the one a feature names), and one environment: the one its users
evaluate flags in (`flags.context.environment`, `production` by default). Tokens are the kubeconfig's, sent as
Unleash clients send them (`Authorization: <token>`) or as a bearer token; whose token it was is recorded with the
change, so a game day credits the player who pulled the kill switch. Errors are answered in Unleash's shape
({"name": "NotFoundError", "message": ...}). Paths and answers follow Unleash's OpenAPI document
(docs.getunleash.io, "Admin API: features").
"""

from __future__ import annotations

import copy

from simdeploy.apiserver import control
from simdeploy.apiserver.status import ApiError

PREFIX = ("unleash", "api")
DEFAULT_PROJECT = "default"


class UnleashError(Exception):
    """An error in Unleash's words: its HTTP code, its error name and message."""

    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    def document(self) -> dict:
        return {"name": self.name, "message": self.message, "details": [{"message": self.message}]}


def handle(api, method: str, parts: list[str], user: str) -> tuple[int, dict | None]:
    """Answer /unleash/api/<parts>: (code, JSON document, or None for an empty answer)."""
    try:
        return _route(api, method, parts, user)
    except UnleashError as error:
        return error.code, error.document()


def _route(api, method: str, parts: list[str], user: str) -> tuple[int, dict | None]:
    match parts, method:
        case ["client", "features"], "GET":
            with api.lock:
                return 200, client_state(api.sim)
        case ["admin", "projects", project, "features"], "GET":
            with api.lock:
                features = [f for f in _features(api.sim) if _project(f) == project]
                return 200, {"version": 1, "features": [_admin_feature(api.sim, f, strategies=False) for f in features]}
        case ["admin", "projects", project, "features", name], "GET":
            with api.lock:
                return 200, _admin_feature(api.sim, _feature(api.sim, project, name), strategies=True)
        case ["admin", "projects", project, "features", name, "environments", environment, switch], "POST":
            if switch not in ("on", "off"):
                raise _no_path()
            with api.lock:
                _feature(api.sim, project, name)
                _environment(api.sim, environment)
            change = {"action": "enable-flag" if switch == "on" else "disable-flag", "flag": name}
            try:
                control.run_action(api, change, by=user)
            except ApiError as error:
                raise UnleashError(error.code, "ValidationError", error.message) from None
            return 200, None
        case ["client", "features"] | ["admin", "projects", _, "features", *_], _:
            raise UnleashError(405, "MethodNotAllowedError", f"{method} is not allowed on this path")
    raise _no_path()


def _no_path() -> UnleashError:
    return UnleashError(404, "NotFoundError", "The path you were looking for is not available.")


def client_state(sim) -> dict:
    """What the SDKs fetch: {version, features[, segments]}, the flags as they are now."""
    if sim.flags is None:
        return {"version": 2, "features": []}
    return copy.deepcopy(sim.flags.state)


def served_environment(sim) -> str:
    """The environment the served users evaluate flags in."""
    contexts = sim.flags.contexts if sim.flags is not None else []
    return (contexts[0].get("environment") if contexts else None) or "production"


def _features(sim) -> list[dict]:
    return [] if sim.flags is None else sim.flags.state.get("features") or []


def _project(feature: dict) -> str:
    return feature.get("project") or DEFAULT_PROJECT


def _feature(sim, project: str, name: str) -> dict:
    found = next((f for f in _features(sim) if f.get("name") == name), None)
    if found is None or _project(found) != project:
        raise UnleashError(404, "NotFoundError", f"Could not find feature flag with name {name} in project {project}")
    return found


def _environment(sim, environment: str) -> None:
    if environment != served_environment(sim):
        raise UnleashError(404, "NotFoundError", f"Could not find environment with name: {environment}")


def _admin_feature(sim, feature: dict, strategies: bool) -> dict:
    """A feature as the Admin API shows it: its fields, and its state in the one environment."""
    environment = {"name": served_environment(sim), "enabled": bool(feature.get("enabled")), "type": "production"}
    if strategies:
        environment["strategies"] = copy.deepcopy(feature.get("strategies") or [])
    return {
        "name": feature["name"],
        "type": feature.get("type", "release"),
        "project": _project(feature),
        "description": feature.get("description") or "",
        "stale": bool(feature.get("stale", False)),
        "impressionData": bool(feature.get("impressionData", False)),
        "environments": [environment],
    }

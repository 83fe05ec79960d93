"""The facilitator's endpoints under /simdeploy/v1: the clock (pause, resume, speed), actions run now, the timeline;
a game day's page (page.py).

Actions use the scenario timeline's own syntax without `at` (`{"action": "delete-pods", "selector": "app=api",
"count": 2}`), so a fault rehearsed in a scenario file can be injected by hand during a game day.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import TypeAdapter, ValidationError

from simdeploy.apiserver import page
from simdeploy.apiserver.bodies import decode_body
from simdeploy.apiserver.clock import check_speed
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, no_route, not_found
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario import schema
from simdeploy.scenario.build import describe, operator_action
from simdeploy.scenario.limits import scale_problem
from simdeploy.sim.cluster.api import Invalid
from simdeploy.sim.cluster.kubectl import KubectlError

PREFIX = ("simdeploy", "v1")
_ACTION = TypeAdapter(schema.Action)


def handle(
    api, method: str, parts: list[str], body: bytes, hidden: Collection[int] = (), user: str | None = None
) -> tuple[int, dict]:
    """Answer /simdeploy/v1/<what> for `user`; `parts` is the path after the prefix; `hidden`: timeline events the
    caller is not shown (a game day's hidden faults)."""
    match parts, method:
        case ["clock"], "GET":
            return 200, clock_status(api)
        case ["clock"], "PATCH" | "POST" | "PUT":
            return 200, change_clock(api, decode_body(body))
        case ["actions"], "POST":
            return 201, run_action(api, decode_body(body), by=user)
        case ["timeline"], "GET":
            with api.lock:
                events = [e for n, e in enumerate(api.sim.recorder.events) if n not in hidden]
                return 200, {"now_s": round(api.sim.now, 3), "events": events}
        case ["clock" | "actions" | "timeline"], _:
            raise method_not_allowed(method)
        case ["page", *_], _:
            return page.handle(api, method, parts, body, user)
    raise no_route()


def clock_status(api) -> dict:
    now = api.sim.now
    clock = api.clock
    return {
        "now_s": round(now, 3),
        "now": format_duration(now),
        "speed": clock.speed,
        "paused": clock.paused,
        "limit_s": clock.limit,
    }


def change_clock(api, request: dict) -> dict:
    unknown = set(request) - {"speed", "paused"}
    if unknown:
        raise bad_request(f"clock: unknown field {sorted(unknown)[0]!r} (use speed, paused)")
    speed, paused = request.get("speed"), request.get("paused")
    if speed is not None:
        try:
            speed = check_speed(speed)
        except ValueError as error:
            raise bad_request(f"clock.speed: {error}") from None
    if paused is not None and not isinstance(paused, bool):
        raise bad_request(f"clock.paused: must be true or false, got {paused!r}")
    with api.lock:  # between two steps of the simulation: time stops where the cluster is
        api.clock.set_speed(speed=speed, paused=paused)
        return clock_status(api)


def run_action(api, request: dict, by: str | None = None) -> dict:
    """Run one timeline action at the current simulated time, by the user `by`; its events are the answer."""
    if "at" in request:
        raise bad_request("actions run now: leave out `at`")
    try:
        action = _ACTION.validate_python({**request, "at": 0})
        run = operator_action(action, api.namespace, by)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'action'}: {e['msg']}" for e in error.errors())
        raise ApiError(422, "Invalid", f"invalid action: {problems}") from None
    except ValueError as error:
        raise ApiError(422, "Invalid", f"invalid action: {error}") from None
    with api.lock:
        sim = api.sim
        check_references(sim, action, action.namespace or api.namespace)
        first = len(sim.recorder.events)
        try:
            message = run(sim)
        except KubectlError as error:
            if str(error).endswith(" not found"):  # kubectl's words for the API server's NotFound
                raise ApiError(404, "NotFound", f"{describe(action)}: {error}") from None
            raise ApiError(409, "Conflict", f"{describe(action)}: {error}") from None
        except Invalid as error:
            raise ApiError(422, "Invalid", f"{describe(action)}: {error}") from None
        return {
            "at_s": round(sim.now, 3),
            "action": describe(action),
            "message": message or "",
            "events": sim.recorder.events[first:],
        }


def check_references(sim, action: schema.ActionBase, namespace: str) -> None:
    """What the action names must exist now (404, as the API server says), and what it asks must fit (422).

    The scenario loader checks the timeline against the scenario's files; an action typed during a game
    day is checked against the cluster as it is, before anything runs, so a refused action changes nothing.
    """
    store = sim.store
    deployment, rollout = getattr(action, "deployment", None), getattr(action, "rollout", None)
    if deployment is not None and store.find("Deployment", namespace, deployment) is None:
        raise not_found("deployments.apps", deployment)
    if rollout is not None and store.find("Rollout", namespace, rollout) is None:
        raise not_found("rollouts.argoproj.io", rollout)
    if isinstance(action, schema.NodeAction) and store.find("Node", "", action.node) is None:
        raise not_found("nodes", action.node)
    images = [("image", getattr(action, "image", None))]
    if isinstance(action, schema.PatchAction):
        images += _images(action.patch, "patch")
    for field, image in images:
        if image is not None and image not in sim.behaviours:
            known = ", ".join(sorted(sim.behaviours)) or "none"
            raise invalid(field, f"no behaviour for image {image!r} in the scenario's versions (it has: {known})")
    if isinstance(action, schema.FlagAction | schema.SetRolloutAction):
        features = [] if sim.flags is None else sim.flags.state["features"]
        if not any(f["name"] == action.flag for f in features):
            raise ApiError(404, "NotFound", f'flag "{action.flag}" not found', {"name": action.flag})
    if isinstance(action, schema.SetWeightsAction):
        if (namespace, action.route) not in sim.traffic.routes:
            raise ApiError(404, "NotFound", f'route "{action.route}" not found', {"name": action.route})
        for service in action.weights:
            if store.find("Service", namespace, service) is None:
                raise invalid(f"weights.{service}", f'services "{service}" not found in namespace {namespace!r}')
    if isinstance(action, schema.ScaleAction):  # the scenario's own limit on pods, against the nodes as they are
        problem = scale_problem(
            store.find("Deployment", namespace, action.deployment), action.replicas, store.list("Node")
        )
        if problem:
            raise invalid("replicas", problem)


def invalid(field: str, message: str) -> ApiError:
    """422 Invalid naming the action's field, as the API server names an object's field."""
    cause = {"reason": "FieldValueInvalid", "message": message, "field": field}
    return ApiError(422, "Invalid", f"invalid action: {field}: {message}", {"causes": [cause]})


def _images(document: object, path: str) -> list[tuple[str, str]]:
    """(field path, image) of every container image a patch sets."""
    if isinstance(document, dict):
        found = [(f"{path}.image", document["image"])] if isinstance(document.get("image"), str) else []
        for key, value in document.items():
            found += _images(value, f"{path}.{key}")
        return found
    if isinstance(document, list):
        return [found for n, item in enumerate(document) for found in _images(item, f"{path}[{n}]")]
    return []

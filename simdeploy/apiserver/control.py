"""The facilitator's endpoints under /simdeploy/v1: the clock (pause, resume, speed), actions run now, the timeline.

Actions use the scenario timeline's own syntax without `at` (`{"action": "delete-pods", "selector": "app=api",
"count": 2}`), so a fault rehearsed in a scenario file can be injected by hand during a game day.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from simdeploy.apiserver.bodies import decode_body
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, no_route, not_found
from simdeploy.k8s.duration import format_duration
from simdeploy.scenario import schema
from simdeploy.scenario.build import describe, operator_action
from simdeploy.sim.cluster.kubectl import KubectlError

PREFIX = ("simdeploy", "v1")
_ACTION = TypeAdapter(schema.Action)


def handle(api, method: str, parts: list[str], body: bytes) -> tuple[int, dict]:
    """Answer /simdeploy/v1/<what>; `parts` is the path after the prefix."""
    match parts, method:
        case ["clock"], "GET":
            return 200, clock_status(api)
        case ["clock"], "PATCH" | "POST" | "PUT":
            return 200, change_clock(api, decode_body(body))
        case ["actions"], "POST":
            return 201, run_action(api, decode_body(body))
        case ["timeline"], "GET":
            with api.lock:
                return 200, {"now_s": round(api.sim.now, 3), "events": list(api.sim.recorder.events)}
        case ["clock" | "actions" | "timeline"], _:
            raise method_not_allowed(method)
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
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float) or speed < 0):
        raise bad_request(f"clock.speed: must be a number >= 0, got {speed!r}")
    if paused is not None and not isinstance(paused, bool):
        raise bad_request(f"clock.paused: must be true or false, got {paused!r}")
    with api.lock:  # between two steps of the simulation: time stops where the cluster is
        api.clock.set_speed(speed=None if speed is None else float(speed), paused=paused)
        return clock_status(api)


def run_action(api, request: dict) -> dict:
    """Run one timeline action at the current simulated time; its events are the answer."""
    if "at" in request:
        raise bad_request("actions run now: leave out `at`")
    try:
        action = _ACTION.validate_python({**request, "at": 0})
        run = operator_action(action, api.namespace)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'action'}: {e['msg']}" for e in error.errors())
        raise ApiError(422, "Invalid", f"invalid action: {problems}") from None
    except ValueError as error:
        raise ApiError(422, "Invalid", f"invalid action: {error}") from None
    with api.lock:
        sim = api.sim
        if isinstance(action, schema.NodeAction) and sim.store.find("Node", "", action.node) is None:
            raise not_found("nodes", action.node)
        first = len(sim.recorder.events)
        try:
            message = run(sim)
        except KubectlError as error:
            raise ApiError(409, "Conflict", f"{describe(action)}: {error}") from None
        return {
            "at_s": round(sim.now, 3),
            "action": describe(action),
            "message": message or "",
            "events": sim.recorder.events[first:],
        }

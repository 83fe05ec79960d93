"""The Service proxy subresource (`…/services/NAME[:PORT]/proxy/PATH`): answered as one routed pod would answer.

On a real cluster the API server forwards the request to one of the Service's endpoints and the app answers
(pkg/registry/core/service/storage/storage.go ResourceLocation). Here the traffic model's view answers for the
app: a pod the data plane routes to, picked at random, serves or fails as the traffic model would serve one
request there now. These are an observer's probes, like a synthetic monitor: they are not counted in the
simulation's traffic, and they draw from their own random stream, so they change nothing the simulation draws.
"""

from __future__ import annotations

import random

from simdeploy.apiserver.status import ApiError, bad_request, not_found
from simdeploy.sim.latency import stretch

LATENCY_HEADER = "X-Simdeploy-Latency"  # the modelled latency, in seconds: the answer itself does not wait for it
_SCHEMES = ("", "http", "https")


def rng_for(sim) -> random.Random:
    """The proxy's random stream: seeded from the scenario's seed, apart from the simulation's own."""
    return random.Random(f"simdeploy-proxy:{sim.seed}")


def _split(service_id: str) -> tuple[str, str]:
    """`name`, `name:port` or `scheme:name:port` -> (name, port), as utilnet.SplitSchemeNamePort reads them."""
    parts = service_id.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        scheme, name, port = "?", "", ""
    if not name or scheme not in _SCHEMES:
        raise bad_request(f'invalid service request "{service_id}"')
    return name, port


def _unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message, {})


def _target_port(service: dict, pod: dict, port: str) -> int | str:
    """The pod's port the Service port `port` (a name, or '' for the first) leads to."""
    ports = service.get("spec", {}).get("ports") or [{}]
    chosen = next((p for p in ports if p.get("name", "") == port), ports[0])
    target = chosen.get("targetPort", chosen.get("port", 80))
    if isinstance(target, str):  # a named container port
        for container in pod["spec"].get("containers", ()):
            for declared in container.get("ports") or ():
                if declared.get("name") == target:
                    return declared.get("containerPort", target)
    return target


def answer(sim, rng: random.Random, namespace: str, service_id: str) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one request through the proxy; ApiError when no pod can be reached."""
    name, port = _split(service_id)
    service = sim.store.find("Service", namespace, name)
    if service is None:
        raise not_found("services", name)
    if port.isdigit():
        named = next((p for p in service["spec"].get("ports") or () if p.get("port") == int(port)), None)
        if named is None:
            raise _unavailable(f'no service port {port} found for service "{name}"')
        port = named.get("name", "")
    elif port and not any(p.get("name") == port for p in service["spec"].get("ports") or ()):
        raise _unavailable(f'no endpoints available for service "{service_id}"')
    view = sim.endpoints.view(namespace, name)
    routed = list(view.routed.items()) if view is not None else []
    if not routed:
        raise _unavailable(f'no endpoints available for service "{name}"')
    uid, group = rng.choice(routed)
    pod = sim.endpoints.routed_pod(uid)
    _, image, serving = group
    if not serving:  # not warm yet, crashed, hung or past SIGTERM: nothing accepts the connection
        address = f"{pod['status'].get('podIP', '')}:{_target_port(service, pod, port)}"
        raise _unavailable(f"error trying to reach service: dial tcp {address}: connect: connection refused")
    behaviour = sim.behaviours[image]
    version = behaviour.version or image
    body = {"version": version, "pod": pod["metadata"]["name"]}
    error_rate, latency_factor = behaviour.error_rate, 1.0
    flags = sim.traffic.cohort_source
    if flags is not None:  # the user this request is for sees some flags on: their effects on this version
        mix = flags.at(sim.now)
        shares = [share for share, _ in mix]
        cohort = rng.choices([c for _, c in mix], weights=shares)[0] if sum(shares) > 0 else None
        if cohort is not None:
            added, latency_factor, _ = cohort.effect(image, version)
            error_rate = min(1.0, error_rate + added)
    utilisation, rejected = sim.traffic.load.get((namespace, name, group), (0.0, 0.0))
    if rejected > 0 and rng.random() < rejected:  # the group was saturated in the last tick
        return int(sim.traffic.overload_code), {LATENCY_HEADER: "0.001"}, {**body, "error": "overloaded"}
    factor = stretch(utilisation, behaviour.concurrency) * latency_factor
    latency = behaviour.latency.quantile(rng.random(), factor)
    headers = {LATENCY_HEADER: f"{latency:.4f}"}
    if rng.random() < error_rate:
        return 500, headers, {**body, "error": "internal server error"}
    return 200, headers, body

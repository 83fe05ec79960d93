"""Reading objects for a resource: from sim.store, or rendered from the simulation (events, endpoints, namespaces)."""

from __future__ import annotations

from collections.abc import Collection

from simdeploy.apiserver import namespaces
from simdeploy.apiserver.namespaces import namespaces_in_use
from simdeploy.apiserver.resources import STORE, Resource
from simdeploy.k8s.timeutil import format_time, sim_to_datetime


def list_objects(sim, resource: Resource, namespace: str | None, hidden: Collection[int] = ()) -> list[dict]:
    """Every object of a resource (in one namespace if given), sorted like the apiserver: namespace, name.

    `hidden`: indices of the recorder's events this reader is not shown (a game day's hidden faults).
    """
    if resource.kind == "Namespace":
        objects = namespaces.listed(sim)
    elif resource.source == STORE:
        objects = sim.store.list(resource.kind, namespace if resource.namespaced else None)
    else:
        objects = _events(sim, hidden) if resource.source == "events" else _RENDERERS[resource.source](sim)
        if namespace is not None and resource.namespaced:
            objects = [o for o in objects if o["metadata"].get("namespace") == namespace]
    return sorted(objects, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def get_object(sim, resource: Resource, namespace: str | None, name: str, hidden: Collection[int] = ()) -> dict | None:
    if resource.kind == "Namespace":
        return namespaces.find(sim, name)
    if resource.source == STORE:
        return sim.store.find(resource.kind, namespace if resource.namespaced else "", name)
    return next((o for o in list_objects(sim, resource, namespace, hidden) if o["metadata"]["name"] == name), None)


def _involved(sim, kind: str, name: str, namespace: str | None) -> tuple[str, str | None]:
    """The namespace and uid of the object an event is about (kubectl describe selects an object's events by
    involvedObject.uid): the event's namespace, else the object's; events about no object (alerts, flags, actions)
    go to the one namespace in use, else default."""
    if kind in sim.store.kinds():
        for obj in sim.store.list(kind):
            meta = obj["metadata"]
            if meta["name"] == name and namespace in (None, meta.get("namespace")):
                return meta.get("namespace") or "default", meta.get("uid")
    if namespace:
        return namespace, None
    used = [n for n in namespaces_in_use(sim) if n not in namespaces.SYSTEM]
    return (used[0] if len(used) == 1 else "default"), None


def _events(sim, hidden: Collection[int] = ()) -> list[dict]:
    """sim.recorder.events as core/v1 Events (names `<object>.<index in hex>`, like the apiserver's suffixes).

    The `hidden` ones are left out and the others numbered without them, so that no gap in the names tells a
    reader that something was kept from them.
    """
    events = []
    involved: dict[tuple[str, str, str | None], tuple[str, str | None]] = {}
    shown = (event for number, event in enumerate(sim.recorder.events) if number not in hidden)
    for index, event in enumerate(shown):
        key = (event["kind"], event["name"], event.get("namespace"))
        if key not in involved:
            involved[key] = _involved(sim, *key)
        namespace, uid = involved[key]
        reference = {"kind": event["kind"], "name": event["name"], "namespace": namespace}
        if uid is not None:
            reference["uid"] = uid
        stamp = format_time(sim_to_datetime(sim.store.epoch, event["t"]))
        events.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{event['name']}.{index:x}",
                    "namespace": namespace,
                    "uid": f"event-{index}",
                    "resourceVersion": str(sim.store.resource_version),
                    "creationTimestamp": stamp,
                },
                "involvedObject": reference,
                "reason": event["reason"],
                "message": event["message"],
                "type": event["type"],
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": "simdeploy"},
            }
        )
    return events


def _endpoints(sim) -> list[dict]:
    """Endpoints from sim.endpoints' control-plane view: the Ready, non-terminating pods behind each Service."""
    result = []
    for (namespace, name), view in sorted(sim.endpoints.services.items()):
        service = sim.store.find("Service", namespace, name)
        if service is None:
            continue
        pods = {p["metadata"]["uid"]: p for p in sim.store.list("Pod", namespace)}
        addresses = [
            {
                "ip": pods[uid].get("status", {}).get("podIP", ""),
                "nodeName": pods[uid].get("spec", {}).get("nodeName", ""),
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pods[uid]["metadata"]["name"], "uid": uid},
            }
            for uid in sorted(view.ready)
            if uid in pods
        ]
        ports = [
            {
                "name": p.get("name", ""),
                "port": p.get("targetPort", p.get("port")),
                "protocol": p.get("protocol", "TCP"),
            }
            for p in service.get("spec", {}).get("ports", [])
        ]
        meta = service["metadata"]
        result.append(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": f"endpoints-{meta['uid']}",
                    "resourceVersion": str(sim.store.resource_version),
                    "creationTimestamp": meta.get("creationTimestamp"),
                    "labels": dict(meta.get("labels") or {}),
                },
                "subsets": [{"addresses": addresses, "ports": ports}] if addresses else [],
            }
        )
    return result


_RENDERERS = {"endpoints": _endpoints}

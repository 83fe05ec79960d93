"""The object store: Kubernetes-shaped dicts with resourceVersion, owner index and watches."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime

from simdeploy.k8s.labels import selector_matches
from simdeploy.k8s.timeutil import format_time, sim_to_datetime

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

Obj = dict
Key = tuple[str, str]  # (namespace, name)
Watcher = Callable[[str, Obj], None]


class NotFound(KeyError):
    """No object of that kind, namespace and name."""


class AlreadyExists(ValueError):
    """An object of that kind, namespace and name already exists."""


class Conflict(ValueError):
    """The update carried a stale resourceVersion."""


def controller_uid(obj: Obj) -> str | None:
    """The uid of the ownerReference with controller: true, if any."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref["uid"]
    return None


class Store:
    """All objects of one simulated cluster, keyed by kind, namespace and name.

    Objects are shared, not copied: whoever changes one calls update() so that the
    resourceVersion moves and watchers hear of it, as they would from the API server.
    """

    def __init__(self, now: Callable[[], float], epoch: datetime):
        self._now = now
        self.epoch = epoch
        self._objects: dict[str, dict[Key, Obj]] = {}
        self._watchers: dict[str, list[Watcher]] = {}
        self._by_owner: dict[str, dict[str, dict[Key, Obj]]] = {}
        self._owner_of: dict[int, str | None] = {}
        self.resource_version = 0
        self._uid_counter = 0
        self._stamp_second = -1
        self._stamp = ""

    # -- reading ---------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        try:
            return self._objects[kind][(namespace, name)]
        except KeyError:
            raise NotFound(f'{kind} "{name}" not found in namespace "{namespace}"') from None

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str | None = None, selector: dict | None = None) -> list[Obj]:
        """Objects of a kind, optionally in one namespace and matching a LabelSelector."""
        objects: Iterable[Obj] = self._objects.get(kind, {}).values()
        if namespace is not None:
            objects = (o for o in objects if o["metadata"].get("namespace") == namespace)
        if selector is not None:
            objects = (o for o in objects if selector_matches(selector, o["metadata"].get("labels")))
        return list(objects)

    def controller_of(self, obj: Obj, kind: str) -> Obj | None:
        """The object of `kind` that controls `obj` (its ownerReference with controller: true), if it exists."""
        for ref in obj["metadata"].get("ownerReferences") or ():
            if ref.get("controller") and ref.get("kind") == kind:
                owner = self.find(kind, obj["metadata"].get("namespace", ""), ref["name"])
                return owner if owner is not None and owner["metadata"]["uid"] == ref["uid"] else None
        return None

    def owned_by(self, kind: str, owner_uid: str) -> list[Obj]:
        """Objects of a kind whose controller ownerReference points at owner_uid."""
        return list(self._by_owner.get(kind, {}).get(owner_uid, {}).values())

    def count(self, kind: str) -> int:
        return len(self._objects.get(kind, ()))

    def kinds(self) -> list[str]:
        return sorted(self._objects)

    # -- writing ---------------------------------------------------------------

    def timestamp(self) -> str:
        """Now, as an RFC 3339 string (whole seconds, so one string serves a whole second)."""
        second = int(self._now())
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp = format_time(sim_to_datetime(self.epoch, second))
        return self._stamp

    def create(self, obj: Obj, prepare: Callable[[Obj], None] | None = None) -> Obj:
        """Store a new object; `prepare` runs once it has its uid, before anyone hears of it (what the
        registry's PrepareForCreate does after the system fields are filled in)."""
        meta = obj.setdefault("metadata", {})
        if "name" not in meta and "generateName" in meta:
            meta["name"] = self._generate_name(obj["kind"], meta)
        key = (meta.setdefault("namespace", "default") if _namespaced(obj) else "", meta["name"])
        bucket = self._objects.setdefault(obj["kind"], {})
        if key in bucket:
            raise AlreadyExists(f'{obj["kind"]} "{meta["name"]}" already exists')
        self._uid_counter += 1
        meta["uid"] = _uid(self._uid_counter)
        meta["creationTimestamp"] = self.timestamp()
        if "spec" in obj:
            meta["generation"] = 1
        if prepare is not None:
            prepare(obj)
        bucket[key] = obj
        self._index_owner(obj, key)
        self._bump_and_notify(ADDED, obj)
        return obj

    def update(self, obj: Obj, spec_changed: bool = False, expect_version: str | None = None) -> Obj:
        """Record a change made to a stored object; spec_changed bumps metadata.generation."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        stored = self._objects.get(obj["kind"], {}).get(key)
        if stored is None:
            raise NotFound(f'{obj["kind"]} "{meta["name"]}" not found')
        if expect_version is not None and expect_version != stored["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {obj["kind"].lower()}s "{meta["name"]}": '
                "the object has been modified; please apply your changes to the latest version"
            )
        if stored is not obj:
            self._unindex_owner(stored, key)
            self._objects[obj["kind"]][key] = obj
            self._index_owner(obj, key)
        elif controller_uid(obj) != self._owner_of.get(id(obj)):
            self._unindex_owner(obj, key)
            self._index_owner(obj, key)
        if spec_changed:
            meta["generation"] = meta.get("generation", 0) + 1
        self._bump_and_notify(MODIFIED, obj)
        return obj

    def delete(self, kind: str, namespace: str, name: str) -> Obj:
        """Remove an object at once (graceful pod deletion is the kubelet's business)."""
        key = (namespace, name)
        obj = self._objects.get(kind, {}).pop(key, None)
        if obj is None:
            raise NotFound(f'{kind} "{name}" not found in namespace "{namespace}"')
        self._unindex_owner(obj, key)
        self._bump_and_notify(DELETED, obj)
        return obj

    def mirror(self, event_type: str, obj: Obj) -> Obj:
        """Record an object as another cluster reported it (a watch event from a real API server), keeping its
        uid, timestamps and owner references: the drill runner builds its observed timeline this way."""
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if _namespaced(obj) else "", meta["name"])
        bucket = self._objects.setdefault(obj["kind"], {})
        stored = bucket.get(key)
        if stored is not None:
            self._unindex_owner(stored, key)
        if event_type == DELETED:
            if stored is None:
                return obj
            del bucket[key]
        else:
            bucket[key] = obj
            self._index_owner(obj, key)
            event_type = MODIFIED if stored is not None else ADDED
        version = meta.get("resourceVersion")
        self.resource_version += 1
        for watcher in self._watchers.get(obj["kind"], ()):
            watcher(event_type, obj)
        if version is not None:
            meta["resourceVersion"] = version  # the cluster's, not ours
        return obj

    def watch(self, kind: str, watcher: Watcher) -> None:
        """Call watcher(event_type, obj) after every change to objects of this kind."""
        self._watchers.setdefault(kind, []).append(watcher)

    def snapshot(self) -> list[Obj]:
        """Deep copies of every object, ordered by kind, namespace and name."""
        return [
            copy.deepcopy(self._objects[kind][key])
            for kind in sorted(self._objects)
            for key in sorted(self._objects[kind])
        ]

    # -- internals -------------------------------------------------------------

    def _bump_and_notify(self, event_type: str, obj: Obj) -> None:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        for watcher in self._watchers.get(obj["kind"], ()):
            watcher(event_type, obj)

    def _index_owner(self, obj: Obj, key: Key) -> None:
        owner = controller_uid(obj)
        self._owner_of[id(obj)] = owner
        if owner is not None:
            self._by_owner.setdefault(obj["kind"], {}).setdefault(owner, {})[key] = obj

    def _unindex_owner(self, obj: Obj, key: Key) -> None:
        owner = self._owner_of.pop(id(obj), None)
        if owner is not None:
            owned = self._by_owner[obj["kind"]][owner]
            owned.pop(key, None)
            if not owned:
                del self._by_owner[obj["kind"]][owner]

    def _generate_name(self, kind: str, meta: dict) -> str:
        bucket = self._objects.get(kind, {})
        namespace = meta.get("namespace", "default")
        attempt = self.resource_version
        while True:
            attempt += 1
            name = meta["generateName"] + _suffix(attempt)
            if (namespace, name) not in bucket:
                return name


_CLUSTER_SCOPED = {"Node", "Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding"}
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _namespaced(obj: Obj) -> bool:
    return obj["kind"] not in _CLUSTER_SCOPED


def _suffix(number: int) -> str:
    """Five characters from a counter, spread like the API server's random suffixes."""
    value = (number * 2654435761) & 0xFFFFFFFF
    chars = []
    for _ in range(5):
        value, digit = divmod(value, len(_SUFFIX_ALPHABET))
        chars.append(_SUFFIX_ALPHABET[digit])
    return "".join(chars)


def _uid(number: int) -> str:
    """A deterministic RFC 4122-shaped uid."""
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

"""Who may do what: a request's attributes read from its URL, each role's rules, 403 Forbidden in the server's words.

The attributes are read as the API server reads them before routing (staging/src/k8s.io/apiserver/pkg/endpoints/
request/requestinfo.go), and the rules are matched as RBAC matches its PolicyRules (plugin/pkg/auth/authorizer/
rbac/rbac.go), so that a SelfSubjectAccessReview and the request itself always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from simdeploy.apiserver.status import ApiError
from simdeploy.apiserver.users import ADMIN, OBSERVER, PLAYER, User

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
READS = ("get", "list", "watch")
# What every authenticated user may ask about itself (the system:basic-user ClusterRole).
_SELF_REVIEWS = (
    (("create",), ("authorization.k8s.io",), ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
    (("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
)


@dataclass(frozen=True)
class Attributes:
    """What a request asks: a verb on a resource (in a group, a namespace) or on a path that is no resource."""

    verb: str
    resource_request: bool
    path: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def request_attributes(method: str, parts: list[str], params: dict) -> Attributes:
    """The attributes of `method /parts...?params`, without knowing whether such a resource exists."""
    path = "/" + "/".join(parts)
    if len(parts) >= 3 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return Attributes(method.lower(), False, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    name = rest[1] if len(rest) > 1 else ""
    verb = _VERBS.get(method, method.lower())
    if not name and verb == "get":
        verb = "watch" if params.get("watch") in ("true", "1") else "list"
    elif not name and verb == "delete":
        verb = "deletecollection"
    subresource = rest[2] if len(rest) > 2 else ""
    return Attributes(verb, True, path, group, rest[0], subresource, namespace, name)


# -- rules ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """An RBAC PolicyRule: verbs on resources of API groups, or verbs on URL paths (`*` matches anything)."""

    verbs: tuple[str, ...]
    groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def allows(self, attributes: Attributes) -> bool:
        if not _has(self.verbs, attributes.verb):
            return False
        if not attributes.resource_request:
            return any(_path_matches(pattern, attributes.path) for pattern in self.paths)
        if not _has(self.groups, attributes.group):
            return False
        return any(_resource_matches(p, attributes.resource, attributes.subresource) for p in self.resources)


def _path_matches(pattern: str, path: str) -> bool:
    return pattern in ("*", path) or (pattern.endswith("*") and path.startswith(pattern[:-1]))


def _resource_matches(pattern: str, resource: str, subresource: str) -> bool:
    """`*` matches every resource and subresource; `*/scale` one subresource of every resource."""
    if pattern == "*":
        return True
    if subresource:
        return pattern in (f"{resource}/{subresource}", f"*/{subresource}")
    return pattern == resource


def _has(allowed: tuple[str, ...], value: str) -> bool:
    return "*" in allowed or value in allowed


_REVIEWS = tuple(Rule(verbs, groups, resources) for verbs, groups, resources in _SELF_REVIEWS)
_READ_PATHS = Rule(("get", "head"), paths=("*",))  # discovery, /version, /openapi, /simdeploy/v1 reads
_FLAG_CONSOLE = Rule(("post",), paths=("/unleash/api/admin/*",))  # turning flags on and off (apiserver/unleash.py)
_ACKNOWLEDGE = Rule(("post",), paths=("/simdeploy/v1/page/acknowledge",))  # a game day's page (apiserver/page.py)
RULES: dict[str, tuple[Rule, ...]] = {
    ADMIN: (Rule(("*",), ("*",), ("*",)), Rule(("*",), paths=("*",))),
    # Every Kubernetes verb, the flag console and acknowledging the page, but the facilitator's controls
    # (the rest of /simdeploy/v1) only to read.
    PLAYER: (Rule(("*",), ("*",), ("*",)), _READ_PATHS, _FLAG_CONSOLE, _ACKNOWLEDGE, *_REVIEWS),
    OBSERVER: (Rule(READS, ("*",), ("*",)), _READ_PATHS, *_REVIEWS),
}


def allowed(role: str, attributes: Attributes) -> bool:
    return any(rule.allows(attributes) for rule in RULES[role])


def authorize(user: User, attributes: Attributes) -> None:
    """Nothing if the user's role allows the request; 403 Forbidden worded as the real server words it."""
    if not allowed(user.role, attributes):
        raise forbidden(user, attributes)


def forbidden(user: User, attributes: Attributes) -> ApiError:
    """The API server's 403 (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go)."""
    if not attributes.resource_request:
        return ApiError(
            403, "Forbidden", f'forbidden: User "{user.name}" cannot {attributes.verb} path "{attributes.path}"', {}
        )
    resource = f"{attributes.resource}/{attributes.subresource}" if attributes.subresource else attributes.resource
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    reason = (
        f'User "{user.name}" cannot {attributes.verb} resource "{resource}" in API group "{attributes.group}" {scope}'
    )
    qualified = f"{attributes.resource}.{attributes.group}" if attributes.group else attributes.resource
    named = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    details = {"name": attributes.name, "group": attributes.group, "kind": attributes.resource}
    return ApiError(403, "Forbidden", f"{named} is forbidden: {reason}", {k: v for k, v in details.items() if v})


def rules_document(role: str) -> dict:
    """A SelfSubjectRulesReview's status: the role's rules as RBAC lists them."""
    resource_rules = [
        {"verbs": list(r.verbs), "apiGroups": list(r.groups), "resources": list(r.resources)}
        for r in RULES[role]
        if r.resources
    ]
    path_rules = [{"verbs": list(r.verbs), "nonResourceURLs": list(r.paths)} for r in RULES[role] if r.paths]
    return {"resourceRules": resource_rules, "nonResourceRules": path_rules, "incomplete": False}

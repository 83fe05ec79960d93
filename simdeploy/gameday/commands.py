"""A person's commands, read back from the served session's request log: what each player (or observer) typed.

kubectl names the command and the invocation in every request it sends (`Kubectl-Command: kubectl rollout undo`,
`Kubectl-Session: <uuid>`; KEP-859, kubernetes/kubernetes staging/src/k8s.io/cli-runtime/pkg/genericclioptions/
command_headers.go), so one invocation's requests (discovery, GETs, the PATCH) make one command. Other clients
(the Python client, curl) send no such headers: their requests make one command per run of the same verb on the
same resource by the same person, a few seconds apart at most. A flag turned on or off through the flag console
(Unleash's Admin API, apiserver/unleash.py) is a command of its own: `curl disable-flag new-checkout-flow`, and
so is acknowledging the page (apiserver/page.py): `simdeploy ctl ack`, `curl acknowledge page`.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from simdeploy.sim.result import Request

SAME_COMMAND_WITHIN = 3.0  # wall seconds between two header-less requests of one command
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_REVIEW_GROUPS = ("authorization.k8s.io", "authentication.k8s.io")
PEOPLE = ("player", "observer")  # the admin's requests are the facilitator's controls, not the team's commands
ACKNOWLEDGE_PATH = "/simdeploy/v1/page/acknowledge"


def verb_of(request: Request) -> str:
    """The API verb of a request, as RBAC names it: get, list, watch, create, update, patch, delete."""
    if request["method"] in ("GET", "HEAD"):
        target = resource_of(request["path"])
        if target is None or target[2]:
            return "get"
        return "watch" if parse_qs(request["query"]).get("watch", [""])[-1] in ("true", "1") else "list"
    if request["method"] == "POST" and request["path"].endswith("/eviction"):
        return "evict"
    return _VERBS.get(request["method"], request["method"].lower())


def resource_of(path: str) -> tuple[str, str, str, str] | None:
    """(namespace, resource, name, subresource) of a Kubernetes API path ('' where it has none); None for anything
    else: discovery, /version, /openapi, access reviews, /simdeploy/v1."""
    parts = [p for p in path.split("/") if p]
    if len(parts) > 2 and parts[0] == "api":
        rest = parts[2:]
    elif len(parts) > 3 and parts[0] == "apis" and parts[1] not in _REVIEW_GROUPS:
        rest = parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    rest = rest + [""] * (3 - len(rest))
    return namespace, rest[0], rest[1], "/".join(rest[2:]).strip("/")


def flag_switch_of(request: Request) -> tuple[str, str] | None:
    """(enable-flag | disable-flag, feature) of a POST to the flag console's on/off; None for anything else."""
    parts = [p for p in request["path"].split("/") if p]
    if request["method"] != "POST" or len(parts) != 10 or parts[:4] != ["unleash", "api", "admin", "projects"]:
        return None
    if parts[5] != "features" or parts[7] != "environments" or parts[9] not in ("on", "off"):
        return None
    return ("enable-flag" if parts[9] == "on" else "disable-flag"), parts[6]


def acknowledges(request: Request) -> bool:
    """A POST acknowledging the page (accepted or not: see its code)."""
    return request["method"] == "POST" and request["path"].rstrip("/") == ACKNOWLEDGE_PATH


def acknowledging_command(log: list[Request], user: str) -> str | None:
    """What `user` typed when the page took their acknowledgement: the first such request of theirs answered 200
    (`simdeploy ctl ack`, `curl acknowledge page`); None when the log no longer holds it."""
    for request in log:
        if request.get("user") == user and request["code"] == 200 and acknowledges(request):
            return request.get("command") or _plain_text(request)
    return None


def target_text(target: tuple[str, str, str, str]) -> str:
    """`deployments/payments-api`, `pods`, `deployments/payments-api/scale`, `services/web/proxy/healthz`."""
    _, resource, name, subresource = target
    return "/".join(part for part in (resource, name, subresource) if part)


def group_commands(log: list[Request], roles: dict[str, str]) -> list[dict]:
    """The people's commands, in the order they began: each kubectl invocation, or each run of another client's
    requests; `roles` maps a user to its role (only players' and observers' requests are read)."""
    commands: list[dict] = []
    by_session: dict[tuple[str, str], dict] = {}
    last_plain: dict[str, dict] = {}  # user -> their latest header-less command, which the next request may join
    for request in log:
        user = request.get("user")
        if user is None or roles.get(user) not in PEOPLE:
            continue
        session = request.get("session")
        if session:
            key = (user, session)
            command = by_session.get(key)
            if command is None:
                command = by_session[key] = _new(request, roles[user], request.get("command") or "kubectl")
                commands.append(command)
        else:
            text = _plain_text(request)
            command = last_plain.get(user)
            if (
                command is None
                or command["command"] != text
                or request["wall_s"] - command["_last_wall"] > SAME_COMMAND_WITHIN
            ):
                command = last_plain[user] = _new(request, roles[user], text)
                commands.append(command)
        _add(command, request)
    commands.sort(key=lambda c: (c["at_s"], c["wall_s"]))
    for command in commands:
        del command["_last_wall"]
    return commands


def _plain_text(request: Request) -> str:
    """A header-less request's command: the client and what it did (`python list pods`)."""
    agent = (request.get("user_agent") or "client").split("/", 1)[0].split(" ", 1)[0] or "client"
    switch = flag_switch_of(request)
    if switch is not None:
        return f"{agent} {switch[0]} {switch[1]}"
    if acknowledges(request):
        return f"{agent} acknowledge page"
    target = resource_of(request["path"])
    what = target[1] if target else request["path"]
    return f"{agent} {verb_of(request)} {what}"


def _new(request: Request, role: str, text: str) -> dict:
    return {
        "user": request["user"],
        "role": role,
        "command": text,
        "session": request.get("session"),
        "at_s": request["at_s"],
        "until_s": request["at_s"],
        "wall_s": request["wall_s"],
        "requests": 0,
        "verbs": [],
        "targets": [],
        "namespaces": [],
        "wrote": False,
        "refused": False,
        "codes": {},
        "_last_wall": request["wall_s"],
    }


def _add(command: dict, request: Request) -> None:
    command["requests"] += 1
    command["until_s"] = max(command["until_s"], request["at_s"])
    command["_last_wall"] = request["wall_s"]
    code = request["code"]
    command["codes"][str(code)] = command["codes"].get(str(code), 0) + 1
    target = resource_of(request["path"])
    switch = flag_switch_of(request)
    page = acknowledges(request)
    if target is None and switch is None and not page:
        return  # discovery and the like: part of the command, but no object of it
    verb = verb_of(request)
    _once(command["verbs"], verb)
    _once(command["targets"], target_text(target) if target else "page" if page else f"features/{switch[1]}")
    if target and target[0]:
        _once(command["namespaces"], target[0])
    if verb not in ("get", "list", "watch") and code < 400:
        command["wrote"] = True
    if code == 403:
        command["refused"] = True


def _once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def shown(command: dict) -> str:
    """One line: the command and what it touched, as the scoreboard and the report print it."""
    objects = [t for t in command["targets"] if "/" in t] or command["targets"]
    text = f"{command['command']} {', '.join(objects[:3])}".strip()
    if len(objects) > 3:
        text += f" (+{len(objects) - 3})"
    return text + (" [refused]" if command["refused"] else "")

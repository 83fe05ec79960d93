"""HTTP request handling: bearer-token auth and roles, routing, discovery, GET/LIST/WATCH, writes, Status errors."""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from simdeploy.apiserver import bodies, control, discovery, openapi, protobuf, proxy, reviews, unleash, views, writes
from simdeploy.apiserver.authorization import authorize, request_attributes
from simdeploy.apiserver.discovery import api_resource_list
from simdeploy.apiserver.resources import GROUPS, REVIEW, STORE, Resource, find
from simdeploy.apiserver.selectors import Selectors
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, no_route, not_found, unauthorized
from simdeploy.apiserver.tables import TABLE_TYPE, table, wants_table
from simdeploy.apiserver.users import User
from simdeploy.k8s.timeutil import sim_to_datetime

log = logging.getLogger(__name__)

DEFAULT_WATCH_TIMEOUT = 1800.0  # the real apiserver picks 30-60 min when the client gives no timeoutSeconds
INTERNAL_ERROR = "an error on the server has prevented the request from succeeding"  # the real server's words
WAKE_INTERVAL = 0.5  # how often an idle watch stream checks its deadline and the server's shutdown
PROXY_PATH = ("namespaces", "services", "proxy")  # /api/v1/namespaces/N/services/NAME/proxy[/PATH]


class ApiHandler(BaseHTTPRequestHandler):
    """One connection; `self.server.api` is the ApiServer (simulation, lock, history, token)."""

    protocol_version = "HTTP/1.1"  # keep-alive and chunked watch streams
    timeout = 300  # an idle keep-alive connection gives its thread back after this long
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the client's delayed
    # ACK, 40 ms on Linux, on every keep-alive request (bench/bench_serve.py: p50 44 ms before, see README).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # The listening socket does not handshake in accept(), which would let one slow client stall the
        # server: do it here, on this connection's own thread.
        if hasattr(self.request, "do_handshake"):
            self.request.do_handshake()

    def handle_one_request(self) -> None:
        self._user: User | None = None  # who asked, once authenticated; none for a request refused before that
        super().handle_one_request()

    def handle_expect_100(self) -> bool:
        return True  # `100 Continue` is sent by _dispatch, once the token and the length are known to be good

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s - %s", self.address_string(), format % args)

    def log_request(self, code="-", size="-") -> None:
        # send_response() calls this once per answer, watch streams included: the session's request log.
        super().log_request(code, size)
        self._answering = True
        if isinstance(code, int) and self.command:
            user = self._user.name if self._user is not None else None
            # kubectl names the command typed and the invocation in every request (KEP-859, cli-runtime
            # genericclioptions/command_headers.go): what lets a game day's requests be read as commands.
            self.server.api.record_request(
                self.command,
                self.path,
                code,
                self.headers.get("User-Agent", ""),
                user,
                self.headers.get("Kubectl-Command"),
                self.headers.get("Kubectl-Session"),
            )

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # http.server answers methods it has no do_ for with 501; the API server's router (go-restful, behind
    # authentication) answers 405 MethodNotAllowed on the paths it serves and 404 elsewhere.
    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # -- plumbing --------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        self._answering = False
        # Until the body is read, the bytes after the headers are not the next request: an error answered
        # before then must close the connection.
        unread = self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers
        try:
            # Who asks, and whether they may, before the body: a refused request has none of it read.
            self._user = self._authenticate()
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            parts = [p for p in url.path.split("/") if p]
            authorize(self._user, request_attributes(method, parts, params))
            length = bodies.content_length(self.headers)
            if length and self.headers.get("Expect", "").strip().lower() == "100-continue":
                self.send_response_only(100)  # only now: a refused client need not send its body at all
                self.end_headers()
            body = bodies.read_body(self.connection, self.rfile, length)
            unread = False
            if body and method != "PATCH" and protobuf.is_protobuf(self.headers.get("Content-Type", "")):
                body = protobuf.to_json(body)
            self._route(method, parts, params, body)
        except ApiError as error:
            self.close_connection = self.close_connection or unread
            self._send(error.code, json.dumps(error.status()).encode())
        except OSError:  # the client went away (a watch it stopped reading, a closed TLS session)
            self.close_connection = True
        except Exception:  # a bug of ours: say so as a Status rather than drop the connection
            log.exception("%s %s failed", method, self.path)
            self.close_connection = True
            if not self._answering:  # once an answer (a watch stream) has begun, no Status can follow it
                error = ApiError(500, "InternalError", INTERNAL_ERROR)
                self._send(error.code, json.dumps(error.status()).encode())

    def _authenticate(self) -> User:
        header = self.headers.get("Authorization", "").strip()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            # Unleash's clients send the token alone (`Authorization: <token>`): accepted on the flag console only.
            on_unleash = tuple(p for p in urlsplit(self.path).path.split("/") if p)[:2] == unleash.PREFIX
            scheme, token = ("bearer", header) if on_unleash and header and " " not in header else ("", "")
        user = self.server.api.users.by_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthorized()
        return user

    def _send(
        self, code: int, data: bytes, content_type: str = "application/json", headers: dict | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        for header, value in (headers or {}).items():
            self.send_header(header, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has the headers of the GET answer and no body
            self.wfile.write(data)

    def _send_json(self, document: dict, content_type: str = "application/json") -> None:
        self._send(200, json.dumps(document).encode(), content_type)

    @property
    def _accept(self) -> str:
        return self.headers.get("Accept", "")

    # -- routing ---------------------------------------------------------------

    def _route(self, method: str, parts: list[str], params: dict, body: bytes) -> None:
        if self._route_meta(method, parts):
            return
        if tuple(parts[:2]) == control.PREFIX:
            code, document = control.handle(self.server.api, method, parts[2:], body, self._hidden(), self._user.name)
            self._send(code, json.dumps(document).encode())
            return
        if tuple(parts[:2]) == unleash.PREFIX:
            code, answer = unleash.handle(self.server.api, method, parts[2:], self._user.name)
            self._send(code, b"" if answer is None else json.dumps(answer).encode())
            return
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise no_route()
        if not rest:
            document = api_resource_list(group, version)
            if document is None:
                raise no_route()
            if method != "GET":
                raise method_not_allowed(method)
            self._send_json(document)
            return
        if (group, version) == ("", "v1") and len(rest) >= 5 and (rest[0], rest[2], rest[4]) == PROXY_PATH:
            self._proxy(rest[1], rest[3])
            return
        resource, namespace, name, subresource = _parse_resource_path(group, version, rest)
        if resource.source == REVIEW:
            if method != "POST" or name is not None:
                raise method_not_allowed(method)
            self._send(201, json.dumps(reviews.review(resource, self._user, body)).encode())
            return
        if method in ("HEAD", "OPTIONS"):
            raise method_not_allowed(method)
        if method != "GET":
            self._write(method, resource, namespace, name, subresource, params, body)
        elif subresource == "eviction":
            raise method_not_allowed(method)
        elif subresource == "scale":
            with self.server.api.lock:
                data = json.dumps(writes.get_scale(self.server.api.sim, resource, namespace, name)).encode()
            self._send(200, data)
        elif name is not None:
            self._get(resource, namespace, name, subresource)
        elif params.get("watch") in ("true", "1"):
            self._watch(resource, namespace, params)
        else:
            self._list(resource, namespace, params)

    def _write(self, method: str, resource: Resource, namespace, name, subresource, params: dict, body: bytes) -> None:
        """PATCH, PUT (replace, status, scale), DELETE (one, collection), POST (create, eviction), under the lock."""
        api = self.server.api
        sim = api.sim
        content_type = self.headers.get("Content-Type") or "application/json"  # none on PUT /scale means JSON
        code = 200
        with api.lock:
            if method == "PATCH" and name is not None and subresource in (None, "status", "scale"):
                code, document = writes.patch(sim, resource, namespace, name, subresource, content_type, body)
            elif method == "PUT" and subresource == "scale":
                document = writes.put_scale(sim, resource, namespace, name, body)
            elif method == "PUT" and name is not None and subresource in (None, "status"):
                document = writes.replace(sim, resource, namespace, name, subresource, body)
            elif method == "DELETE" and name is not None and subresource is None:
                document = writes.delete(sim, resource, namespace, name, body, params)
            elif method == "DELETE" and name is None:
                selectors = _selectors(resource, params)
                document = writes.delete_collection(sim, resource, namespace, selectors, body, params)
            elif method == "POST" and subresource == "eviction":
                code, document = writes.evict(sim, resource, namespace, name)
            elif method == "POST" and name is None:
                code, document = writes.create(sim, resource, namespace, body)
            else:
                raise method_not_allowed(method)
            data = json.dumps(document).encode()  # inside the lock: the clock thread mutates objects
        self._send(code, data)

    def _proxy(self, namespace: str, service_id: str) -> None:
        """Any method on …/services/NAME[:PORT]/proxy[/PATH]: the app's answer, as the traffic model gives it."""
        api = self.server.api
        with api.lock:
            code, headers, document = proxy.answer(api.sim, api.proxy_rng, namespace, service_id)
        self._send(code, json.dumps(document).encode(), headers=headers)

    def _route_meta(self, method: str, parts: list[str]) -> bool:
        """/version, /healthz, discovery roots, /openapi/v3; False if the path is not one of them."""
        if parts in (["healthz"], ["livez"], ["readyz"]):
            # Plain handlers on the real server, not go-restful routes: they answer whatever the method.
            self._send(200, b"ok", "text/plain")
            return True
        group_version = None
        if len(parts) > 2 and parts[:2] == ["openapi", "v3"]:
            group_version = openapi.group_version_document("/".join(parts[2:]))
        meta = (
            parts in (["version"], ["api"], ["apis"], ["openapi", "v3"])
            or group_version is not None
            or (len(parts) == 2 and parts[0] == "apis" and parts[1] in GROUPS)
        )
        if not meta:
            return False
        if method != "GET":
            raise method_not_allowed(method)
        if parts == ["version"]:
            self._send_json(discovery.VERSION)
        elif parts in (["api"], ["apis"]):
            core = parts == ["api"]
            if discovery.wants_aggregated(self._accept):
                self._send_json(discovery.aggregated(core), discovery.AGGREGATED_TYPE)
            elif core:
                self._send_json(discovery.api_versions(self.server.api.host_port))
            else:
                self._send_json(discovery.api_group_list())
        elif parts == ["openapi", "v3"]:
            self._send_json(openapi.root_document())
        elif group_version is not None:
            self._send_json(group_version)
        else:
            self._send_json(discovery.api_group(parts[1]))
        return True

    # -- reads -----------------------------------------------------------------

    def _hidden(self) -> set[int]:
        """The timeline events this request's user is not shown: a game day's hidden faults, to all but the admin."""
        return self.server.api.hidden_events(self._user)

    def _now(self):
        sim = self.server.api.sim
        return sim_to_datetime(sim.store.epoch, sim.now)

    def _get(self, resource: Resource, namespace: str | None, name: str, subresource: str | None) -> None:
        api = self.server.api
        with api.lock:
            obj = views.get_object(api.sim, resource, namespace, name, self._hidden())
            if obj is None:
                raise not_found(resource.qualified, name)
            if wants_table(self._accept) and subresource is None:
                document, content_type = table(resource.kind, [obj], self._now(), _rv(obj)), TABLE_TYPE
            else:
                document, content_type = obj, "application/json"
            data = json.dumps(document).encode()  # inside the lock: the clock thread mutates objects
        self._send(200, data, content_type)

    def _list(self, resource: Resource, namespace: str | None, params: dict) -> None:
        api = self.server.api
        selectors = _selectors(resource, params)
        # `limit` and `continue` are ignored: "Servers may choose not to support the limit argument and will
        # return all of the available results" (k8s.io/apimachinery/pkg/apis/meta/v1/types.go ListOptions).
        with api.lock:
            listed = views.list_objects(api.sim, resource, namespace, self._hidden())
            objects = [o for o in listed if selectors.matches(o)]
            rv = str(api.sim.store.resource_version)
            if wants_table(self._accept):
                document, content_type = table(resource.kind, objects, self._now(), rv), TABLE_TYPE
            else:
                document = {
                    "kind": f"{resource.kind}List",  # kubectl fails with `Object 'Kind' is missing` without it
                    "apiVersion": resource.group_version,
                    "metadata": {"resourceVersion": rv},
                    "items": objects,
                }
                content_type = "application/json"
            data = json.dumps(document).encode()
        self._send(200, data, content_type)

    def _watch(self, resource: Resource, namespace: str | None, params: dict) -> None:
        api = self.server.api
        if params.get("sendInitialEvents") in ("true", "1"):
            # Reject watch-list so that client-go's reflector falls back to LIST+WATCH (client-go/tools/cache/
            # reflector.go); served as a plain watch, the informer never syncs and `rollout status` and `wait` hang
            # until their timeout. The words are the real server's with the WatchList gate off
            # (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go validateWatchOptions).
            raise ApiError(
                422,
                "Invalid",
                "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
                {"kind": resource.plural, "causes": [{"field": "sendInitialEvents"}]},
            )
        if resource.source != STORE:
            raise ApiError(405, "MethodNotAllowed", f"watch is not supported for {resource.plural} yet")
        selectors = _selectors(resource, params)
        try:
            timeout = min(float(params.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT), 2 * DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds {params['timeoutSeconds']!r}") from None
        as_table = wants_table(self._accept)
        text = params.get("resourceVersion", "")
        with api.lock:
            if text in ("", "0"):
                # No resourceVersion (or "0"): the current objects as ADDED, then the changes, as the watch cache
                # does (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go getAllEventsSinceLocked).
                start = api.sim.store.resource_version
                current = [o for o in views.list_objects(api.sim, resource, namespace) if selectors.matches(o)]
                initial = [self._event("ADDED", resource, o, as_table) for o in current]
            else:
                try:
                    start = int(text)
                except ValueError:
                    raise bad_request(f"invalid resourceVersion {text!r}") from None
                if api.history.too_old(start):
                    raise ApiError(410, "Expired", f"too old resource version: {start} ({api.history.horizon})")
                initial = []
        self.send_response(200)
        # application/json, as the real server sends a JSON watch (staging/src/k8s.io/apiserver/pkg/endpoints/
        # handlers/watch.go serveWatch): client-go picks its stream decoder by this Content-Type.
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        for line in initial:
            self._chunk(line)
        self.wfile.flush()
        deadline = time.monotonic() + timeout
        last = start
        while not api.history.closed and (left := deadline - time.monotonic()) > 0:
            for change in api.history.wait_after(resource.kind, last, min(WAKE_INTERVAL, left)):
                last = change.resource_version
                obj = change.object
                if namespace is not None and obj["metadata"].get("namespace") != namespace:
                    continue
                if selectors.matches(obj):
                    self._chunk(self._event(change.type, resource, obj, as_table))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")  # the zero-length chunk ends the stream (RFC 9112 §7.1)
        self.wfile.flush()

    def _event(self, event_type: str, resource: Resource, obj: dict, as_table: bool) -> bytes:
        if as_table:  # `kubectl get -w` asks for Tables on the watch too
            obj = table(resource.kind, [obj], self._now(), _rv(obj))
        # One JSON object per line: the Python client's watch silently yields nothing without the newline.
        return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _rv(obj: dict) -> str:
    return obj["metadata"].get("resourceVersion", "")


def _parse_resource_path(
    group: str, version: str, rest: list[str]
) -> tuple[Resource, str | None, str | None, str | None]:
    """[namespaces/NS/]PLURAL[/NAME[/SUBRESOURCE]] -> (resource, namespace, name, subresource)."""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    else:
        namespace = None
    if len(rest) > 3:
        raise no_route()
    resource = find(group, version, rest[0])
    if resource is None:
        raise no_route()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if namespace is not None and not resource.namespaced:
        raise no_route()
    if namespace is None and resource.namespaced and name is not None:
        raise no_route()
    if subresource not in (None, "status", "scale", "eviction"):
        raise no_route()
    return resource, namespace, name, subresource


def _selectors(resource: Resource, params: dict) -> Selectors:
    return Selectors.parse(resource.kind, params.get("labelSelector", ""), params.get("fieldSelector", ""))

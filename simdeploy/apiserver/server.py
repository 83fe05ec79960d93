"""The API server: simulation, clock driver, change history and HTTPS server, started and stopped together."""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from simdeploy.apiserver import proxy
from simdeploy.apiserver.clock import ClockDriver, SimulationLock
from simdeploy.apiserver.handler import ApiHandler
from simdeploy.apiserver.history import WatchHistory
from simdeploy.apiserver.kubeconfig import kubeconfig, write_kubeconfig
from simdeploy.apiserver.page import Page
from simdeploy.apiserver.requests_log import RequestLog
from simdeploy.apiserver.resources import store_kinds
from simdeploy.apiserver.tls import Certificates, make_certificates, server_context
from simdeploy.apiserver.users import ADMIN, User, Users

log = logging.getLogger(__name__)

LINGER = 2.0  # seconds a closing connection keeps reading what the client still sends
LINGER_BYTES = 8 * 1024 * 1024  # and how much of it at most
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # bound to every interface: dial loopback


class ListenError(OSError):
    """The server could not listen where it was asked to (port in use, no such address, port out of range)."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # watch streams must not keep the process alive after stop()
    api: ApiServer

    def handle_error(self, request, client_address) -> None:
        # TLS handshakes that fail (a client that does not trust the session's CA) are routine, not tracebacks.
        log.debug("connection from %s failed", client_address, exc_info=True)

    def shutdown_request(self, request) -> None:
        # A lingering close (RFC 9112 §9.6): a client still sending a body we refused unread (401, 413) must
        # get to read the answer; closing with its bytes unread would reset the connection and lose it.
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER)
            deadline, drained = time.monotonic() + LINGER, 0
            while drained < LINGER_BYTES and time.monotonic() < deadline:
                data = request.recv(64 * 1024)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass
        self.close_request(request)


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6


def is_loopback(address: str) -> bool:
    """Whether only this machine can reach `address` (a wildcard or a host name may be reached from outside)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ApiServer:
    """Serve one Simulation over the Kubernetes API (reads, watches, writes), advancing it with the wall clock.

    `with ApiServer(sim, name=...) as server:` starts it; `server.kubeconfig_path` is ready for kubectl.
    `users` adds identities to the admin's, by name: role "player" or "observer" (users.py, authorization.py);
    each gets its own token and kubeconfig (`server.kubeconfigs[name]`), in `kubeconfig_dir` if given.
    """

    def __init__(
        self,
        sim,
        name: str,
        speed: float = 1.0,
        address: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: Path | None = None,
        duration_limit: bool = False,
        namespace: str = "default",
        users: dict[str, str] | None = None,
        kubeconfig_dir: Path | None = None,
    ):
        self.sim = sim
        self.name = name
        self.namespace = namespace  # what facilitator actions act on when they name no namespace
        self.address = address
        self.port = port
        self.users = Users(users)  # ValueError for a name or a role it cannot take
        self.token = self.users.admin.token
        self.proxy_rng = proxy.rng_for(sim)  # the Service proxy's draws, never the simulation's
        self.lock = SimulationLock()  # shared by the clock driver and every request; requests go first
        self.clock = ClockDriver(sim, self.lock, speed, sim.duration if duration_limit else None)
        self.history: WatchHistory | None = None
        self.requests = RequestLog()
        # What of sim.recorder.events only the admin is shown: the narration of a game day's hidden faults
        # (`BehaviourChanged`, `NodeFailure`...), which a real cluster would never show its users, by index, and
        # what is said later of the (kind, name) subjects they changed that are no Kubernetes object (a flag).
        self.private_events: set[int] = set()
        self.private_subjects: set[tuple[str, str]] = set()
        self.page: Page | None = None  # a game day's pager (/simdeploy/v1/page); plain serve has none
        self._started_wall: float | None = None
        self._stopped_wall: float | None = None
        self._workdir: Path | None = None
        self.certificates: Certificates | None = None
        self._kubeconfig_path = kubeconfig_path
        self._kubeconfig_dir = kubeconfig_dir
        self.kubeconfig_path: Path | None = None  # the admin's
        self.kubeconfigs: dict[str, Path] = {}  # every identity's, by name
        self._written: list[Path] = []
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host_port(self) -> str:
        # A wildcard bind is reached through loopback from this machine; kubeconfig needs a dialable host.
        host = _WILDCARDS.get(self.address, self.address)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host_port}"

    @property
    def ca_path(self) -> Path | None:
        """The session CA's certificate (PEM) while the server runs: what clients verify the server with."""
        return None if self.certificates is None else self.certificates.ca

    def start(self) -> ApiServer:
        """Listen, make the certificates and the kubeconfig, start the clock; ListenError if it cannot listen.

        A failed start leaves nothing behind: no socket, no certificate directory, no kubeconfig.
        """
        httpd = self._listen()
        try:
            self._workdir = Path(tempfile.mkdtemp(prefix="simdeploy-serve-"))
            with self.lock:
                self.history = WatchHistory(self.sim.store, store_kinds())
            self.port = httpd.server_address[1]
            host = self.host_port.rpartition(":")[0].strip("[]")
            names = ["127.0.0.1", "::1", "localhost", host, self.address]
            if self.address in _WILDCARDS:
                names.append(socket.gethostname())  # how other machines are likely to name this one
            self.certificates = make_certificates(self._workdir, names)
            httpd.socket = server_context(self.certificates).wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self._write_kubeconfigs()
        except BaseException:
            httpd.server_close()
            for path in self._written:  # the ones already written where the user asked
                path.unlink(missing_ok=True)
            self._written, self.kubeconfigs, self.kubeconfig_path = [], {}, None
            self._remove_workdir()
            raise
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="simdeploy-apiserver", daemon=True)
        self._thread.start()
        self._started_wall = time.monotonic()
        self.clock.start()
        return self

    def _write_kubeconfigs(self) -> None:
        """The admin's where asked (or in the certificate directory), and one per identity in `kubeconfig_dir`."""
        ca_pem = self.certificates.ca_pem
        wanted = [(self.users.admin, self._kubeconfig_path or self._workdir / "kubeconfig")]
        directory = self._kubeconfig_dir or self._workdir
        wanted += [(user, directory / f"{user.name}.kubeconfig") for user in self.users.all[1:]]
        if self._kubeconfig_dir is not None:
            wanted.append((self.users.admin, directory / f"{self.users.admin.name}.kubeconfig"))
        for user, path in wanted:
            write_kubeconfig(path, kubeconfig(self.name, self.url, user.token, ca_pem, user.name))
            self._written.append(path)
            self.kubeconfigs.setdefault(user.name, path)
        self.kubeconfig_path = self.kubeconfigs[self.users.admin.name]

    def _listen(self) -> _HttpServer:
        where = f"{self.address}:{self.port}"
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ListenError(f"cannot listen on {where}: a port is a number from 0 to 65535")
        server_class = _HttpServer6 if ":" in self.address else _HttpServer
        try:
            httpd = server_class((self.address, self.port), ApiHandler)
        except (OSError, OverflowError, UnicodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ListenError(f"cannot listen on {where}: {reason}") from None
        httpd.api = self
        return httpd

    def record_request(
        self,
        method: str,
        path: str,
        code: int,
        user_agent: str,
        user: str | None = None,
        command: str | None = None,
        session: str | None = None,
    ) -> None:
        wall = time.monotonic() - (self._started_wall or time.monotonic())
        self.requests.add(self.sim.now, wall, method, path, code, user_agent, user, command, session)

    def hidden_events(self, user: User | None) -> set[int]:
        """Indices of the timeline's events `user` is not shown: the private ones, to everyone but the admin."""
        if (user is not None and user.role == ADMIN) or not (self.private_events or self.private_subjects):
            return set()
        with self.lock:
            events = self.sim.recorder.events
            said = {n for n, e in enumerate(events) if (e["kind"], e["name"]) in self.private_subjects}
            return self.private_events | said

    def result(self) -> dict:
        """The session's result document: `simdeploy run --json`'s, plus how it was served and what was asked."""
        with self.lock:
            document = self.sim.result()
        document["session"] = {
            "url": self.url,
            "speed": self.clock.speed,
            "simulated_s": round(self.sim.now, 3),
            "wall_s": self._wall_seconds(),
            "clock_error": None if self.clock.error is None else repr(self.clock.error),
            "users": self.users.document(),
            "requests": self.requests.document(),
        }
        return document

    def _wall_seconds(self) -> float:
        if self._started_wall is None:
            return 0.0
        return round((self._stopped_wall or time.monotonic()) - self._started_wall, 3)

    def stop(self) -> None:
        """Stop the clock, end the watch streams, close the socket and remove the certificate and key."""
        self.clock.stop()
        self._stopped_wall = time.monotonic()
        if self.history is not None:
            self.history.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)  # a default kubeconfig there is useless now
            self._workdir = None
        self.certificates = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

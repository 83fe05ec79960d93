"""The session's request log: each API request answered, with simulated and wall time, for the result document."""

from __future__ import annotations

import threading
from collections import Counter, deque
from urllib.parse import urlsplit

KEEP = 10_000  # requests kept in full; older ones survive only in the counts
HEADER_CHARS = 200  # a client's own words (kubectl's command headers) are kept this long at most


class RequestLog:
    """What clients asked of the server and what they got: the runbook as it was actually typed."""

    def __init__(self, keep: int = KEEP):
        self._lock = threading.Lock()  # handlers run on their own threads
        self._entries: deque[dict] = deque(maxlen=keep)
        self._by_status: Counter[int] = Counter()
        self._by_user: Counter[str] = Counter()
        self.total = 0

    def add(
        self,
        sim_time: float,
        wall_time: float,
        method: str,
        path: str,
        code: int,
        user_agent: str,
        user: str | None = None,
        command: str | None = None,
        session: str | None = None,
    ) -> None:
        """One answered request; `user` is who sent it (None when the token was refused or never read).

        `command` and `session` are kubectl's `Kubectl-Command` and `Kubectl-Session` headers: what was typed
        (`kubectl rollout undo`, without its arguments) and a random id shared by the requests of one invocation.
        """
        url = urlsplit(path)
        entry = {
            "at_s": round(sim_time, 3),
            "wall_s": round(wall_time, 3),
            "method": method,
            "path": url.path,
            "query": url.query,
            "code": code,
            "user_agent": user_agent,
            "user": user,
            "command": command[:HEADER_CHARS] if command else None,
            "session": session[:HEADER_CHARS] if session else None,
        }
        with self._lock:
            self._entries.append(entry)
            self._by_status[code] += 1
            if user is not None:
                self._by_user[user] += 1
            self.total += 1

    def document(self) -> dict:
        """The `requests` section of the serve result document."""
        with self._lock:
            entries = list(self._entries)
            by_status = {str(code): n for code, n in sorted(self._by_status.items())}
            by_user = dict(sorted(self._by_user.items()))
            total = self.total
        return {
            "total": total,
            "by_status": by_status,
            "by_user": by_user,
            "dropped": total - len(entries),
            "log": entries,
        }

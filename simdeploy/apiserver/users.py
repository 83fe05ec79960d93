"""The identities a session serves: each a name, a role (admin, player, observer) and its own bearer token."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field

ADMIN, PLAYER, OBSERVER = "admin", "player", "observer"
ROLES = (ADMIN, PLAYER, OBSERVER)
ADMIN_NAME = "admin"  # the identity every session has: the facilitator's, in the kubeconfig `serve` always writes
# A name becomes a kubeconfig user and a file name (DIR/<name>.kubeconfig): a DNS-1123 label keeps both plain.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class User:
    """One identity: who the request log says asked, what its role lets it do."""

    name: str
    role: str
    token: str = field(repr=False, compare=False)

    @property
    def groups(self) -> list[str]:
        """Its groups, as `kubectl auth whoami` shows them."""
        return [f"simdeploy:{self.role}s", "system:authenticated"]


def name_problem(name: str) -> str | None:
    """Why `name` cannot name an identity, or None."""
    if not _NAME.fullmatch(name) or len(name) > 63:
        return (
            "a name is lower case letters, digits and '-', starting and ending with a letter or digit "
            "(at most 63 characters)"
        )
    if name == ADMIN_NAME:
        return f"{ADMIN_NAME!r} is the facilitator's identity, which every session has"
    return None


class Users:
    """The session's identities: the admin, then the others in the order given; found by token."""

    def __init__(self, others: dict[str, str] | None = None):
        self.all = [User(ADMIN_NAME, ADMIN, secrets.token_urlsafe(32))]
        for name, role in (others or {}).items():
            problem = name_problem(name)
            if problem is not None:
                raise ValueError(f"user {name!r}: {problem}")
            if role not in ROLES:
                raise ValueError(f"user {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
            self.all.append(User(name, role, secrets.token_urlsafe(32)))

    @property
    def admin(self) -> User:
        return self.all[0]

    def by_token(self, token: str) -> User | None:
        """The identity holding `token`; every token is compared, in constant time, whichever matches."""
        found = None
        for user in self.all:
            if hmac.compare_digest(token.encode(), user.token.encode()):
                found = user
        return found

    def document(self) -> list[dict]:
        """The `users` of the session document: names and roles, never tokens."""
        return [{"name": user.name, "role": user.role} for user in self.all]

"""A game day's page under /simdeploy/v1/page: everyone reads its state; players and the admin acknowledge it.

The server knows nothing of game days: a game-day session hands it an object with the `Page` protocol
(`ApiServer.page`); plain `simdeploy serve` has none, and the path answers 404. The acknowledgement is kept as
PagerDuty keeps an incident's: the first one stands, and acknowledging again answers the page as it is.
"""

from __future__ import annotations

from typing import Protocol

from simdeploy.apiserver.bodies import decode_body
from simdeploy.apiserver.status import ApiError, bad_request, method_not_allowed, no_route

NOT_A_GAME_DAY = "no page here: /simdeploy/v1/page is served during a game day (`simdeploy gameday`) only"


class NothingToAcknowledge(Exception):
    """Acknowledging before anybody was paged."""


class Page(Protocol):
    """What the pager shows: `{state: none|triggered|acknowledged, triggered_s, why, acknowledged_s,
    acknowledged_by}`, only what the pager knows (the trigger that paged), nothing of what caused it."""

    def state(self) -> dict: ...

    def acknowledge(self, user: str) -> dict:
        """`user` acknowledges now (the first acknowledgement is kept); the state after; NothingToAcknowledge
        before the page."""
        ...


def handle(api, method: str, parts: list[str], body: bytes, user: str) -> tuple[int, dict]:
    """Answer /simdeploy/v1/page[/acknowledge]; `parts` is the path after /simdeploy/v1."""
    if parts not in (["page"], ["page", "acknowledge"]):
        raise no_route()
    page: Page | None = api.page
    if page is None:
        raise ApiError(404, "NotFound", NOT_A_GAME_DAY, {})
    if parts == ["page"]:
        if method not in ("GET", "HEAD"):
            raise method_not_allowed(method)
        with api.lock:
            return 200, page.state()
    if method != "POST":
        raise method_not_allowed(method)
    unknown = sorted(decode_body(body))
    if unknown:
        raise bad_request(f"page/acknowledge: unknown field {unknown[0]!r} (send no body, or {{}})")
    with api.lock:  # between two steps of the simulation: the acknowledgement takes the simulated moment it came
        try:
            return 200, page.acknowledge(user)
        except NothingToAcknowledge as error:
            raise ApiError(409, "Conflict", str(error), {}) from None

"""Errors as Kubernetes Status objects (metav1.Status), the shape kubectl prints as `Error from server (Reason)`."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as a Status with this HTTP code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(qualified: str, name: str) -> ApiError:
    """What the real apiserver says for a missing object: `deployments.apps "x" not found`."""
    plural, _, group = qualified.partition(".")
    details = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', details)


def no_route() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(method: str) -> ApiError:
    # The real apiserver's words; kubectl prints them after `Error from server (MethodNotAllowed)`.
    return ApiError(
        405, "MethodNotAllowed", f"{method}: the server does not allow this method on the requested resource"
    )

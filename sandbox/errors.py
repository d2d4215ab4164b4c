"""Google-shaped errors: `{"error": {"code", "message", "status", "errors": [...]}}`.

Handlers raise `GoogleError`; the server turns it into the body Google sends,
so client libraries (gspread's APIError, googleapiclient's HttpError and its
retry rules) react exactly as they would in production.
"""
from __future__ import annotations

from typing import Any

_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}

_REASON_BY_CODE = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


class GoogleError(Exception):
    """An API error exactly as Google would report it."""

    def __init__(self, code: int, message: str, *, status: str | None = None,
                 reason: str | None = None, domain: str = "global",
                 location: str | None = None, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_BY_CODE.get(code, "UNKNOWN")
        self.reason = reason or _REASON_BY_CODE.get(code, "unknown")
        self.domain = domain
        self.location = location
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "domain": self.domain,
                                "reason": self.reason}
        if self.location:
            item["location"] = self.location
            item["locationType"] = "parameter"
        error: dict[str, Any] = {"code": self.code, "message": self.message,
                                 "errors": [item], "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str, **kw: Any) -> GoogleError:
    return GoogleError(400, message, **kw)


def not_found(message: str, **kw: Any) -> GoogleError:
    return GoogleError(404, message, **kw)


def unauthenticated() -> GoogleError:
    return GoogleError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason="authError", location="Authorization")


def quota_exceeded(service: str, metric: str, limit_name: str) -> GoogleError:
    message = (f"Quota exceeded for quota metric '{metric}' and limit '{limit_name}' "
               f"of service '{service}' for consumer 'project_number:000000000000'.")
    return GoogleError(429, message, reason="rateLimitExceeded",
                       details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                                 "metadata": {"service": service, "quota_metric": metric,
                                              "quota_limit": limit_name}}])


def transient(code: int) -> GoogleError:
    """The failures `--fail-rate` injects, with the bodies Google sends for them."""
    if code == 429:
        return GoogleError(429, "Resource has been exhausted (e.g. check quota).",
                           reason="rateLimitExceeded")
    if code == 503:
        return GoogleError(503, "The service is currently unavailable.", reason="backendError")
    return GoogleError(500, "Internal error encountered.", reason="backendError")

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


# APIs whose error bodies carry the `errors[]` array. Sheets v4 does not: Google
# answers it with `{"error": {"code", "message", "status", "details"?}}` only,
# e.g. `{"code": 400, "message": "Invalid requests[0].updateSheetProperties: No
# sheet with id: 0", "status": "INVALID_ARGUMENT"}` (quoted in blinkk/rootjs#554)
# and the 429 quota body whose reason is only in details[] (ErrorInfo). Product
# code reads either style (workspace.google_errors.error_reason).
LEGACY_ERRORS_APIS = frozenset({"docs", "forms", "drive", "gmail"})

# The API name under which the batch endpoint's own errors are answered (a batch
# over the limit, a body that is not a batch): in the newer shape, without
# `errors[]`, e.g. `{"error": {"code": 400, "message": "Inner request count
# exceeds the limit. Received: 100, Limit: 50", "status": "INVALID_ARGUMENT"}}`
# (quoted in GAM-team/got-your-back#256). See sandbox/batch.py.
BATCH_FRONTEND = "batch"

SERVICES = {"sheets": "sheets.googleapis.com", "drive": "drive.googleapis.com",
            "gmail": "gmail.googleapis.com", "docs": "docs.googleapis.com",
            "forms": "forms.googleapis.com"}


class GoogleError(Exception):
    """An API error exactly as Google would report it.

    `item_message` is the `errors[].message` when Google words it differently
    from the top-level message (401: "Invalid Credentials"); `details` may hold
    a `{service}` placeholder in ErrorInfo metadata, filled per API."""

    def __init__(self, code: int, message: str, *, status: str | None = None,
                 reason: str | None = None, domain: str = "global",
                 location: str | None = None, location_type: str = "parameter",
                 item_message: str | None = None, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_BY_CODE.get(code, "UNKNOWN")
        self.reason = reason or _REASON_BY_CODE.get(code, "unknown")
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.item_message = item_message
        self.details = details
        self.headers = headers or {}

    def body(self, api: str | None = None) -> dict[str, Any]:
        """The JSON body for `api` (None: the legacy shape, with `errors[]`)."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if api is None or api in LEGACY_ERRORS_APIS:
            item: dict[str, Any] = {"message": self.item_message or self.message,
                                    "domain": self.domain, "reason": self.reason}
            if self.location:
                item["location"] = self.location
                item["locationType"] = self.location_type
            error["errors"] = [item]
        error["status"] = self.status
        if self.details:
            service = SERVICES.get(api or "", "googleapis.com")
            error["details"] = [_fill(d, service) for d in self.details]
        return {"error": error}


def _fill(detail: dict[str, Any], service: str) -> dict[str, Any]:
    if "metadata" not in detail:
        return detail
    meta = {k: (v.replace("{service}", service) if isinstance(v, str) else v)
            for k, v in detail["metadata"].items()}
    return {**detail, "metadata": meta}


def invalid_argument(message: str, **kw: Any) -> GoogleError:
    return GoogleError(400, message, **kw)


def not_found(message: str, **kw: Any) -> GoogleError:
    return GoogleError(404, message, **kw)


def _error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
            "domain": "googleapis.com", "metadata": {"service": "{service}", **metadata}}


def unauthenticated(missing: bool = False) -> GoogleError:
    """401 for a request without a token (`missing`) or with one Google rejects."""
    tail = ("Expected OAuth 2 access token, login cookie or other valid authentication "
            "credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
    if missing:
        return GoogleError(401, "Request is missing required authentication credential. " + tail,
                           reason="required", item_message="Login Required.",
                           location="Authorization", location_type="header",
                           details=[_error_info("CREDENTIALS_MISSING")])
    return GoogleError(401, "Request had invalid authentication credentials. " + tail,
                       reason="authError", item_message="Invalid Credentials",
                       location="Authorization", location_type="header",
                       details=[_error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED")])


def insufficient_scopes() -> GoogleError:
    """403 for a token whose scopes do not include any the method accepts."""
    return GoogleError(403, "Request had insufficient authentication scopes.",
                       reason="insufficientPermissions", item_message="Insufficient Permission",
                       details=[_error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT")])


def quota_exceeded(service: str, metric: str, limit_name: str, metric_id: str = "",
                   limit_id: str = "", limit_value: int = 0) -> GoogleError:
    """429 for a per-minute quota; the message is Google's word for word, the
    ErrorInfo metadata uses the machine names (`sheets.googleapis.com/read_requests`)."""
    message = (f"Quota exceeded for quota metric '{metric}' and limit '{limit_name}' "
               f"of service '{service}' for consumer 'project_number:000000000000'.")
    metadata = {"service": service, "quota_metric": metric_id or metric,
                "quota_limit": limit_id or limit_name, "quota_location": "global",
                "consumer": "projects/000000000000"}
    if limit_value:
        metadata["quota_limit_value"] = str(limit_value)
    return GoogleError(429, message, reason="rateLimitExceeded", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
         "domain": "googleapis.com", "metadata": metadata},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": [
            {"description": "Request a higher quota limit.",
             "url": "https://cloud.google.com/docs/quotas/help/request_increase"}]}])


def internal() -> GoogleError:
    return GoogleError(500, "Internal error encountered.", reason="backendError")


def transient(code: int) -> GoogleError:
    """The failures `--fail-rate` injects, with the bodies Google sends for them."""
    if code == 429:
        return GoogleError(429, "Resource has been exhausted (e.g. check quota).",
                           reason="rateLimitExceeded")
    if code == 503:
        return GoogleError(503, "The service is currently unavailable.", reason="backendError")
    return internal()

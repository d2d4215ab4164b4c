"""The sandbox HTTP server: Google's REST wire format on 127.0.0.1.

Per request: route (from the discovery documents) → authenticate → injected
latency and faults → per-minute quota → validate parameters and body → run the
API module's handler inside one SQLite transaction → partial response
(`fields`) → log (method, path, status) in the request log.

A batch request (`POST /batch/drive/v3`, sandbox/batch.py) is taken apart and
each of its inner requests served by that same path, in order.
"""
from __future__ import annotations

import email.parser
import email.policy
import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from . import batch, discovery, fields, oauth
from .api import HANDLERS, Call, Raw, load_all, sharing
from .errors import (BATCH_FRONTEND, GoogleError, insufficient_scopes, internal, invalid_argument,
                     quota_exceeded, transient, unauthenticated)
from .store import Store

load_all()

# Per-minute, per-user limits Google documents (see shared/GOOGLE-OFFLINE.md).
QUOTA_PRESETS: dict[str, dict[str, dict[str, int]]] = {
    "off": {},
    "google": {
        "sheets": {"read": 60, "write": 60},
        "docs": {"read": 300, "write": 60},
        "forms": {"read": 390, "write": 390},
        "drive": {"read": 325_000, "write": 325_000},
        "gmail": {"units": 15_000},
    },
}

# Gmail quota units per method (messages.send is the expensive one).
GMAIL_UNITS = {"gmail.users.messages.send": 100, "gmail.users.drafts.send": 100,
               "gmail.users.drafts.create": 10, "gmail.users.messages.list": 5,
               "gmail.users.messages.get": 5, "gmail.users.getProfile": 1}

_QUOTA_NAMES = {
    "sheets": ("sheets.googleapis.com", {"read": "Read requests", "write": "Write requests"}),
    "docs": ("docs.googleapis.com", {"read": "Read requests", "write": "Write requests"}),
    "forms": ("forms.googleapis.com", {"read": "Read requests", "write": "Write requests"}),
    "drive": ("drive.googleapis.com", {"read": "Queries", "write": "Queries"}),
    "gmail": ("gmail.googleapis.com", {"units": "Queries"}),
}
# The machine names Google puts in the 429's ErrorInfo metadata.
_QUOTA_IDS = {"Read requests": ("read_requests", "ReadRequestsPerMinutePerUser"),
              "Write requests": ("write_requests", "WriteRequestsPerMinutePerUser"),
              "Queries": ("default", "defaultPerMinutePerUser")}

# Google refuses JSON bodies above this ("Request payload size exceeds the limit").
MAX_JSON_BODY = 10 * 1024 * 1024

READ_METHODS_BY_POST = {"sheets.spreadsheets.getByDataFilter",
                        "sheets.spreadsheets.values.batchGetByDataFilter",
                        "sheets.spreadsheets.developerMetadata.search"}


@dataclass
class Options:
    """How this server behaves. Unset values fall back to the data folder's
    settings (so an embedded server and `sandbox serve` agree), then defaults."""
    latency_ms: int | None = None
    fail_rate: float | None = None
    fail_after_rate: float | None = None
    require_auth: bool | None = None
    quotas: dict[str, dict[str, int]] | None = None
    gmail_daily_limit: int | None = None
    gmail_daily_window_s: int | None = None
    gmail_max_recipients: int | None = None
    clock_offset_s: float | None = None
    seed: int | None = None
    # Domains whose addresses have no Google account: Drive will not share
    # with them silently (tests of that refusal).
    no_account_domains: list[str] | None = None

    def resolve(self, stored: dict[str, Any]) -> dict[str, Any]:
        defaults = {"latency_ms": 0, "fail_rate": 0.0, "fail_after_rate": 0.0,
                    "require_auth": False, "quotas": {}, "gmail_daily_limit": 0,
                    "gmail_daily_window_s": 86_400, "clock_offset_s": 0, "gmail_max_recipients": 100,
                    "no_account_domains": []}
        out = {**defaults, **{k: v for k, v in stored.items() if k in defaults}}
        for key in defaults:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if isinstance(out["quotas"], str):
            out["quotas"] = QUOTA_PRESETS[out["quotas"]]
        return out


JSON_TYPE = "application/json; charset=UTF-8"

# What serve_request answers: (status, headers with the Content-Type, body).
Answer = tuple[int, dict[str, str], bytes]


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _kind(route: discovery.Route) -> str:
    if route.http_method == "GET" or route.method_id in READ_METHODS_BY_POST:
        return "read"
    return "write"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client
    # waits for the delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the request log in SQLite is the record; stderr stays quiet

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.store.close()

    # ------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send an answer; `headers` holds its Content-Type."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self, url_path: str) -> tuple[bytes, GoogleError | None]:
        """The request body, or the 400 to answer once the request is routed
        (a body that is too big is drained, so the client reads the answer)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return b"", invalid_argument("Invalid Content-Length header.")
        if length > MAX_JSON_BODY and not url_path.startswith("/upload/"):
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
            return b"", invalid_argument(
                f"Request payload size exceeds the limit: {MAX_JSON_BODY} bytes.")
        return (self.rfile.read(length) if length > 0 else b""), None

    def _serve(self, http_method: str) -> None:
        url = urlsplit(self.path)
        if url.path.rstrip("/") in ("/token", "/oauth2/v4/token"):
            self._token(url.path)
            return
        raw, body_error = self._read_body(url.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer_headers, content = self.server.serve_request(
            http_method, url.path, url.query, headers, raw, body_error=body_error)
        self._send(status, content, answer_headers)

    def _token(self, path: str) -> None:
        store = self.server.store
        raw, body_error = self._read_body(path)
        try:
            if body_error is not None:
                raise oauth.TokenError("invalid_request", body_error.message)
            status, payload = 200, oauth.exchange(store, raw)
        except oauth.TokenError as err:
            status, payload = err.status, err.body()
        except Exception as exc:  # a sandbox bug: answer, and let the fixtures see it
            status, payload = 500, {"error": "internal_failure", "error_description": "Internal error."}
            self.server.last_internal_error = exc
        try:
            store.log_request(api="oauth", method_id="oauth.token", http_method="POST",
                              path="/token", status=status, principal=None, kind="write", units=1)
        except Exception as exc:
            self.server.last_internal_error = exc
        self._send(status, _json_bytes(payload), {"Content-Type": JSON_TYPE})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, options: Options):
        super().__init__(address, _Handler)
        self.store = store
        self.options = options
        self.rng = random.Random(options.seed)
        self.last_internal_error: Exception | None = None
        self.moments: dict[str, list[Callable[[str], int | None]]] = {}

    def serve_request(self, http_method: str, path: str, query: str, headers: dict[str, str],
                      raw: bytes, *, body_error: GoogleError | None = None,
                      batch_api: str | None = None) -> Answer:
        """Serve one API request: `path` still percent-encoded, `query` the raw
        query string, `headers` by lower-case name. Returns (status, headers
        with the Content-Type, body). `batch_api`: the API of the batch this
        request is part of (None: it came on its own); `body_error`: the 400
        to answer once the request is routed."""
        if batch_api is None and path in discovery.batch_paths():
            return self._serve_batch(http_method, path, headers, raw, body_error)
        store = self.store
        api, method_id, principal, kind, units = "unknown", None, None, None, 1
        body_api: str | None = None  # which API's error shape to answer in
        answer_headers: dict[str, str] = {}
        try:
            settings = self.options.resolve(store.get_settings())
            route, path_params = discovery.match(http_method, path)
            if batch_api is not None:
                _check_batchable(route, path, query, batch_api)
            api, method_id, kind = route.api, route.method_id, _kind(route)
            body_api = api
            units = GMAIL_UNITS.get(method_id, 5) if api == "gmail" else 1
            principal, restricted, scopes = self._authenticate(settings, route, headers)
            if body_error is not None:
                raise body_error
            # A batch is one round trip: its latency is added once, to the whole batch.
            if settings["latency_ms"] and batch_api is None:
                time.sleep(settings["latency_ms"] / 1000)
            rng = self.rng
            if settings["fail_rate"] and rng.random() < settings["fail_rate"]:
                raise transient(rng.choice([429, 500, 503]))
            self._check_quota(settings, api, principal, kind, units)
            params = discovery.parse_params(route, path_params,
                                            parse_qs(query, keep_blank_values=True))
            body, media, media_type = _decode_body(route, params, raw,
                                                   headers.get("content-type", ""))
            discovery.validate_body(route, body)
            handler = HANDLERS.get(method_id)
            if handler is None:
                raise GoogleError(501, f"Method {method_id} is not implemented by the sandbox.",
                                  status="UNIMPLEMENTED", reason="notImplemented")
            with store.transaction(write=kind == "write") as db:
                # `clock_offset_s` (a setting of the data folder) moves the sandbox's
                # clock forward: "the next day" without waiting for it.
                call = Call(db=db, store=store, method_id=method_id, params=params, body=body,
                            principal=principal, settings=settings, media=media,
                            media_type=media_type,
                            now=time.time() + float(settings["clock_offset_s"] or 0),
                            restricted=restricted, scopes=scopes)
                sharing.check_access(call, route.api, kind)
                result = handler(call)
            if settings["fail_after_rate"] and kind == "write" and rng.random() < settings["fail_after_rate"]:
                # The work is done and committed, but the answer is lost on the way back.
                raise transient(rng.choice([500, 503]))
            if isinstance(result, Raw):
                status, content, content_type = result.status, result.content, result.content_type
            else:
                status, content_type = 200, JSON_TYPE
                content = _json_bytes(fields.select({} if result is None else result,
                                                    params.get("fields")))
        except GoogleError as err:
            status, content_type = err.code, JSON_TYPE
            content = _json_bytes(err.body(body_api))
            answer_headers = dict(err.headers)
            if err.code == 429:
                answer_headers.setdefault("Retry-After", "1")
        except Exception as exc:  # a sandbox bug must still answer like a server
            status, content_type = 500, JSON_TYPE
            # Google's words; the exception itself is kept for the test fixtures.
            content = _json_bytes(internal().body(body_api))
            self.last_internal_error = exc
        # Logged before the answer leaves, so a client that has its answer
        # always finds its request in the log (tests count requests per method).
        self._log(api=api, method_id=method_id, http_method=http_method, path=path,
                  status=status, principal=principal, kind=kind, units=units)
        # Something a person does at exactly this moment (tests of races): it
        # happens after the request was served and before its answer leaves.
        for hook in list(self.moments.get(method_id or "", [])):
            lost = hook(path)
            if lost:   # the work is done, but its answer is lost on the way back
                status, content_type = int(lost), JSON_TYPE
                content = _json_bytes(transient(int(lost)).body(body_api))
        return status, {"Content-Type": content_type, **answer_headers}, content

    def _serve_batch(self, http_method: str, path: str, headers: dict[str, str], raw: bytes,
                     body_error: GoogleError | None) -> Answer:
        """A batch request (sandbox/batch.py): each inner request served by
        serve_request as if it had come on its own (authentication, quotas,
        faults, validation, sharing), in order, each in its own transaction;
        the answer is 200 whatever their statuses. The batch itself is logged
        apart (kind "batch", no quota units): Google counts the inner requests."""
        api = discovery.batch_paths()[path]
        try:
            if http_method != "POST":
                raise GoogleError(405, f"Method {http_method} is not allowed on {path}.",
                                  status="INVALID_ARGUMENT")
            if body_error is not None:
                raise body_error
            inner = batch.parse(headers.get("content-type", ""), raw)
            api = api or batch.infer_api(inner)
            limit = batch.max_calls(api)
            if len(inner) > limit:
                raise batch.too_many(len(inner), limit)
            settings = self.options.resolve(self.store.get_settings())
            if settings["latency_ms"]:
                time.sleep(settings["latency_ms"] / 1000)
            answers = []
            for request in inner:
                status, answer_headers, content = self.serve_request(
                    request.method, request.path, request.query,
                    batch.inner_headers(headers, request.headers), request.body,
                    batch_api=api or "unknown")
                answers.append((request.content_id, status, answer_headers, content))
            content_type, content = batch.render(answers)
            status, answer_headers = 200, {"Content-Type": content_type}
        except GoogleError as err:
            status, content = err.code, _json_bytes(err.body(BATCH_FRONTEND))
            answer_headers = {"Content-Type": JSON_TYPE, **err.headers}
        except Exception as exc:  # a sandbox bug must still answer like a server
            status, content = 500, _json_bytes(internal().body(BATCH_FRONTEND))
            answer_headers = {"Content-Type": JSON_TYPE}
            self.last_internal_error = exc
        self._log(api=api or "unknown", method_id=None, http_method=http_method, path=path,
                  status=status, principal=None, kind="batch", units=0)
        return status, answer_headers, content

    def _log(self, **entry: Any) -> None:
        try:
            self.store.log_request(**entry)
        except Exception as exc:  # never let the log hide the answer
            self.last_internal_error = exc

    def _authenticate(self, settings: dict[str, Any], route: discovery.Route,
                      headers: dict[str, str]) -> tuple[str, bool, frozenset[str] | None]:
        """Who is calling, whether they are restricted to the files they own or
        that are shared with them (a token the sandbox issued), and the scopes
        the token was granted."""
        header = headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            raise unauthenticated(missing=True)
        store = self.store
        principal = oauth.principal_for(store, token, settings["require_auth"])
        if principal is None:
            raise unauthenticated()
        # A token issued here carries the scopes it was granted; Google refuses
        # a method none of whose scopes the token holds (gmail.send cannot list mail).
        granted = oauth.granted_scopes(store, token)
        accepted = route.method.get("scopes") or []
        if granted is not None and accepted and not granted.intersection(accepted):
            raise insufficient_scopes()
        return principal, oauth.issued_here(store, token), granted

    def _check_quota(self, settings: dict[str, Any], api: str, principal: str, kind: str,
                     units: int) -> None:
        limits = settings["quotas"].get(api) or {}
        key = "units" if "units" in limits else kind
        limit = limits.get(key)
        if not limit:
            return
        used = self.store.used_in_last_minute(api, principal, key)
        if used + (units if key == "units" else 1) > limit:
            service, names = _QUOTA_NAMES[api]
            metric = names.get(key, "Queries")
            metric_id, limit_id = _QUOTA_IDS[metric]
            raise quota_exceeded(service, metric, f"{metric} per minute per user",
                                 metric_id=f"{service}/{metric_id}", limit_id=limit_id,
                                 limit_value=limit)


def _check_batchable(route: discovery.Route, path: str, query: str, batch_api: str) -> None:
    """Refuse, inside a batch, what Google's batch endpoint does not serve.

    Each API's batch endpoint serves that API only ("All the inner requests must
    go to the same Google API"): a request for another API, or for a batch
    endpoint (a nested batch), is a URL it does not know, answered 404 like any
    unknown URL. Media are not batched ("Google Drive doesn't support batch
    operations for media, either for upload or download",
    https://developers.google.com/drive/api/guides/performance#batch-requests):
    an upload URL inside a Drive batch is answered 404 Not Found (reported in
    rclone/rclone#2718); a download is refused with a 400 in the sandbox's words."""
    if route.api != batch_api or route.upload:
        raise discovery.not_found_url(path)
    media = route.method.get("useMediaDownloadService") and (
        "response" not in route.method or "media" in parse_qs(query).get("alt", []))
    if media:
        raise invalid_argument("Media download is not supported in a batch request.",
                               location="alt")


def _decode_body(route: discovery.Route, params: dict[str, Any], raw: bytes,
                 content_type: str) -> tuple[Any, bytes | None, str | None]:
    if route.upload:
        upload_type = params.get("uploadType", "media")
        if upload_type == "multipart":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            parts = list(msg.iter_parts())
            if len(parts) != 2:
                raise GoogleError(400, "Multipart upload needs metadata and media parts.")
            meta = json.loads(parts[0].get_payload(decode=True) or b"{}")
            return meta, parts[1].get_payload(decode=True), parts[1].get_content_type()
        if upload_type == "media":
            return None, raw, content_type.split(";")[0].strip() or "application/octet-stream"
        raise GoogleError(400, f"Upload type {upload_type} is not supported by the sandbox.")
    if not raw:
        return None, None, None
    try:
        return json.loads(raw.decode("utf-8")), None, None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoogleError(400, f"Invalid JSON payload received. {exc}") from None


class SandboxServer:
    """A sandbox over `data_dir`, serving on 127.0.0.1 (port 0 = any free port)."""

    def __init__(self, data_dir: str | Path, port: int = 0, host: str = "127.0.0.1",
                 options: Options | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sandbox serves on the loopback interface only")
        self.store = Store(data_dir)
        self.options = options or Options()
        self._httpd = _Server((host, port), self.store, self.options)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def last_internal_error(self) -> Exception | None:
        return self._httpd.last_internal_error

    def at(self, method_id: str, action: Callable[[str], int | None]) -> Callable[[], None]:
        """Run `action(path)` right after each `method_id` request is served,
        before its answer leaves (a person acting at that very moment, for
        tests of races); an action returning a status (503) loses the answer:
        the work stays done, the caller gets that error. Returns the function
        that stops it."""
        self._httpd.moments.setdefault(method_id, []).append(action)
        return lambda: self._httpd.moments[method_id].remove(action)

    def start(self) -> "SandboxServer":
        # A short poll interval so that stop() returns promptly (tests start many servers).
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

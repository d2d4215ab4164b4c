"""Where Google API requests go.

Production passes no base URL and the client libraries talk to Google as they
always do. Given a base URL (the embedded sandbox, `sandbox serve`, or
`HOITHAO_GOOGLE_URL` for a proxy or another emulator), every request's scheme
and host are rewritten to it at the lowest layer of each library: an
`httplib2.Http` for googleapiclient (which also catches media uploads and
batch requests) and a `requests` adapter for gspread. Nothing above this
module knows where its requests end up.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httplib2
import requests
import urllib3
from requests.adapters import HTTPAdapter


def rewrite_url(url: str, base_url: str) -> str:
    """`url` with its scheme and host replaced by `base_url`'s (whose path, if
    any, is kept as a prefix)."""
    target = urlsplit(base_url)
    parts = urlsplit(url)
    prefix = target.path.rstrip("/")
    return urlunsplit((target.scheme, target.netloc, prefix + parts.path, parts.query,
                       parts.fragment))


class RedirectHttp(httplib2.Http):
    """An httplib2 transport that sends every request to `base_url`."""

    def __init__(self, base_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
                connection_type: Any = None) -> Any:
        return super().request(rewrite_url(uri, self.base_url), method, body, headers,
                               redirections, connection_type)


class RedirectAdapter(HTTPAdapter):
    """A requests adapter that sends every request to `base_url`."""

    def __init__(self, base_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_url = base_url

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        request.url = rewrite_url(request.url or "", self.base_url)
        return super().send(request, *args, **kwargs)


def redirect_session(session: requests.Session, base_url: str | None) -> requests.Session:
    """Mount the redirect on `session` (no-op without a base URL)."""
    if base_url:
        adapter = RedirectAdapter(base_url)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def new_http(base_url: str | None, timeout: float = 60) -> httplib2.Http:
    """The raw transport googleapiclient should use."""
    if base_url:
        return RedirectHttp(base_url, timeout=timeout)
    return httplib2.Http(timeout=timeout)


class NotSent(ConnectionRefusedError):
    """No connection was made, so nothing of the request left this machine.
    Raised only by a transport that can tell (SingleShotHttp); a plain
    ConnectionRefusedError may come from a reconnect after a request went out."""


class SingleShotHttp:
    """An httplib2-shaped transport that sends each request exactly once.

    httplib2 silently sends a request again (a POST included) when its
    connection drops before the answer; for `messages.send` that is a second
    letter, for `files.copy` a second copy. This transport goes through
    `requests` with `max_retries=0` (urllib3 makes one attempt and never
    replays), on a fresh connection each time (a kept-alive one may have been
    closed by the server while idle). Its errors tell apart a connection never
    made (NotSent: nothing was sent) from one lost after sending
    (ConnectionError, TimeoutError: maybe applied)."""

    def __init__(self, base_url: str | None, timeout: float = 60):
        self.base_url = base_url
        self.timeout = timeout
        # google_auth_httplib2.AuthorizedHttp proxies these attributes.
        self.connections: dict[str, Any] = {}
        self.follow_redirects = False
        self.redirect_codes = frozenset()

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 0, connection_type: Any = None, **kwargs: Any
                ) -> tuple[httplib2.Response, bytes]:
        url = rewrite_url(uri, self.base_url) if self.base_url else uri
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=0))
            session.mount("https://", HTTPAdapter(max_retries=0))
            try:
                answer = session.request(method, url, data=body, headers=dict(headers or {}),
                                         timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                if never_connected(exc):
                    raise NotSent(f"no connection could be made ({type(exc).__name__})") from None
                if isinstance(exc, requests.Timeout):
                    raise TimeoutError("no answer within the timeout") from None
                raise ConnectionError(f"no complete answer ({type(exc).__name__})") from None
        info = {k.lower(): v for k, v in answer.headers.items()}
        info.pop("content-encoding", None)   # requests has already decoded the body
        info["status"] = str(answer.status_code)
        response = httplib2.Response(info)
        response.reason = answer.reason or ""
        return response, answer.content

    def close(self) -> None:
        pass


def never_connected(exc: BaseException) -> bool:
    """Whether a `requests`/urllib3 failure happened before anything was sent:
    the connection was refused, its name not found, or it timed out while
    connecting (read from the exception types along the cause chain)."""
    if isinstance(exc, (NotSent, requests.ConnectTimeout)):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (urllib3.exceptions.NewConnectionError,
                             urllib3.exceptions.ConnectTimeoutError)):
            return True
        todo += [*item.args[:1], getattr(item, "reason", None), item.__cause__, item.__context__]
    return False

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

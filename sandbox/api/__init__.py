"""Behaviour of each Google API, one module per service.

A module registers a handler per discovery method id with `@handles(...)`.
Routing, authentication, quotas, faults, body validation and partial
responses are done by the server before and after the handler runs.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..store import Store

Handler = Callable[["Call"], Any]
HANDLERS: dict[str, Handler] = {}


@dataclass
class Raw:
    """A non-JSON response body (a media download, a file export)."""
    content: bytes
    content_type: str
    status: int = 200


@dataclass
class Call:
    """Everything a handler may look at; `db` is inside the request's transaction."""
    db: sqlite3.Connection
    store: Store
    method_id: str
    params: dict[str, Any]
    body: Any
    principal: str
    settings: dict[str, Any]
    media: bytes | None = None
    media_type: str | None = None
    now: float = field(default_factory=time.time)
    # True for an identity the sandbox issued a token to (a service account, a
    # delegated user): it sees only files it owns or that are shared with it.
    # False for a development token and for the sandbox's own tools: they see all.
    restricted: bool = False
    # The scopes the caller's token was granted (None: a development token, unchecked).
    scopes: frozenset[str] | None = None


def handles(method_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[method_id] = fn
        return fn
    return register


def load_all() -> None:
    """Import every API module so that its handlers and tables are registered."""
    from . import (  # noqa: F401
        docs,
        drive,
        forms,
        forms_responses,
        gmail,
        sheets,
        sheets_metadata,
        sheets_requests,
        sheets_values,
        sharing,
    )

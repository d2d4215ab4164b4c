"""The OAuth 2.0 token endpoint: JWT-bearer exchange for service-account keys
(RS256 signature verified against the public key the sandbox issued) and the
refresh-token grant for installed-app tokens.

Like a local development server, the API accepts any non-empty bearer token by
default; with `require_auth` only tokens issued here (and not expired) pass.
"""
from __future__ import annotations

import functools
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from .store import Store, register_schema

TOKEN_LIFETIME_S = 3600
DEFAULT_PRINCIPAL = "nguoi-dung@sandbox.local"

register_schema("""
CREATE TABLE IF NOT EXISTS oauth_keys (
    key_id TEXT PRIMARY KEY,
    client_email TEXT NOT NULL,
    public_pem TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    refresh_token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    principal TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    token TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires REAL NOT NULL
);
""")


class TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@functools.lru_cache(maxsize=16)
def _public_pem(private_pem: str) -> str:
    """The public half of a PEM private key (cached: loading a key checks it, ~50 ms)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def create_service_account(store: Store, client_email: str, project_id: str = "hoithao-sandbox",
                           token_uri: str = "https://oauth2.googleapis.com/token",
                           private_pem: str | None = None) -> dict[str, Any]:
    """A new service-account key file (as Google's console would give it) whose
    public half the sandbox keeps to verify signed assertions. `private_pem`
    reuses an existing RSA key (tests share one: generating keys is slow)."""
    if private_pem is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = _public_pem(private_pem)
    key_id = secrets.token_hex(20)
    with store.transaction() as db:
        db.execute("INSERT INTO oauth_keys(key_id, client_email, public_pem) VALUES (?, ?, ?)",
                   (key_id, client_email, public_pem))
    return {
        "type": "service_account", "project_id": project_id, "private_key_id": key_id,
        "private_key": private_pem, "client_email": client_email,
        "client_id": str(secrets.randbelow(10**20)), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }


def create_authorized_user(store: Store, principal: str,
                           token_uri: str = "https://oauth2.googleapis.com/token") -> dict[str, Any]:
    """An installed-app token file (`authorized_user`) for `principal`'s mailbox."""
    client_id = f"{secrets.randbelow(10**12)}-sandbox.apps.googleusercontent.com"
    refresh = "1//" + secrets.token_urlsafe(48)
    with store.transaction() as db:
        db.execute("INSERT INTO oauth_refresh_tokens(refresh_token, client_id, principal) VALUES (?, ?, ?)",
                   (refresh, client_id, principal))
    return {"type": "authorized_user", "client_id": client_id,
            "client_secret": secrets.token_urlsafe(24), "refresh_token": refresh,
            "token_uri": token_uri, "account": principal}


def _issue(store: Store, principal: str, scopes: str) -> dict[str, Any]:
    token = "ya29.sandbox." + secrets.token_urlsafe(40)
    with store.transaction() as db:
        db.execute("INSERT INTO oauth_tokens(token, principal, scopes, expires) VALUES (?, ?, ?, ?)",
                   (token, principal, scopes, time.time() + TOKEN_LIFETIME_S))
    return {"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer",
            "scope": scopes}


def exchange(store: Store, body: bytes) -> dict[str, Any]:
    """Handle a POST to the token endpoint (form-encoded body)."""
    try:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
    except UnicodeDecodeError:
        raise TokenError("invalid_request", "The request body is not form-encoded text.") from None
    grant = form.get("grant_type", "")
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        assertion = form.get("assertion", "")
        try:
            header = jwt.decode_header(assertion)
        except (ValueError, auth_exceptions.GoogleAuthError):
            raise TokenError("invalid_grant", "Invalid JWT: malformed assertion.") from None
        row = store._conn().execute("SELECT * FROM oauth_keys WHERE key_id = ?",
                                    (header.get("kid", ""),)).fetchone()
        if row is None:
            raise TokenError("invalid_grant", "Invalid JWT Signature.")
        try:
            # Google's audience is always https://oauth2.googleapis.com/token;
            # the sandbox does not insist on it matching its own address.
            claims = jwt.decode(assertion, certs={row["key_id"]: row["public_pem"]}, verify=True,
                                audience=None, clock_skew_in_seconds=300)
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise TokenError("invalid_grant", f"Invalid JWT: {exc}") from None
        if claims.get("iss") != row["client_email"]:
            raise TokenError("invalid_grant", "Invalid JWT: issuer does not own this key.")
        principal = claims.get("sub") or claims.get("iss")
        return _issue(store, principal, claims.get("scope", ""))
    if grant == "refresh_token":
        row = store._conn().execute("SELECT * FROM oauth_refresh_tokens WHERE refresh_token = ?",
                                    (form.get("refresh_token", ""),)).fetchone()
        if row is None or row["client_id"] != form.get("client_id"):
            raise TokenError("invalid_grant", "Token has been expired or revoked.")
        return _issue(store, row["principal"], form.get("scope", ""))
    raise TokenError("unsupported_grant_type", f"Invalid grant_type: {grant}")


def principal_for(store: Store, token: str, require_auth: bool) -> str | None:
    """Who a bearer token speaks for, or None if it must be refused."""
    if not token:
        return None
    row = store._conn().execute("SELECT principal, expires FROM oauth_tokens WHERE token = ?",
                                (token,)).fetchone()
    if row is not None:
        return row["principal"] if row["expires"] > time.time() else None
    if require_auth:
        return None
    # An arbitrary token (a local development credential): tokens shaped
    # `user:someone@example.org` act as that person, anything else as a default user.
    if token.startswith("user:") and "@" in token:
        return token[5:]
    return DEFAULT_PRINCIPAL


def issued_here(store: Store, token: str) -> bool:
    """Whether the sandbox issued `token`: such a caller is a Google identity
    and sees only the files it owns or that are shared with it."""
    return store._conn().execute("SELECT 1 FROM oauth_tokens WHERE token = ?",
                                 (token,)).fetchone() is not None


def granted_scopes(store: Store, token: str) -> frozenset[str] | None:
    """The scopes a token issued here was granted; None when unknown (a
    development token, or a grant that named none), which is not checked."""
    row = store._conn().execute("SELECT scopes FROM oauth_tokens WHERE token = ?",
                                (token,)).fetchone()
    if row is None or not row["scopes"].strip():
        return None
    return frozenset(row["scopes"].split())

"""Credentials: the scopes the tool asks for, and the key and token files.

One helper reads a key file for everyone who needs one: the client factory
(`Workspace.open`), the sandbox's seed and export, and the benchmark.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Sequence

from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from .config import Config
from .errors import CredentialsError

# Least privilege, in one place: what each API needs and nothing more.
SCOPES = {
    "sheets": ["https://www.googleapis.com/auth/spreadsheets"],
    # Not drive.file: that scope reaches only files the tool itself created,
    # never the folder, forms and templates staff share with its account.
    "drive": ["https://www.googleapis.com/auth/drive"],
    "docs": ["https://www.googleapis.com/auth/documents"],
    "forms": ["https://www.googleapis.com/auth/forms.body.readonly",
              "https://www.googleapis.com/auth/forms.responses.readonly"],
    "gmail": ["https://www.googleapis.com/auth/gmail.send"],
}
ALL_SCOPES = sorted({s for scopes in SCOPES.values() for s in scopes})
# Only with `mail.lookup_sent: true`: find a message whose send had no clear answer.
LOOKUP_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"


def scopes_for(config: Config) -> list[str]:
    return ALL_SCOPES + [LOOKUP_SCOPE] if config.mail.lookup_sent else ALL_SCOPES


def gmail_scopes(config: Config) -> list[str]:
    """What the sending mailbox is granted (domain-wide delegation: only these)."""
    return SCOPES["gmail"] + ([LOOKUP_SCOPE] if config.mail.lookup_sent else [])


def check_key_file(path: Path) -> None:
    """Refuse a missing key or one that others on the machine can read."""
    if not path.exists():
        raise CredentialsError(f"Không thấy tệp khoá {path}: xem credentials/README.md để tạo "
                               f"hoặc tải tệp khoá.")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise CredentialsError(f"Tệp khoá {path} để người khác trên máy đọc được (quyền {mode:o}): "
                               f"chạy `chmod 600 {path}`.")
    # The folder holding keys is its owner's alone (700), as the keys are (600):
    # the folder the config names, and the one a symlinked key really lives in.
    for folder in dict.fromkeys((path.absolute().parent, path.resolve().parent)):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            raise CredentialsError(f"Thư mục khoá {folder} để người khác trên máy vào được (quyền "
                                   f"{mode:o}): chạy `chmod 700 {folder}`.")


def service_account_from_file(path: Path, scopes: Sequence[str],
                              token_url: str | None = None) -> service_account.Credentials:
    """A service account's credentials from its JSON key file, its token
    requests sent to `token_url` when given (a sandbox or a proxy)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
    except (OSError, ValueError, KeyError) as exc:
        raise CredentialsError(f"{path} không phải tệp khoá tài khoản dịch vụ: tải tệp khoá JSON "
                               f"mới từ Google Cloud console (chi tiết: {type(exc).__name__}).") from None
    return creds.with_token_uri(token_url) if token_url else creds


def load_credentials(config: Config, token_url: str | None = None) -> Any:
    """Credentials from the key or token file the config names (mode 600 required)."""
    g = config.google
    if g.auth == "service_account":
        path = config.resolve(g.service_account_file)
        check_key_file(path)
        return service_account_from_file(path, scopes_for(config), token_url)
    path = config.resolve(g.oauth_token_file)
    check_key_file(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=scopes_for(config))
    except (ValueError, KeyError) as exc:
        raise CredentialsError(f"{path} không phải tệp token OAuth: làm lại bước đăng nhập trong "
                               f"credentials/README.md (chi tiết: {type(exc).__name__}).") from None
    # from_authorized_user_info always sets Google's token endpoint, whatever the file says.
    return creds.with_token_uri(token_url) if token_url else creds


"""The one boundary for Google's errors.

Every failure of a Google call (googleapiclient's `HttpError`, gspread's
`APIError` and `SpreadsheetNotFound`, google-auth's refresh and transport
errors, the transports' own connection errors) is read here and nowhere
else: `describe()` says what it was (code, reason, Google's message, and
whether Google certainly did not apply the call), `to_api_error()` turns it
into an `ApiError` whose message is one plain Vietnamese sentence saying what
to do, with the technical detail after it. The adapters of `workspace/`
apply it once (`google_call`), so jobs only ever see `HoithaoError`s.

Google's error bodies come in two styles and both are read: the older
`error.errors[].reason` and the newer `error.details[]` (`ErrorInfo.reason`),
which Sheets v4, Docs v1 and Forms v1 often send alone.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

import gspread
import httplib2
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.auth.exceptions import TimeoutError as GoogleAuthTimeout
from googleapiclient.errors import HttpError

from .errors import ApiError
from .transport import never_connected

AMBIGUOUS_STATUS = frozenset({500, 502, 503, 504})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
DAILY_REASONS = frozenset({"dailyLimitExceeded", "dailyLimitExceededUnreg"})
SCOPE_REASONS = frozenset({"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "insufficientPermissions"})
DISABLED_REASONS = frozenset({"SERVICE_DISABLED", "accessNotConfigured"})


@dataclass(frozen=True)
class Failure:
    """What a failed Google call was. `code` 0: no answer at all (network)."""
    code: int
    reason: str | None
    message: str
    refused: bool        # Google answered and certainly did not apply the call
    ambiguous: bool      # no clear answer: the call may or may not have been applied
    # "http", "missing_tab", "not_found_spreadsheet", "not_shared" (the file is
    # not shared with the tool's account), "read_only" (shared for viewing only),
    # "read_only_folder" (a file cannot be added to the destination folder),
    # "auth", "network" (no answer at all), "busy" (signing in answered "try later")
    kind: str = "http"
    retry_after: float | None = None   # seconds, when Google said how long to wait
    # The file the call named, when the request's address says: ("spreadsheet", id)
    file: tuple[str, str] | None = None

    @property
    def transient(self) -> bool:
        """Worth trying again (if the call may be repeated)."""
        return self.refused or self.ambiguous


def error_reason(body: Any) -> str | None:
    """The `reason` of a Google error body (old `errors[]` or new `details[]` style)."""
    error = _error_object(body)
    if error is None:
        return None
    for item in (error.get("errors") or []) + (error.get("details") or []):
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return None


def error_status(body: Any) -> str | None:
    """The `status` of a Google error body (`FAILED_PRECONDITION`, …)."""
    error = _error_object(body)
    return str(error["status"]) if error and error.get("status") else None


def error_message(body: Any) -> str:
    """The first line of a Google error body's message (or of the raw body)."""
    error = _error_object(body)
    if error is not None:
        text = str(error.get("message") or "")
    else:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def _error_object(body: Any) -> dict[str, Any] | None:
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, TypeError):
            return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return None


# The file a request names, from its address (Sheets, Docs, Forms, Drive).
_FILE_IN_URL = re.compile(r"/(spreadsheets|documents|forms|files)/([A-Za-z0-9_-]{10,})")
_FILE_KINDS = {"spreadsheets": "spreadsheet", "documents": "document", "forms": "form",
               "files": "drive"}
# Drive names the file it could not find in its message (a parent folder, too).
_DRIVE_NOT_FOUND = re.compile(r"File not found: ([A-Za-z0-9_-]{10,})\.?$")


def _file_in(url: str, message: str) -> tuple[str, str] | None:
    found = _DRIVE_NOT_FOUND.match(message)
    if found:
        return ("drive", found.group(1))
    match = _FILE_IN_URL.search(url or "")
    return (_FILE_KINDS[match.group(1)], match.group(2)) if match else None


def _http(code: int, body: Any, retry_after: Any = None, url: str = "") -> Failure:
    reason = error_reason(body)
    message = error_message(body)
    refused = code == 429 or (code == 403 and reason in RATE_REASONS)
    kind = "missing_tab" if code == 400 and "Unable to parse range" in message else "http"
    file = _file_in(url, message)
    if file is not None and not refused:
        # Only these answers are about sharing; a missing scope, an API not
        # enabled, a storage quota or a domain policy are also 403s, and are not.
        if code == 403 and reason == "insufficientFilePermissions":
            kind = "read_only"           # Drive: shared for viewing only
        elif code == 403 and reason == "insufficientParentPermissions":
            kind = "read_only_folder"    # Drive: the destination folder is view only
        elif code == 403 and message.rstrip(".") == "The caller does not have permission":
            kind = "not_shared"          # Sheets, Docs, Forms: not shared, or view only
        elif code == 404 and file[0] == "drive" and _DRIVE_NOT_FOUND.match(message):
            kind = "not_shared"          # Drive hides a file the caller may not see
    wait = float(retry_after) if retry_after and str(retry_after).isdigit() else None
    return Failure(code, reason, message, refused=refused, ambiguous=code in AMBIGUOUS_STATUS,
                   kind=kind, retry_after=wait, file=file)


# The address the tool signs in as (a service account's client_email), told to
# staff when a file must be shared with it. Set when a Workspace is opened.
_account: str | None = None


def remember_account(email: str | None) -> None:
    global _account
    _account = email or None


def describe(exc: BaseException) -> Failure | None:
    """What a failed Google call was, or None when `exc` is not a Google call's failure."""
    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return Failure(404, "notFound", "Requested entity was not found.", refused=False,
                       ambiguous=False, kind="not_found_spreadsheet")
    if isinstance(exc, HttpError):
        return _http(exc.resp.status, exc.content, exc.resp.get("retry-after"), exc.uri or "")
    if isinstance(exc, gspread.exceptions.APIError):
        return _http(exc.response.status_code, exc.response.content,
                     exc.response.headers.get("Retry-After"), exc.response.url or "")
    if isinstance(exc, PermissionError) and isinstance(exc.__cause__, gspread.exceptions.APIError):
        return describe(exc.__cause__)   # gspread's open_by_key turns a 403 into PermissionError
    if isinstance(exc, RefreshError):
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if getattr(exc, "retryable", False):   # the token endpoint said "try later"
            return Failure(0, None, text, refused=False, ambiguous=True, kind="busy")
        return Failure(401, None, text, refused=False, ambiguous=False, kind="auth")
    if isinstance(exc, TransportError) and exc.__cause__ is not None:
        inner = describe(exc.__cause__)    # signing in could not reach the token endpoint
        if inner is not None:
            return inner
    if never_connected(exc):
        # Nothing reached Google: certainly not applied.
        return Failure(0, None, type(exc).__name__, refused=True, ambiguous=False, kind="network")
    if isinstance(exc, (TransportError, GoogleAuthTimeout, requests.RequestException, OSError,
                        http.client.HTTPException, httplib2.HttpLib2Error)):
        # OSError covers ConnectionError, TimeoutError, ssl.SSLError, an unreachable network.
        return Failure(0, None, type(exc).__name__, refused=False, ambiguous=True, kind="network")
    return None


# -- the plain sentence ------------------------------------------------------------

_CHECK = "`python run.py check`"


_FILE_LABELS = {"spreadsheet": "bảng tính", "document": "văn bản", "form": "biểu mẫu",
                "drive": "tệp hoặc thư mục Drive"}


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sharing_sentence(failure: Failure) -> str:
    kind, file_id = failure.file or ("drive", "?")
    label = _FILE_LABELS[kind]
    account = _account or "tài khoản của công cụ (client_email trong tệp khoá)"
    who = f"tài khoản {_account}" if _account else "tài khoản của công cụ"
    if failure.kind == "read_only":
        return (f"{_upper_first(who)} chỉ được xem {label} có mã {file_id}, không được sửa: mở "
                f"{label} đó trên Google, bấm Chia sẻ, đổi quyền của {account} thành Người chỉnh "
                f"sửa, rồi chạy lại.")
    if failure.kind == "read_only_folder":
        return (f"{_upper_first(who)} không được thêm tệp vào thư mục Drive đích (google."
                f"drive_folder_id): mở thư mục đó trên Google, bấm Chia sẻ, cho {account} quyền "
                f"Người chỉnh sửa, rồi chạy lại.")
    unsure = ("không tìm thấy hoặc chưa được chia sẻ" if failure.code == 404
              else "chưa được chia sẻ (hoặc chỉ được chia sẻ quyền xem)")
    return (f"{_upper_first(label)} có mã {file_id} {unsure} với {who}: mở {label} đó trên Google "
            f"(kiểm tra mã trong config.yaml), bấm Chia sẻ, thêm {account} với quyền Người chỉnh "
            f"sửa, rồi chạy lại.")


def sentence(failure: Failure) -> str:
    """What went wrong and what to do, for a member of staff (Vietnamese)."""
    code, reason = failure.code, failure.reason
    if failure.kind in ("not_shared", "read_only", "read_only_folder"):
        return _sharing_sentence(failure)
    if failure.kind == "not_found_spreadsheet":
        return ("Không mở được bảng tính ghi ở google.spreadsheet_id: kiểm tra mã bảng tính (lấy từ "
                "đường dẫn của bảng tính) và chia sẻ bảng tính với tài khoản của công cụ; "
                f"{_CHECK} cho biết thêm.")
    if failure.kind == "auth":
        return ("Không đăng nhập được vào Google: kiểm tra tệp khoá hoặc tệp token và quyền uỷ "
                "quyền của tài khoản (xem credentials/README.md).")
    if failure.kind == "busy":
        return ("Google đang bận nên chưa đăng nhập được: chạy lại công việc sau ít phút (chạy lại "
                "không gây trùng lặp).")
    if failure.kind == "network":
        return ("Không kết nối được tới Google (mất mạng, proxy chặn, hoặc sandbox chưa chạy): kiểm "
                "tra kết nối rồi chạy lại công việc (chạy lại không gây trùng lặp).")
    if failure.kind == "missing_tab":
        return (f"Bảng tính thiếu một trang (tab) có tên trong config.yaml (sheets.*.tab): chạy "
                f"{_CHECK} để biết trang nào, rồi thêm trang hoặc sửa tên trong config.yaml.")
    if code == 403 and reason in DAILY_REASONS:
        return "Đã hết hạn mức trong ngày của Google cho tài khoản này: chạy lại vào ngày mai."
    if failure.transient:
        return ("Google đang bận hoặc đã vượt hạn mức, đã thử lại nhiều lần không được: chạy lại "
                "công việc sau ít phút (chạy lại không gây trùng lặp).")
    if code == 403 and reason in SCOPE_REASONS:
        return ("Mã truy cập của công cụ thiếu phạm vi quyền (scope) cho việc này: với tài khoản dịch "
                "vụ có uỷ quyền, thêm đủ các scope ở credentials/README.md trong Admin Console; với "
                "tệp token, đăng nhập lại để cấp đủ quyền.")
    if code == 403 and reason in DISABLED_REASONS:
        return ("API của Google cho việc này chưa được bật trong dự án Google Cloud của tài khoản "
                "dịch vụ: bật API đó (Sheets, Drive, Docs, Forms, Gmail) trong Google Cloud console "
                "như bước 1 của mục \"Connect a real Google account\" trong README, đợi vài phút rồi "
                "chạy lại.")
    if code in (401, 403):
        return ("Tài khoản của công cụ không có quyền với tệp này: chia sẻ tệp (bảng tính, biểu mẫu "
                "hoặc thư mục Drive) với tài khoản của công cụ, quyền Người chỉnh sửa.")
    if code == 404:
        return (f"Không tìm thấy tệp có mã ghi trong config.yaml (google.*): kiểm tra các mã bằng "
                f"{_CHECK}.")
    return (f"Google từ chối yêu cầu nên không ghi gì thêm: chạy {_CHECK}, sửa điều được chỉ ra, "
            f"rồi chạy lại công việc.")


def detail(failure: Failure, what: str = "") -> str:
    """The technical detail that follows the sentence (HTTP code, reason, Google's words)."""
    parts = [what] if what else []
    if failure.code:
        parts.append(f"HTTP {failure.code}" + (f" {failure.reason}" if failure.reason else ""))
    if failure.message:
        parts.append(failure.message)
    return "; ".join(parts)


def to_api_error(exc: BaseException, what: str = "") -> ApiError | None:
    """`exc` as an ApiError (sentence, then the detail), or None if it is not a Google failure."""
    if isinstance(exc, ApiError):
        return exc
    failure = describe(exc)
    if failure is None:
        return None
    extra = detail(failure, what)
    return ApiError(sentence(failure) + (f" [chi tiết: {extra}]" if extra else ""),
                    code=failure.code or None, reason=failure.reason,
                    refused=failure.refused, ambiguous=failure.ambiguous, kind=failure.kind)


@contextlib.contextmanager
def google_call(what: str = "") -> Iterator[None]:
    """Around a call into a Google client: its failure leaves as an ApiError."""
    try:
        yield
    except ApiError:
        raise
    except Exception as exc:
        error = to_api_error(exc, what)
        if error is None:
            raise
        raise error from exc

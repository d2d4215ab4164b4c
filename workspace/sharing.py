"""Whether the tool's account may edit the files the config names (Drive's
per-caller `capabilities`), so `check` can say which file to share, with
whom, before a job fails half-way on a file it may only read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .clients import Workspace
from .google_errors import describe, sentence


@dataclass(frozen=True)
class Access:
    name: str
    can_edit: bool


def file_access(ws: Workspace, file_id: str) -> Access:
    """The file's name and whether the tool may edit it; a file it cannot see
    leaves as an ApiError whose sentence names the file and the account."""
    meta = ws.execute(ws.service("drive", "v3").files().get(
        fileId=file_id, supportsAllDrives=True, fields="name,capabilities(canEdit)"),
        what=f"xem quyền với tệp {file_id}")
    return Access(str(meta.get("name", "")), bool((meta.get("capabilities") or {}).get("canEdit")))


BATCH_LIMIT = 100   # Drive answers at most 100 calls in one batch request
NO_ACCOUNT = "invalidSharingRequest"
NOTE = "Ban Tổ chức Hội thảo chia sẻ tệp này để Quý vị xem; thư của Ban Tổ chức gửi kèm hướng dẫn."


def share_as_readers(ws: Workspace, grants: Sequence[tuple[str, str]], rounds: int = 3
                     ) -> dict[tuple[str, str], str | None]:
    """share() with the reader role for every (file id, address)."""
    done = share(ws, [(f, a, "reader") for f, a in grants], rounds)
    return {(f, a): why for (f, a, _), why in done.items()}


def share(ws: Workspace, grants: Sequence[tuple[str, str, str]], rounds: int = 3
          ) -> dict[tuple[str, str, str], str | None]:
    """Give each (file id, email address, role) that Drive role (`reader`,
    `commenter`, `writer`), without Google's
    own notification (the tool's letter says it), in batch requests of up to
    100 calls (https://developers.google.com/drive/api/guides/performance#batch-requests):
    the number of requests grows with the grants only by pagination. A grant
    Google refused for a while (rate, 5xx) is tried again in the next round;
    the rest are final. Returns, per grant, None where it was shared, else one
    Vietnamese sentence saying why not. Sharing the same file with the same
    person again is harmless: Drive keeps one permission per person."""
    drive = ws.service("drive", "v3")
    results: dict[tuple[str, str, str], str | None] = {}
    pending = list(dict.fromkeys(grants))
    # Drive refuses to share silently with an address that has no Google
    # account ("invalidSharingRequest": such a person must be notified by
    # Google, who sends them the link): those are shared again with Google's
    # notification on, in the next round.
    notify: set[tuple[str, str, str]] = set()
    for attempt in range(rounds):
        retry: list[tuple[str, str, str]] = []
        for start in range(0, len(pending), BATCH_LIMIT):
            batch = drive.new_batch_http_request()
            for grant in pending[start:start + BATCH_LIMIT]:
                file_id, address, role = grant

                def done(_id: str, _response: Any, exception: Exception | None,
                         grant: tuple[str, str, str] = grant) -> None:
                    if exception is None:
                        results[grant] = None
                        return
                    failure = describe(exception)
                    if failure is not None and failure.reason == NO_ACCOUNT and grant not in notify \
                            and attempt + 1 < rounds:
                        notify.add(grant)
                        retry.append(grant)
                    elif failure is not None and failure.transient and attempt + 1 < rounds:
                        retry.append(grant)
                    else:
                        results[grant] = sentence(failure) if failure else str(exception)[:200]
                extra = {"emailMessage": NOTE} if grant in notify else {}
                batch.add(drive.permissions().create(
                    fileId=file_id, sendNotificationEmail=grant in notify, supportsAllDrives=True,
                    fields="id", body={"type": "user", "role": role, "emailAddress": address}, **extra),
                    callback=done)
            # The batch as a whole: retried under the policy (creating the same
            # reader permission twice leaves one).
            ws.execute(batch, what="chia sẻ tệp", idempotent=True)
        if not retry:
            break
        pending = retry
    return results

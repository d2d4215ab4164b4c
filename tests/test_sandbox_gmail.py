"""Gmail v1 in the sandbox, driven by the real googleapiclient."""
from __future__ import annotations

import base64
import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

import pytest
from google.oauth2 import service_account
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from sandbox.api.gmail import sent_messages
from sandbox.oauth import create_service_account
from tests.conftest import SCOPES

SENDER = "hoithao@hoithao-sandbox.iam.gserviceaccount.com"


def _message(to: str | list[str] = "an.nguyen@example.edu.vn", subject: str = "Thư mời dự hội thảo",
             msgid: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Ban Tổ chức <{SENDER}>"
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if msgid:
        msg["Message-ID"] = msgid
    msg.set_content("Kính gửi Thầy/Cô,\nBan Tổ chức trân trọng kính mời.\n")
    msg.add_alternative("<p>Kính gửi <b>Thầy/Cô</b>,</p><p>Trân trọng kính mời.</p>", subtype="html")
    return msg


def _raw(msg: EmailMessage) -> str:
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def _send(gmail: Any, msg: EmailMessage, **kw: Any) -> dict[str, Any]:
    return gmail.users().messages().send(userId="me", body={"raw": _raw(msg), **kw}).execute()


def _error(exc: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    import json
    return json.loads(exc.value.content)["error"]


@pytest.fixture
def gmail(service: Any) -> Any:
    return service("gmail", "v1")


def test_send_returns_gmail_shaped_ids_and_sent_label(gmail) -> None:
    sent = _send(gmail, _message(msgid="<hoithao-1@sgddt.example>"))
    assert len(sent["id"]) == 16 and int(sent["id"], 16) >= 0
    assert sent["threadId"] == sent["id"]
    assert sent["labelIds"] == ["SENT"]


def test_sent_message_found_by_rfc822msgid_with_or_without_brackets(gmail) -> None:
    sent = _send(gmail, _message(msgid="<hoithao-2@sgddt.example>"))
    _send(gmail, _message(msgid="<other@sgddt.example>"))
    for q in ("rfc822msgid:hoithao-2@sgddt.example", "rfc822msgid:<hoithao-2@sgddt.example>"):
        found = gmail.users().messages().list(userId="me", q=q).execute()
        assert found["messages"] == [{"id": sent["id"], "threadId": sent["threadId"]}]
        assert found["resultSizeEstimate"] == 1


def test_list_by_to_and_subject_terms_anded(gmail) -> None:
    a = _send(gmail, _message(to="binh.tran@example.edu.vn", subject="Thư mời dự hội thảo"))
    _send(gmail, _message(to="binh.tran@example.edu.vn", subject="Nhắc nộp tham luận"))
    _send(gmail, _message(to="chi.le@example.edu.vn", subject="Thư mời dự hội thảo"))
    found = gmail.users().messages().list(
        userId="me", q='to:binh.tran@example.edu.vn subject:"hội thảo"').execute()
    assert [m["id"] for m in found["messages"]] == [a["id"]]
    by_word = gmail.users().messages().list(userId="me", q="subject:tham").execute()
    assert by_word["resultSizeEstimate"] == 1
    by_from = gmail.users().messages().list(userId="me", q=f"from:{SENDER}").execute()
    assert by_from["resultSizeEstimate"] == 3


def test_list_without_match_omits_messages(gmail) -> None:
    _send(gmail, _message())
    found = gmail.users().messages().list(userId="me", q="rfc822msgid:nobody@x").execute()
    assert "messages" not in found and found["resultSizeEstimate"] == 0


def test_list_paginates_newest_first(gmail) -> None:
    ids = [_send(gmail, _message(subject=f"Số {i}"))["id"] for i in range(5)]
    seen, token = [], None
    while True:
        page = gmail.users().messages().list(userId="me", maxResults=2, pageToken=token).execute()
        seen += [m["id"] for m in page["messages"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == list(reversed(ids))


def test_get_full_has_decoded_headers_and_both_parts(gmail) -> None:
    sent = _send(gmail, _message(msgid="<full@x.example>"))
    got = gmail.users().messages().get(userId="me", id=sent["id"]).execute()
    headers = {h["name"]: h["value"] for h in got["payload"]["headers"]}
    assert headers["Subject"] == "Thư mời dự hội thảo"
    assert got["payload"]["mimeType"] == "multipart/alternative"
    plain, rich = got["payload"]["parts"]
    assert plain["mimeType"] == "text/plain" and plain["partId"] == "0"
    text = base64.urlsafe_b64decode(plain["body"]["data"]).decode("utf-8")
    assert "Kính gửi Thầy/Cô" in text
    assert "<b>Thầy/Cô</b>" in base64.urlsafe_b64decode(rich["body"]["data"]).decode("utf-8")
    assert got["snippet"].startswith("Kính gửi Thầy/Cô")
    assert int(got["internalDate"]) > 0 and got["labelIds"] == ["SENT"]


def test_get_raw_returns_exact_bytes_sent(gmail) -> None:
    msg = _message(msgid="<raw@x.example>", Date="Mon, 07 Oct 2024 08:00:00 +0700")
    sent = _send(gmail, msg)
    got = gmail.users().messages().get(userId="me", id=sent["id"], format="raw").execute()
    assert base64.urlsafe_b64decode(got["raw"]) == msg.as_bytes()
    assert "payload" not in got


def test_get_metadata_honours_metadata_headers(gmail) -> None:
    sent = _send(gmail, _message(msgid="<meta@x.example>"))
    got = gmail.users().messages().get(userId="me", id=sent["id"], format="metadata",
                                       metadataHeaders=["Subject", "message-id"]).execute()
    names = sorted(h["name"].lower() for h in got["payload"]["headers"])
    assert names == ["message-id", "subject"]
    minimal = gmail.users().messages().get(userId="me", id=sent["id"], format="minimal").execute()
    assert "payload" not in minimal and minimal["id"] == sent["id"]


def test_send_adds_message_id_and_date_when_missing(gmail, sandbox) -> None:
    msg = _message()
    sent = _send(gmail, msg)
    [(gid, raw)] = sent_messages(sandbox.store)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert gid == sent["id"]
    assert parsed["Message-ID"].endswith("@mail.gmail.com>") and parsed["Date"]
    found = gmail.users().messages().list(
        userId="me", q="rfc822msgid:" + parsed["Message-ID"]).execute()
    assert found["messages"][0]["id"] == sent["id"]


def test_media_upload_form_is_accepted(gmail, sandbox) -> None:
    msg = _message(msgid="<media@x.example>", Date="Mon, 07 Oct 2024 08:00:00 +0700")
    media = MediaInMemoryUpload(msg.as_bytes(), mimetype="message/rfc822")
    sent = gmail.users().messages().send(userId="me", media_body=media).execute()
    assert sent["labelIds"] == ["SENT"]
    assert sent_messages(sandbox.store)[0][1] == msg.as_bytes()


def test_missing_raw_is_400(gmail) -> None:
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().send(userId="me", body={}).execute()
    assert exc.value.status_code == 400
    assert "'raw' RFC822 payload" in _error(exc)["message"]


def test_undecodable_raw_is_400(gmail) -> None:
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().send(userId="me", body={"raw": "a*b"}).execute()
    assert exc.value.status_code == 400 and "Base64 decoding failed" in _error(exc)["message"]


def test_no_recipient_is_recipient_address_required(gmail) -> None:
    msg = EmailMessage()
    msg["Subject"] = "Không người nhận"
    msg.set_content("x")
    with pytest.raises(HttpError) as exc:
        _send(gmail, msg)
    err = _error(exc)
    assert (err["code"], err["message"], err["errors"][0]["reason"]) == (
        400, "Recipient address required", "invalidArgument")


def test_malformed_to_is_invalid_to_header(gmail) -> None:
    raw = b"To: not-an-address\r\nSubject: x\r\n\r\nbody\r\n"
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().send(
            userId="me", body={"raw": base64.urlsafe_b64encode(raw).decode()}).execute()
    assert _error(exc)["message"] == "Invalid To header"


def test_101_recipients_refused_100_accepted(gmail, sandbox) -> None:
    many = [f"gv{i}@example.edu.vn" for i in range(101)]
    with pytest.raises(HttpError) as exc:
        _send(gmail, _message(to=many[:60], Cc=", ".join(many[60:90]), Bcc=", ".join(many[90:])))
    assert exc.value.status_code == 400 and "recipients" in _error(exc)["message"]
    assert sent_messages(sandbox.store) == []
    _send(gmail, _message(to=many[:100]))
    assert len(sent_messages(sandbox.store)) == 1


def test_daily_limit_refuses_with_mail_sending_429_then_recovers(make_sandbox, tmp_path) -> None:
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build
    from workspace.transport import new_http

    server = make_sandbox(gmail_daily_limit=3, gmail_daily_window_s=1)
    info = create_service_account(server.store, SENDER)
    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    creds = creds.with_token_uri(server.url + "/token")
    gmail = build("gmail", "v1", http=AuthorizedHttp(creds, http=new_http(server.url)),
                  static_discovery=True, cache_discovery=False)
    for i in range(3):
        _send(gmail, _message(subject=f"Thư {i}"))
    with pytest.raises(HttpError) as exc:
        _send(gmail, _message(subject="Thư 4"))
    err = _error(exc)
    assert err["code"] == 429 and err["status"] == "RESOURCE_EXHAUSTED"
    assert err["errors"][0]["reason"] == "rateLimitExceeded"
    assert err["message"].startswith("User-rate limit exceeded.  Retry after ")
    assert err["message"].endswith("(Mail sending)")
    assert exc.value.resp.get("retry-after") == "1"
    assert len(sent_messages(server.store)) == 3
    time.sleep(1.1)
    assert _send(gmail, _message(subject="Thư 4"))["labelIds"] == ["SENT"]


def test_unknown_message_is_404(gmail) -> None:
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().get(userId="me", id="18c0ffee00000000").execute()
    err = _error(exc)
    assert (err["code"], err["message"], err["status"]) == (
        404, "Requested entity was not found.", "NOT_FOUND")


def test_sending_as_another_user_is_delegation_denied(gmail) -> None:
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().send(userId="someone.else@example.edu.vn",
                                      body={"raw": _raw(_message())}).execute()
    assert exc.value.status_code == 403
    assert _error(exc)["message"] == f"Delegation denied for {SENDER}"


def test_explicit_own_address_as_user_id_is_accepted(gmail) -> None:
    sent = gmail.users().messages().send(userId=SENDER, body={"raw": _raw(_message())}).execute()
    assert sent["labelIds"] == ["SENT"]


def test_from_is_rewritten_to_the_sending_mailbox(gmail, sandbox) -> None:
    msg = _message()
    msg.replace_header("From", "Giả mạo <spoof@example.com>")
    _send(gmail, msg)
    parsed = email.message_from_bytes(sent_messages(sandbox.store)[0][1],
                                      policy=email.policy.default)
    assert parsed["From"].addresses[0].addr_spec == SENDER
    assert parsed["From"].addresses[0].display_name == "Giả mạo"


def test_profile_counts_messages(gmail) -> None:
    _send(gmail, _message())
    _send(gmail, _message())
    profile = gmail.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == SENDER and profile["messagesTotal"] == 2


def test_draft_create_then_send(gmail, sandbox) -> None:
    draft = gmail.users().drafts().create(
        userId="me", body={"message": {"raw": _raw(_message(msgid="<draft@x.example>"))}}).execute()
    assert draft["message"]["labelIds"] == ["DRAFT"]
    assert sent_messages(sandbox.store) == []
    sent = gmail.users().drafts().send(userId="me", body={"id": draft["id"]}).execute()
    assert sent["labelIds"] == ["SENT"]
    assert [gid for gid, _ in sent_messages(sandbox.store)] == [sent["id"]]


def test_reply_with_thread_id_joins_the_thread(gmail) -> None:
    first = _send(gmail, _message(msgid="<t1@x.example>"))
    reply = _send(gmail, _message(subject="Re: Thư mời dự hội thảo", In_Reply_To="<t1@x.example>"),
                  threadId=first["threadId"])
    assert reply["threadId"] == first["threadId"] and reply["id"] != first["id"]
    with pytest.raises(HttpError) as exc:
        _send(gmail, _message(), threadId="18c0ffee00000000")
    assert exc.value.status_code == 404


def test_to_operator_also_matches_cc(gmail) -> None:
    sent = _send(gmail, _message(to="a@example.edu.vn", Cc="Trưởng đoàn <lead@example.edu.vn>"))
    found = gmail.users().messages().list(userId="me", q="to:lead@example.edu.vn").execute()
    assert [m["id"] for m in found["messages"]] == [sent["id"]]


def test_clock_offset_moves_the_daily_window(make_sandbox) -> None:
    import base64
    import requests

    server = make_sandbox(gmail_daily_limit=1)
    raw = base64.urlsafe_b64encode(b"To: a@x.example\r\nSubject: s\r\n\r\nb").decode()
    send = lambda: requests.post(server.url + "/gmail/v1/users/me/messages/send",  # noqa: E731
                                 json={"raw": raw}, headers={"Authorization": "Bearer t"}, timeout=5)
    assert send().status_code == 200
    assert send().status_code == 429
    server.store.set_settings(clock_offset_s=86_401)  # a day later on the sandbox's clock
    assert send().status_code == 200

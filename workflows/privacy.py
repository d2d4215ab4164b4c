"""`privacy export EMAIL`: everything the tool holds about one person, found
by their email address (Decree 13/2023/NĐ-CP, the data subject's right to
see their data; Law 91/2025/QH15):

- every row of every tab that names the address (`Khách mời`, `Đoàn` as a
  contact, `Đăng ký`, `Tham luận` as author, head or reviewer, `Báo cáo các
  phòng`, `Hộp thư đi`), with its columns as the sheet labels them;
- every message of the outbox ledger to or copying the address, with its text;
- each generated document (`Văn bản`) that mentions the person's name.

Read only, in a few requests whatever the number of rows (one read of the
tabs, one per generated document). Printed for the operator who asked, never
logged.

`privacy erase EMAIL` (the right to erasure) anonymises all of it where the
tool wrote it, keeping the rows (so counts do not move) and the ledger's
keys (so nothing is sent twice); `privacy purge` erases message content older
than privacy.retention_days. Both are jobs: locked, logged in `Nhật ký` with
figures only.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from workspace import outbox
from workspace.clients import Workspace
from workspace.config import Config
from workspace.docs import DocsAdapter, doc_link
from workspace.errors import HoithaoError, UsageError
from workspace.outbox import open_ledger

from .base import Change, Job, JobContext, JobResult
from .generate_docs import file_id_of as file_id
from .letters import POLICY, misread
from .normalise import clean_text, normalise_email, sheet_time
from .reviews import read_reviewers

# Where each tab names an address, and a person's name.
EMAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "invitees": ("email",), "delegations": ("contact_email",), "registrations": ("email",),
    "papers": ("email", "head_email", "reviewer"), "reports": ("email", "head_email"),
    "outbox": ("email",)}
NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "invitees": ("full_name",), "delegations": ("contact_name",), "registrations": ("full_name",),
    "papers": ("author",), "reports": ("author",)}
SCHEMA = 1


def address_of(text: str) -> str:
    """The address as the tool stores it; UsageError (Vietnamese) otherwise."""
    address, problem = normalise_email(text or "")
    if not address or problem:
        raise UsageError(f"privacy: «{(text or '')[:60]}» không phải một địa chỉ email; ghi dạng "
                         f"ten@donvi.edu.vn.")
    return address


_ADDRESS = re.compile(r"[^\s<>()\[\],;/:]+@[^\s<>()\[\],;/]+")


def _addresses(value: Any) -> set[str]:
    """Every address in a cell, as staff may type them: several, with names,
    in brackets, after `mailto:`, with a full stop after."""
    out = set()
    for found in _ADDRESS.findall(str(value or "")):
        address, problem = normalise_email(found.rstrip("."))
        if address and not problem:
            out.add(address)
    return out


def _name_beside(cell: Any, address: str) -> str:
    """The name typed with the address in a multi-person cell (a reviewer's)."""
    for reviewer in read_reviewers(cell)[0]:
        if reviewer.email == address:
            return reviewer.name
    return ""


def matching_rows(config: Config, tables: Mapping[str, Any], address: str
                  ) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """Rows naming `address`, per tab, as {header label: value}; and the
    person's names found beside it (pure). A row where the person is the
    row's own (its first address field) is given whole; one where they are
    only a reviewer, a head or a contact gives its key, its title and their
    own entry, never the other people on it."""
    rows: dict[str, list[dict[str, Any]]] = {}
    names: set[str] = set()
    for name, snap in tables.items():
        fields = EMAIL_FIELDS.get(name, ())
        labels = config.sheets.table(name).columns
        for record in snap.records:
            values = {**record.values, "key": record.key}
            matched = [f for f in fields if address in _addresses(values.get(f))]
            if not matched:
                continue
            own = matched[0] == fields[0]
            if own:
                shown = {f: v for f, v in values.items() if v not in ("", None)}
                names |= {clean_text(values.get(f)) for f in NAME_FIELDS.get(name, ())
                          if clean_text(values.get(f))}
            else:
                shown = {f: values.get(f) for f in ("key", "title") if values.get(f)}
                for f in matched:
                    beside = _name_beside(values.get(f), address)
                    shown[f] = f"{beside} <{address}>" if beside else address
                    names |= {beside} if beside else set()
            rows.setdefault(config.sheets.table(name).tab, []).append(
                {labels.get(f, f): v for f, v in shown.items()})
    return rows, names


def _letter(m: outbox.Message, tz: str) -> dict[str, Any]:
    parsed = email.message_from_bytes(m.raw, policy=email.policy.default)
    body = parsed.get_body(("plain",))
    return {"key": m.key, "kind": m.kind, "subject": m.subject, "state": outbox.LABELS.get(m.state, m.state),
            "to": m.email, "recipient": m.recipient, "cc": str(parsed.get("Cc") or ""),
            "sent_at": sheet_time(m.sent_at, tz), "text": body.get_content() if body is not None else "",
            "attachments": [a.get_filename() for a in parsed.iter_attachments()]}


def ledger_letters(messages: Iterable[outbox.Message], address: str, tz: str) -> list[dict[str, Any]]:
    """The ledger's messages to, or copying, the address (pure)."""
    out = []
    for m in messages:
        cc = email.message_from_bytes(m.raw, policy=email.policy.default).get("Cc") or ""
        if m.email == address or address in _addresses(cc):
            out.append(_letter(m, tz))
    return out


def collect(config: Config, ws: Workspace, address: str) -> dict[str, Any]:
    """What `privacy export` prints."""
    sheet = ws.coordinating_spreadsheet(config)
    titles = set(sheet.tab_titles())
    names = [n for n in EMAIL_FIELDS if config.sheets.table(n).tab in titles]
    documents = config.sheets.documents.tab in titles
    snaps = sheet.read(*names, *(["documents"] if documents else []))
    tables = dict(zip(names, snaps))
    rows, person_names = matching_rows(config, tables, address)
    with open_ledger(config, readonly=True) as ledger:
        messages = ledger.in_state(*outbox.LABELS)
    letters = ledger_letters(messages, address, config.timezone)
    # The names the letters to them used count too (a reviewer's, a head's).
    person_names |= {clean_text(m["recipient"]) for m in letters if m["to"] == address and m["recipient"]}
    person_names.discard(ERASED)
    # Letters to others that name them (a unit's list of late papers): said,
    # never shown (they are about other people too).
    own = {m["key"] for m in letters}
    naming = [{"key": m.key, "kind": m.kind, "state": outbox.LABELS.get(m.state, m.state),
               "sent_at": sheet_time(m.sent_at, config.timezone)}
              for m in messages if m.key not in own and m.email != ERASED
              and _scrubbed(m.raw, address, person_names)]
    mentioned = []
    if documents and person_names:
        docs = DocsAdapter(ws)
        for record in snaps[-1].records:
            # The Doc, and the versions a person edited that the tool kept beside it.
            links = [str(record["doc_id"] or "")] + str(record["edited"] or "").split("\n")
            for doc_id in dict.fromkeys(file_id(x) for x in links if x.strip()):
                try:
                    _, text = docs.template_text(doc_id)
                except HoithaoError:
                    continue   # gone or not shared: nothing the tool holds there
                found = sorted(n for n in person_names if n in text)
                if found:
                    mentioned.append({"code": record.key, "name": record["name"],
                                      "link": doc_link(doc_id), "names": found})
    return {"schema": SCHEMA, "email": address, "sheets": rows, "outbox": letters,
            "letters_naming_them": naming,
            "documents": mentioned}


# -- erase ------------------------------------------------------------------------------

ERASED = outbox.ERASED
# What a person's own row holds about them, per tab: the name becomes ERASED
# (the mark sync-registrations knows an erased row by), the rest is emptied.
# Units, delegations, statuses, codes and dates stay: the counts do not change.
OWN_FIELDS: dict[str, tuple[str, ...]] = {
    "invitees": ("full_name", "honorific", "position", "email", "phone", "notes"),
    "delegations": ("contact_name", "contact_email"),
    "registrations": ("full_name", "honorific", "position", "email", "phone", "notes"),
    "papers": ("author", "email", "notes"),
    "reports": ("author", "honorific", "position", "email", "notes"),
    "outbox": ("recipient", "email")}
NAME_OF = {"invitees": "full_name", "delegations": "contact_name", "registrations": "full_name",
           "papers": "author", "reports": "author", "outbox": "recipient"}


def erased_note(today: str) -> str:
    return (f"Đã xoá dữ liệu cá nhân theo yêu cầu của người này ngày {today} (Nghị định "
            f"13/2023/NĐ-CP); dòng được giữ để số liệu không đổi.")


def _scrub(text: str, address: str, names: Iterable[str]) -> str:
    """The text with the address (any case, any form) and the names (whole
    words: "Văn An" is not in "Văn Anh") replaced."""
    out = _ADDRESS.sub(lambda m: ERASED if address in _addresses(m.group(0)) else m.group(0),
                       unicodedata.normalize("NFC", str(text)))
    for name in sorted((n for n in names if len(n) > 3), key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(unicodedata.normalize('NFC', name))}(?!\w)", ERASED, out)
    return out


def _names_in(text: str, names: Iterable[str]) -> bool:
    return _scrub(text, "", names) != unicodedata.normalize("NFC", str(text))


def erase_rows(config: Config, tables: Mapping[str, Any], address: str, names: set[str]
               ) -> dict[str, dict[str, dict[str, str]]]:
    """Per tab, the cells to write (key -> field -> value) so that nothing
    there names the person (pure). Their own rows keep their key, status and
    counts with the personal cells emptied and the name ERASED; on rows where
    they are a contact, a head or a reviewer, only their entry goes."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name, snap in tables.items():
        fields = EMAIL_FIELDS.get(name, ())
        for record in snap.records:
            values = record.values
            matched = [f for f in fields if address in _addresses(values.get(f))]
            change: dict[str, str] = {}
            own = bool(matched) and matched[0] == fields[0]
            if own:
                for f in OWN_FIELDS[name]:
                    if f in snap.columns and values.get(f):
                        change[f] = ERASED if f == NAME_OF[name] or name == "outbox" else ""
            for f in matched:
                if not (own and f in OWN_FIELDS[name]):
                    change[f] = _without(values.get(f, ""), address)
            if name == "runs" and (address in _addresses(values.get("error"))
                                   or _names_in(values.get("error", ""), names)):
                change["error"] = _scrub(values.get("error", ""), address, names)
            change = {f: v for f, v in change.items() if v != values.get(f)}
            if change:
                out.setdefault(name, {})[record.key] = change
    return out


def _without(cell: Any, address: str) -> str:
    """A cell of several people (reviewers, one a line or `;`) without the
    entries naming the address."""
    entries = [e.strip() for e in re.split(r"[\n;]+", str(cell or "")) if e.strip()]
    return "\n".join(e for e in entries if address not in _addresses(e))


def _scrubbed(raw: bytes, address: str, names: Iterable[str]) -> tuple[str, bytes] | None:
    """The message (subject, bytes) without the address (in Cc) and the names
    (in its subject and text parts), written as the letters are (headers
    never folded); None when it holds neither."""
    names = [n for n in names if len(n) > 3]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    changed = False
    copied = email.utils.getaddresses([str(parsed.get("Cc") or "")])
    if any(address in _addresses(a) for _, a in copied):
        del parsed["Cc"]
        kept = [(n, a) for n, a in copied if address not in _addresses(a) and a]
        if kept:
            parsed["Cc"] = ", ".join(email.utils.formataddr(p) for p in kept)
        changed = True
    subject = str(parsed.get("Subject") or "")
    if _scrub(subject, address, names) != subject:
        subject = _scrub(subject, address, names)
        parsed.replace_header("Subject", subject)
        changed = True
    for part in parsed.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        text = part.get_content()
        cleaned = _scrub(text, address, names)
        if cleaned != text:
            part.set_content(cleaned, subtype=part.get_content_subtype(), charset="utf-8")
            del part["MIME-Version"]
            changed = True
    return (subject, parsed.as_bytes(policy=POLICY)) if changed else None


def _stub(m: outbox.Message, when: str) -> tuple[str, bytes]:
    """What stays of an erased message: a subject without names, no content."""
    subject = _scrub(m.subject, m.email, {clean_text(m.recipient)}) if m.recipient else m.subject
    raw = (f"Subject: {ERASED}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           f"Nội dung thư đã xoá ngày {when} (Nghị định 13/2023/NĐ-CP).\r\n").encode("utf-8")
    return subject, raw


LOG_KEPT = ("Một tiến trình khác đang mở sổ hộp thư đi (outbox.db) nên nội dung cũ có thể còn trong "
            "tệp outbox.db-wal tới lần ghi sau: chạy lại lệnh này khi không công việc nào đang chạy.")
ERASE_WRITES = ("invitees", "delegations", "registrations", "papers", "reports", "outbox")


@dataclass(frozen=True)
class EraseOptions:
    address: str            # as address_of() gives it


def run_erase(ctx: JobContext, opts: EraseOptions) -> JobResult:
    """`privacy erase EMAIL`: what export finds, made anonymous where the tool
    wrote it: the sheet's rows (kept, for the counts: sync-registrations never
    copies an erased person again), the ledger's letters (content and
    addressee; key, state and times kept, so nothing is sent twice, and an
    unsent one is cancelled), `Nhật ký`. What a person must do by hand is
    said: the form responses (the Forms API cannot delete them) and the
    documents naming them (generate-docs writes them again)."""
    config, ws, address = ctx.config, ctx.ws, opts.address
    today = ctx.now().strftime("%d/%m/%Y")
    found = collect(config, ws, address)
    sheet = ctx.spreadsheet
    titles = set(sheet.tab_titles())
    present = [n for n in (*EMAIL_FIELDS, "runs") if config.sheets.table(n).tab in titles]
    tables = dict(zip(present, sheet.read(*present)))
    _, names = matching_rows(config, {n: s for n, s in tables.items() if n != "runs"}, address)
    names |= {clean_text(m["recipient"]) for m in found["outbox"] if m["to"] == address and m["recipient"]}
    names.discard(ERASED)
    cells = erase_rows(config, tables, address, names)
    responses = sorted(cells.get("registrations", {}))
    for key in responses:
        cells["registrations"][key]["problem"] = erased_note(today)
    stubbed: dict[str, tuple[str, bytes]] = {}
    rewritten: dict[str, tuple[str, bytes]] = {}   # letters to others that copied or named them
    garbled: dict[str, tuple[str, bytes]] = {}     # …that would no longer read right: not sent
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        for item in [*found["outbox"], *found["letters_naming_them"]]:
            m = ledger.get(item["key"])
            if m is None:
                continue
            if m.email == address:
                stubbed[m.key] = _stub(m, today)
                continue
            # Copied (a unit head): the copy goes; named: the name goes. The
            # letter stays its addressee's.
            new = _scrubbed(m.raw, address, names)
            if new is None:
                continue
            if m.state in outbox.CANCELLABLE and misread(new[1], m.recipient, new[0]):
                garbled[m.key] = _stub(m, today)
            else:
                rewritten[m.key] = new
        if not ctx.dry_run:
            ledger.erase(stubbed, f"Đã huỷ: dữ liệu người nhận đã xoá theo yêu cầu ngày {today}")
            ledger.rewrite(rewritten)
            for key, (subject, raw) in garbled.items():
                ledger.rewrite({key: (subject, raw)})
                ledger.cancel(key, f"Đã huỷ: thư có tên một người đã xoá dữ liệu ngày {today}; "
                                   f"soạn lại nếu cần")
            kept_in_log = not ledger.checkpointed
    result = JobResult(figures={"dòng đã xoá dữ liệu": sum(len(c) for c in cells.values()),
                                "thư đã xoá nội dung": len(stubbed),
                                "thư khác đã bỏ tên hoặc bản sao": len(rewritten) + len(garbled),
                                "văn bản có tên người này": len(found["documents"])})
    if not ctx.dry_run and kept_in_log:
        result.notes.append(LOG_KEPT)
    for name, changes in cells.items():
        tab = config.sheets.table(name).tab
        result.plan += [Change(key, f"xoá dữ liệu cá nhân ở trang {tab}",
                               ", ".join(config.sheets.table(name).columns.get(f, f) for f in change))
                        for key, change in changes.items()]
        if not ctx.dry_run:
            sheet.table(name).write(changes, owned={f for change in changes.values() for f in change})
    if not any(cells.values()) and not stubbed and not rewritten and not garbled:
        result.notes.append("Công cụ không giữ dữ liệu nào có địa chỉ này (hoặc đã xoá trước đó).")
    if responses:
        result.notes.append(
            f"Việc còn lại, làm bằng tay: xoá {len(responses)} phản hồi của người này trong biểu mẫu "
            f"đăng ký (Google Forms, thẻ Câu trả lời, xem từng câu trả lời: {', '.join(responses)}), "
            f"vì Forms API không cho xoá phản hồi. Công cụ không chép lại dữ liệu của người đã xoá.")
    if found["documents"]:
        result.notes.append(
            "Các văn bản sau có tên người này: " + "; ".join(
                f"{d['name'] or d['code']} ({d['link']})" for d in found["documents"])
            + ". Chạy `python run.py generate-docs` để viết lại; bản người khác đã sửa thì sửa tay.")
    if stubbed or rewritten or garbled:
        result.notes.append("Thư đã gửi vẫn nằm trong hộp thư Đã gửi của Gmail: xoá ở đó bằng tay "
                            "nếu cần (công cụ không có quyền xoá thư trong Gmail).")
    return result


ERASE_JOB = Job("privacy-erase", EraseOptions, run_erase, writes=ERASE_WRITES,
                summary="Xoá dữ liệu cá nhân của một người ở mọi nơi công cụ đã ghi.",
                doing="xoá dữ liệu cá nhân")


@dataclass(frozen=True)
class PurgeOptions:
    days: int                       # retention: messages done with for longer lose their content
    until: dt.date | None = None    # after this day, every message done with loses it


def run_purge(ctx: JobContext, opts: PurgeOptions) -> JobResult:
    """`privacy purge`: the content and addressee of every message done with
    (sent, failed, cancelled) more than `days` days ago, or at all once
    `until` has passed, are erased from the
    ledger (key, kind, state and times stay: nothing goes twice), and
    addresses in `Nhật ký` rows older than that are removed."""
    cutoff = ctx.clock() - opts.days * 86_400
    if opts.until is not None and ctx.now().date() > opts.until:
        cutoff = ctx.clock()        # the promised keeping time is over
    when = ctx.now().strftime("%d/%m/%Y")
    with open_ledger(ctx.config, readonly=ctx.dry_run) as ledger:
        old = ledger.settled_before(cutoff)
        if not ctx.dry_run:
            ledger.erase({m.key: _stub(m, when) for m in old}, "")
            kept_in_log = bool(old) and not ledger.checkpointed
    runs = ctx.table("runs").read()
    scrub: dict[str, dict[str, str]] = {}
    for record in runs.records:
        started = str(record["started"])
        try:
            moment = dt.datetime.strptime(started, "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=ZoneInfo(ctx.config.timezone)).timestamp()
        except ValueError:
            continue
        if moment < cutoff and _ADDRESS.search(record["error"]):
            scrub[record.key] = {"error": _ADDRESS.sub(ERASED, record["error"])}
    if scrub and not ctx.dry_run:
        ctx.table("runs").write(scrub, owned=("error",))
    result = JobResult(figures={"thư đã xoá nội dung": len(old), "dòng Nhật ký đã xoá địa chỉ": len(scrub)},
                       plan=[Change(m.key, "xoá nội dung thư", sheet_time(m.sent_at or m.queued_at,
                                                                           ctx.config.timezone))
                             for m in old])
    if not ctx.dry_run and kept_in_log:
        result.notes.append(LOG_KEPT)
    return result


PURGE_JOB = Job("privacy-purge", PurgeOptions, run_purge, writes=("outbox",),
                summary="Xoá nội dung các thư đã xử lý xong quá thời hạn lưu trữ (privacy.retention_days, "
                        "privacy.retain_until).",
                doing="xoá dữ liệu quá hạn lưu trữ")

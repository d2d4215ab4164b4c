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
"""
from __future__ import annotations

import email
import email.policy
import re
from typing import Any, Iterable, Mapping

from workspace import outbox
from workspace.clients import Workspace
from workspace.config import Config
from workspace.docs import DocsAdapter, doc_link
from workspace.errors import HoithaoError, UsageError
from workspace.outbox import open_ledger

from .generate_docs import file_id_of as file_id
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
        letters = ledger_letters(ledger.in_state(*outbox.LABELS), address, config.timezone)
    # The names the letters to them used count too (a reviewer's, a head's).
    person_names |= {clean_text(m["recipient"]) for m in letters if m["to"] == address and m["recipient"]}
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
            "documents": mentioned}

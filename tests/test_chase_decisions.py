"""chase-submissions, its decisions step, on the seeded workshop with the real
clients: staff type the council's verdict in `Kết luận`; the row's status
follows, and one decision letter per author waits for staff's tick in
`Duyệt` (Hộp thư đi) before it goes; nothing is sent twice."""
from __future__ import annotations

import datetime as dt
import email
import email.policy

from tests.conftest import mailbox_counts, run_job_as_cli
from tests.test_chase_submissions import _set_cells, _table
from workflows import decisions
from workspace.outbox import AWAITING_APPROVAL, CANCELLED, SENT, open_ledger

DAY = dt.date(2024, 11, 1)


def _chase(config, **kw):
    return run_job_as_cli(config, "chase-submissions", today=DAY, **kw)


def _letters(config) -> dict[str, tuple[str, str]]:
    """key -> (code, state) of every decision letter."""
    with open_ledger(config, readonly=True) as ledger:
        return {k: (ledger.get(k).source_key, ledger.get(k).state) for k in ledger.keys(decisions.LETTER)}


def test_a_verdict_reaches_the_sheet_and_after_approval_one_letter_per_author(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config)                          # the seeded papers are recorded: TL01, TL02 Đã nộp
    _set_cells(config, "papers", {("TL01", "decision"): "Được chọn",
                                  ("TL01", "slot"): "Phiên 2, 14 giờ 00 ngày 22/11/2024, Hội trường A",
                                  ("TL02", "decision"): "không được chọn"})
    result = _chase(config)
    rows = _table(config).by_key
    assert (rows["TL01"]["status"], rows["TL02"]["status"]) == ("Được chọn", "Không được chọn")
    assert rows["TL01"]["decision"] == "Được chọn"          # staff's cell, untouched
    assert result.figures["thư kết quả chờ duyệt"] == 2
    letters = _letters(config)
    assert sorted(letters.values()) == [("TL01", AWAITING_APPROVAL), ("TL02", AWAITING_APPROVAL)]

    # Nothing goes before staff tick Duyệt.
    run_job_as_cli(config, "send-outbox", no_pacing=True)
    assert {state for _, state in _letters(config).values()} == {AWAITING_APPROVAL}
    _set_cells(config, "outbox", {(key, "approve"): True for key in letters})
    run_job_as_cli(config, "send-outbox", no_pacing=True)
    assert {state for _, state in _letters(config).values()} == {SENT}
    before = mailbox_counts(seeded_server.store)

    # Running again changes nothing and sends nothing.
    again = _chase(config)
    assert again.figures["thư kết quả chờ duyệt"] == 0
    run_job_as_cli(config, "send-outbox", no_pacing=True)
    assert mailbox_counts(seeded_server.store) == before
    with open_ledger(config, readonly=True) as ledger:
        accepted = [k for k in letters if letters[k][0] == "TL01"][0]
        body = email.message_from_bytes(ledger.get(accepted).raw, policy=email.policy.default
                                        ).get_body(("plain",)).get_content()
    assert "được chọn trình bày" in body and "(mã TL01)" in body
    assert "bố trí trình bày: Phiên 2, 14 giờ 00 ngày 22/11/2024, Hội trường A." in body


def test_a_verdict_changed_before_approval_replaces_the_waiting_letter(seeded_server,
                                                                       seeded_config) -> None:
    config = seeded_config
    _chase(config)
    _set_cells(config, "papers", {("TL03", "decision"): "Không được chọn"})
    _chase(config)
    _set_cells(config, "papers", {("TL03", "decision"): "Được chọn"})
    _chase(config)
    states = sorted(_letters(config).items())
    assert [(k.split(":")[1], s) for k, (_, s) in states] == [
        ("TL03/chon", AWAITING_APPROVAL), ("TL03/khong-chon", CANCELLED)]
    assert _table(config).by_key["TL03"]["status"] == "Được chọn"


def test_a_verdict_the_tool_cannot_use_changes_nothing_and_is_said(seeded_server,
                                                                   seeded_config) -> None:
    config = seeded_config
    _chase(config)
    _set_cells(config, "papers", {("TL01", "decision"): "tạm hoãn", ("TL07", "decision"): "Được chọn"})
    result = _chase(config)
    rows = _table(config).by_key
    assert rows["TL01"]["status"] == "Đã nộp" and rows["TL07"]["status"] == "Chờ nộp"
    assert _letters(config) == {}
    # Located by code and column; what staff typed is not echoed (no names in Nhật ký).
    assert any("TL01" in n and "Kết luận" in n for n in result.notes)
    assert not any("tạm hoãn" in n for n in result.notes)
    assert any("TL07" in n and "chưa nộp" in n for n in result.notes)


def test_a_verdict_changed_and_changed_back_sends_the_letter_of_the_verdict_standing(
        seeded_server, seeded_config) -> None:
    """Được chọn -> Không được chọn -> Được chọn before approval: the waiting
    letter is the acceptance again, the rejection cancelled; a slot staff fill
    afterwards is written into the waiting letter."""
    config = seeded_config
    _chase(config)
    for value in ("Được chọn", "Không được chọn", "Được chọn"):
        _set_cells(config, "papers", {("TL02", "decision"): value})
        _chase(config)
    letters = _letters(config)
    waiting = [(code, key) for key, (code, state) in letters.items() if state == AWAITING_APPROVAL]
    assert waiting == [("TL02", decisions.letter_key("TL02", decisions.ACCEPTED))]
    assert letters[decisions.letter_key("TL02", decisions.REJECTED)][1] == CANCELLED
    _set_cells(config, "papers", {("TL02", "slot"): "Phiên 3, 15 giờ 00 ngày 22/11/2024"})
    result = _chase(config)
    assert any(c.key == "TL02" and "viết lại" in c.action for c in result.plan)
    with open_ledger(config, readonly=True) as ledger:
        raw = ledger.get(decisions.letter_key("TL02", decisions.ACCEPTED)).raw
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "Phiên 3, 15 giờ 00 ngày 22/11/2024" in body
    again = _chase(config)
    assert not any("viết lại" in c.action for c in again.plan)

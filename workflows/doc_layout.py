"""A document's body (workflows.doc_markup) in the Vietnamese administrative
layout of workspace.doc_layout: the top block, the kind and summary, the body,
the signature band; a speech (`layout="phat-bieu"`) has only its title."""
from __future__ import annotations

from workspace.doc_layout import Issue, number_line, place_date, signature_band, top_block
from workspace.doc_model import Document, Page, Para, Run
from workspace.errors import TemplateError

from .doc_markup import Parsed

__all__ = ["Issue", "compose", "number_line", "place_date", "signature_band", "top_block"]


LAYOUTS = ("hanh-chinh", "phat-bieu", "tai-lieu")


def compose(parsed: Parsed, issue: Issue, *, parent: str | list[str], body: str | list[str], place: str,
            year: int, title: str, page: Page | None = None) -> Document:
    """The whole document: the layout around the template's body. `layout`:
    `hanh-chinh` (an administrative document: the top block, the signature
    band), `phat-bieu` (a speech: the speaker's name at the end), `tai-lieu`
    (material such as the proceedings: neither number nor signature)."""
    page = page or Page()
    kind = parsed.attrs.get("loai", "").strip()
    summary = parsed.attrs.get("trich-yeu", "").strip()
    layout = parsed.attrs.get("layout", "hanh-chinh")
    if layout not in LAYOUTS:
        raise TemplateError(f"<vanban layout=\"{layout[:20]}\">: dùng một trong {', '.join(LAYOUTS)}")
    official = layout == "hanh-chinh"
    blocks: list = []
    if official:
        blocks.append(top_block(parent, body, issue, place, year, page))
        blocks.append(Para([], space_after=6))
    if kind:
        blocks.append(Para([Run(kind.upper())], align="CENTER", bold=True,
                           space_before=0 if official else 6, space_after=0, line_spacing=100,
                           keep_with_next=True))
    if summary:
        blocks.append(Para([Run(summary)], align="CENTER", bold=True, space_after=2 if official else 12,
                           line_spacing=100, keep_with_next=True))
        if official:
            # Decree 30, Phụ lục I: under the summary, a solid rule a third to a half
            # as long as its line.
            rule = Para([], align="CENTER", size=4, space_after=12, line_spacing=100, rule=True)
            rule.indent_start = rule.indent_end = page.text_width / 3
            blocks.append(rule)
    blocks += parsed.blocks
    if layout == "phat-bieu":
        if issue.signer:
            blocks.append(Para([Run(issue.signer)], align="END", bold=True, space_before=12))
    elif official:
        blocks.append(Para([], space_after=0))
        blocks.append(signature_band(issue, page))
    return Document(title, blocks, page)

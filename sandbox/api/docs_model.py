"""The document model behind the Docs sandbox and the edits `batchUpdate` makes.

A document body is a list of structural elements, stored as JSON:
- a paragraph `{"runs": [{"text", "style"}], "style": {paragraphStyle}, "bullet"?}`
  whose last run ends with the paragraph's "\\n"; a page break is the character
  "\\x0c" inside a run (Google strips U+000C from inserted text, so it can never
  come from a user);
- a table `{"table": {"rows": [[{"content": [elements], "style"?: {cell style}}]],
  "columns"?: [{tableColumnProperties}]}}`: a cell's `style` holds only what
  `updateTableCellStyle` set (documents.get adds Google's defaults), and
  `columns` is there once `updateTableColumnProperties` set one;
- an auto text (a page number, a page count) is one character in a run, "\x01"
  or "\x02" (AUTO_TEXT): Google strips U+0000-U+0008 from inserted text, so
  neither can come from a user, and like every paragraph element it takes one
  index.

A segment is the body or one header or footer (Google's `segmentId`): any
dict with the segment's element list as "body", its first index as "base"
(1 for the body, after the section break at 0; 0 for a header or footer,
whose "indexes ... begin at zero") and its "kind". The body's own model is
one (no "base": 1, kind "body"); `segment()` makes the others.

Indexes are UTF-16 code units, as Google counts them: the body starts at 1
(after the section break at 0), a table start, a row start and a cell start each
take one index, and a character outside the BMP takes two. An index inside a
grapheme cluster (the two halves of a surrogate pair, a letter and its
combining marks as in NFD "ệ", an emoji with its modifiers) is no place for an
insertion or the end of a deletion. Edits are done on "atoms" (one Python
character with its text style) and packed back into runs.
An edit Google would refuse raises `Refused` with Google's message; the caller
prefixes `Invalid requests[i].kind: `.
"""
from __future__ import annotations

import copy
import re
import secrets
import string
from typing import Any, Iterator

import regex  # \X: Unicode extended grapheme clusters (UAX #29), kept current with Unicode

PAGE_BREAK = "\x0c"
# AutoText types (developers.google.com/docs/api/reference/rest/v1/documents#autotext)
AUTO_TEXT = {"\x01": "PAGE_NUMBER", "\x02": "PAGE_COUNT"}
PAGE_NUMBER = "\x01"
SPECIAL = PAGE_BREAK + "".join(AUTO_TEXT)   # characters that are elements, not text
Atom = tuple[str, dict[str, Any]]

INSIDE_PARAGRAPH = ("The insertion index must be inside the bounds of an existing paragraph. "
                    "You can still create new paragraphs by inserting newlines.")
INVALID_DELETION = "Invalid deletion range. Cannot delete the requested range."
INSIDE_CLUSTER = "The insertion index cannot be within a grapheme cluster."
FINAL_NEWLINE = "The range cannot include the newline character at the end of the segment."
HEADINGS = {f"HEADING_{n}" for n in range(1, 7)}
# Control characters and the BMP private use area, which Google strips from inserted text.
_STRIPPED = re.compile("[\x00-\x08\x0c-\x1f\ue000-\uf8ff]")
_CLUSTER = regex.compile(r"\X")


class Refused(Exception):
    """A request Google refuses with 400 INVALID_ARGUMENT and this message."""


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clean(text: str) -> str:
    return _STRIPPED.sub("", text)


def new_paragraph(text: str = "\n", pstyle: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"runs": [{"text": text, "style": {}}], "style": dict(pstyle or {})}


def new_document() -> dict[str, Any]:
    """An empty document: one empty paragraph (indexes 1..2), revision 1."""
    return {"rev": 1, "body": [new_paragraph()], "documentStyle": {}, "lists": {}}


def segment(content: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """A header's or footer's content as a segment the edits below work on
    (indexes from 0); edits change `content` in place."""
    return {"body": content, "base": 0, "kind": kind}


def base(doc: dict[str, Any]) -> int:
    """The first index of a segment: 1 in the body, 0 in a header or footer."""
    return doc.get("base", 1)


def heading_id() -> str:
    return "h." + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


# -- lengths and positions ---------------------------------------------------
def elem_len(elem: dict[str, Any]) -> int:
    if "runs" in elem:
        return sum(u16(r["text"]) for r in elem["runs"])
    return 1 + sum(1 + sum(1 + content_len(c["content"]) for c in row)
                   for row in elem["table"]["rows"])


def content_len(content: list[dict[str, Any]]) -> int:
    return sum(elem_len(e) for e in content)


def body_end(doc: dict[str, Any]) -> int:
    """The end index of a segment (its final newline's end)."""
    return base(doc) + content_len(doc["body"])


def walk(content: list[dict[str, Any]], start: int
         ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any], int]]:
    """Every paragraph (tables' cells included) in order, with its list and start index."""
    pos = start
    for elem in content:
        if "runs" in elem:
            yield content, elem, pos
        else:
            p = pos + 1
            for row in elem["table"]["rows"]:
                p += 1
                for cell in row:
                    p += 1
                    yield from walk(cell["content"], p)
                    p += content_len(cell["content"])
        pos += elem_len(elem)


def _find_paragraph(content: list[dict[str, Any]], start: int, index: int
                    ) -> tuple[list[dict[str, Any]], int, int] | None:
    """(list, position, start) of the paragraph holding `index`; None on a table's markers."""
    pos = start
    for i, elem in enumerate(content):
        n = elem_len(elem)
        if pos <= index < pos + n:
            if "runs" in elem:
                return content, i, pos
            p = pos + 1
            for row in elem["table"]["rows"]:
                p += 1
                for cell in row:
                    p += 1
                    size = content_len(cell["content"])
                    if p <= index < p + size:
                        return _find_paragraph(cell["content"], p, index)
                    p += size
            return None
        pos += n
    return None


def atoms(par: dict[str, Any]) -> list[Atom]:
    return [(ch, run["style"]) for run in par["runs"] for ch in run["text"]]


def pack(items: list[Atom]) -> list[dict[str, Any]]:
    """Runs from atoms: neighbours with equal styles share a run."""
    runs: list[dict[str, Any]] = []
    for ch, style in items:
        if runs and runs[-1]["style"] == style:
            runs[-1]["text"] += ch
        else:
            runs.append({"text": ch, "style": style})
    return runs


def cluster_stops(text: str) -> set[int]:
    """The UTF-16 offsets in `text` where a grapheme cluster begins or ends.

    Google refuses an insertion inside a grapheme cluster ("The insertion index
    cannot be within a grapheme cluster.", seen for Thai combining marks in
    googleapis/google-api-python-client#783, and for emoji with modifiers), and
    a deletion through the middle of one ("Invalid deletion range"; the
    DeleteContentRangeRequest reference lists "Deleting one code unit of a
    surrogate pair"). A cluster is what `regex`'s \\X matches: a base letter with
    its combining marks, a surrogate pair, an emoji sequence, a flag."""
    stops, units = {0}, 0
    for match in _CLUSTER.finditer(text):
        units += u16(match.group())
        stops.add(units)
    return stops


def atom_at(items: list[Atom], offset: int) -> int | None:
    """Atom index at UTF-16 `offset` in a paragraph; None when the offset is
    inside a grapheme cluster (a surrogate pair included) or past the end."""
    if offset not in cluster_stops("".join(ch for ch, _ in items)):
        return None
    units = 0
    for i, (ch, _) in enumerate(items):
        if units == offset:
            return i
        units += u16(ch)
    return len(items)


def _rebuild(source: dict[str, Any], items: list[Atom]) -> dict[str, Any]:
    par: dict[str, Any] = {"runs": pack(items), "style": dict(source["style"])}
    if source.get("bullet"):
        par["bullet"] = dict(source["bullet"])
    return par


def _split(source: dict[str, Any], items: list[Atom]) -> list[dict[str, Any]]:
    """Paragraphs from atoms that may hold several newlines; all keep `source`'s style
    (like pressing Enter), and only the first keeps its heading id."""
    parts: list[list[Atom]] = [[]]
    for item in items:
        parts[-1].append(item)
        if item[0] == "\n":
            parts.append([])
    out = [_rebuild(source, part) for part in parts if part]
    for par in out[1:]:
        if "headingId" in par["style"]:
            par["style"]["headingId"] = heading_id()
    return out


# -- locations ---------------------------------------------------------------
def insertion_point(doc: dict[str, Any], index: int
                    ) -> tuple[list[dict[str, Any]], int, list[Atom], int]:
    """Where an insertion at `index` lands: (list, position, atoms, atom index)."""
    end = body_end(doc)
    if index >= end:
        raise Refused(f"Index {index} must be less than the end index of the referenced "
                      f"segment, {end}.")
    start = base(doc)
    found = _find_paragraph(doc["body"], start, index) if index >= start else None
    if found is None:
        raise Refused(INSIDE_PARAGRAPH)
    content, i, start = found
    items = atoms(content[i])
    k = atom_at(items, index - start)
    if k is None:
        raise Refused(INSIDE_CLUSTER)
    return content, i, items, k


def _style_for_insert(items: list[Atom], k: int) -> dict[str, Any]:
    # Inserted text takes the style of the character before it (or after it at a paragraph start).
    style = items[k - 1][1] if k > 0 and items[k - 1][0] != PAGE_BREAK else items[k][1]
    return {key: value for key, value in style.items() if key != "link"}


def check_range(doc: dict[str, Any], start: int, end: int) -> None:
    if end < start:
        raise Refused("Invalid range: end index cannot be less than start index")
    if end == start:
        raise Refused("The range should not be empty.")
    limit = body_end(doc)
    if end > limit:
        raise Refused(f"Index {end} must be less than the end index of the referenced segment, "
                      f"{limit}.")
    if start < 0:
        raise Refused(f"Index {start} must be greater than or equal to 0.")


# -- edits ---------------------------------------------------------------------
def insert_text(doc: dict[str, Any], index: int, text: str,
                style: dict[str, Any] | None = None) -> None:
    content, i, items, k = insertion_point(doc, index)
    text = clean(text)
    if not text:
        return
    style = _style_for_insert(items, k) if style is None else style
    content[i:i + 1] = _split(content[i], items[:k] + [(ch, style) for ch in text] + items[k:])


def insert_page_break(doc: dict[str, Any], index: int) -> None:
    content, i, items, k = insertion_point(doc, index)
    if content is not doc["body"] or doc.get("kind", "body") != "body":
        raise Refused("Page breaks cannot be inserted inside a table, equation, footnote, "
                      "header or footer.")
    style = _style_for_insert(items, k)
    content[i:i + 1] = _split(content[i], items[:k] + [(PAGE_BREAK, style), ("\n", style)]
                              + items[k:])


def insert_table(doc: dict[str, Any], index: int, rows: int, columns: int) -> None:
    """A newline is inserted at `index`, then the table right after it; every cell holds
    one empty paragraph."""
    if rows < 1 or columns < 1:
        raise Refused("A table must have at least one row and one column.")
    if columns > 20:
        raise Refused("A table can have at most 20 columns.")
    content, i, items, k = insertion_point(doc, index)
    source = content[i]
    head = items[:k] + [("\n", _style_for_insert(items, k))]
    table = {"table": {"rows": [[{"content": [new_paragraph()]} for _ in range(columns)]
                                for _ in range(rows)]}}
    content[i:i + 1] = [_rebuild(source, head), table, _rebuild(source, items[k:])]


def delete_range(doc: dict[str, Any], start: int, end: int) -> None:
    check_range(doc, start, end)
    if end >= body_end(doc):
        raise Refused(FINAL_NEWLINE)
    if start < base(doc):
        raise Refused(INVALID_DELETION)
    _delete_in(doc["body"], base(doc), start, end)


def _cell_holding(table: dict[str, Any], start: int, a: int, b: int
                  ) -> tuple[list[dict[str, Any]], int] | None:
    p = start + 1
    for row in table["table"]["rows"]:
        p += 1
        for cell in row:
            p += 1
            size = content_len(cell["content"])
            if p <= a and b <= p + size:
                return cell["content"], p
            p += size
    return None


def _delete_in(content: list[dict[str, Any]], start: int, a: int, b: int) -> None:
    spans, pos = [], start
    for i, elem in enumerate(content):
        n = elem_len(elem)
        if pos < b and a < pos + n:
            spans.append((i, pos, pos + n))
        pos += n
    first, last = spans[0][0], spans[-1][0]
    if len(spans) == 1 and "table" in content[first]:
        _, es, ee = spans[0]
        if a <= es and b >= ee:
            del content[first]
            return
        cell = _cell_holding(content[first], es, a, b)
        if cell is None or b >= cell[1] + content_len(cell[0]):
            raise Refused(INVALID_DELETION)
        _delete_in(cell[0], cell[1], a, b)
        return
    out: list[dict[str, Any]] = []
    carry: list[Atom] | None = None   # what is left of a paragraph whose newline went
    carry_src: dict[str, Any] | None = None
    for i, es, ee in spans:
        elem = content[i]
        if "table" in elem:
            if not (a <= es and b >= ee):
                raise Refused(INVALID_DELETION)
            continue
        items = atoms(elem)
        lo, hi = atom_at(items, max(a, es) - es), atom_at(items, min(b, ee) - es)
        if lo is None or hi is None:
            raise Refused(INVALID_DELETION)
        kept = (carry if carry is not None else items[:lo]) + items[hi:]
        src = carry_src if carry and carry_src is not None else elem
        if hi == len(items):
            carry, carry_src = kept, src
        else:
            carry, carry_src = None, None
            out.append(_rebuild(src, kept))
    if carry is not None:
        nxt = last + 1
        if nxt >= len(content) or "table" in content[nxt]:
            # the newline before a table, or the last newline of a cell
            raise Refused(INVALID_DELETION)
        src = carry_src if carry and carry_src is not None else content[nxt]
        out.append(_rebuild(src, carry + atoms(content[nxt])))
        last = nxt
    content[first:last + 1] = out


def _fold(text: str) -> str:
    # per character, so positions in the folded text are positions in the original
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def replace_all_text(doc: dict[str, Any], find: str, replacement: str, match_case: bool,
                     regex: bool = False) -> int:
    """Replace every match inside each paragraph; the replacement takes the style of the
    match's first character. Returns the number of occurrences changed."""
    if not find:
        raise Refused("The text to search for must not be empty.")
    replacement = clean(replacement)
    count = 0
    for content, par, _ in list(walk(doc["body"], base(doc))):
        items = atoms(par)
        hay = "".join(ch for ch, _ in items[:-1])
        if regex:
            try:
                pattern = re.compile(find, 0 if match_case else re.IGNORECASE)
            except re.error:
                raise Refused(f"Invalid regular expression: {find}") from None
            spans = [(m.start(), m.end()) for m in pattern.finditer(hay) if m.end() > m.start()]
        else:
            needle = find if match_case else _fold(find)
            hay = hay if match_case else _fold(hay)
            spans, j = [], hay.find(needle)
            while j >= 0:
                spans.append((j, j + len(needle)))
                j = hay.find(needle, j + len(needle))
        if not spans:
            continue
        count += len(spans)
        new: list[Atom] = []
        prev = 0
        for lo, hi in spans:
            new += items[prev:lo] + [(ch, items[lo][1]) for ch in replacement]
            prev = hi
        new += items[prev:]
        i = next(n for n, e in enumerate(content) if e is par)
        content[i:i + 1] = _split(par, new)
    return count


def _overlapping(doc: dict[str, Any], a: int, b: int
                 ) -> list[tuple[list[dict[str, Any]], dict[str, Any], int]]:
    return [(c, p, ps) for c, p, ps in walk(doc["body"], base(doc))
            if ps < b and a < ps + elem_len(p)]


def apply_mask(old: dict[str, Any], new: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Fields named in the mask take the new value, or are cleared when it has none."""
    out = dict(old)
    for name in names:
        if name in new:
            out[name] = copy.deepcopy(new[name])
        else:
            out.pop(name, None)
    return out


def update_text_style(doc: dict[str, Any], a: int, b: int, style: dict[str, Any],
                      names: list[str]) -> None:
    check_range(doc, a, b)
    for _, par, ps in _overlapping(doc, a, b):
        units, items = ps, []
        for ch, old in atoms(par):
            items.append((ch, apply_mask(old, style, names) if a <= units < b else old))
            units += u16(ch)
        par["runs"] = pack(items)


def update_paragraph_style(doc: dict[str, Any], a: int, b: int, style: dict[str, Any],
                           names: list[str]) -> None:
    check_range(doc, a, b)
    for _, par, _ in _overlapping(doc, a, b):
        new = apply_mask(par["style"], style, [n for n in names if n != "headingId"])
        named = new.get("namedStyleType")
        if named in HEADINGS:
            new["headingId"] = par["style"].get("headingId") or heading_id()
        else:
            new.pop("headingId", None)
        par["style"] = new


def create_bullets(doc: dict[str, Any], a: int, b: int, list_id: str) -> None:
    """Bullets on every paragraph in the range; leading tabs set the nesting level and
    are removed (so later indexes move, as in Google)."""
    check_range(doc, a, b)
    for _, par, _ in _overlapping(doc, a, b):
        items = atoms(par)
        level = 0
        while level < len(items) - 1 and items[level][0] == "\t":
            level += 1
        par["runs"] = pack(items[level:])
        par["bullet"] = {"listId": list_id, "textStyle": {}}
        if level:
            par["bullet"]["nestingLevel"] = level
        par["style"]["indentFirstLine"] = {"magnitude": 18 + 36 * level, "unit": "PT"}
        par["style"]["indentStart"] = {"magnitude": 36 + 36 * level, "unit": "PT"}


def delete_bullets(doc: dict[str, Any], a: int, b: int) -> None:
    check_range(doc, a, b)
    for _, par, _ in _overlapping(doc, a, b):
        if par.pop("bullet", None) is not None:
            par["style"].pop("indentFirstLine", None)
            par["style"].pop("indentStart", None)



# -- tables' styles ------------------------------------------------------------
BORDERS = ("borderRight", "borderLeft", "borderBottom", "borderTop")   # Google's order
_NEIGHBOUR = {"borderRight": (0, 1, "borderLeft"), "borderLeft": (0, -1, "borderRight"),
              "borderBottom": (1, 0, "borderTop"), "borderTop": (-1, 0, "borderBottom")}


def proto3(value: Any) -> Any:
    """`value` as Google's JSON shows it: a Dimension's zero magnitude is left
    out, as proto3 leaves out every zero value ({"unit": "PT"} is a width of 0)."""
    if isinstance(value, dict):
        return {k: proto3(v) for k, v in value.items()
                if not (k == "magnitude" and v == 0)}
    if isinstance(value, list):
        return [proto3(v) for v in value]
    return value


def tables(content: list[dict[str, Any]], start: int
           ) -> Iterator[tuple[dict[str, Any], int]]:
    """Every table (nested ones too) with its start index."""
    pos = start
    for elem in content:
        if "table" in elem:
            yield elem, pos
            p = pos + 1
            for row in elem["table"]["rows"]:
                p += 1
                for cell in row:
                    p += 1
                    yield from tables(cell["content"], p)
                    p += content_len(cell["content"])
        pos += elem_len(elem)


def find_table(doc: dict[str, Any], index: int) -> dict[str, Any]:
    """The table of a segment that starts at `index` (a `tableStartLocation`)."""
    for table, start in tables(doc["body"], base(doc)):
        if start == index:
            return table
    raise Refused(f"No table found at the table start location with index {index}.")


def table_size(table: dict[str, Any]) -> tuple[int, int]:
    rows = table["table"]["rows"]
    return len(rows), max(len(row) for row in rows)


def update_cell_style(table: dict[str, Any], cells: list[tuple[int, int]], style: dict[str, Any],
                      names: list[str]) -> None:
    """Apply `style` (masked by `names`) to `cells`. A border also changes the
    border it shares with the neighbouring cell (inside or outside `cells`),
    borders in Google's order: right, left, bottom, top (UpdateTableCellStyleRequest)."""
    rows = table["table"]["rows"]

    def set_field(r: int, c: int, name: str) -> None:
        if 0 <= r < len(rows) and 0 <= c < len(rows[r]):
            cell = rows[r][c]
            cell["style"] = apply_mask(cell.get("style") or {}, style, [name])
            if not cell["style"]:
                del cell["style"]

    for name in names:
        if name in BORDERS:
            continue
        for r, c in cells:
            set_field(r, c, name)
    for name in BORDERS:
        if name not in names:
            continue
        dr, dc, other = _NEIGHBOUR[name]
        for r, c in cells:
            set_field(r, c, name)
            if name in style:
                neighbour = rows[r + dr][c + dc] if (0 <= r + dr < len(rows) and
                                                     0 <= c + dc < len(rows[r + dr])) else None
                if neighbour is not None:
                    neighbour["style"] = {**(neighbour.get("style") or {}),
                                          other: copy.deepcopy(style[name])}
            else:
                set_field(r + dr, c + dc, other)


def update_columns(table: dict[str, Any], indices: list[int], props: dict[str, Any],
                   names: list[str]) -> None:
    """Apply `props` (masked by `names`) to the columns at `indices` (all when empty)."""
    _, columns = table_size(table)
    current = table["table"].get("columns") or [{} for _ in range(columns)]
    current += [{} for _ in range(columns - len(current))]
    for i in indices or range(columns):
        current[i] = apply_mask(current[i], props, names)
    table["table"]["columns"] = current


def column_widths(table: dict[str, Any], available: float) -> list[float]:
    """Each column's width in points, for the exports: a FIXED_WIDTH column its
    own, the EVENLY_DISTRIBUTED ones share what is left of `available` (the
    page's or the cell's text width), at least 5 pt each (Google's narrowest)."""
    _, columns = table_size(table)
    stored = table["table"].get("columns") or []
    fixed: list[float | None] = []
    for i in range(columns):
        props = stored[i] if i < len(stored) else {}
        width = float((props.get("width") or {}).get("magnitude") or 0)
        fixed.append(width if props.get("widthType") == "FIXED_WIDTH" and width else None)
    free = [i for i, w in enumerate(fixed) if w is None]
    rest = available - sum(w for w in fixed if w is not None)
    share = max(rest / len(free), 5.0) if free else 0.0
    return [w if w is not None else share for w in fixed]

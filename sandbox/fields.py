"""The `fields` system parameter: Google's partial-response selector.

Grammar: a comma-separated list of paths; `a/b` descends, `a(b,c)` selects
several sub-fields, `*` selects everything. Lists are filtered element-wise.
"""
from __future__ import annotations

from typing import Any

from .errors import GoogleError

Mask = dict[str, "Mask | None"]  # None means "the whole value"


def parse(text: str) -> Mask:
    pos = 0

    def fail() -> GoogleError:
        return GoogleError(400, f"Invalid field selection {text}", reason="invalidParameter",
                           location="fields")

    def parse_item() -> tuple[str, Mask | None]:
        """`name`, `name/sub…` or `name(list)`: the name and what is selected under it."""
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] not in ",()/":
            pos += 1
        name = text[start:pos].strip()
        if not name:
            raise fail()
        node: Mask | None = None
        if pos < len(text) and text[pos] == "/":
            pos += 1
            sub, subnode = parse_item()
            node = {sub: subnode}
        elif pos < len(text) and text[pos] == "(":
            pos += 1
            node = parse_list()
            if pos >= len(text) or text[pos] != ")":
                raise fail()
            pos += 1
        return name, node

    def parse_list() -> Mask:
        nonlocal pos
        mask: Mask = {}
        while True:
            merge(mask, *parse_item())
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            return mask

    def merge(mask: Mask, name: str, node: Mask | None) -> None:
        if "." in name:  # `sheets.properties` is `sheets/properties`
            head, rest = name.split(".", 1)
            merge(mask, head, {})
            if mask[head] is not None:
                merge(mask[head], rest, node)
            return
        if name in mask:
            old = mask[name]
            if old is None or node is None:
                mask[name] = None
            else:
                for k, v in node.items():
                    merge(old, k, v)
        else:
            mask[name] = node

    result = parse_list()
    if pos != len(text):
        raise fail()
    return result


def apply(value: Any, mask: Mask | None) -> Any:
    if mask is None or "*" in mask and mask["*"] is None:
        return value
    if isinstance(value, list):
        return [apply(v, mask) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in mask.items():
        if key == "*":
            for k, v in value.items():
                out[k] = apply(v, sub)
        elif key in value:
            out[key] = apply(value[key], sub)
    return out


def select(value: Any, fields: str | None) -> Any:
    """`value` reduced to what `fields` asks for (everything when not given)."""
    if not fields:
        return value
    return apply(value, parse(fields))

"""The `fields` partial-response selector, as Google parses it."""
from __future__ import annotations

import pytest

from sandbox import fields
from sandbox.errors import GoogleError

DOC = {"kind": "drive#fileList", "nextPageToken": "t",
       "files": [{"id": "1", "name": "a", "mimeType": "x", "owners": [{"emailAddress": "e", "me": True}]}],
       "sheets": [{"properties": {"title": "Đăng ký", "sheetId": 0}, "data": [1]}]}


def test_fields_list_selects_inside_each_element() -> None:
    assert fields.select(DOC, "nextPageToken,files(id,name)") == {
        "nextPageToken": "t", "files": [{"id": "1", "name": "a"}]}


def test_fields_path_and_dot_forms_are_the_same() -> None:
    by_slash = fields.select(DOC, "sheets/properties/title")
    by_dot = fields.select(DOC, "sheets.properties.title")
    assert by_slash == by_dot == {"sheets": [{"properties": {"title": "Đăng ký"}}]}


def test_fields_nested_lists_and_star() -> None:
    assert fields.select(DOC, "files(owners(emailAddress))") == {
        "files": [{"owners": [{"emailAddress": "e"}]}]}
    assert fields.select(DOC, "*") == DOC


@pytest.mark.parametrize("bad", ["a,,b", "files(id", "files(id))", "/x", ""])
def test_fields_malformed_selection_is_400(bad: str) -> None:
    if not bad:
        assert fields.select(DOC, bad) == DOC  # no selector: everything
        return
    with pytest.raises(GoogleError) as err:
        fields.select(DOC, bad)
    assert err.value.code == 400 and "Invalid field selection" in err.value.message

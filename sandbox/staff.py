"""What a member of staff does in the coordinating spreadsheet, for the demo
and rehearsals: cells typed as that person (their own signed-in account, the
event's contact, who owns the workshop's files), through the Sheets API as
typing would (USER_ENTERED), each found by its row's key as it stands now."""
from __future__ import annotations

from typing import Any, Mapping

from google.oauth2 import credentials as user_credentials

from workspace.auth import ALL_SCOPES
from workspace.clients import Workspace
from workspace.config import Config
from workspace.table import KeyedTable, col_letter, quote_tab

from .oauth import create_authorized_user
from .store import Store


def staff_credentials(store: Store, base_url: str, email: str) -> Any:
    """The signed-in account of a member of staff (an installed-app token)."""
    info = create_authorized_user(store, email, token_uri=base_url + "/token")
    # from_authorized_user_info always sets Google's token endpoint: point it back here.
    return user_credentials.Credentials.from_authorized_user_info(info, ALL_SCOPES).with_token_uri(
        info["token_uri"])


def type_cells(store: Store, base_url: str, config: Config, table: str,
               cells: Mapping[tuple[str, str], Any]) -> list[str]:
    """Type `cells` ((row key, field) -> value) into the tab the config calls
    `table`, as the event's contact; returns the keys not found (nothing is
    typed for those)."""
    with Workspace(staff_credentials(store, base_url, config.event.contact.email), base_url) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id)
        tab = config.sheets.table(table)
        snap = KeyedTable(sheet, tab, table).read()
        missing = sorted({k for k, _ in cells if k not in snap.by_key})
        data = [{"range": f"{quote_tab(tab.tab)}!{col_letter(snap.columns[f])}{snap.by_key[k].row}",
                 "values": [[v]]} for (k, f), v in cells.items() if k in snap.by_key]
        if data:
            sheet.values_batch_update({"valueInputOption": "USER_ENTERED", "data": data})
    return missing

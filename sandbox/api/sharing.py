"""Sharing: Drive's permissions, and who may call Sheets, Docs and Forms on a file.

A caller holding a token the sandbox issued (a service account, a delegated
user) reaches only the files it owns or that are shared with it, directly or
through a folder above them (`drive.role_for`). What it gets otherwise is what
Google answers:

- Sheets, Docs and Forms: 403 PERMISSION_DENIED "The caller does not have
  permission" for a file that exists but is not shared with the caller, or is
  shared for reading only and the call writes (a file that does not exist at
  all keeps the API's own 404, answered by its handler);
- Drive: 404 "File not found: ID." for a file the caller cannot see (Google
  does not reveal that it exists), 403 insufficientFilePermissions for a file
  it may only read (drive.py's handlers check this themselves).

Permissions follow Drive v3's `permissions` resource
(https://developers.google.com/workspace/drive/api/reference/rest/v3/permissions):
`user`, `group`, `domain` and `anyone` types; roles reader, commenter, writer,
owner. Ownership is not transferred: Google asks the new owner's consent
(`consentRequiredForOwnershipTransfer`), which no API call can give.
"""
from __future__ import annotations

from typing import Any

from ..errors import GoogleError, invalid_argument
from . import Call, Raw, drive, handles

# Which path parameter names the file, per API.
FILE_PARAM = {"sheets": "spreadsheetId", "docs": "documentId", "forms": "formId"}

ROLES = ("owner", "organizer", "fileOrganizer", "writer", "commenter", "reader")
TYPES = ("user", "group", "domain", "anyone")


def caller_has_no_permission() -> GoogleError:
    """Sheets', Docs' and Forms' answer to a caller the file is not shared with."""
    return GoogleError(403, "The caller does not have permission", status="PERMISSION_DENIED",
                       reason="forbidden")


def check_access(call: Call, api: str, kind: str) -> None:
    """Before a Sheets, Docs or Forms handler runs: the caller may read (a read)
    or edit (a write) the file the call names."""
    param = FILE_PARAM.get(api)
    if param is None or not call.restricted or not call.params.get(param):
        return
    meta = drive.get_meta(call.db, call.params[param])
    if meta is None:
        return  # the handler answers the API's own 404
    if not drive.may(call, meta, "writer" if kind == "write" else "reader"):
        raise caller_has_no_permission()


# -- permissions ------------------------------------------------------------------
_DEFAULT_FIELDS = ("kind", "id", "type", "role")


def _shape(perm: dict[str, Any], call: Call) -> dict[str, Any]:
    if call.params.get("fields"):
        return perm
    return {k: perm[k] for k in _DEFAULT_FIELDS if k in perm}


def _save(call: Call, meta: dict[str, Any], permissions: list[dict[str, Any]]) -> None:
    meta["permissions"] = permissions
    meta["shared"] = len(permissions) > 1
    drive._save(call.db, meta)
    drive.touch(call.db, meta["id"], call)   # a sharing change is a change of the file


def _required(field: str) -> GoogleError:
    return GoogleError(400, f"The permission {field} field is required.", reason="required",
                       location=f"permission.{field}")


@handles("drive.permissions.create")
def permissions_create(call: Call) -> dict[str, Any]:
    meta = drive.require_access(call, call.params["fileId"], "writer")
    body = call.body or {}
    role, kind = body.get("role"), body.get("type")
    if not role:
        raise _required("role")
    if not kind:
        raise _required("type")
    if role not in ROLES:
        raise invalid_argument(f"The provided value for the permission role is invalid: {role}",
                               reason="invalid", location="permission.role")
    if kind not in TYPES:
        raise invalid_argument(f"The provided value for the permission type is invalid: {kind}",
                               reason="invalid", location="permission.type")
    if role == "owner":
        if not call.params.get("transferOwnership"):
            raise GoogleError(403, "The transferOwnership parameter must be enabled when the "
                                   "permission role is 'owner'.", reason="forbidden",
                              location="transferOwnership")
        raise GoogleError(403, "Consent is required to transfer ownership of a file to another "
                               "user.", reason="consentRequiredForOwnershipTransfer")
    if role in ("organizer", "fileOrganizer"):
        raise invalid_argument(f"The role {role} applies to shared drives only; the sandbox has "
                               "none.", reason="invalidSharingRequest")
    permissions = [dict(p) for p in drive.permissions_of(meta)]
    if kind in ("user", "group"):
        email = str(body.get("emailAddress") or "").strip()
        if not email:
            raise GoogleError(400, "The permission emailAddress field is required for the "
                                   f"{kind} type.", reason="required",
                              location="permission.emailAddress")
        if "@" not in email:
            raise invalid_argument(f"Bad Request. User message: \"{email} is not a valid email "
                                   "address.\"", reason="invalidSharingRequest")
        # An address with no Google account can only be invited by Google's own
        # mail (the link goes in it): sharing silently is refused. Google's
        # words, as quoted by GAM's wiki (Drive permissions, "Notify people").
        notify = call.params.get("sendNotificationEmail", True) not in (False, "false")
        domain = email.rsplit("@", 1)[1].lower()
        if not notify and domain in (call.settings.get("no_account_domains") or []):
            raise invalid_argument(
                f"Bad Request. User message: \"You are trying to invite {email}. Since there is no "
                f"Google account associated with this email address, you must check the 'Notify "
                f"people' box to invite this recipient.\"", reason="invalidSharingRequest")
        perm = drive.user_permission(email, role)
        perm["type"] = kind
        match = lambda p: p.get("type") in ("user", "group") and \
            str(p.get("emailAddress", "")).lower() == email.lower()  # noqa: E731
    elif kind == "domain":
        domain = str(body.get("domain") or "").strip().lower()
        if not domain:
            raise _required("domain")
        perm = {"kind": "drive#permission", "id": drive.permission_id("domain:" + domain),
                "type": "domain", "domain": domain, "role": role, "displayName": domain,
                "allowFileDiscovery": bool(body.get("allowFileDiscovery", False))}
        match = lambda p: p.get("type") == "domain" and p.get("domain") == domain  # noqa: E731
    else:
        perm = {"kind": "drive#permission", "id": "anyoneWithLink", "type": "anyone",
                "role": role, "allowFileDiscovery": bool(body.get("allowFileDiscovery", False))}
        match = lambda p: p.get("type") == "anyone"  # noqa: E731
    existing = next((p for p in permissions if match(p)), None)
    if existing is not None and existing.get("role") == "owner":
        raise GoogleError(403, "The owner's role cannot be changed by sharing the file again.",
                          reason="forbidden")
    if existing is not None:   # sharing again with the same person changes the role
        existing.update({k: v for k, v in perm.items() if k != "id"})
        perm = existing
    else:
        permissions.append(perm)
    _save(call, meta, permissions)
    return _shape(perm, call)


@handles("drive.permissions.list")
def permissions_list(call: Call) -> dict[str, Any]:
    meta = drive.require_access(call, call.params["fileId"])
    return {"kind": "drive#permissionList",
            "permissions": [_shape(p, call) for p in drive.permissions_of(meta)]}


def _find(meta: dict[str, Any], permission_id: str) -> dict[str, Any]:
    for perm in drive.permissions_of(meta):
        if perm.get("id") == permission_id:
            return perm
    raise GoogleError(404, f"Permission not found: {permission_id}.", reason="notFound",
                      location="permissionId")


@handles("drive.permissions.get")
def permissions_get(call: Call) -> dict[str, Any]:
    meta = drive.require_access(call, call.params["fileId"])
    return _shape(_find(meta, call.params["permissionId"]), call)


@handles("drive.permissions.delete")
def permissions_delete(call: Call) -> Raw:
    meta = drive.require_access(call, call.params["fileId"], "writer")
    perm = _find(meta, call.params["permissionId"])
    if perm.get("role") == "owner":
        raise GoogleError(403, "The owner of a file cannot be removed.", reason="cannotRemoveOwner")
    _save(call, meta, [p for p in drive.permissions_of(meta) if p is not perm])
    return Raw(b"", "text/html", status=204)

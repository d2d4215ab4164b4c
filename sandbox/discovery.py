"""Routing and request validation driven by Google's own discovery documents.

The documents shipped inside google-api-python-client describe every method's
HTTP verb, path template, parameters and request schema. The sandbox routes
and validates from them, so an unknown field, a bad enum or a missing
required parameter is refused where Google refuses it, and each API module
holds only behaviour.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import unquote

import googleapiclient

from .errors import GoogleError

APIS = {"sheets": "sheets.v4", "drive": "drive.v3", "gmail": "gmail.v1",
        "docs": "docs.v1", "forms": "forms.v1"}

_DOCS_DIR = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


@dataclass
class Route:
    api: str
    method_id: str
    http_method: str
    regex: re.Pattern[str]
    literal_len: int
    method: dict[str, Any]
    doc: dict[str, Any] = field(repr=False)
    upload: bool = False


@functools.lru_cache(maxsize=None)
def load_document(api: str) -> dict[str, Any]:
    with open(_DOCS_DIR / f"{APIS[api]}.json", encoding="utf-8") as fh:
        return json.load(fh)


def _template_regex(template: str) -> tuple[re.Pattern[str], int]:
    parts, literal = [], 0
    pos = 0
    for m in re.finditer(r"\{(\+?)([A-Za-z0-9_.]+)\}", template):
        text = template[pos:m.start()]
        parts.append(re.escape(text))
        literal += len(text)
        name = m.group(2).replace(".", "__")
        parts.append(f"(?P<{name}>.+)" if m.group(1) else f"(?P<{name}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    literal += len(template) - pos
    return re.compile("^/" + "".join(parts).lstrip("/") + "$"), literal


def _methods(resource: dict[str, Any]):
    for method in resource.get("methods", {}).values():
        yield method
    for sub in resource.get("resources", {}).values():
        yield from _methods(sub)


@functools.lru_cache(maxsize=None)
def routes() -> tuple[Route, ...]:
    found: list[Route] = []
    for api in APIS:
        doc = load_document(api)
        for method in _methods(doc):
            template = doc["servicePath"] + method["path"]
            regex, literal = _template_regex(template)
            found.append(Route(api, method["id"], method["httpMethod"], regex, literal, method, doc))
            simple = method.get("mediaUpload", {}).get("protocols", {}).get("simple")
            if simple:
                regex, literal = _template_regex(simple["path"])
                found.append(Route(api, method["id"], method["httpMethod"], regex, literal,
                                   method, doc, upload=True))
    # The most literal text first: `values/{range}:append` before `values/{range}`.
    found.sort(key=lambda r: -r.literal_len)
    return tuple(found)


def match(http_method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request path (still percent-encoded) and its path parameters."""
    path_matched = False
    for route in routes():
        m = route.regex.match(raw_path)
        if not m:
            continue
        path_matched = True
        if route.http_method != http_method:
            continue
        params = {k.replace("__", "."): unquote(v) for k, v in m.groupdict().items()}
        return route, params
    if path_matched:
        raise GoogleError(405, f"Method {http_method} is not allowed on {raw_path}.",
                          status="INVALID_ARGUMENT")
    raise not_found_url(raw_path)


def not_found_url(raw_path: str) -> GoogleError:
    return GoogleError(404, f"The requested URL {raw_path} was not found on this server.",
                       reason="notFound")


def api_for_path(raw_path: str) -> str | None:
    """The API a request path belongs to, whatever its method; None if none."""
    for route in routes():
        if route.regex.match(raw_path):
            return route.api
    return None


@functools.lru_cache(maxsize=None)
def batch_paths() -> Mapping[str, str | None]:
    """The batch endpoints (see sandbox/batch.py) by path: each document's
    `batchPath` (`/batch/drive/v3`), and `/batch/{name}/{version}` for every
    API. Gmail, Sheets, Docs and Forms give `batch`, on a host of their own;
    the sandbox serves them all on one, so `/batch` maps to None: its API is
    the one its inner requests are for."""
    paths: dict[str, str | None] = {}
    for api in APIS:
        doc = load_document(api)
        paths[f"/batch/{doc['name']}/{doc['version']}"] = api
        path = "/" + doc.get("batchPath", "batch").strip("/")
        if path != "/batch":
            paths[path] = api
    paths["/batch"] = None
    return MappingProxyType(paths)


# -- parameters -------------------------------------------------------------

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _convert_param(name: str, spec: dict[str, Any], raw: str) -> Any:
    kind = spec.get("type", "string")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise GoogleError(400, f"Invalid value at '{_snake(name)}' (TYPE_INT32), \"{raw}\"") from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise GoogleError(400, f"Invalid value at '{_snake(name)}' (TYPE_BOOL), \"{raw}\"")
        return raw.lower() in ("true", "1")
    if "enum" in spec and raw not in spec["enum"]:
        raise GoogleError(400, f"Invalid value at '{_snake(name)}', \"{raw}\"")
    return raw


def parse_params(route: Route, path_params: dict[str, str],
                 query: dict[str, list[str]]) -> dict[str, Any]:
    """Typed parameters of one call; unknown or malformed ones refused like Google."""
    specs = dict(route.doc.get("parameters", {}))
    specs.update(route.method.get("parameters", {}))
    out: dict[str, Any] = {}
    for name, value in path_params.items():
        out[name] = value
    for name, values in query.items():
        spec = specs.get(name)
        if spec is None:
            raise GoogleError(
                400, f"Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query "
                     f"parameter. Field '{name}' could not be found in request message.")
        if spec.get("repeated"):
            out[name] = [_convert_param(name, spec, v) for v in values]
        else:
            out[name] = _convert_param(name, spec, values[-1])
    for name, spec in route.method.get("parameters", {}).items():
        if spec.get("required") and (name not in out or out[name] in ("", None)):
            raise GoogleError(400, f"Required parameter: {name}", reason="required", location=name)
    return out


# -- request bodies ---------------------------------------------------------

def _violation(path: str, message: str) -> GoogleError:
    return GoogleError(400, message, reason="invalid", details=[{
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": path, "description": message}]}])


def _check(value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str,
           type_name: str) -> None:
    if "$ref" in schema:
        type_name = schema["$ref"]
        schema = schemas[type_name]
    kind = schema.get("type", "any")
    where = path or "<root>"
    if value is None:
        return
    if kind == "object":
        if not isinstance(value, dict):
            raise _violation(path, f"Invalid value at '{where}' ({type_name}), {json.dumps(value, ensure_ascii=False)[:80]}")
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{_snake(key)}" if path else _snake(key)
            if props is not None and key in props:
                _check(item, props[key], schemas, child, type_name)
            elif extra is not None:
                _check(item, extra, schemas, f"{path}[{key!r}]", type_name)
            elif props is not None:
                at = f" at '{path}'" if path else ""
                raise _violation(path, f"Invalid JSON payload received. Unknown name \"{key}\"{at}: Cannot find field.")
        return
    if kind == "array":
        if not isinstance(value, list):
            raise _violation(path, f"Invalid value at '{where}', {json.dumps(value, ensure_ascii=False)[:80]}: expected a list")
        for i, item in enumerate(value):
            _check(item, schema.get("items", {}), schemas, f"{path}[{i}]", type_name)
        return
    if kind == "integer" or (kind == "string" and schema.get("format") in ("int64", "uint64")):
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value)) or (
            isinstance(value, float) and value.is_integer())
        if not ok:
            raise _violation(path, f"Invalid value at '{where}' (TYPE_INT32), {json.dumps(value, ensure_ascii=False)[:80]}")
        return
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _violation(path, f"Invalid value at '{where}' (TYPE_DOUBLE), {json.dumps(value, ensure_ascii=False)[:80]}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _violation(path, f"Invalid value at '{where}' (TYPE_BOOL), {json.dumps(value, ensure_ascii=False)[:80]}")
        return
    if kind == "string":
        if not isinstance(value, str):
            raise _violation(path, f"Invalid value at '{where}' (TYPE_STRING), {json.dumps(value, ensure_ascii=False)[:80]}")
        if "enum" in schema and value not in schema["enum"]:
            raise _violation(path, f"Invalid value at '{where}' ({type_name}), \"{value}\"")


def validate_body(route: Route, body: Any) -> None:
    """Refuse a body Google would refuse: unknown names, wrong types, bad enums."""
    request = route.method.get("request")
    if request is None:
        return
    if body is None:
        body = {}
    _check(body, request, route.doc["schemas"], "", request.get("$ref", ""))

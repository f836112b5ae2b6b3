"""Gemini request field names: snake_case and lowerCamelCase both read, camelCase out.

The Gemini API is proto3 over JSON, and the proto3 JSON mapping has a parser
accept each field under its lowerCamelCase JSON name *and* its original proto
name: ``inline_data`` as well as ``inlineData``. The official ``google-genai``
SDK relies on it: it sends ``inlineData`` with ``mime_type`` inside,
``fileData`` with ``file_uri`` and function declarations with
``parameters_json_schema``. The translators read camelCase only, so a Gemini
request goes through :func:`camel_case_fields` once, at their edge.

Only field names are renamed. What the caller named itself is left as it is:

- function call ``args`` and function response ``response`` (free-form JSON);
- ``parametersJsonSchema`` / ``responseJsonSchema`` (JSON Schema, not proto);
- inside a ``Schema`` (``parameters``, ``responseSchema``, a declaration's
  ``response``): the names under ``properties``, and ``example``/``default``;
- ``labels`` (a map of the caller's keys).

A field given under both of its names is refused, as a proto parser refuses a
field set twice: the two could disagree, and no reading of them is the
caller's for sure.
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError

__all__ = ["camel_case_fields", "json_name"]

JSON = dict[str, Any]

#: fields whose value is the caller's own JSON: copied, never renamed inside
_FREE = frozenset({"args", "parametersJsonSchema", "responseJsonSchema", "labels"})
#: fields whose value is a Gemini ``Schema`` (OpenAPI subset)
_SCHEMA = frozenset({"parameters", "responseSchema"})
#: ``Schema`` fields holding schemas in turn
_SUBSCHEMAS = frozenset({"items", "anyOf"})


def json_name(name: str) -> str:
    """The proto3 JSON name of a field: each ``_`` dropped, the letter after it upper-cased."""
    if "_" not in name:
        return name
    out: list[str] = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


def camel_case_fields(body: JSON) -> JSON:
    """``body`` with every field under its lowerCamelCase name (a new object; raises
    ``ConversionError`` when one field is given under both names)."""
    return _message(body, owner="", where="")


def _message(obj: JSON, *, owner: str, where: str) -> JSON:
    out: JSON = {}
    for key, value in obj.items():
        name = json_name(key)
        path = f"{where}.{name}" if where else name
        if name in out:
            raise ConversionError(f"the field '{name}' is given twice (as '{key}' too)", path)
        out[name] = _field(name, value, owner=owner, where=path)
    return out


def _field(name: str, value: Any, *, owner: str, where: str) -> Any:
    if name in _FREE or (name == "response" and owner == "functionResponse"):
        return value
    if name in _SCHEMA or (name == "response" and owner == "functionDeclarations"):
        return _schema(value, where)
    return _value(value, owner=name, where=where)


def _value(value: Any, *, owner: str, where: str) -> Any:
    if isinstance(value, dict):
        return _message(value, owner=owner, where=where)
    if isinstance(value, list):
        return [_value(v, owner=owner, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _schema(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_schema(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out: JSON = {}
    for key, sub in value.items():
        name = json_name(key)
        path = f"{where}.{name}"
        if name in out:
            raise ConversionError(f"the field '{name}' is given twice (as '{key}' too)", path)
        if name == "properties" and isinstance(sub, dict):
            out[name] = {prop: _schema(s, f"{path}.{prop}") for prop, s in sub.items()}
        elif name in _SUBSCHEMAS:
            out[name] = _schema(sub, path)
        else:
            out[name] = sub  # scalars, name lists (required, enum) and example/default values
    return out

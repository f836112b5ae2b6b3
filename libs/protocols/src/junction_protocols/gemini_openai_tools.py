"""Gemini function declarations and calling config → OpenAI tools (``gemini_openai``'s rules).

Split from :mod:`junction_protocols.gemini_openai`, whose docstring states the mapping.
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError

JSON = dict[str, Any]

__all__ = ["declarations", "json_schema", "tool_choice"]

_INT64_KEYWORDS = frozenset(
    {"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"}
)


def declarations(tools: Any) -> list[JSON]:
    """OpenAI function tools for Gemini ``tools`` (only ``functionDeclarations``)."""
    if not isinstance(tools, list):
        raise ConversionError("'tools' must be a list", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.keys() - {"functionDeclarations"}:
            raise ConversionError("only functionDeclarations tools are supported", f"tools[{i}]")
        for declaration in tool.get("functionDeclarations") or []:
            function: JSON = {"name": str(declaration.get("name", ""))}
            if declaration.get("description"):
                function["description"] = declaration["description"]
            if declaration.get("parametersJsonSchema") is not None:
                function["parameters"] = declaration["parametersJsonSchema"]
            elif declaration.get("parameters") is not None:
                function["parameters"] = json_schema(declaration["parameters"])
            out.append({"type": "function", "function": function})
    return out


def json_schema(schema: Any) -> Any:
    """Turn a Gemini (OpenAPI 3.0 subset) ``Schema`` into JSON Schema."""
    if not isinstance(schema, dict):
        return schema
    out: JSON = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            if value.upper() != "TYPE_UNSPECIFIED":
                out["type"] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = json_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out["anyOf"] = [json_schema(sub) for sub in value]
        elif key == "example":
            out["examples"] = [value]
        elif key in _INT64_KEYWORDS and isinstance(value, str) and value.isdigit():
            # int64 schema fields come as JSON strings in proto3 JSON.
            out[key] = int(value)
        elif key not in ("nullable", "propertyOrdering"):
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def tool_choice(config: Any) -> Any:
    """The OpenAI ``tool_choice`` for a Gemini ``functionCallingConfig`` (None: unset)."""
    if not isinstance(config, dict):
        return None
    mode = config.get("mode") or "AUTO"
    names = [n for n in config.get("allowedFunctionNames") or [] if isinstance(n, str)]
    tools = [{"type": "function", "function": {"name": n}} for n in names]
    if mode == "NONE":
        return "none"
    if mode in ("AUTO", "MODE_UNSPECIFIED") or (mode == "VALIDATED" and not names):
        return "auto"
    if mode == "VALIDATED":
        return {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": tools}}
    if mode == "ANY":
        if not names:
            return "required"
        if len(names) == 1:
            return tools[0]
        return {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": tools}}
    raise ConversionError(f"functionCallingConfig mode '{mode}' is not supported", "toolConfig")

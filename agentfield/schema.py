"""JSON Schema from a function's type hints: the ``input_schema`` a node registers."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    type(None): {"type": "null"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
}
_OBJECTS = (dict, Mapping)
_ARRAYS = (list, tuple, set, frozenset, Sequence)


def type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation; ``{}`` (anything) when it has no JSON meaning."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_schema(args[0])
    if origin in (typing.Union, types.UnionType):
        return _union_schema(args)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if annotation in _OBJECTS or origin in _OBJECTS:
        schema: dict[str, Any] = {"type": "object"}
        if len(args) == 2 and type_schema(args[1]):
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    if annotation in _ARRAYS or origin in _ARRAYS:
        schema = {"type": "array"}
        if origin is tuple and args and args[-1] is not Ellipsis:
            schema["prefixItems"] = [type_schema(a) for a in args]
        elif args and type_schema(args[0]):
            schema["items"] = type_schema(args[0])
        return schema
    if isinstance(annotation, type):
        return _class_schema(annotation)
    return {}


def _hints(obj: Any) -> dict[str, Any]:
    """Resolved type hints; an annotation that cannot be resolved counts as ``Any``."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:
        return {}


def _union_schema(args: tuple[Any, ...]) -> dict[str, Any]:
    options = [type_schema(arg) for arg in args]
    if any(option == {} for option in options):
        return {}
    return options[0] if len(options) == 1 else {"anyOf": options}


def _class_schema(cls: type) -> dict[str, Any]:
    if issubclass(cls, enum.Enum):
        return {"enum": [member.value for member in cls]}
    model_json_schema = getattr(cls, "model_json_schema", None)  # pydantic v2, if used
    if callable(model_json_schema):
        return model_json_schema()
    if dataclasses.is_dataclass(cls):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = _hints(cls)
        required = [
            name
            for name, f in fields.items()
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        return _object({name: type_schema(hints.get(name, Any)) for name in fields}, required)
    if typing.is_typeddict(cls):
        hints = _hints(cls)
        properties = {name: type_schema(hint) for name, hint in hints.items()}
        return _object(properties, sorted(cls.__required_keys__))
    if issubclass(cls, Mapping):
        return {"type": "object"}
    return {}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _json_default(value: Any) -> tuple[bool, Any]:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False, None
    return True, value


def input_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """An object schema with one property per parameter; parameters without a default are
    required. ``**kwargs`` allows further properties; ``*args`` is not part of the input."""
    signature = inspect.signature(func)
    hints = _hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    open_ended = False
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        schema = type_schema(hints.get(name, parameter.annotation))
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            ok, default = _json_default(parameter.default)
            if ok:
                schema["default"] = default
        properties[name] = schema
    schema = _object(properties, required)
    if not open_ended:
        schema["additionalProperties"] = False
    return schema


def output_schema(func: Callable[..., Any]) -> dict[str, Any]:
    return type_schema(_hints(func).get("return", Any))

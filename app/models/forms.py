"""The boundary for values a client sends: one annotated type per kind of value, and the
request-body base class that applies them to every field of every body.

- text (`SafeText`): NUL and the other control characters but tab, line feed and carriage
  return are refused, so nothing stored can break a Word or Excel file or PostgreSQL;
- integers (`Id`, `Int`): bounded to what an `integer` column holds (±2147483647);
- numbers (`Number`, and every int/decimal/float field): typed with a Chinese input method
  (`３．５`, `－２`, ` 12 `) they are read as the digits they show;
- date-times: with a zone (a naive time is ambiguous) and within the years a column holds.

`BlankIsNull` applies these to every field of a subclass (nested bodies and lists
included) by rewriting its validation schema once at class creation, so a new field gets
them without naming a type; the annotated types are for parameters and new code.
"""

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, model_validator
from pydantic import Field as PydanticField
from pydantic_core import CoreSchema, PydanticCustomError, SchemaValidator
from sqlmodel import Field, SQLModel

INT_MAX = 2_147_483_647  # PostgreSQL `integer`
INT_MIN = -INT_MAX
# C0 controls but \t \n \r, DEL, C1 controls, surrogates and the two XML non-characters
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# the same rule for the OpenAPI (so generated clients and fuzzers know it)
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]*$"
TEXT_MESSAGE = "含有不可见的控制字符(如 NUL),请删除后重试"
_MINUS = str.maketrans({"−": "-", "﹣": "-", "。": "."})


def check_text(value: str) -> str:
    """`value` unchanged, or a `text_control` error when it holds a forbidden character."""
    if _FORBIDDEN.search(value):
        raise PydanticCustomError("text_control", TEXT_MESSAGE)
    return value


def strip_control(value: str) -> str:
    """`value` without the characters `check_text` refuses (for writing legacy data out)."""
    return _FORBIDDEN.sub("", value)


def typed_number(value: Any) -> Any:
    """A number as a person types it with a Chinese input method, as ASCII: full-width
    digits, point and signs become their ASCII forms and surrounding spaces go."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).translate(_MINUS).strip()
    return value


def check_in_range(value: int) -> int:
    """`value`, or an error naming the range an `integer` column holds."""
    if not INT_MIN <= value <= INT_MAX:
        raise PydanticCustomError("int_range", "超出可存储的范围")
    return value


def aware_utc(value: datetime) -> datetime:
    """A date-time with a zone, in UTC; naive or beyond the years a column holds: error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("datetime_naive", "时间须带时区,例如 2030-01-01T00:00:00+08:00")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError("datetime_range", "时间超出范围") from None
    if not 1900 <= utc.year <= 9998:
        raise PydanticCustomError("datetime_range", "时间超出范围")
    return utc


SafeText = Annotated[str, AfterValidator(check_text), PydanticField(pattern=TEXT_PATTERN)]
"""Text a person enters: no control characters but tab, line feed and carriage return."""
Int = Annotated[int, BeforeValidator(typed_number), PydanticField(ge=INT_MIN, le=INT_MAX)]
"""An integer an `integer` column holds, typed as a person types it."""
Id = Annotated[int, PydanticField(ge=INT_MIN, le=INT_MAX)]
"""A record's id (path, query or body): beyond the column it names no record."""
Number = Annotated[Decimal, BeforeValidator(typed_number)]
"""A decimal number typed as a person types it (`３．５`, ` 12 `)."""

_GUARDED = "rectify_guarded"


def _wrapped(schema: CoreSchema, mode: str, function: Any, js: dict[str, Any] | None = None
             ) -> CoreSchema:
    metadata: dict[str, Any] = {_GUARDED: True}
    if js:
        metadata["pydantic_js_updates"] = js
    return {  # type: ignore[return-value]
        "type": f"function-{mode}",
        "function": {"type": "no-info", "function": function},
        "schema": schema,
        "metadata": metadata,
    }


def _guard(node: Any) -> Any:
    """`node` (a core schema or a part of one) with the boundary's checks applied."""
    if isinstance(node, list):
        return [_guard(item) for item in node]
    if isinstance(node, tuple):
        return tuple(_guard(item) for item in node)
    if not isinstance(node, dict):
        return node
    if (node.get("metadata") or {}).get(_GUARDED):
        return node
    out = {
        key: value if key in ("metadata", "serialization", "config", "ref") else _guard(value)
        for key, value in node.items()
    }
    kind = out.get("type")
    if kind == "str":
        return _wrapped(out, "after", check_text, {"pattern": TEXT_PATTERN})
    if kind == "int":
        out["ge"] = max(out.get("ge", INT_MIN), INT_MIN)
        out["le"] = min(out.get("le", INT_MAX), INT_MAX)
        return _wrapped(out, "before", typed_number)
    if kind in ("float", "decimal"):
        return _wrapped(out, "before", typed_number)
    if kind == "datetime":
        return _wrapped(out, "after", aware_utc)
    if kind == "model" and out.get("custom_init"):
        inner = out.get("schema")
        while isinstance(inner, dict) and inner.get("type") != "model-fields":
            inner = inner.get("schema")  # through the model's own before/after validators
        if isinstance(inner, dict) and isinstance(inner.get("fields"), dict):
            # the definition's name moves to the wrapper, so OpenAPI keeps its `$ref`s
            ref = out.pop("ref", None)
            wrapper = _wrapped(out, "before", _only_keys(frozenset(inner["fields"])))
            if ref is not None:
                wrapper["ref"] = ref  # type: ignore[index]
            return wrapper
    return out


def _only_keys(fields: frozenset[str]) -> Any:
    """A body's object without the keys that name no field. A model with its own
    `__init__` (every SQLModel) is built by calling the class with the object's keys, so
    an unknown key named `cls` would reach `SQLModel.__new__(cls, ...)` as a second `cls`
    (a TypeError, a 500); pydantic ignores unknown keys anyway."""

    def known(value: Any) -> Any:
        if isinstance(value, dict) and not fields.issuperset(value):
            return {k: v for k, v in value.items() if k in fields}
        return value

    return known


def _model_classes(node: Any) -> set[type]:
    """The model classes a core schema names."""
    found: set[type] = set()
    if isinstance(node, list | tuple):
        for item in node:
            found |= _model_classes(item)
    elif isinstance(node, dict):
        if node.get("type") == "model" and isinstance(node.get("cls"), type):
            found.add(node["cls"])
        for key, value in node.items():
            if key not in ("metadata", "serialization", "cls"):
                found |= _model_classes(value)
    return found


class BlankIsNull(SQLModel):
    """A request body where a blank value means "none", and every value passes the boundary.

    HTML forms (sent as JSON by htmx's json-enc) send every value as text, blanks as "",
    and an unchecked box as the hidden "false" before it (so a key may repeat). A blank
    optional field becomes null, a blank required field counts as missing, and of a
    repeated key the last value wins. Every text, integer, number and date-time field of a
    subclass (nested ones too) gets the checks of the module's docstring.
    """

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.__pydantic_complete__:
            return
        schema = _guard(cls.__pydantic_core_schema__)
        cls.__pydantic_core_schema__ = schema
        # pydantic-core reuses the validator a complete model class already has ("prebuilt"):
        # mark this class and the models it nests incomplete while building from the schema
        nested = {cls, *_model_classes(schema)}
        for model in nested:
            type.__setattr__(model, "__pydantic_complete__", False)
        try:
            cls.__pydantic_validator__ = SchemaValidator(schema)  # type: ignore[assignment]
        finally:
            for model in nested:
                type.__setattr__(model, "__pydantic_complete__", True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_null(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            field = cls.model_fields.get(key)
            is_list_field = field is not None and "list" in str(field.annotation)
            if isinstance(value, list) and field is not None and not is_list_field:
                value = value[-1] if value else None
            if isinstance(value, str) and value.strip() == "" and field is not None:
                if field.is_required():
                    continue
                value = None
            out[key] = value
        return out


class DeletionRequest(BlankIsNull):
    """Body of a `DELETE` of a record people enter: why it is deleted (kept in the audit)."""

    reason: str | None = Field(default=None, max_length=500)

"""Input normalisation shared by request bodies, so HTML forms and JSON clients agree."""

from typing import Any

from pydantic import model_validator
from sqlmodel import Field, SQLModel


class BlankIsNull(SQLModel):
    """A request body where a blank value means "none".

    HTML forms (sent as JSON by htmx's json-enc) send every value as text, blanks as "",
    and an unchecked box as the hidden "false" before it (so a key may repeat). A blank
    optional field becomes null, a blank required field counts as missing, and of a
    repeated key the last value wins.
    """

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

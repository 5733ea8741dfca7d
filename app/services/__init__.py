"""Domain rules and queries, called alike by the JSON side, the HTML side, the CLI and tests."""

# Registers what every process that writes branches needs (the change feed's branch `flags`).
from app.services import branches as _branches  # noqa: E402, F401

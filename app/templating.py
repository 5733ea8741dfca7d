"""The Jinja2 environment shared by the API's fragments and the pages (a neutral module:
`app/api/` renders fragments without importing the page layer)."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

from app import clock
from app.assets import static_url
from app.labels import LABELS, label

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


templates.env.globals.update(label=label, LABELS=LABELS, static_url=static_url)
templates.env.filters["local_time"] = clock.local_text

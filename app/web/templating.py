"""The Jinja2 environment shared by pages and fragments."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from app.labels import LABELS, label
from app.web.assets import static_url

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


templates.env.globals.update(label=label, LABELS=LABELS, static_url=static_url)
templates.env.filters["local_time"] = local_time

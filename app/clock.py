"""Today's date where the campaign happens (the county's time zone, not the server's)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.config import get_settings


def today() -> date:
    """The date in the configured time zone (`TIMEZONE`, default Asia/Shanghai; `local`
    means the server's own clock)."""
    zone = get_settings().timezone
    if zone == "local":
        return date.today()
    return datetime.now(ZoneInfo(zone)).date()

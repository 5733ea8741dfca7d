"""Today's date where the campaign happens (the county's time zone, not the server's)."""

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from app.config import get_settings


def today() -> date:
    """The date in the configured time zone (`TIMEZONE`, default Asia/Shanghai; `local`
    means the server's own clock)."""
    name = get_settings().timezone
    if name == "local":
        return date.today()
    return datetime.now(ZoneInfo(name)).date()


def zone() -> tzinfo:
    """The county's time zone (`TIMEZONE`; `local`: the server's own)."""
    name = get_settings().timezone
    if name == "local":
        return datetime.now().astimezone().tzinfo or UTC
    return ZoneInfo(name)


def local(at: datetime) -> datetime:
    """`at` (aware; a naive value is taken as UTC) in the county's time zone."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone())


def local_day(at: datetime) -> date:
    """The county's date at the instant `at`."""
    return local(at).date()


def local_text(at: datetime | None) -> str:
    """`at` as the county's wall-clock time, "2026-11-30 09:05" ("" for None)."""
    return "" if at is None else local(at).strftime("%Y-%m-%d %H:%M")

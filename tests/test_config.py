"""Settings: read from the environment, and no placeholder secret outside development."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import DEFAULT_SQLITE_URL, PLACEHOLDER_SECRET, Settings, get_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No operator variables and no `.env` from the developer's machine."""
    for name in ("ENVIRONMENT", "SECRET_KEY", "DATABASE_URL", "UPLOAD_DIR", "DB_POOL_SIZE",
                 "SECRETARY_AGE_LIMIT", "LOW_INCOME_THRESHOLD_WAN", "COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # later tests must not see these settings


@pytest.mark.parametrize("environment", ["production", "staging", "test"])
@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, ""])
def test_placeholder_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str, secret: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings()


def test_default_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings()
    with pytest.raises(ValidationError):
        get_settings()


def test_placeholder_secret_is_accepted_in_development() -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.secret_key == PLACEHOLDER_SECRET


def test_a_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "s3cr3t-from-the-operator")
    settings = Settings()
    assert settings.environment == "production"
    assert settings.secret_key == "s3cr3t-from-the-operator"


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rectify:pw@db:5432/rectify")
    monkeypatch.setenv("UPLOAD_DIR", "/srv/uploads")
    monkeypatch.setenv("DB_POOL_SIZE", "25")
    monkeypatch.setenv("SECRETARY_AGE_LIMIT", "58")
    monkeypatch.setenv("LOW_INCOME_THRESHOLD_WAN", "3.5")
    monkeypatch.setenv("COOKIE_SECURE", "true")
    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://rectify:pw@db:5432/rectify"
    assert not settings.is_sqlite
    assert settings.upload_dir == Path("/srv/uploads")
    assert settings.db_pool_size == 25
    assert settings.secretary_age_limit == 58
    assert settings.low_income_threshold_wan == Decimal("3.5")
    assert settings.cookie_secure is True


def test_defaults_run_on_a_local_sqlite_file() -> None:
    settings = Settings()
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert settings.is_sqlite


def test_settings_are_read_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ENVIRONMENT=production\nSECRET_KEY=from-the-dotenv-file\n", encoding="utf-8"
    )
    settings = Settings()
    assert settings.environment == "production"
    assert settings.secret_key == "from-the-dotenv-file"


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_POOL_SIZE=5\n", encoding="utf-8")
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    assert Settings().db_pool_size == 7


def test_today_is_the_date_in_the_configured_time_zone(monkeypatch):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app import clock
    from app.config import get_settings

    monkeypatch.setenv("TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    try:
        assert clock.today() == datetime.now(ZoneInfo("Asia/Shanghai")).date()
    finally:
        monkeypatch.setenv("TIMEZONE", "local")
        get_settings.cache_clear()

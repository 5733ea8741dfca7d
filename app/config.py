"""Settings read from the environment and `.env`."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"
DEFAULT_SQLITE_URL = "sqlite:///./data/rectify.db"


class Settings(BaseSettings):
    """Everything an operator may set; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = "development"
    timezone: str = "Asia/Shanghai"  # where "today" is: due dates, overdue, ages
    database_url: str = DEFAULT_SQLITE_URL
    secret_key: str = PLACEHOLDER_SECRET
    upload_dir: Path = Path("./data/uploads")
    max_upload_mb: int = 20
    db_pool_size: int = 10

    # Thresholds behind the derived branch flags.
    secretary_age_limit: int = 60
    low_income_threshold_wan: Decimal = Decimal("5")

    # Early warning (预警): thresholds and the weight of each signal in the score.
    warn_old_share: float = 0.5  # members aged 56+ above this share of the recorded ages
    warn_dissatisfied_share: float = 0.3  # share of 不满意 among answered forms
    warn_min_answers: int = 5  # forms with a satisfaction answer before the share counts
    warn_weights: dict[str, float] = {
        "no_young_members": 2.0, "aging_members": 1.5, "secretary_60_plus": 2.0,
        "no_dual_role": 1.0, "low_collective_income": 1.5, "overdue_tasks": 1.0,
        "dissatisfied_feedback": 2.0, "earlier_weak_lax": 3.0,
    }
    warn_overdue_cap: int = 3  # overdue tasks counted at most this many times

    # Login throttling per username and source address: after `login_slow_after` attempts
    # without success each waits longer; after `login_max_failures` within the window that
    # username is refused from that address for a while (elsewhere it still signs in).
    login_slow_after: int = 3
    login_delay_seconds: float = 0.5
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    session_hours: int = 12
    cookie_secure: bool = False

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "Settings":
        if self.environment != "development" and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError("SECRET_KEY 仍是占位值:生产环境必须设置一个随机的 SECRET_KEY")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()

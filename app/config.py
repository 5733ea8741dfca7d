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
        "weak_lax": 4.0, "screening_hits": 1.0,  # the current campaign's screening
    }
    warn_overdue_cap: int = 3  # overdue tasks counted at most this many times

    # Reminders (提醒) and pushes (推送): what counts as due soon, and webhook delivery.
    remind_due_soon_days: int = 7  # task_due_soon: due within this many days
    webhook_retry_base_seconds: float = 5.0  # first retry after this, doubling
    webhook_retry_max_seconds: float = 3600.0  # retries at most this far apart
    webhook_pause_after_hours: float = 24.0  # failing this long: paused, county told
    webhook_timeout_seconds: float = 10.0
    webhook_batch_size: int = 100  # changes in one delivery
    worker_poll_seconds: float = 1.0  # the worker's pause when nothing is due
    public_base_url: str = ""  # where people reach the site, for links in chat digests
    # Rectification of weak branches (整顿转化): publicity, liaison rhythms, acceptance marks.
    publicity_days: int = 5  # 公示 at least this many days, counting both ends
    liaison_rhythm_days: dict[str, int] = {
        "county_leader": 30, "township_leader": 14, "first_secretary": 7,
    }
    acceptance_pass_mark: Decimal = Decimal("70")  # under it: 不合格
    acceptance_good_mark: Decimal = Decimal("85")  # under it: 基本合格; from it: 合格
    revisit_months: tuple[int, ...] = (6, 12)  # 回头看 after conversion, in calendar months
    plan_approval_days: int = 30  # plan not approved this long after designation: warned
    warn_visit_overdue_weight: float = 1.5  # early-warning weight of `visit_overdue`

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

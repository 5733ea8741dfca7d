"""Schema state: upgrade to head, and whether a database is at head."""

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def _project_root() -> Path:
    """The folder holding `alembic.ini` and `migrations/`.

    That is the source tree this package sits in; an installed copy (`pip install .`, as in
    the container image) has neither beside it, so it uses the working directory instead.
    """
    source_tree = Path(__file__).resolve().parent.parent
    return source_tree if (source_tree / "alembic.ini").is_file() else Path.cwd()


ROOT = _project_root()
UPGRADE_COMMAND = "rectify db upgrade"


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision of `migrations/` (read once: the scripts do not change while
    the process runs)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_problem(engine: Engine) -> str | None:
    """None when the database is at head; otherwise what is wrong and the command that fixes it."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return None
    return (
        f"数据库结构版本为 {current or '空'},需要 {head}。"
        f"请先运行 `{UPGRADE_COMMAND}`(database schema is at {current}, head is {head})"
    )

"""The `rectify` command: serve, db upgrade, demo, user create, token create, backup,
remind, worker."""

import getpass
import shutil
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import col

from app.config import get_settings
from app.db import get_engine, transaction
from app.labels import label
from app.migrate import schema_problem, upgrade
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.township import Township
from app.models.user import Role, TokenScope, UserCreate
from app.services import auth
from app.services.actors import SYSTEM
from app.services.demo import load_demo
from app.services.users import create_user

cli = typer.Typer(
    help="Rectify 专项整治台账", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="数据库结构", no_args_is_help=True)
user_cli = typer.Typer(help="用户", no_args_is_help=True)
token_cli = typer.Typer(help="API 令牌", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@cli.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option()] = 1,
) -> None:
    """Serve the app (refuses a database whose schema is not at head)."""
    import uvicorn

    problem = schema_problem(get_engine())
    if problem:
        _fail(problem)
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to head."""
    upgrade(get_settings().database_url)
    typer.echo("数据库结构已是最新")


@cli.command()
def demo() -> None:
    """Load the demo township of the report (idempotent) and print the demo logins."""
    with transaction(get_engine(), actor="cli:demo") as session:
        logins = load_demo(session)
    typer.echo("演示数据已就绪:十四道沟镇(9个党支部)。演示账号:")
    for username, role, password in logins:
        typer.echo(f"  {username:<10} {role:<17} 密码 {password}")


def _township_id(session: object, name: str | None) -> int | None:
    if name is None:
        return None
    found = session.scalars(  # type: ignore[attr-defined]
        select(Township).where(Township.name == name, col(Township.deleted_at).is_(None))
    ).first()
    if found is None:
        _fail(f"找不到乡镇“{name}”")
    return found.id  # type: ignore[no-any-return]


@user_cli.command("create")
def user_create(
    username: str,
    role: Annotated[Role, typer.Option()],
    township: Annotated[str | None, typer.Option()] = None,
    branch: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option()] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a user; asks for the password when --password is not given."""
    pw = password or getpass.getpass("密码:")
    with transaction(get_engine(), actor="cli:user") as session:
        township_id = _township_id(session, township)
        branch_id = None
        if branch is not None:
            stmt = select(Branch).where(Branch.name == branch, col(Branch.deleted_at).is_(None))
            if township_id is not None:
                stmt = stmt.where(Branch.township_id == township_id)
            found = session.scalars(stmt).all()
            if len(found) != 1:
                _fail(f"找不到唯一的党支部“{branch}”(可用 --township 指定乡镇)")
            branch_id = found[0].id
        try:
            data = UserCreate(username=username, display_name=display_name or username,
                              role=role, township_id=township_id, branch_id=branch_id,
                              password=pw)
        except ValueError as exc:
            _fail(f"输入有误:{exc}")
            return
        user = create_user(session=session, actor=SYSTEM, data=data)
    typer.echo(f"已创建用户 {user.username}({role.value})")


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Option()],
    scope: Annotated[TokenScope, typer.Option()] = TokenScope.read,
    township: Annotated[str | None, typer.Option()] = None,
    expires_days: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Issue an API token; its secret is printed alone on the last line, this once."""
    with transaction(get_engine(), actor="cli:token") as session:
        township_id = _township_id(session, township)
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        token, secret = auth.create_api_token(
            session, name=name, scope=scope, township_id=township_id, expires_at=expires
        )
    typer.echo(f"已创建 API 令牌 {token.name}(前缀 {token.prefix},权限 {scope.value})。"
               "密钥只显示这一次:")
    typer.echo(secret)


@cli.command()
def backup(path: Path) -> None:
    """Write a consistent copy of the database to PATH while the service runs."""
    url = get_settings().database_url
    if url.startswith("sqlite:///"):
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        target = sqlite3.connect(path)
        with target:
            source.backup(target)
        source.close()
        target.close()
    elif url.startswith("postgresql"):
        if shutil.which("pg_dump") is None:
            _fail("找不到 pg_dump;请安装 PostgreSQL 客户端")
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(["pg_dump", "--format=custom", f"--file={path}", dsn], check=True)
    else:
        _fail(f"不支持备份此数据库:{url.split(':')[0]}")
    typer.echo(f"已备份到 {path}")


@cli.command()
def remind() -> None:
    """Make the day's notifications and chat digests (idempotent: run it as often as you like)."""
    from app.services.webhooks import run_daily

    settings = get_settings()
    made, digests = run_daily(get_engine(settings), settings)
    parts = "、".join(f"{label('notification_kind', k)} {n} 条" for k, n in made.items())
    typer.echo(f"今日提醒已生成:{parts};群机器人摘要 {digests} 条待推送")


@cli.command()
def worker(
    no_remind: Annotated[bool, typer.Option("--no-remind", help="不生成每日提醒")] = False,
) -> None:
    """Deliver webhooks until stopped (SIGTERM/Ctrl-C finish the delivery in hand); runs
    the reminders once a day. Several may run against PostgreSQL; one on SQLite."""
    import logging
    import signal
    import threading

    from app.services.webhooks import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    engine = get_engine(settings)
    problem = schema_problem(engine)
    if problem:
        _fail(problem)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo("推送进程已启动")
    sent = run_worker(engine=engine, settings=settings, stop=stop, daily=not no_remind)
    typer.echo(f"推送进程已停止(本次共尝试推送 {sent} 次)")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

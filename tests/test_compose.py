"""docker-compose.yml and the Dockerfile: what `docker compose up` would run.

There is no Docker engine where the suite runs, so these read the files: the services and
their wiring, the variables Compose would substitute, and the image's install and user.
The last test runs an installed copy of the package the way the image lays it out.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from app.config import PLACEHOLDER_SECRET, Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
REQUIRED = {"SECRET_KEY": "a-long-random-secret", "POSTGRES_PASSWORD": "pw123"}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` substitution."""

    def substitute(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        current = env.get(name)
        if op == ":?" and not current:
            raise MissingVariable(f"{name}: {arg}")
        if op == ":-" and not current:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def app_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(str(v), env) for k, v in SERVICES["app"]["environment"].items()}


def command_line(service: dict[str, object]) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else str(command)


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            instructions.append((instruction.upper(), args.strip()))
    return instructions


def test_compose_has_the_database_the_app_and_the_worker() -> None:
    assert set(SERVICES) == {"db", "app", "worker"}


def test_worker_runs_beside_the_app_on_the_same_database() -> None:
    worker = SERVICES["worker"]
    assert command_line(worker) == "rectify worker"
    assert worker["depends_on"]["app"]["condition"] == "service_healthy"  # migrated first
    env = {k: interpolate(str(v), REQUIRED) for k, v in worker["environment"].items()}
    assert env["DATABASE_URL"] == app_environment(REQUIRED)["DATABASE_URL"]
    assert {k.lower() for k in env} <= set(Settings.model_fields)
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert "ports" not in worker


def test_db_is_postgres_16_with_a_named_volume_and_pg_isready() -> None:
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:16")
    volume, _, target = db["volumes"][0].partition(":")
    assert volume in COMPOSE["volumes"]
    assert target == "/var/lib/postgresql/data"
    test = db["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test)


def test_app_waits_for_a_healthy_database() -> None:
    app = SERVICES["app"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    build = app["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (ROOT / context / "Dockerfile").is_file()


def test_app_environment_points_at_the_db_service_in_production() -> None:
    env = app_environment(REQUIRED)
    assert env["ENVIRONMENT"] == "production"
    url = make_url(env["DATABASE_URL"])
    db_env = SERVICES["db"]["environment"]
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "db"
    assert url.database == db_env["POSTGRES_DB"]
    assert url.username == db_env["POSTGRES_USER"]
    assert url.password == interpolate(db_env["POSTGRES_PASSWORD"], REQUIRED)
    assert env["SECRET_KEY"] == REQUIRED["SECRET_KEY"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", SERVICES["app"]["environment"]["SECRET_KEY"])


@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD"])
def test_compose_refuses_to_start_without_the_secrets(missing: str) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(MissingVariable, match=missing):
        app_environment(env)


def test_app_environment_is_accepted_by_settings_and_placeholder_refused() -> None:
    env = {k.lower(): v for k, v in app_environment(REQUIRED).items()}
    assert set(env) <= set(Settings.model_fields)  # every variable is a setting
    settings = Settings(_env_file=None, **env)
    assert settings.environment == "production" and not settings.is_sqlite
    placeholder = app_environment({**REQUIRED, "SECRET_KEY": PLACEHOLDER_SECRET})
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(_env_file=None, **{k.lower(): v for k, v in placeholder.items()})


def test_app_migrates_then_serves_on_port_8000() -> None:
    app = SERVICES["app"]
    line = command_line(app)
    upgrade, serve = line.find("rectify db upgrade"), line.find("rectify serve")
    assert 0 <= upgrade < serve
    assert "&&" in line[upgrade:serve]  # no serving when the migration failed
    assert re.search(r"rectify serve --host 0\.0\.0\.0 --port 8000\b", line)
    assert any(str(p).split(":")[-2:] == ["8000", "8000"] for p in app["ports"])


def test_app_healthcheck_calls_healthz() -> None:
    test = SERVICES["app"]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    assert "http://127.0.0.1:8000/healthz" in " ".join(test)


def test_dockerfile_installs_the_project_on_python_311_slim() -> None:
    instructions = dockerfile()
    froms = [args for instr, args in instructions if instr == "FROM"]
    assert froms[-1].split()[0] == "python:3.11-slim"
    runs = [args for instr, args in instructions if instr == "RUN"]
    assert any(re.search(r"pip install (--\S+ )*\.(\s|$)", r) for r in runs)
    assert ("EXPOSE", "8000") in instructions


def test_dockerfile_runs_as_a_non_root_user() -> None:
    instructions = dockerfile()
    users = [args for instr, args in instructions if instr == "USER"]
    assert users, "no USER: the app would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    runs = " ".join(args for instr, args in instructions if instr == "RUN")
    assert re.search(rf"(useradd|adduser)\b[^&]*\b{re.escape(user)}\b", runs)


def test_image_carries_the_migrations_in_its_working_directory() -> None:
    """An installed package has no migrations beside it; `rectify` reads them from the cwd."""
    instructions = dockerfile()
    workdir = [args for instr, args in instructions if instr == "WORKDIR"][-1]
    copies = [args.split() for instr, args in instructions if instr == "COPY"]
    copied = {src: dest for *sources, dest in copies for src in sources}
    assert copied.get("alembic.ini") in ("./", ".", workdir, workdir + "/")
    assert copied.get("migrations") in ("./migrations", workdir + "/migrations")
    assert "working_dir" not in SERVICES["app"]


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env", "data"} <= ignored


def test_an_installed_copy_migrates_from_its_working_directory(tmp_path: Path) -> None:
    """The image's layout: the package in site-packages, migrations in the working directory."""
    site, work = tmp_path / "site", tmp_path / "work"
    shutil.copytree(ROOT / "app", site / "app", ignore=shutil.ignore_patterns("__pycache__"))
    work.mkdir()
    shutil.copy(ROOT / "alembic.ini", work)
    shutil.copytree(ROOT / "migrations", work / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ, "PYTHONPATH": str(site), "DATABASE_URL": f"sqlite:///{work / 'x.db'}",
        "ENVIRONMENT": "development",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "db", "upgrade"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        [sys.executable, "-c",
         "import app.migrate as m; from app.db import get_engine; "
         "print(m.__file__); print(m.schema_problem(get_engine()))"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stderr
    module_file, problem = check.stdout.splitlines()
    assert module_file.startswith(str(site))
    assert problem == "None"

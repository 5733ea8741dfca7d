"""Static files under content-hashed URLs, and the build hash the service worker is keyed by.

`static_url("app.js")` gives `/static/<hash>/app.js`, where `<hash>` is the first 12 hex
digits of the file's sha256. Such a URL never changes meaning, so it is served with a year's
immutable cache lifetime: a repeat visit on a phone asks for nothing. The plain
`/static/app.js` still works (revalidated every time), for pages cached before an upgrade.

`build_hash()` combines every static file's hash: it changes whenever any file changes, and
names the service worker's cache, so an upgrade is picked up on the next online visit.
"""

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
HASH_LEN = 12
_HASHED = re.compile(rf"^([0-9a-f]{{{HASH_LEN}}})/(.+)$")


@lru_cache(maxsize=256)
def file_hash(name: str) -> str:
    """The first 12 hex digits of the sha256 of `app/static/<name>`; KeyError if absent."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_file() or STATIC_DIR.resolve() not in path.parents:
        raise KeyError(name)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LEN]


def static_url(name: str) -> str:
    """`/static/<hash>/<name>` for a file under app/static (the template helper)."""
    return f"/static/{file_hash(name)}/{name}"


# Files only desk pages use (the API docs, the register import): never stored on a phone.
DESK_ONLY = ("vendor/swagger-ui-dist-", "docs.js", "imports.js")


@lru_cache(maxsize=1)
def asset_names() -> tuple[str, ...]:
    """Every servable static file, relative to app/static, sorted (licences and notes left out)."""
    names = []
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".js", ".css") and path.name != "sw.js":
            names.append(path.relative_to(STATIC_DIR).as_posix())
    return tuple(names)


def phone_assets() -> tuple[str, ...]:
    """The static files the service worker stores on a phone: all but `DESK_ONLY`."""
    return tuple(n for n in asset_names() if not n.startswith(DESK_ONLY))


@lru_cache(maxsize=1)
def build_hash() -> str:
    """One hash over every static file and the service worker: changes with any of them."""
    digest = hashlib.sha256()
    for name in (*asset_names(), "sw.js"):
        digest.update(f"{name}:{file_hash(name)}\n".encode())
    return digest.hexdigest()[:HASH_LEN]


def service_worker_source() -> str:
    """app/static/sw.js with `__BUILD__` and `__ASSETS__` (the hashed URLs) filled in."""
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    urls = json.dumps({name: static_url(name) for name in phone_assets()}, indent=1)
    return source.replace('"__BUILD__"', json.dumps(build_hash())).replace("__ASSETS__", urls)


class HashedStaticFiles(StaticFiles):
    """Serves `/static/<hash>/<name>` with an immutable lifetime when the hash is the file's,
    and everything else (the plain name, an outdated hash) revalidated on each use."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        match = _HASHED.match(path)
        name = match.group(2) if match else path
        response = await super().get_response(name, scope)
        fresh = False
        if match and response.status_code == 200:
            try:
                fresh = file_hash(name) == match.group(1)
            except KeyError:
                fresh = False
        response.headers["Cache-Control"] = IMMUTABLE if fresh else "no-cache"
        return response

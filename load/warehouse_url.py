"""Which warehouse: the accepted forms of `--warehouse` / `LOFTE_WAREHOUSE_URL`, and the password kept apart.

Accepted forms (anything else is a one-line error listing them):
- a plain path (`lofte-2019.duckdb`, `/data/lofte.duckdb`): a DuckDB file;
- `duckdb:///PATH` (`duckdb:///:memory:` for tests);
- `postgresql://…`, `postgres://…` or `postgresql+psycopg://…`: PostgreSQL through psycopg 3.

The password never travels with the URL inside lofte: it is split off when the text is parsed (from
`user:password@`, from `?password=…`, also when it holds an unencoded `@`), so what is logged, shown, or
handed to Prefect as a flow parameter is the URL without it. It reaches the database only when the
engine is made (`engine_url`), or through libpq's own `PGPASSWORD` when none was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

import sqlalchemy as sa

from schemas.errors import ConfigError

DEFAULT_PATH = "lofte.duckdb"
ACCEPTED = "a DuckDB file path, duckdb:///PATH, or postgresql://USER@HOST[:PORT]/DB"
_POSTGRES_SCHEMES = ("postgresql+psycopg", "postgresql", "postgres")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?i)^(password|pass|pwd)$")


@dataclass(frozen=True)
class WarehouseUrl:
    """A parsed warehouse address: `url` never holds a password; `password` is kept out of repr."""

    backend: str  # "duckdb" | "postgresql"
    url: str  # a SQLAlchemy URL without any password
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path | None:
        """The DuckDB file (None for PostgreSQL and for an in-memory DuckDB)."""
        if self.backend != "duckdb":
            return None
        raw = self.url.removeprefix("duckdb:///").split("?", 1)[0]
        return None if raw in ("", ":memory:") else Path(raw)

    def engine_url(self) -> sa.URL:
        """The URL the engine connects with: the password put back (or libpq's PGPASSWORD)."""
        url = sa.make_url(self.url)
        return url.set(password=self.password) if self.password is not None else url

    def __str__(self) -> str:
        return self.url


def parse_warehouse_url(text: str | None) -> WarehouseUrl:
    """`text` as typed (or None for the default file). Raises ConfigError with the accepted forms."""
    raw = (text or "").strip() or DEFAULT_PATH
    if any(ord(c) < 32 for c in raw):
        raise ConfigError(f"warehouse {mask_url(raw)!r}: control characters in the address ({ACCEPTED})")
    match = _SCHEME.match(raw)
    if match is None and _KEY_VALUE_PASSWORD.search(raw):
        # A libpq keyword string would otherwise be taken for a file name, password and all.
        raise ConfigError(
            f"warehouse {mask_url(raw)!r}: keyword=value strings are not accepted: use {ACCEPTED}"
        )
    if match is None:
        if "://" in raw or raw.endswith("/"):
            raise ConfigError(f"warehouse {mask_url(raw)!r}: not a file path or URL: use {ACCEPTED}")
        return WarehouseUrl("duckdb", f"duckdb:///{raw}")
    scheme, rest = match["scheme"].lower(), match["rest"]
    if scheme == "duckdb":
        if not rest.startswith("/"):
            raise ConfigError(f"warehouse {raw!r}: write duckdb:///PATH (three slashes)")
        return WarehouseUrl("duckdb", f"duckdb://{rest}")
    if scheme not in _POSTGRES_SCHEMES:
        raise ConfigError(f"warehouse {mask_url(raw)!r}: {scheme}:// is not supported: use {ACCEPTED}")
    url, password = _split_password(rest)
    remember_secret(password)
    try:
        parsed = sa.make_url(f"postgresql+psycopg://{url}")
    except sa.exc.ArgumentError:
        raise ConfigError(f"warehouse {mask_url(raw)!r}: not a PostgreSQL URL: use {ACCEPTED}") from None
    if not parsed.database:
        raise ConfigError(f"warehouse {mask_url(raw)!r}: the URL names no database: use {ACCEPTED}")
    return WarehouseUrl("postgresql", f"postgresql+psycopg://{url}", password)


def _split_password(rest: str) -> tuple[str, str | None]:
    """`user:pw@host/db?x=1&password=pw` → (`user@host/db?x=1`, pw). The host part holds no `@`, so the
    user info ends at the last `@` before the path; a password given twice keeps the query's."""
    password: str | None = None
    authority_end = _authority_end(rest)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user, sep, secret = userinfo.partition(":")
        if sep:
            password = unquote(secret)
        authority = f"{user}@{host}" if user else host
    path, sep, query = tail.partition("?")
    if sep:
        kept = []
        for key, value in parse_qsl(query, keep_blank_values=True):
            if _QUERY_PASSWORD.match(key):
                password = value
            else:
                kept.append((key, value))
        tail = path + (f"?{urlencode(kept, quote_via=quote)}" if kept else "")
    return authority + tail, password


def _authority_end(rest: str) -> int:
    """Where `user:password@host:port` ends: at the first `/` after the last `@` of the part before any
    `?password=` (a password may hold `/`, `?` or `@`; a host never holds `@`)."""
    query_password = re.search(r"[?&](?i:password|pass|pwd)=", rest)
    head = rest[: query_password.start()] if query_password else rest
    at = head.rfind("@")
    slash = head.find("/", at + 1)
    return slash if slash >= 0 else len(head)


_URL_IN_TEXT = re.compile(r"(?i)\b(postgres(?:ql)?(?:\+psycopg)?)://\S+")
_KEY_VALUE_PASSWORD = re.compile(r"""(?i)\b(password|pass|pwd)(\s*=\s*)('[^']*'|"[^"]*"|[^&\s]*)""")


# Every password this process has parsed: masked wherever it appears, even where the text around it no
# longer looks like a URL (a driver's message, a URL cut at a space).
_KNOWN_SECRETS: set[str] = set()


def remember_secret(secret: str | None) -> None:
    if secret and len(secret) >= 3:  # shorter would mask ordinary text, and is no secret anyway
        _KNOWN_SECRETS.update({secret, quote(secret, safe="")})


def mask_url(text: str) -> str:
    """`text` with every password in it replaced by `***`: URLs (user:password@, ?password=, unencoded
    `@`), `password=…` pairs and any password parsed before. For every message, log line and artifact."""

    def masked(match: re.Match[str]) -> str:
        scheme, rest = match.group(0).split("://", 1)
        url, password = _split_password(rest)
        if password is None:
            return match.group(0)
        user, at, host = url.partition("@")
        return f"{scheme}://{user}:***@{host}" if at else f"{scheme}://***@{url}"

    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _KEY_VALUE_PASSWORD.sub(r"\1\2***", _URL_IN_TEXT.sub(masked, text))

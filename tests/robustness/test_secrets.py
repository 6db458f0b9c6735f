"""No warehouse password reaches Prefect, a log, an artifact, the warehouse or any output.

Real `lofte` processes against a real PostgreSQL (trust authentication: any password is accepted, so
the planted ones travel the whole way), then every byte Prefect stored (its home: database, logs) and
everything printed is searched for each password, for runs that finish and runs that fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from load.warehouse_url import mask_url, parse_warehouse_url
from tests.conftest import ESKILSTUNA_2020
from tests.robustness.conftest import Finished, PrefectServer, run_lofte

pytestmark = pytest.mark.flow
PROMISES, AREAS = ESKILSTUNA_2020 / "promises.yaml", ESKILSTUNA_2020 / "areas.geojson"


def _with_password(url: str, form: str, secret: str) -> str:
    """`url` (postgresql+psycopg://postgres@host:port/db) with `secret` planted in one of the forms."""
    scheme, rest = url.split("://", 1)
    user, host_db = rest.split("@", 1)
    if form == "userinfo":
        return f"{scheme}://{user}:{quote(secret, safe='')}@{host_db}"
    if form == "unencoded-at":
        return f"postgresql://{user}:{secret}@{host_db}"
    if form == "query":
        return f"postgres://{user}@{host_db}?connect_timeout=10&password={secret}"
    raise AssertionError(form)


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _assert_nowhere(secrets: list[str], texts: list[str], blobs: list[bytes]) -> None:
    for secret in secrets:
        for needle in {secret, quote(secret, safe="")}:
            for text in texts:
                assert needle not in text, text
            for blob in blobs:
                assert needle.encode() not in blob


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql+psycopg://u:s3cr%40t@h/db", "s3cr@t"),
        ("postgresql://u:pa@ss@h:5432/db", "pa@ss"),
        ("postgresql://u@h/db?sslmode=require&password=qq1", "qq1"),
        ("postgres://u@h/db?PASSWORD=qq2&sslmode=require", "qq2"),
        ("postgresql://u:a/b?c@h/db", "a/b?c"),
        ("postgresql://:pw9@h/db", "pw9"),
    ],
)
def test_mask_url_hides_every_form_of_password(text: str, secret: str) -> None:
    parsed = parse_warehouse_url(text)
    assert parsed.password == secret
    assert secret not in parsed.url and secret not in repr(parsed)
    for message in (text, f"error: could not reach {text} (timeout)", f"'{text}'"):
        masked = mask_url(message)
        assert secret not in masked and "***" in masked, masked


def test_mask_url_hides_a_known_password_even_where_no_url_shape_is_left() -> None:
    parse_warehouse_url("postgresql://u:p w@h/db")  # a space ends a URL in free text
    assert "p w" not in mask_url("connection to postgresql://u:p w@h/db failed")
    assert mask_url("host=h password=zz9 user=u") == "host=h password=*** user=u"


def test_a_libpq_keyword_string_is_refused_not_taken_for_a_file_name() -> None:
    from schemas.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        parse_warehouse_url("host=h password=zz9 user=u dbname=x")
    assert "zz9" not in str(error.value)


def test_no_password_in_prefect_or_any_output(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    secrets = ["Pw1-userinfo-Zq8", "Pw2@unencoded-Zq8", "Pw3-query-Zq8", "Pw4-env-Zq8", "Pw5-failed-Zq8"]
    texts: list[str] = []
    runs = [
        "run", "--promises", str(PROMISES), "--areas", str(AREAS),
        "--status", str(ESKILSTUNA_2020 / "status"), "--storm", str(ESKILSTUNA_2020 / "storm"),
    ]  # fmt: skip

    def lofte(*args: str, **env: str) -> Finished:
        done = run_lofte(prefect_server, *args, **env)
        texts.extend([done.stdout, done.stderr])
        return done

    # finished runs: the password in each form, on the command line and in the environment
    assert lofte(*runs, "--warehouse", _with_password(postgres_url, "userinfo", secrets[0])).returncode == 0
    done = lofte(*runs, "--warehouse", _with_password(postgres_url, "unencoded-at", secrets[1]))
    assert done.returncode == 0, done.stderr
    inbox = tmp_path / "inbox"
    shutil.copytree(ESKILSTUNA_2020 / "status", inbox / "status")
    config = tmp_path / "config"
    (config / "promises").mkdir(parents=True)
    shutil.copy(PROMISES, config / "promises" / "promises.yaml")
    shutil.copy(AREAS, config / "areas.geojson")
    backfill = ["backfill", "--config", str(config), "--inbox", str(inbox), "--from-year", "2020"]
    done = lofte(
        *backfill, "--to-year", "2020", "--warehouse", _with_password(postgres_url, "query", secrets[2])
    )
    assert done.returncode == 0, done.stderr
    env_url = _with_password(postgres_url, "unencoded-at", secrets[3])
    assert (
        lofte(
            "nightly", "--config", str(config), "--inbox", str(inbox), LOFTE_WAREHOUSE_URL=env_url
        ).returncode
        == 0
    )
    for command in (["audit"], ["report", "--kommun", "0484", "--year", "2020", "--format", "csv"]):
        assert lofte(*command, LOFTE_WAREHOUSE_URL=env_url).returncode == 0

    # failed runs: a database that does not exist (the flow fails opening it), a broken promises file
    missing_db = _with_password(postgres_url.rsplit("/", 1)[0] + "/no_such_db_x", "userinfo", secrets[4])
    failed = lofte(*runs, "--warehouse", missing_db)
    assert failed.returncode == 1 and "no_such_db_x" in failed.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("kommunkod: [\n", encoding="utf-8")
    failed = lofte("run", "--promises", str(broken), "--status", str(ESKILSTUNA_2020 / "status"),
                   "--warehouse", _with_password(postgres_url, "query", secrets[4]))  # fmt: skip
    assert failed.returncode == 1
    failed = lofte(*runs, "--warehouse", _with_password(postgres_url, "userinfo", secrets[4]) + "?bad=1&x")
    texts.append(repr(failed))

    # a command with its own Prefect home and a temporary API (nothing configured), failing
    own = PrefectServer(tmp_path / "own-prefect-home", None)
    own.home.mkdir()
    done = run_lofte(own, *runs, "--warehouse", missing_db)
    texts.extend([done.stdout, done.stderr])
    assert done.returncode == 1

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = [
            repr(row)
            for table in ("load_run", "load_file", "rejected_row")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        ]
    engine.dispose()
    assert stored
    blobs = [_all_bytes(prefect_server.home), _all_bytes(own.home)]
    # the runs and their parameters were recorded where they are searched: the URLs without passwords
    database = postgres_url.rsplit("/", 1)[1].encode()
    assert b"lofte-backfill" in blobs[0] and database in blobs[0] and b"no_such_db_x" in blobs[1]
    _assert_nowhere(secrets, texts + stored, blobs)

"""The compose stack, checked without a Docker engine: the Compose specification's own schema (through
check-jsonschema's bundled copy, no network) and the structure operators rely on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
# `${NAME:?message}`: compose stops when NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_file_follows_the_compose_specification() -> None:
    result = validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_compose_file(tmp_path: Path, compose: dict[str, Any]) -> None:
    """The check above is not vacuous: the same CLI fails a file with an unknown healthcheck key."""
    compose["services"]["lofte"]["healthcheck"]["every"] = "30s"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(compose), encoding="utf-8")
    result = validate(broken)
    assert result.returncode != 0
    assert "every" in result.stdout + result.stderr


def test_stack_has_warehouse_prefect_and_the_serving_process(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"warehouse-db", "prefect-db", "prefect-server", "lofte"}
    lofte = services["lofte"]
    assert lofte["command"] == ["python", "-m", "flows.deployments"]
    assert lofte["build"]["dockerfile"] == "Dockerfile"
    assert lofte["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    # Prefect keeps its own database; the warehouse is not shared with it.
    prefect_db_url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert "@prefect-db:5432/prefect" in prefect_db_url
    assert "@warehouse-db:5432/" in lofte["environment"]["LOFTE_WAREHOUSE_URL"]


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert set(compose["services"]["lofte"]["depends_on"]) == {"warehouse-db", "prefect-server"}
    assert set(compose["services"]["prefect-server"]["depends_on"]) == {"prefect-db"}


def test_inbox_and_config_are_mounted_where_the_deployments_look(compose: dict[str, Any]) -> None:
    lofte = compose["services"]["lofte"]
    targets = {v.split(":")[-2] if v.endswith((":ro", ":rw")) else v.split(":")[-1] for v in lofte["volumes"]}
    assert {"/inbox", "/config"} <= targets
    assert lofte["environment"]["LOFTE_INBOX_DIR"] == "/inbox"
    assert lofte["environment"]["LOFTE_CONFIG_DIR"] == "/config"
    init_mounts = compose["services"]["warehouse-db"]["volumes"]
    assert "./docker/postgres/warehouse-init:/docker-entrypoint-initdb.d:ro" in init_mounts
    assert (ROOT / "docker/postgres/warehouse-init/01-lofte-roles.sh").is_file()


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_no_password_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key:
                assert REQUIRED_VARIABLE.fullmatch(str(value)), f"{name}.{key} must be ${{VAR:?…}}"
    for text in _strings(compose):
        for credentials in re.findall(r"://[^/@\s]+:([^@\s]+)@", text):  # user:password@host in a URL
            assert REQUIRED_VARIABLE.fullmatch(credentials), f"literal password in {text!r}"


def test_env_example_lists_every_required_variable_without_a_value(compose: dict[str, Any]) -> None:
    required = {name for text in _strings(compose) for name in REQUIRED_VARIABLE.findall(text)}
    assert {"LOFTE_DB_PASSWORD", "LOFTE_ANALYST_PASSWORD", "PREFECT_DB_PASSWORD"} <= required
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert set(example) == required
    # Empty placeholders: compose refuses to start until the operator sets them.
    assert all(value == "" for value in example.values())
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()


def test_dockerfile_installs_lofte_on_python_311_slim_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install --require-hashes -r requirements\.lock$", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install --no-deps \.", dockerfile, re.MULTILINE)
    assert 'CMD ["python", "-m", "flows.deployments"]' in dockerfile


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` (default itself interpolated) and `${VAR:?message}`."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("$$", i):
            out, i = out + "$", i + 2
            continue
        if not text.startswith("${", i):
            out, i = out + text[i], i + 1
            continue
        depth, j = 1, i + 2
        while depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0) if text[j - 1] == "$" or text[j] == "}" else 0
            j += 1
        body = text[i + 2 : j - 1]
        name, op, rest = re.match(r"([A-Z0-9_]+)(:-|:\?)?(.*)", body, re.S).groups()  # type: ignore[union-attr]
        value = env.get(name, "")
        if not value and op == ":-":
            value = interpolate(rest, env)
        if not value and op == ":?":
            raise ValueError(rest)
        out, i = out + value, j
    return out


def test_the_ui_follows_prefect_ui_port_alone(compose: dict[str, Any]) -> None:
    server = compose["services"]["prefect-server"]
    env = {"PREFECT_DB_PASSWORD": "x", "PREFECT_UI_PORT": "4300"}
    assert interpolate(server["environment"]["PREFECT_UI_API_URL"], env) == "http://localhost:4300/api"
    assert [interpolate(p, env) for p in server["ports"]] == ["127.0.0.1:4300:4200"]
    default = {"PREFECT_DB_PASSWORD": "x"}
    assert interpolate(server["environment"]["PREFECT_UI_API_URL"], default) == "http://localhost:4200/api"
    named = {**env, "PREFECT_UI_API_URL": "https://prefect.example.se/api"}
    assert interpolate(server["environment"]["PREFECT_UI_API_URL"], named) == "https://prefect.example.se/api"


def test_grace_periods_and_the_database_published_on_localhost(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["lofte"]["stop_grace_period"] == "2m"
    assert services["warehouse-db"]["stop_grace_period"]
    env = {"POSTGRES_SUPERUSER_PASSWORD": "x", "LOFTE_DB_PASSWORD": "x", "LOFTE_ANALYST_PASSWORD": "x"}
    assert [interpolate(p, env) for p in services["warehouse-db"]["ports"]] == ["127.0.0.1:5432:5432"]
    assert "prefect-db" not in {n for n, s in services.items() if s.get("ports")}


def test_the_superuser_is_refused_over_tcp_before_the_images_password_rule(tmp_path: Path) -> None:
    """The postgres image ends pg_hba.conf with `host all all all scram-sha-256`; the init script puts the
    superuser's rules first, and pg_hba.conf's first matching line decides."""
    hba = tmp_path / "pg_hba.conf"
    image_default = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all all scram-sha-256\n"
    hba.write_text(image_default, encoding="utf-8")
    script = ROOT / "docker/postgres/warehouse-init/02-superuser-local-only.sh"
    done = subprocess.run(
        ["sh", str(script)], env={"PG_HBA": str(hba), "POSTGRES_USER": "postgres"}, timeout=30
    )
    assert done.returncode == 0
    rules = [line.split() for line in hba.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]

    def first_match(kind: str, user: str, address: str) -> str:
        for rule in rules:
            if (
                rule[0] == kind
                and rule[2] in (user, "all")
                and (kind == "local" or rule[3] in (address, "all"))
            ):
                return rule[-1]
        return "none"

    assert first_match("host", "postgres", "172.18.0.1/32") == "reject"  # through the published port
    assert first_match("host", "postgres", "127.0.0.1/32") == "scram-sha-256"  # the healthcheck, inside
    assert first_match("local", "postgres", "") == "trust"  # docker compose exec … psql -U postgres
    assert first_match("host", "lofte", "172.18.0.1/32") == "scram-sha-256"
    assert first_match("host", "analyst", "172.18.0.1/32") == "scram-sha-256"

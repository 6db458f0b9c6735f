"""The deployments as `python -m flows.deployments` would register them, built without a server; the
nightly schedule checked with Prefect's own scheduler code over a year with both clock changes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.server.schemas.schedules import CronSchedule

from flows.deployments import BACKFILL_NAME, NIGHTLY_CRON, NIGHTLY_NAME, TIMEZONE, build_deployments
from schemas.settings import load_settings

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture(scope="module")
def deployments() -> dict[str, RunnerDeployment]:
    settings = load_settings({"LOFTE_CONFIG_DIR": "/srv/lofte/config", "LOFTE_INBOX_DIR": "/srv/lofte/inbox"})
    built = build_deployments(settings)
    return {d.name: d for d in built}


def test_nightly_runs_on_a_cron_in_stockholm_time(deployments: dict[str, RunnerDeployment]) -> None:
    nightly = deployments[NIGHTLY_NAME]
    assert nightly.entrypoint == "flows.nightly.nightly_run"
    assert nightly.schedules is not None
    [schedule] = nightly.schedules
    assert schedule.active
    assert schedule.schedule.cron == NIGHTLY_CRON == "15 4 * * *"  # type: ignore[union-attr]
    assert schedule.schedule.timezone == TIMEZONE == "Europe/Stockholm"  # type: ignore[union-attr]
    assert nightly.parameters == {"config_dir": "/srv/lofte/config", "inbox_dir": "/srv/lofte/inbox"}
    assert nightly.concurrency_limit == 1
    assert nightly.concurrency_options is not None
    assert nightly.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW


def test_backfill_is_started_by_hand_with_its_years(deployments: dict[str, RunnerDeployment]) -> None:
    backfill = deployments[BACKFILL_NAME]
    assert backfill.entrypoint == "flows.backfill.backfill_run"
    assert backfill.schedules == []
    assert backfill.parameters == {"config_dir": "/srv/lofte/config", "inbox_dir": "/srv/lofte/inbox"}
    schema = backfill._parameter_openapi_schema  # what register/serve sends to the server (private in 3.9)
    # No defaults: the UI's "Run" form asks for both years.
    assert {"from_year", "to_year"} <= set(schema.required or [])
    assert schema.properties["from_year"]["type"] == "integer"
    assert schema.properties["to_year"]["type"] == "integer"


def test_no_deployment_stores_the_warehouse_url(deployments: dict[str, RunnerDeployment]) -> None:
    """Parameters are kept by the server and shown in its UI; the URL holds a password."""
    for deployment in deployments.values():
        assert "warehouse_url" not in deployment.parameters


def test_folders_default_to_the_containers_mounts() -> None:
    nightly, backfill = build_deployments(load_settings({}))
    assert nightly.parameters == backfill.parameters == {"config_dir": "/config", "inbox_dir": "/inbox"}


def test_nightly_fires_once_a_day_and_never_between_two_and_three_local() -> None:
    """2026: summer time starts 29 March (02:00 → 03:00) and ends 25 October (03:00 → 02:00)."""
    schedule = CronSchedule(cron=NIGHTLY_CRON, timezone=TIMEZONE)
    start = datetime(2026, 1, 1, tzinfo=STOCKHOLM)
    end = datetime(2026, 12, 31, 23, 59, tzinfo=STOCKHOLM)
    dates = asyncio.run(schedule.get_dates(start=start, end=end))
    fired = [datetime.fromtimestamp(d.timestamp(), STOCKHOLM) for d in dates]

    assert [d.date() for d in fired] == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert all(d.hour != 2 for d in fired)
    assert {(d.hour, d.minute) for d in fired} == {(4, 15)}
    # Both sides of both clock changes were crossed: winter (+01) and summer (+02) time.
    offsets = {d.date(): d.utcoffset() for d in fired}
    assert offsets[date(2026, 3, 28)] == offsets[date(2026, 10, 25)] == timedelta(hours=1)
    assert offsets[date(2026, 3, 29)] == offsets[date(2026, 10, 24)] == timedelta(hours=2)

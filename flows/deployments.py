"""lofte's deployments, defined in the repo: `python -m flows.deployments` serves them (needs a server).

- `nightly`: the nightly run, every day at 04:15 Europe/Stockholm. Outside 02:00–03:00 local on purpose:
  that hour is skipped in March and repeated in October, and 04:15 leaves room for exports that land
  around midnight.
- `backfill`: no schedule; started from the UI (or the API) with `from_year` and `to_year`.

Folders come from LOFTE_CONFIG_DIR and LOFTE_INBOX_DIR (the container's /config and /inbox by default).
The warehouse URL is deliberately *not* a deployment parameter: parameters are stored by the Prefect server
and shown in its UI, and the URL holds a password. The runs execute in this serving process's environment
and read LOFTE_WAREHOUSE_URL themselves (schemas/settings.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.settings import Settings, load_settings

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

NIGHTLY_NAME = "nightly"
BACKFILL_NAME = "backfill"
NIGHTLY_CRON = "15 4 * * *"
TIMEZONE = "Europe/Stockholm"
TAGS = ["lofte"]


def folder_parameters(settings: Settings) -> dict[str, str]:
    """The config and inbox folders for both deployments (the container's /config and /inbox by default)."""
    return {"config_dir": str(settings.config_dir), "inbox_dir": str(settings.inbox_dir)}


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """Both deployments, built without contacting a server (tests call this; `serve` registers them)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    # Imported here: the flows pull in pandas, shapely and the warehouse code.
    from flows.backfill import backfill_run
    from flows.followup import file_task_runner
    from flows.nightly import nightly_run

    folders = folder_parameters(settings)
    runner = file_task_runner(settings.file_workers)
    nightly = nightly_run.with_options(task_runner=runner).to_deployment(
        name=NIGHTLY_NAME,
        description="Load the exports that arrived in the inbox and recompute the follow-up they touch.",
        schedule=Cron(NIGHTLY_CRON, timezone=TIMEZONE),
        parameters=folders,
        # A night still running when the next one is due: skip the new one; the files wait for the next.
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        tags=TAGS,
        # Module paths import from the installed package, whatever the working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    backfill = backfill_run.with_options(task_runner=runner).to_deployment(
        name=BACKFILL_NAME,
        description="Recompute the follow-up of from_year..to_year from every export in the inbox.",
        parameters=folders,  # from_year and to_year have no default: the UI asks for them
        concurrency_limit=1,  # a second backfill waits for the first
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    built = [nightly, backfill]
    # to_deployment is sync-compatible (typed as maybe a coroutine); called from sync code it returns the
    # deployment. Anything else would be a change in Prefect worth failing loudly on.
    for deployment in built:
        if not isinstance(deployment, RunnerDeployment):
            raise TypeError(f"to_deployment returned {type(deployment).__name__}, not a RunnerDeployment")
    return [d for d in built if isinstance(d, RunnerDeployment)]


def main() -> None:
    """Register both deployments with the server at PREFECT_API_URL and run their flow runs, one at a time."""
    from prefect import serve

    from load.warehouse_url import parse_warehouse_url

    settings = load_settings()  # a bad LOFTE_* value stops the service here, with its one line
    target = parse_warehouse_url(settings.warehouse_url)
    deployments = build_deployments(settings)
    folders = folder_parameters(settings)
    print(
        f"lofte: serving {NIGHTLY_NAME} ({NIGHTLY_CRON} {TIMEZONE}) and {BACKFILL_NAME}; "
        f"config {folders['config_dir']}, inbox {folders['inbox_dir']}, warehouse {target.url}",
        flush=True,
    )
    # limit=1: a nightly run and a backfill write the same warehouse; one at a time in this process.
    serve(*deployments, limit=1)


if __name__ == "__main__":
    main()

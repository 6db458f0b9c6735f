"""Someone hears of a scheduled run that failed: a Prefect state hook on the nightly and backfill flows.

On a Failed or Crashed run the hook logs one ERROR line (in the serving process's output and Prefect's
log), runs `LOFTE_ALERT_COMMAND` if set (a shell command: mail, a chat CLI, a pager; it gets
LOFTE_ALERT_FLOW, LOFTE_ALERT_RUN, LOFTE_ALERT_STATE and LOFTE_ALERT_MESSAGE in its environment), and
POSTs a JSON message to `LOFTE_ALERT_WEBHOOK` if set (Teams/Slack/Mattermost-style incoming webhooks
take its `text`). An alert that cannot be delivered is logged, never raised: the run's own state stays
what it was.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.request
from typing import Any

from load.warehouse_url import mask_url
from schemas.settings import Settings, load_settings

log = logging.getLogger("lofte.alerts")
COMMAND_TIMEOUT_S = 60
WEBHOOK_TIMEOUT_S = 10


def notify(flow: str, run: str, state: str, message: str, settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    message = mask_url(message or "")[:1000]
    text = f"lofte: {flow} run {run} {state.lower()}: {message}"
    log.error("%s", text)
    if settings.alert_command:
        env = {
            **os.environ,
            "LOFTE_ALERT_FLOW": flow,
            "LOFTE_ALERT_RUN": run,
            "LOFTE_ALERT_STATE": state,
            "LOFTE_ALERT_MESSAGE": message,
        }
        try:
            done = subprocess.run(
                settings.alert_command, shell=True, env=env, timeout=COMMAND_TIMEOUT_S, capture_output=True
            )
            if done.returncode != 0:
                log.error("LOFTE_ALERT_COMMAND exited with %d", done.returncode)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("LOFTE_ALERT_COMMAND failed: %s", exc)
    if settings.alert_webhook:
        body = json.dumps(
            {"text": text, "flow": flow, "run": run, "state": state, "message": message}
        ).encode("utf-8")
        request = urllib.request.Request(
            settings.alert_webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S):
                pass
        except OSError as exc:
            log.error("LOFTE_ALERT_WEBHOOK failed: %s", mask_url(str(exc)))


def alert_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect's on_failure/on_crashed hook signature."""
    try:
        notify(str(flow.name), str(flow_run.name), str(state.name), str(state.message or ""))
    except Exception as exc:  # an alert must never change the run's outcome
        log.error("alert failed: %s", exc)

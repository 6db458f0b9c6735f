"""A failed scheduled run alerts: a log line, the configured command and the webhook, for real (a shell
command, an HTTP server on localhost); the hooks sit on the nightly and backfill flows and survive the
deployments' `with_options`."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from flows.alerts import alert_on_failure, notify
from schemas.settings import load_settings


def test_notify_logs_runs_the_command_and_posts_the_webhook(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[dict[str, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    out = tmp_path / "alert.txt"
    settings = load_settings(
        {
            "LOFTE_ALERT_COMMAND": f'echo "$LOFTE_ALERT_FLOW $LOFTE_ALERT_STATE $LOFTE_ALERT_MESSAGE" > {out}',
            "LOFTE_ALERT_WEBHOOK": f"http://127.0.0.1:{server.server_port}/hook",
        }
    )
    with caplog.at_level(logging.ERROR, logger="lofte.alerts"):
        notify(
            "lofte-nightly", "brave-otter", "Failed", "warehouse postgresql://u:secret@db/x down", settings
        )
    thread.join(timeout=10)
    server.server_close()
    assert out.read_text().strip().startswith("lofte-nightly Failed warehouse")
    assert "secret" not in out.read_text()  # the message is masked before it leaves
    assert received and received[0]["flow"] == "lofte-nightly" and received[0]["state"] == "Failed"
    assert "lofte-nightly run brave-otter failed" in received[0]["text"]
    assert any("lofte-nightly run brave-otter failed" in r.getMessage() for r in caplog.records)


def test_an_undeliverable_alert_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings({"LOFTE_ALERT_COMMAND": "exit 3", "LOFTE_ALERT_WEBHOOK": "http://127.0.0.1:9/x"})
    with caplog.at_level(logging.ERROR, logger="lofte.alerts"):
        notify("lofte-backfill", "r", "Crashed", "killed", settings)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "exited with 3" in text and "LOFTE_ALERT_WEBHOOK failed" in text


def test_a_webhook_must_be_http() -> None:
    from schemas.errors import ConfigError

    with pytest.raises(ConfigError, match="LOFTE_ALERT_WEBHOOK"):
        load_settings({"LOFTE_ALERT_WEBHOOK": "file:///etc/passwd"})


def test_the_scheduled_flows_carry_the_hook() -> None:
    from flows.deployments import build_deployments

    settings = load_settings({"LOFTE_CONFIG_DIR": "/c", "LOFTE_INBOX_DIR": "/i"})
    from flows.backfill import backfill_run
    from flows.followup import file_task_runner
    from flows.nightly import nightly_run

    for flow in (nightly_run, backfill_run):
        served = flow.with_options(task_runner=file_task_runner(settings.file_workers))
        assert alert_on_failure in served.on_failure_hooks and alert_on_failure in served.on_crashed_hooks
    assert len(build_deployments(settings)) == 2

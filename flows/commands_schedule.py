"""Commands registered on `lofte` (see flows/cli.py)."""

from __future__ import annotations

from flows.cli import app  # noqa: F401

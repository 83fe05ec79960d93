"""The `simdeploy` command line; each command lives in its own module and imports what it needs when it runs."""

from __future__ import annotations

from simdeploy.cli import ctl, drill, gameday, kind, run, serve, sweep  # each registers its commands on `app`
from simdeploy.cli.app import app, main

__all__ = ["app", "ctl", "drill", "gameday", "kind", "main", "run", "serve", "sweep"]

"""The `simdeploy` command line; each command lives in its own module and imports what it needs when it runs."""

from __future__ import annotations

from simdeploy.cli import ctl, dora, drill, gameday, kind, run, serve, sweep  # each registers its commands on `app`
from simdeploy.cli.app import app, main

__all__ = ["app", "ctl", "dora", "drill", "gameday", "kind", "main", "run", "serve", "sweep"]

"""The simulation behind the Kubernetes HTTP API, so that kubectl and client libraries can read it."""

from __future__ import annotations

from simdeploy.apiserver.server import ApiServer

__all__ = ["ApiServer"]
